-- promoledger migration 0014: posting periods (issue 19; docs/operations.md, "The monthly routine").
--
-- The six tables that grow with every payment become range-partitioned by business day, one
-- partition a month, managed by pg_partman 4.7 (premade months ahead; `promoledger db maintain`):
-- ledger.journal_entry, ledger.journal_line, promo.payment, promo.payment_reversal, promo.payer_day,
-- promo.deck. A finished month can then be closed with chain anchors (ledger.period), verified from
-- its anchor on, archived to files and dropped, and restored.
--
-- What partitioning costs the keys, and what replaces them:
--   * PostgreSQL requires the partition key in every unique key. So the uniqueness of an external
--     reference (a payment id is the reference payment:<id>) moves to an unpartitioned claim table,
--     ledger.entry_ref (reference -> entry, business day, content hash), which idempotency reads
--     first. It is kept for the replay window (ledger.posting_policy.replay_window, 400 days by
--     default): a payment or entry dated before the window is refused (replay_window_passed) whether
--     or not it was stored, because its claim may be gone; only then may maintenance delete claims.
--   * The one-reversal-per-entry rule (UNIQUE reverses_entry_id) becomes a check under the original
--     entry's row lock in ledger.post_entry.
--   * Foreign keys into these tables go (pg_partman's retention and DETACH break on them), and so do
--     the decks' keys to campaigns and merchants (a month must load into an empty audit database,
--     which has neither): a reversal's payment and entry, a day close's deck and a deck's campaign and
--     merchant are checked by promo.verify (referential_integrity), as the payments' have been since
--     migration 0004.
--   * Lines carry their entry's business day (the partition key), filled from the entry here.
-- Sequences continue where they were; every row, hash chain and figure is copied unchanged.
--
-- The same tables can be built unpartitioned, for the benchmark's comparison (docs/benchmarks.md):
-- `SET promoledger.partitioning = 'off'` in the migrating session (promoledger db migrate
-- --unpartitioned). Keys, columns and functions are then identical; only the partitioning differs.

CREATE SCHEMA IF NOT EXISTS partman;
CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman;

-- 1. The replay window, a posting policy beside the future tolerance (append-only history as before;
--    a new row carries both values).
ALTER TABLE ledger.posting_policy
  ADD COLUMN replay_window interval NOT NULL DEFAULT interval '400 days'
             CHECK (replay_window >= interval '1 day' AND replay_window <= interval '3660 days');

-- 2. The claim of every external reference: unique across partitions and months.
CREATE TABLE ledger.entry_ref (
  external_ref  text PRIMARY KEY CHECK (length(external_ref) BETWEEN 1 AND 128),
  entry_id      bigint NOT NULL,
  business_day  date NOT NULL,
  content_hash  bytea NOT NULL CHECK (length(content_hash) = 32)
);
CREATE INDEX entry_ref_business_day ON ledger.entry_ref (business_day);
INSERT INTO ledger.entry_ref (external_ref, entry_id, business_day, content_hash)
SELECT external_ref, id, business_day, content_hash FROM ledger.journal_entry;
GRANT SELECT ON ledger.entry_ref TO promoledger_app, promoledger_auditor;

-- 3. The six tables, rebuilt. The old ones are renamed, their rows copied, then dropped (with the
--    functions whose arguments are their row types: the function files, applied after every
--    migration, create those again).
ALTER TABLE ledger.journal_entry RENAME TO journal_entry_0013;
ALTER SEQUENCE ledger.journal_entry_id_seq RENAME TO journal_entry_id_seq_0013;
ALTER TABLE ledger.journal_line RENAME TO journal_line_0013;
ALTER TABLE promo.payment RENAME TO payment_0013;
ALTER TABLE promo.payment_reversal RENAME TO payment_reversal_0013;
ALTER TABLE promo.payer_day RENAME TO payer_day_0013;
ALTER TABLE promo.deck RENAME TO deck_0013;
ALTER SEQUENCE promo.deck_id_seq RENAME TO deck_id_seq_0013;

CREATE TABLE ledger.journal_entry (
  id                 bigint GENERATED ALWAYS AS IDENTITY,
  external_ref       text NOT NULL CHECK (length(external_ref) BETWEEN 1 AND 128),
  kind               text NOT NULL CHECK (kind ~ '^[a-z_]{1,32}$'),
  business_day       date NOT NULL,
  posted_at          timestamptz NOT NULL DEFAULT now(),
  description        text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  content_hash       bytea NOT NULL CHECK (length(content_hash) = 32),
  reverses_entry_id  bigint
);
CREATE TABLE ledger.journal_line (
  entry_id           bigint NOT NULL,
  line_no            smallint NOT NULL CHECK (line_no BETWEEN 1 AND 64),
  account_id         bigint NOT NULL,
  side               char(1) NOT NULL CHECK (side IN ('D', 'C')),
  amount_fen         bigint NOT NULL CHECK (amount_fen > 0),
  account_seq        bigint NOT NULL CHECK (account_seq > 0),
  balance_after_fen  bigint NOT NULL,
  line_hash          bytea NOT NULL CHECK (length(line_hash) = 32),
  business_day       date NOT NULL  -- the entry's
);
CREATE TABLE promo.payment (
  payment_id          text NOT NULL CHECK (promo.payment_id_valid(payment_id)),
  payer_id            bigint NOT NULL,
  merchant_id         bigint NOT NULL,
  outlet_id           bigint NOT NULL,
  channel             text NOT NULL CHECK (channel IN ('bank_app', 'wechat', 'alipay')),
  amount_fen          bigint NOT NULL CHECK (amount_fen > 0),
  paid_at             timestamptz NOT NULL,
  business_day        date NOT NULL,
  campaign_id         bigint,
  deck_id             bigint,
  card_position       integer CHECK (card_position > 0),
  discount_fen        bigint NOT NULL DEFAULT 0 CHECK (discount_fen >= 0),
  payer_share_fen     bigint NOT NULL DEFAULT 0 CHECK (payer_share_fen >= 0),
  merchant_share_fen  bigint NOT NULL DEFAULT 0 CHECK (merchant_share_fen >= 0),
  reason              text CONSTRAINT payment_reason_known CHECK (reason IN (
                        'no_active_campaign', 'channel_not_eligible', 'campaign_paused', 'below_minimum_payment',
                        'outside_time_window', 'payer_daily_limit', 'budget_exhausted', 'not_dealt', 'day_closed',
                        'daily_cap_reached')),
  entry_id            bigint NOT NULL,
  CHECK ((reason IS NULL) = (discount_fen > 0)),
  CHECK ((deck_id IS NULL) = (card_position IS NULL)),
  CHECK ((deck_id IS NULL) = (discount_fen = 0)),
  CHECK (payer_share_fen + merchant_share_fen = discount_fen),
  CHECK (payer_share_fen < amount_fen)
);
CREATE TABLE promo.payment_reversal (
  payment_id    text NOT NULL,
  entry_id      bigint NOT NULL,
  business_day  date NOT NULL,  -- the reversal's
  reversed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE promo.payer_day (
  campaign_id   bigint NOT NULL,
  payer_id      bigint NOT NULL,
  business_day  date NOT NULL,
  discounts     integer NOT NULL CHECK (discounts >= 0)
);
CREATE TABLE promo.deck (
  id                 bigint GENERATED ALWAYS AS IDENTITY,
  campaign_id        bigint NOT NULL,
  merchant_id        bigint NOT NULL,
  business_day       date NOT NULL,
  algorithm_version  integer NOT NULL CHECK (algorithm_version > 0),
  deck_order         text NOT NULL CHECK (deck_order IN ('stratified', 'shuffled')),
  seed_commitment    text NOT NULL CHECK (seed_commitment ~ '^[0-9a-f]{64}$'),
  seed_revealed      text CHECK (seed_revealed ~ '^[0-9a-f]{64}$'),
  cards_fen          integer[] NOT NULL,
  card_count         integer NOT NULL,
  used_count         integer NOT NULL DEFAULT 0,
  reserved_fen       bigint NOT NULL CHECK (reserved_fen > 0),
  status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  dealt_at           timestamptz NOT NULL DEFAULT now(),
  closed_at          timestamptz,
  CHECK (card_count = cardinality(cards_fen)),
  CHECK (used_count BETWEEN 0 AND card_count),
  CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);

-- Partitioned by business day, one partition a month, unless the migrating session said otherwise.
DO $$
DECLARE
  partitioned boolean := coalesce(current_setting('promoledger.partitioning', true), 'on') <> 'off';
  -- The first month: the product's first (the pilot began in 2026-11), or an earlier one with data.
  first_month date := least(date '2026-11-01',
                            (SELECT date_trunc('month', min(business_day))::date FROM ledger.journal_entry_0013),
                            (SELECT date_trunc('month', min(business_day))::date FROM promo.deck_0013));
  t text;
BEGIN
  IF NOT partitioned THEN
    RETURN;
  END IF;
  FOREACH t IN ARRAY ARRAY['ledger.journal_entry', 'ledger.journal_line', 'promo.payment', 'promo.payment_reversal',
                           'promo.payer_day', 'promo.deck'] LOOP
    -- A table cannot be turned into a partitioned one: this one was just made, so it is made again as one.
    EXECUTE format('CREATE TABLE %s_partitioned (LIKE %s INCLUDING ALL) PARTITION BY RANGE (business_day)', t, t);
    EXECUTE format('DROP TABLE %s', t);
    EXECUTE format('ALTER TABLE %s_partitioned RENAME TO %s', t, split_part(t, '.', 2));
    -- The identity's sequence keeps the name the posting functions use (ledger.journal_entry_id_seq).
    IF t IN ('ledger.journal_entry', 'promo.deck') THEN
      EXECUTE format('ALTER SEQUENCE %s RENAME TO %s_id_seq', pg_get_serial_sequence(t, 'id'), split_part(t, '.', 2));
    END IF;
    PERFORM partman.create_parent(p_parent_table := t, p_control := 'business_day', p_type := 'native',
                                  p_interval := 'monthly', p_premake := 4, p_start_partition := first_month::text,
                                  p_jobmon := false);
  END LOOP;
END $$;

-- The identities continue where the old ones stood.
SELECT setval(pg_get_serial_sequence('ledger.journal_entry', 'id'),
              (SELECT last_value FROM ledger.journal_entry_id_seq_0013),
              (SELECT is_called FROM ledger.journal_entry_id_seq_0013));
SELECT setval(pg_get_serial_sequence('promo.deck', 'id'),
              (SELECT last_value FROM promo.deck_id_seq_0013), (SELECT is_called FROM promo.deck_id_seq_0013));

-- 4. The rows, unchanged (lines take their entry's day).
INSERT INTO ledger.journal_entry (id, external_ref, kind, business_day, posted_at, description, content_hash,
                                  reverses_entry_id)
OVERRIDING SYSTEM VALUE
SELECT id, external_ref, kind, business_day, posted_at, description, content_hash, reverses_entry_id
  FROM ledger.journal_entry_0013;
INSERT INTO ledger.journal_line (entry_id, line_no, account_id, side, amount_fen, account_seq, balance_after_fen,
                                 line_hash, business_day)
SELECT l.entry_id, l.line_no, l.account_id, l.side, l.amount_fen, l.account_seq, l.balance_after_fen, l.line_hash,
       e.business_day
  FROM ledger.journal_line_0013 l JOIN ledger.journal_entry_0013 e ON e.id = l.entry_id;
INSERT INTO promo.payment SELECT * FROM promo.payment_0013;
INSERT INTO promo.payment_reversal SELECT * FROM promo.payment_reversal_0013;
INSERT INTO promo.payer_day SELECT * FROM promo.payer_day_0013;
INSERT INTO promo.deck OVERRIDING SYSTEM VALUE SELECT * FROM promo.deck_0013;

-- The day closes' key to their deck goes with the keys into the partitioned tables (promo.verify checks it).
ALTER TABLE promo.day_close DROP CONSTRAINT day_close_deck_id_fkey;
DROP TABLE promo.payment_reversal_0013, promo.payment_0013, promo.payer_day_0013, promo.deck_0013,
           ledger.journal_line_0013, ledger.journal_entry_0013 CASCADE;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM ledger.journal_line l WHERE NOT EXISTS (
               SELECT 1 FROM ledger.journal_entry e WHERE e.id = l.entry_id AND e.business_day = l.business_day)) THEN
    RAISE EXCEPTION 'migration 0014: a line has no entry of its day; nothing was migrated';
  END IF;
END $$;

-- 5. Keys and indexes (each with the partition key), on the parents: every partition gets them.
ALTER TABLE ledger.journal_entry ADD PRIMARY KEY (id, business_day);
CREATE INDEX journal_entry_business_day ON ledger.journal_entry (business_day);
CREATE INDEX journal_entry_posted_at ON ledger.journal_entry (posted_at);
CREATE INDEX journal_entry_reverses ON ledger.journal_entry (reverses_entry_id) WHERE reverses_entry_id IS NOT NULL;
ALTER TABLE ledger.journal_line ADD PRIMARY KEY (entry_id, line_no, business_day);
ALTER TABLE ledger.journal_line ADD CONSTRAINT journal_line_account_seq UNIQUE (account_id, account_seq, business_day);
ALTER TABLE promo.payment ADD PRIMARY KEY (payment_id, business_day);
ALTER TABLE promo.payment ADD CONSTRAINT payment_entry UNIQUE (entry_id, business_day);
CREATE UNIQUE INDEX payment_card ON promo.payment (deck_id, card_position, business_day) WHERE deck_id IS NOT NULL;
CREATE INDEX payment_outlet_day_discounted ON promo.payment (outlet_id, business_day) WHERE deck_id IS NOT NULL;
ALTER TABLE promo.payment_reversal ADD PRIMARY KEY (payment_id, business_day);
ALTER TABLE promo.payment_reversal ADD CONSTRAINT payment_reversal_entry UNIQUE (entry_id, business_day);
ALTER TABLE promo.payer_day ADD PRIMARY KEY (campaign_id, payer_id, business_day);
ALTER TABLE promo.deck ADD PRIMARY KEY (id, business_day);
ALTER TABLE promo.deck ADD CONSTRAINT deck_merchant_day UNIQUE (merchant_id, business_day);
CREATE INDEX deck_day ON promo.deck (business_day, campaign_id);


-- 6. The guards, as before: append-only rows (cloned to every partition), no TRUNCATE of a parent
--    (ledger.guard_partitions adds it to each partition, now and at every `db maintain`), the
--    balance at commit, the closed days, the outlet daily budget.
CREATE TRIGGER journal_entry_append_only BEFORE UPDATE OR DELETE ON ledger.journal_entry
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER journal_entry_no_truncate BEFORE TRUNCATE ON ledger.journal_entry
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE CONSTRAINT TRIGGER journal_entry_balanced AFTER INSERT ON ledger.journal_entry
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.kind <> 'payment' OR left(NEW.external_ref, 8) <> 'payment:')
  EXECUTE FUNCTION ledger.check_entry_balanced();
CREATE TRIGGER journal_entry_day_open AFTER INSERT ON ledger.journal_entry
  REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_closed_days();
CREATE TRIGGER journal_line_append_only BEFORE UPDATE OR DELETE ON ledger.journal_line
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER journal_line_no_truncate BEFORE TRUNCATE ON ledger.journal_line
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER payment_append_only BEFORE UPDATE OR DELETE ON promo.payment
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER payment_no_truncate BEFORE TRUNCATE ON promo.payment
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER payment_reversal_append_only BEFORE UPDATE OR DELETE ON promo.payment_reversal
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER payment_reversal_no_truncate BEFORE TRUNCATE ON promo.payment_reversal
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER deck_within_outlet_daily_budget AFTER INSERT ON promo.deck
  REFERENCING NEW TABLE AS new_decks FOR EACH STATEMENT EXECUTE FUNCTION promo.deck_within_outlet_daily_budget();
CREATE TRIGGER deck_within_outlet_daily_budget_update AFTER UPDATE OF reserved_fen, campaign_id, merchant_id, business_day
  ON promo.deck FOR EACH ROW
  WHEN ((NEW.reserved_fen, NEW.campaign_id, NEW.merchant_id, NEW.business_day)
        IS DISTINCT FROM (OLD.reserved_fen, OLD.campaign_id, OLD.merchant_id, OLD.business_day))
  EXECUTE FUNCTION promo.deck_within_outlet_daily_budget();

-- The claims: a claim never changes, and only one older than the replay window may be deleted
-- (`db maintain`), so that idempotency holds for every payment that may still be sent.
CREATE FUNCTION ledger.entry_ref_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RETURN NULL;  -- the current text is in sql/functions/ledger.sql
END $$;
CREATE TRIGGER entry_ref_guard BEFORE UPDATE OR DELETE ON ledger.entry_ref
  FOR EACH ROW EXECUTE FUNCTION ledger.entry_ref_guard();
CREATE TRIGGER entry_ref_no_truncate BEFORE TRUNCATE ON ledger.entry_ref
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- 7. Reading, as before: everything to the auditor; the application all but the cards and seeds.
GRANT SELECT ON ledger.journal_entry, ledger.journal_line TO promoledger_app, promoledger_auditor;
GRANT SELECT ON promo.payment, promo.payment_reversal, promo.payer_day TO promoledger_app, promoledger_auditor;
GRANT SELECT ON promo.deck TO promoledger_auditor;
GRANT SELECT (id, campaign_id, merchant_id, business_day, algorithm_version, deck_order, seed_commitment, card_count,
              used_count, reserved_fen, status, dealt_at, closed_at) ON promo.deck TO promoledger_app;

-- ledger.verify takes the range of business days it verifies (sql/functions/periods.sql), the
-- promotion's checks the first day they read.
DROP FUNCTION ledger.verify(integer);
DROP FUNCTION IF EXISTS promo.verify(text[], integer), promo.violations_subsidy_lines_match_cards(),
  promo.violations_cards_used_once(), promo.violations_daily_cap(), promo.violations_split_adds_up(),
  promo.violations_budget_within_limit(), promo.violations_outlet_daily_budget(), promo.violations_referential_integrity();

-- 8. The types promo.post_payments passes: a locked deck knows its day (the partition key).
ALTER TYPE promo.locked_deck ADD ATTRIBUTE business_day date;

-- 9. Posting periods: a month closed with its anchors (per account: the chain's last sequence, hash,
--    totals and balance as of the close), and the links across months that verifying a month, or
--    the months after an anchor, needs. Append-only; a period's archive and restore are recorded as
--    events beside it.
CREATE TABLE ledger.period (
  month           date PRIMARY KEY CHECK (month = date_trunc('month', month)::date),
  closed_at       timestamptz NOT NULL DEFAULT now(),
  closed_by       text NOT NULL DEFAULT current_user,
  verified_lines  bigint NOT NULL CHECK (verified_lines >= 0),  -- lines verified at the close
  anchors         bigint NOT NULL CHECK (anchors >= 0),
  links           bigint NOT NULL CHECK (links >= 0),
  chain_digest    text NOT NULL CHECK (chain_digest ~ '^[0-9a-f]{64}$')  -- of the anchors: keep it outside
);
-- Anchors and links are written before their period row, in the same transaction (checked at commit).
CREATE TABLE ledger.period_anchor (
  month         date NOT NULL REFERENCES ledger.period (month) DEFERRABLE INITIALLY DEFERRED,
  account_id    bigint NOT NULL,
  normal_side   char(1) NOT NULL CHECK (normal_side IN ('D', 'C')),
  line_count    bigint NOT NULL CHECK (line_count >= 0),  -- the sequence number of the chain's last line
  head_hash     bytea NOT NULL CHECK (length(head_hash) = 32),
  debits_fen    bigint NOT NULL,
  credits_fen   bigint NOT NULL,
  PRIMARY KEY (month, account_id)
);
CREATE TABLE ledger.period_link (
  month              date NOT NULL REFERENCES ledger.period (month) DEFERRABLE INITIALLY DEFERRED,
  account_id         bigint NOT NULL,
  account_seq        bigint NOT NULL,
  business_day       date NOT NULL,  -- of the line
  line_hash          bytea NOT NULL CHECK (length(line_hash) = 32),
  balance_after_fen  bigint NOT NULL,
  PRIMARY KEY (month, account_id, account_seq)
);
CREATE INDEX period_link_line ON ledger.period_link (account_id, account_seq);
CREATE INDEX period_anchor_line ON ledger.period_anchor (account_id, line_count);
CREATE TABLE ledger.period_event (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  month     date NOT NULL REFERENCES ledger.period (month),
  event     text NOT NULL CHECK (event IN ('archived', 'restored')),
  detail    jsonb NOT NULL,  -- the manifest's digest and location, row counts
  at        timestamptz NOT NULL DEFAULT now(),
  by_whom   text NOT NULL DEFAULT current_user
);
CREATE TRIGGER period_append_only BEFORE UPDATE OR DELETE ON ledger.period
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER period_anchor_append_only BEFORE UPDATE OR DELETE ON ledger.period_anchor
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER period_link_append_only BEFORE UPDATE OR DELETE ON ledger.period_link
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER period_event_append_only BEFORE UPDATE OR DELETE ON ledger.period_event
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
GRANT SELECT ON ledger.period, ledger.period_anchor, ledger.period_link, ledger.period_event
  TO promoledger_app, promoledger_auditor;
