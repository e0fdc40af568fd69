-- promoledger migration 0007: holes found by tests/security_test.cpp, closed.
--
-- TRUNCATE skipped the row-level append-only guards of payments, reversals, campaigns and API
-- tokens (the journal tables have had statement-level guards since 0001). Even the owner may not
-- empty them now.
CREATE TRIGGER payment_no_truncate BEFORE TRUNCATE ON promo.payment
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER payment_reversal_no_truncate BEFORE TRUNCATE ON promo.payment_reversal
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER campaign_no_truncate BEFORE TRUNCATE ON promo.campaign
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER token_no_truncate BEFORE TRUNCATE ON api.token
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
-- A trigger function is not for calling; nobody but the owner needs it.
REVOKE ALL ON FUNCTION api.token_guard() FROM PUBLIC;
