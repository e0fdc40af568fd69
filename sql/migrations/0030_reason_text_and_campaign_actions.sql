-- promoledger migration 0030 (house): two terms that had a second, diverging definition.
--
-- 1. A reason is 1..500 bytes (ledger/reason.hpp: reason_bytes_max, counted in bytes). The columns
--    checked length(), which counts characters, so 500 Chinese characters (1,500 bytes) passed here
--    and not in C++. One definition on this side now: the domain ledger.reason_text, the type of both
--    reason columns; TermsAgreeTest (tests/terms_agree_test.cpp) holds it to the C++ one. Every row
--    stored so far came through C++ (at most 500 bytes), so the new check holds for them.
CREATE DOMAIN ledger.reason_text AS text CHECK (octet_length(VALUE) BETWEEN 1 AND 500);

ALTER TABLE ledger.posting_policy DROP CONSTRAINT posting_policy_reason_check;
ALTER TABLE ledger.posting_policy ALTER COLUMN reason TYPE ledger.reason_text;

-- NULL: a step without a reason (the domain's CHECK lets NULL through).
ALTER TABLE promo.campaign_event DROP CONSTRAINT campaign_event_reason_check;
ALTER TABLE promo.campaign_event ALTER COLUMN reason TYPE ledger.reason_text;

-- 2. What was done to a campaign is one of promo/terms.hpp's CampaignAction names (DomainTermsTest in
--    tests/posting_test.cpp and TermsAgreeTest compare the lists).
ALTER TABLE promo.campaign_event ADD CONSTRAINT campaign_event_action_known
  CHECK (action IN ('create', 'approve', 'pause', 'resume', 'end'));
