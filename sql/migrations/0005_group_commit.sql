-- promoledger migration 0005: payments are posted set-wise (promo.post_payments, sql/functions/promo.sql).
--
-- From this migration on, every function's current text lives in sql/functions/<schema>.sql and is
-- re-applied by `db migrate` when it changes; the CREATE FUNCTION statements in 0001..0004 are history.
-- What the batch posting no longer needs is dropped here, so that nothing lingers that could post by
-- another route or be mistaken for the current rule:
--   promo.replay, promo.result_of  replays are answered set-wise inside promo.post_payments.
DROP FUNCTION promo.replay(text, bytea);
DROP FUNCTION promo.result_of(promo.payment, text);
