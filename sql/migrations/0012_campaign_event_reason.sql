-- promoledger migration 0012: a campaign's pause, resume and end carry the reason given, kept with the
-- event (who, when, from, to, why) in promo.campaign_event, which refuses UPDATE and DELETE. NULL for
-- events without one (creation, approval, steps recorded before this migration).
ALTER TABLE promo.campaign_event
  ADD COLUMN reason text CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 500);
