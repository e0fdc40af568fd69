-- promoledger migration 0005: payments are posted set-wise (promo.post_payments, sql/functions/promo.sql).
--
-- From this migration on, every function's current text lives in sql/functions/<schema>.sql and is
-- re-applied by `db migrate` when it changes; the CREATE FUNCTION statements in 0001..0004 are history.
-- What the batch posting no longer needs is dropped here, so that nothing lingers that could post by
-- another route or be mistaken for the current rule:
--   promo.replay, promo.result_of  replays are answered set-wise inside promo.post_payments.
DROP FUNCTION promo.replay(text, bytea);
DROP FUNCTION promo.result_of(promo.payment, text);

-- Two per-row costs that a set-wise posting should not pay, each replaced by a check per batch or by
-- audit verify (measured on a 100-payment batch: the entry trigger ~14 µs and the two foreign-key
-- checks ~20 µs of ~160 µs of server CPU per payment):
-- 1. The deferred balance check ran once per entry at commit (a trigger call and a query each).
--    Payment entries (kind payment, reference payment:<id>) are checked once per batch instead, by
--    promo.post_payments reading back the lines it wrote (one GROUP BY over the batch); only that
--    function may use a payment:... reference (ledger.post_entry refuses it), so no payment entry
--    escapes both checks. Other entries keep the deferred check; the WHEN clause means a payment entry
--    does not even queue it.
DROP TRIGGER journal_entry_balanced ON ledger.journal_entry;
CREATE CONSTRAINT TRIGGER journal_entry_balanced AFTER INSERT ON ledger.journal_entry
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.kind <> 'payment' OR left(NEW.external_ref, 8) <> 'payment:')
  EXECUTE FUNCTION ledger.check_entry_balanced();
-- 2. The foreign keys from lines and payments to their entry: the posting functions write an entry and
--    its lines and payment row in the same transaction from ids they have just assigned, the
--    application role cannot insert into these tables, and `audit verify` checks both references
--    (check referential_integrity), as it does for the keys 0004 dropped.
ALTER TABLE ledger.journal_line DROP CONSTRAINT journal_line_entry_id_fkey;
ALTER TABLE promo.payment DROP CONSTRAINT payment_entry_id_fkey;
