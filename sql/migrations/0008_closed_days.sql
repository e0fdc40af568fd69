-- promoledger migration 0008: closed business days stop moving (docs/accounting.md, "Closed days and
-- impossible times").
--
-- `promoledger close-day` records the day here, in the same transaction that closes its decks. A
-- business day on or before the latest closed day is closed: payments and payment reversals into it
-- are refused (business_day_closed), so a closed day's reports never change. Append-only.
CREATE TABLE ledger.business_day_close (
  business_day  date PRIMARY KEY,
  closed_at     timestamptz NOT NULL DEFAULT now(),
  closed_by     text NOT NULL DEFAULT current_user
);
CREATE TRIGGER business_day_close_append_only BEFORE UPDATE OR DELETE ON ledger.business_day_close
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER business_day_close_no_truncate BEFORE TRUNCATE ON ledger.business_day_close
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
GRANT SELECT ON ledger.business_day_close TO promoledger_app, promoledger_auditor;
-- Days closed before this migration: those whose decks were closed.
INSERT INTO ledger.business_day_close (business_day, closed_at)
SELECT business_day, max(closed_at) FROM promo.deck WHERE status = 'closed' GROUP BY business_day;
