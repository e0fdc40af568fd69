-- promoledger migration 0009: impossible times and closed days, for every entry (docs/accounting.md,
-- "Closed days and impossible times").
--
--   PL007 business_day_closed  an entry into a closed business day reached the journal (the second
--                              check, where the data lives; the posting functions refuse it first)
--
-- 1. The posting policy: how far ahead of the database clock a payment time (or a general entry's
--    business day) may lie before it is refused. Append-only history: the latest row is in force, and
--    every change says who, when and why. Only the owner may add a row.
CREATE TABLE ledger.posting_policy (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- 0 would refuse a payment stamped a millisecond ahead of the database; 400 days is a simulation.
  future_tolerance  interval NOT NULL
                    CHECK (future_tolerance >= interval '0' AND future_tolerance <= interval '400 days'),
  reason            text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  changed_at        timestamptz NOT NULL DEFAULT now(),
  changed_by        text NOT NULL DEFAULT current_user
);
CREATE TRIGGER posting_policy_append_only BEFORE UPDATE OR DELETE ON ledger.posting_policy
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER posting_policy_no_truncate BEFORE TRUNCATE ON ledger.posting_policy
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
GRANT SELECT ON ledger.posting_policy TO promoledger_app, promoledger_auditor;
INSERT INTO ledger.posting_policy (future_tolerance, reason)
VALUES (interval '5 minutes', 'migration 0009: the default, clock skew between core banking and the ledger');

-- 2. Closing a day and posting into it take turns. Every posting transaction holds a shared advisory
--    lock from before it reads the closed days until it commits; close-day takes the same lock
--    exclusively when it records the day (the first thing it does). So a posting that read the days
--    before a close commits before that close does, and one that starts after sees the close: no entry
--    can land in a day after the day closed. The key is ledger.closing_lock_key().
CREATE FUNCTION ledger.closing_lock_key() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT x'706c636c6f7365'::bigint  -- 'plclose'
$$;

CREATE FUNCTION ledger.lock_for_closing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(ledger.closing_lock_key());
  RETURN NULL;
END $$;
CREATE TRIGGER business_day_close_takes_turns BEFORE INSERT ON ledger.business_day_close
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.lock_for_closing();

-- 3. The second check, where the data lives: no journal entry into a closed day, whatever path wrote
--    it. Once per statement (a batch of payments is one INSERT).
CREATE FUNCTION ledger.refuse_closed_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NULL;  -- the current text is in sql/functions/ledger.sql
END $$;
CREATE TRIGGER journal_entry_day_open AFTER INSERT ON ledger.journal_entry
  REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_closed_days();
