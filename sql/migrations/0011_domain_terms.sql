-- promoledger migration 0011: every domain term stored as text has one list, checked where it is
-- stored. The no-discount reasons had none (promo/terms.hpp holds the same list; DomainTermsTest in
-- tests/posting_test.cpp compares the two). NULL is the reason of a discounted payment.
ALTER TABLE promo.payment ADD CONSTRAINT payment_reason_known CHECK (reason IN (
  'no_active_campaign', 'channel_not_eligible', 'campaign_paused', 'below_minimum_payment',
  'outside_time_window', 'payer_daily_limit', 'budget_exhausted', 'not_dealt', 'day_closed',
  'daily_cap_reached'));
