-- promoledger migration 0010: the outlet daily budget, enforced where the data lives (docs/accounting.md,
-- "Invariants"; docs/promotion.md, "Budget").
--
-- A campaign may set outlet_daily_budget_fen: on one business day, the decks dealt to the merchants of
-- one home outlet may reserve at most that much (a deck reserves its whole face value when it is dealt,
-- and no card is ever paid beyond its deck). Until now only dealing checked it (promo/src/dealing.cpp,
-- deal_campaign, under the campaign row lock). This is the second check, on promo.deck itself:
--
--   23514 check_violation, constraint deck_within_outlet_daily_budget
--     the decks of (campaign, outlet, business day) reserve more than the campaign's outlet daily
--     budget, after an INSERT of decks or an UPDATE that moves a reservation (reserved_fen) or a deck
--     (campaign, merchant, day). The outlet is the merchant's home outlet in promo.campaign_merchant,
--     as dealing uses it.
--
-- Why triggers and not a CHECK: the rule sums many rows. Why these two:
--   * INSERT: one check per statement over its transition table, so dealing 100,000 decks in chunks of
--     5,000 runs 20 checks, not 100,000; a campaign without an outlet budget costs a DISTINCT over the
--     statement's new rows and nothing more.
--   * UPDATE: per row, and only when reserved_fen, campaign_id, merchant_id or business_day is named and
--     changes. Payments take cards with UPDATE ... SET used_count on the hot path, and closing sets
--     status and seeds: neither fires it (a statement-level UPDATE trigger would cost every batch).
-- Concurrency: the check locks the touched campaigns' rows (FOR UPDATE, id order) before it sums, as
-- dealing does, so two writers of one campaign's decks cannot each pass on a snapshot without the other.
-- Not covered here, on purpose: the budget itself cannot shrink under existing decks, because approved
-- parameters are frozen (promo.campaign_frozen) and a draft has no decks; `audit verify` check
-- outlet_daily_budget finds what a superuser does with triggers disabled.
CREATE FUNCTION promo.deck_within_outlet_daily_budget() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_bad record;
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    PERFORM 1 FROM promo.campaign c
      WHERE c.id IN (SELECT DISTINCT n.campaign_id FROM new_decks n) AND c.outlet_daily_budget_fen IS NOT NULL
      ORDER BY c.id FOR UPDATE;
    SELECT t.campaign_id, t.outlet_id, t.business_day, u.reserved_fen, c.outlet_daily_budget_fen INTO v_bad
      FROM (SELECT DISTINCT n.campaign_id, cm.outlet_id, n.business_day FROM new_decks n
              JOIN promo.campaign_merchant cm ON cm.campaign_id = n.campaign_id AND cm.merchant_id = n.merchant_id) t
      JOIN promo.campaign c ON c.id = t.campaign_id AND c.outlet_daily_budget_fen IS NOT NULL
      CROSS JOIN LATERAL (SELECT sum(d.reserved_fen) AS reserved_fen FROM promo.deck d
                            JOIN promo.campaign_merchant cm ON cm.campaign_id = d.campaign_id AND cm.merchant_id = d.merchant_id
                           WHERE d.campaign_id = t.campaign_id AND d.business_day = t.business_day
                             AND cm.outlet_id = t.outlet_id) u
     WHERE u.reserved_fen > c.outlet_daily_budget_fen
     ORDER BY t.campaign_id, t.business_day, t.outlet_id LIMIT 1;
  ELSE
    PERFORM 1 FROM promo.campaign c WHERE c.id = NEW.campaign_id AND c.outlet_daily_budget_fen IS NOT NULL FOR UPDATE;
    SELECT cm.campaign_id, cm.outlet_id, NEW.business_day, u.reserved_fen, c.outlet_daily_budget_fen INTO v_bad
      FROM promo.campaign_merchant cm
      JOIN promo.campaign c ON c.id = cm.campaign_id AND c.outlet_daily_budget_fen IS NOT NULL
      CROSS JOIN LATERAL (SELECT sum(d.reserved_fen) AS reserved_fen FROM promo.deck d
                            JOIN promo.campaign_merchant dm ON dm.campaign_id = d.campaign_id AND dm.merchant_id = d.merchant_id
                           WHERE d.campaign_id = cm.campaign_id AND d.business_day = NEW.business_day
                             AND dm.outlet_id = cm.outlet_id) u
     WHERE cm.campaign_id = NEW.campaign_id AND cm.merchant_id = NEW.merchant_id
       AND u.reserved_fen > c.outlet_daily_budget_fen;
  END IF;
  IF FOUND THEN  -- of the SELECT INTO just above
    RAISE EXCEPTION 'outlet daily budget exceeded: campaign %, outlet %, day %: decks reserve % fen, the budget is % fen',
      v_bad.campaign_id, (SELECT code FROM ledger.org_unit WHERE id = v_bad.outlet_id), v_bad.business_day,
      v_bad.reserved_fen, v_bad.outlet_daily_budget_fen
      USING ERRCODE = 'check_violation', CONSTRAINT = 'deck_within_outlet_daily_budget', TABLE = 'deck',
            SCHEMA = 'promo';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER deck_within_outlet_daily_budget AFTER INSERT ON promo.deck
  REFERENCING NEW TABLE AS new_decks FOR EACH STATEMENT EXECUTE FUNCTION promo.deck_within_outlet_daily_budget();
CREATE TRIGGER deck_within_outlet_daily_budget_update AFTER UPDATE OF reserved_fen, campaign_id, merchant_id, business_day
  ON promo.deck FOR EACH ROW
  WHEN ((NEW.reserved_fen, NEW.campaign_id, NEW.merchant_id, NEW.business_day)
        IS DISTINCT FROM (OLD.reserved_fen, OLD.campaign_id, OLD.merchant_id, OLD.business_day))
  EXECUTE FUNCTION promo.deck_within_outlet_daily_budget();
-- A trigger function is not for calling; nobody but the owner needs it.
REVOKE ALL ON FUNCTION promo.deck_within_outlet_daily_budget() FROM PUBLIC;

-- Like a CHECK added to a table, the rule holds for the rows already there: decks dealt before this
-- migration (by dealing, which kept the budget) are checked once, and a database that breaks it is not
-- migrated until someone has looked (the message names the first excess; `audit verify` lists them).
DO $$
DECLARE
  v_bad record;
BEGIN
  SELECT d.campaign_id, cm.outlet_id, d.business_day, sum(d.reserved_fen) AS reserved_fen,
         max(c.outlet_daily_budget_fen) AS budget_fen INTO v_bad
    FROM promo.deck d
    JOIN promo.campaign c ON c.id = d.campaign_id AND c.outlet_daily_budget_fen IS NOT NULL
    JOIN promo.campaign_merchant cm ON cm.campaign_id = d.campaign_id AND cm.merchant_id = d.merchant_id
   GROUP BY d.campaign_id, cm.outlet_id, d.business_day
  HAVING sum(d.reserved_fen) > max(c.outlet_daily_budget_fen)
   ORDER BY 1, 3, 2 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'outlet daily budget exceeded before migration 0010: campaign %, outlet id %, day %: decks reserve % fen, the budget is % fen',
      v_bad.campaign_id, v_bad.outlet_id, v_bad.business_day, v_bad.reserved_fen, v_bad.budget_fen
      USING ERRCODE = 'check_violation', CONSTRAINT = 'deck_within_outlet_daily_budget';
  END IF;
END $$;
