-- promoledger migration 0003: campaigns, decks, payments and the one-round-trip payment posting.
--
-- Budget rule (docs/promotion.md): a deck is funded when it is dealt. Its whole face value is reserved
-- against the campaign budget (and the outlet's daily budget, when set); a merchant whose deck the
-- remaining budget cannot cover gets no deck that day (recorded in promo.deck_unfunded), and its
-- payments get no discount with the reason budget_exhausted. Closing the day moves the used part to
-- spent and releases the rest. So no card is ever dealt that the budget cannot pay, the payment path
-- needs no budget lock, and reserved + spent <= total is a CHECK on the campaign row.

CREATE SCHEMA promo;
REVOKE ALL ON SCHEMA promo FROM PUBLIC;
GRANT USAGE ON SCHEMA promo TO promoledger_app, promoledger_auditor;

CREATE TABLE promo.campaign (
  id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name                     text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  status                   text NOT NULL DEFAULT 'draft'
                             CHECK (status IN ('draft', 'approved', 'active', 'paused', 'ended')),
  funding_branch_id        bigint NOT NULL REFERENCES ledger.org_unit (id),
  gl_code                  text NOT NULL CHECK (gl_code ~ '^[0-9A-Za-z]{1,16}$'),
  channel                  text NOT NULL CHECK (channel IN ('bank_app', 'wechat', 'alipay')),
  first_day                date NOT NULL,
  last_day                 date NOT NULL,
  window_start_local       time,
  window_end_local         time,
  min_payment_fen          bigint NOT NULL CHECK (min_payment_fen > 0),
  min_discount_fen         bigint NOT NULL CHECK (min_discount_fen > 0),
  max_discount_fen         bigint NOT NULL,
  band_low_fen             bigint NOT NULL,
  band_high_fen            bigint NOT NULL,
  band_share_bp            integer NOT NULL CHECK (band_share_bp BETWEEN 0 AND 10000),
  cards_per_day            integer NOT NULL CHECK (cards_per_day BETWEEN 1 AND 10000),
  payer_share_bp           integer NOT NULL CHECK (payer_share_bp BETWEEN 0 AND 10000),
  deck_order               text NOT NULL CHECK (deck_order IN ('stratified', 'shuffled')),
  payer_daily_limit        integer CHECK (payer_daily_limit > 0),
  budget_total_fen         bigint NOT NULL CHECK (budget_total_fen > 0),
  outlet_daily_budget_fen  bigint CHECK (outlet_daily_budget_fen > 0),
  budget_reserved_fen      bigint NOT NULL DEFAULT 0 CHECK (budget_reserved_fen >= 0),
  budget_spent_fen         bigint NOT NULL DEFAULT 0 CHECK (budget_spent_fen >= 0),
  params                   jsonb NOT NULL,
  -- HMAC key of the deck dealing; not readable by the application role (column privileges below).
  secret                   bytea NOT NULL CHECK (length(secret) = 32),
  created_by               text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 64),
  created_at               timestamptz NOT NULL DEFAULT now(),
  approved_by              text,
  approved_at              timestamptz,
  CHECK (first_day <= last_day),
  CHECK ((window_start_local IS NULL) = (window_end_local IS NULL)),
  CHECK (min_discount_fen <= band_low_fen AND band_low_fen <= band_high_fen AND band_high_fen <= max_discount_fen),
  -- The payer's share can never reach the payment: the payer always pays something.
  CHECK ((max_discount_fen * payer_share_bp) / 10000 < min_payment_fen),
  -- Maker-checker: the approver is a different person from the creator.
  CHECK (approved_by IS NULL OR approved_by <> created_by),
  CHECK ((approved_by IS NULL) = (approved_at IS NULL)),
  CHECK (status = 'draft' OR approved_by IS NOT NULL),
  -- The budget is never exceeded, whatever the code above does.
  CONSTRAINT budget_not_exceeded CHECK (budget_reserved_fen + budget_spent_fen <= budget_total_fen)
);

-- Approved parameters are immutable: after approval only the status and the budget counters move.
CREATE FUNCTION promo.campaign_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'draft' AND (
       (OLD.name, OLD.funding_branch_id, OLD.gl_code, OLD.channel, OLD.first_day, OLD.last_day, OLD.window_start_local,
        OLD.window_end_local, OLD.min_payment_fen, OLD.min_discount_fen, OLD.max_discount_fen, OLD.band_low_fen,
        OLD.band_high_fen, OLD.band_share_bp, OLD.cards_per_day, OLD.payer_share_bp, OLD.deck_order,
        OLD.payer_daily_limit, OLD.budget_total_fen, OLD.outlet_daily_budget_fen, OLD.params::text, OLD.secret,
        OLD.created_by, OLD.created_at, OLD.approved_by, OLD.approved_at)
       IS DISTINCT FROM
       (NEW.name, NEW.funding_branch_id, NEW.gl_code, NEW.channel, NEW.first_day, NEW.last_day, NEW.window_start_local,
        NEW.window_end_local, NEW.min_payment_fen, NEW.min_discount_fen, NEW.max_discount_fen, NEW.band_low_fen,
        NEW.band_high_fen, NEW.band_share_bp, NEW.cards_per_day, NEW.payer_share_bp, NEW.deck_order,
        NEW.payer_daily_limit, NEW.budget_total_fen, NEW.outlet_daily_budget_fen, NEW.params::text, NEW.secret,
        NEW.created_by, NEW.created_at, NEW.approved_by, NEW.approved_at)) THEN
    RAISE EXCEPTION 'campaign %: parameters are immutable once approved (status %)', OLD.id, OLD.status
      USING ERRCODE = 'PL006';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER campaign_frozen BEFORE UPDATE ON promo.campaign FOR EACH ROW EXECUTE FUNCTION promo.campaign_frozen();
CREATE TRIGGER campaign_no_delete BEFORE DELETE ON promo.campaign FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();

-- Every lifecycle step with who did it.
CREATE TABLE promo.campaign_event (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  campaign_id  bigint NOT NULL REFERENCES promo.campaign (id),
  at           timestamptz NOT NULL DEFAULT now(),
  actor        text NOT NULL,
  action       text NOT NULL,
  from_status  text,
  to_status    text NOT NULL
);
CREATE INDEX campaign_event_campaign ON promo.campaign_event (campaign_id);

-- Participating merchants; each is funded from its home outlet's subsidy account for the campaign's GL code.
CREATE TABLE promo.campaign_merchant (
  campaign_id         bigint NOT NULL REFERENCES promo.campaign (id),
  merchant_id         bigint NOT NULL REFERENCES ledger.merchant (id),
  outlet_id           bigint NOT NULL REFERENCES ledger.org_unit (id),
  subsidy_account_id  bigint NOT NULL REFERENCES ledger.account (id),
  PRIMARY KEY (campaign_id, merchant_id)
);
CREATE INDEX campaign_merchant_merchant ON promo.campaign_merchant (merchant_id);

-- A merchant's deck for one business day. cards_fen[1..card_count] in the order payments take them;
-- used_count cards have been taken. seed_revealed is written when the day closes (the commitment is
-- public from the start, the seed only afterwards).
CREATE TABLE promo.deck (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  campaign_id        bigint NOT NULL REFERENCES promo.campaign (id),
  merchant_id        bigint NOT NULL REFERENCES ledger.merchant (id),
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
  CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
  -- A merchant is in at most one campaign on a day (checked at approval), so one deck per merchant-day.
  UNIQUE (merchant_id, business_day)
) WITH (fillfactor = 50);
CREATE INDEX deck_day ON promo.deck (business_day, campaign_id);

-- Merchants that got no deck because the budget could not cover it.
CREATE TABLE promo.deck_unfunded (
  campaign_id   bigint NOT NULL REFERENCES promo.campaign (id),
  merchant_id   bigint NOT NULL REFERENCES ledger.merchant (id),
  business_day  date NOT NULL,
  needed_fen    bigint NOT NULL,
  reason        text NOT NULL,
  PRIMARY KEY (merchant_id, business_day)
);

-- One row per posted payment, discounted or not; never updated (a reversal is a row of its own).
CREATE TABLE promo.payment (
  payment_id          text PRIMARY KEY CHECK (payment_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
  payer_id            bigint NOT NULL REFERENCES ledger.payer (id),
  merchant_id         bigint NOT NULL REFERENCES ledger.merchant (id),
  outlet_id           bigint NOT NULL REFERENCES ledger.org_unit (id),
  channel             text NOT NULL CHECK (channel IN ('bank_app', 'wechat', 'alipay')),
  amount_fen          bigint NOT NULL CHECK (amount_fen > 0),
  paid_at             timestamptz NOT NULL,
  business_day        date NOT NULL,
  campaign_id         bigint REFERENCES promo.campaign (id),
  deck_id             bigint REFERENCES promo.deck (id),
  card_position       integer CHECK (card_position > 0),
  discount_fen        bigint NOT NULL DEFAULT 0 CHECK (discount_fen >= 0),
  payer_share_fen     bigint NOT NULL DEFAULT 0 CHECK (payer_share_fen >= 0),
  merchant_share_fen  bigint NOT NULL DEFAULT 0 CHECK (merchant_share_fen >= 0),
  reason              text,
  entry_id            bigint NOT NULL UNIQUE REFERENCES ledger.journal_entry (id),
  CHECK ((reason IS NULL) = (discount_fen > 0)),
  CHECK ((deck_id IS NULL) = (card_position IS NULL)),
  CHECK ((deck_id IS NULL) = (discount_fen = 0)),
  CHECK (payer_share_fen + merchant_share_fen = discount_fen),
  CHECK (payer_share_fen < amount_fen)
);
-- Each card is used by at most one payment.
CREATE UNIQUE INDEX payment_card ON promo.payment (deck_id, card_position) WHERE deck_id IS NOT NULL;
CREATE INDEX payment_outlet_day_discounted ON promo.payment (outlet_id, business_day) WHERE deck_id IS NOT NULL;
CREATE TRIGGER payment_append_only BEFORE UPDATE OR DELETE ON promo.payment
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();

CREATE TABLE promo.payment_reversal (
  payment_id    text PRIMARY KEY REFERENCES promo.payment (payment_id),
  entry_id      bigint NOT NULL UNIQUE REFERENCES ledger.journal_entry (id),
  business_day  date NOT NULL,
  reversed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER payment_reversal_append_only BEFORE UPDATE OR DELETE ON promo.payment_reversal
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();

-- Discounts a payer got per campaign and day (only kept when the campaign has a per-payer limit).
CREATE TABLE promo.payer_day (
  campaign_id   bigint NOT NULL,
  payer_id      bigint NOT NULL,
  business_day  date NOT NULL,
  discounts     integer NOT NULL CHECK (discounts >= 0),
  PRIMARY KEY (campaign_id, payer_id, business_day)
);

-- Running aggregates per merchant, day and channel, kept by the posting path so that reports over
-- months of payments read thousands of rows, not millions. The row is per merchant because the
-- merchant's settlement account is locked by the same payments anyway: no new contention.
CREATE TABLE promo.merchant_day_stats (
  merchant_id          bigint NOT NULL REFERENCES ledger.merchant (id),
  business_day         date NOT NULL,
  channel              text NOT NULL,
  payments             bigint NOT NULL DEFAULT 0,
  amount_fen           bigint NOT NULL DEFAULT 0,
  discounted           bigint NOT NULL DEFAULT 0,
  discount_fen         bigint NOT NULL DEFAULT 0,
  payer_share_fen      bigint NOT NULL DEFAULT 0,
  merchant_share_fen   bigint NOT NULL DEFAULT 0,
  reversed             bigint NOT NULL DEFAULT 0,
  reversed_amount_fen  bigint NOT NULL DEFAULT 0,
  reversed_discount_fen bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (merchant_id, business_day, channel)
) WITH (fillfactor = 50);
CREATE INDEX merchant_day_stats_day ON promo.merchant_day_stats (business_day);

-- What closing a day recorded, per deck.
CREATE TABLE promo.day_close (
  campaign_id     bigint NOT NULL REFERENCES promo.campaign (id),
  merchant_id     bigint NOT NULL REFERENCES ledger.merchant (id),
  outlet_id       bigint NOT NULL REFERENCES ledger.org_unit (id),
  business_day    date NOT NULL,
  deck_id         bigint NOT NULL UNIQUE REFERENCES promo.deck (id),
  cards_dealt     integer NOT NULL,
  cards_used      integer NOT NULL,
  cards_expired   integer NOT NULL,
  subsidy_fen     bigint NOT NULL,
  released_fen    bigint NOT NULL,
  used_in_band    integer NOT NULL,
  closed_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (campaign_id, merchant_id, business_day),
  CHECK (cards_used + cards_expired = cards_dealt)
);

CREATE TYPE promo.payment_result AS (
  status              text,     -- posted | exists | a rejection (nothing written)
  payment_id          text,
  entry_id            bigint,
  discounted          boolean,
  reason              text,     -- why no discount, NULL when discounted
  amount_fen          bigint,
  discount_fen        bigint,
  payer_share_fen     bigint,
  merchant_share_fen  bigint,
  campaign_id         bigint,
  deck_id             bigint,
  card_position       integer,
  business_day        date,
  detail              text      -- words for a rejection
);

-- The stored result of a payment, as a replay returns it.
CREATE FUNCTION promo.result_of(p_payment promo.payment, p_status text) RETURNS promo.payment_result
LANGUAGE sql STABLE AS $$
  SELECT ROW(p_status, p_payment.payment_id, p_payment.entry_id, p_payment.discount_fen > 0, p_payment.reason,
             p_payment.amount_fen, p_payment.discount_fen, p_payment.payer_share_fen, p_payment.merchant_share_fen,
             p_payment.campaign_id, p_payment.deck_id, p_payment.card_position, p_payment.business_day,
             NULL::text)::promo.payment_result
$$;

-- A replay: the same content returns the first result ('exists'); other content is rejected.
CREATE FUNCTION promo.replay(p_payment_id text, p_content_hash bytea) RETURNS promo.payment_result
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, ledger, promo AS $$
DECLARE
  v_payment promo.payment;
  v_entry_hash bytea;
  r promo.payment_result;
BEGIN
  SELECT * INTO v_payment FROM promo.payment WHERE payment_id = p_payment_id;
  IF NOT FOUND THEN
    r.status := 'external_ref_taken';
    r.payment_id := p_payment_id;
    r.detail := format('journal reference payment:%s is used by an entry that is not a payment', p_payment_id);
    RETURN r;
  END IF;
  SELECT content_hash INTO v_entry_hash FROM ledger.journal_entry WHERE id = v_payment.entry_id;
  IF v_entry_hash = p_content_hash THEN
    RETURN promo.result_of(v_payment, 'exists');
  END IF;
  r := promo.result_of(v_payment, 'exists_with_different_content');
  r.detail := format('payment %s was already posted (entry %s) with different payer, merchant, channel, amount or time',
                     p_payment_id, v_payment.entry_id);
  RETURN r;
END $$;

-- Posts one scan payment as one balanced entry, with its discount when eligible. One call = one
-- round trip = one transaction. Lock order (no deadlocks): the entry's external_ref (same payment id
-- only), the payer's day counter, the merchant's deck row, the accounts in id order, the stats row.
CREATE FUNCTION promo.post_payment(p_payment_id text, p_payer text, p_merchant text, p_channel text,
                                   p_amount_fen bigint, p_paid_at timestamptz, p_business_day date)
RETURNS promo.payment_result
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, ledger, promo AS $$
DECLARE
  r promo.payment_result;
  v_hash bytea;
  v_local timestamp;
  v_merchant_id bigint;
  v_outlet_id bigint;
  v_merchant_account bigint;
  v_payer_id bigint;
  v_payer_account bigint;
  v_campaign record;
  v_entry ledger.journal_entry;
  v_count integer;
  v_deck promo.deck;
BEGIN
  r.payment_id := p_payment_id;
  r.amount_fen := p_amount_fen;
  r.business_day := p_business_day;
  r.discounted := false;
  r.discount_fen := 0;
  r.payer_share_fen := 0;
  r.merchant_share_fen := 0;
  -- Guards: every reason to reject, before anything is written.
  IF p_payment_id IS NULL OR p_payment_id !~ '^[A-Za-z0-9_.:-]{1,64}$' THEN
    r.status := 'invalid_payment_id'; r.detail := 'payment id must be 1..64 of A-Z a-z 0-9 _ . : -'; RETURN r;
  END IF;
  IF p_amount_fen IS NULL OR p_amount_fen <= 0 THEN
    r.status := 'amount_must_be_positive'; r.detail := format('amount %s fen', p_amount_fen); RETURN r;
  END IF;
  IF p_amount_fen > 10000000000 THEN  -- 100,000,000.00 CNY: no scan payment is larger
    r.status := 'amount_too_large'; r.detail := format('amount %s fen exceeds 10000000000 fen', p_amount_fen); RETURN r;
  END IF;
  IF p_channel IS NULL OR p_channel NOT IN ('bank_app', 'wechat', 'alipay') THEN
    r.status := 'unknown_channel'; r.detail := format('channel %s is not bank_app, wechat or alipay', p_channel); RETURN r;
  END IF;
  -- The caller computes the business day with the tz database (Asia/Shanghai); this is the second path.
  v_local := p_paid_at AT TIME ZONE 'Asia/Shanghai';
  IF p_business_day IS NULL OR v_local::date <> p_business_day THEN
    r.status := 'business_day_mismatch';
    r.detail := format('paid at %s local is day %s, not %s', v_local, v_local::date, p_business_day); RETURN r;
  END IF;
  -- What a replay must match: payer, merchant, channel, amount, time (microseconds) and id. Stored as
  -- the entry's content_hash. Written as an expression, not a function call: no statement per payment.
  v_hash := sha256(convert_to(concat_ws('|', 'v1', p_payer, p_merchant, p_channel, p_amount_fen,
    (extract(epoch FROM p_paid_at) * 1000000)::bigint, p_payment_id), 'UTF8'));
  -- A replay is answered before any lock is taken.
  IF EXISTS (SELECT 1 FROM promo.payment WHERE payment_id = p_payment_id) THEN
    RETURN promo.replay(p_payment_id, v_hash);
  END IF;
  SELECT m.id, m.outlet_id, m.account_id, p.id, p.account_id
    INTO v_merchant_id, v_outlet_id, v_merchant_account, v_payer_id, v_payer_account
    FROM (SELECT 1) AS one LEFT JOIN ledger.merchant m ON m.code = p_merchant LEFT JOIN ledger.payer p ON p.code = p_payer;
  IF v_merchant_id IS NULL THEN
    r.status := 'unknown_merchant'; r.detail := format('no merchant %s', p_merchant); RETURN r;
  END IF;
  IF v_payer_id IS NULL THEN
    r.status := 'unknown_payer'; r.detail := format('no payer %s', p_payer); RETURN r;
  END IF;

  -- Claim the payment id. A concurrent duplicate waits here until the first commits, then replays.
  INSERT INTO ledger.journal_entry (external_ref, kind, business_day, description, content_hash)
  VALUES ('payment:' || p_payment_id, 'payment', p_business_day,
          format('%s scan payment %s: %s to %s', p_channel, p_payment_id, p_payer, p_merchant), v_hash)
  ON CONFLICT (external_ref) DO NOTHING
  RETURNING * INTO v_entry;
  IF v_entry.id IS NULL THEN
    RETURN promo.replay(p_payment_id, v_hash);
  END IF;

  -- Eligibility: the first reason found is recorded.
  SELECT c.id, c.channel, c.status, c.min_payment_fen, c.window_start_local, c.window_end_local, c.payer_daily_limit,
         c.payer_share_bp, cm.subsidy_account_id
    INTO v_campaign
    FROM promo.campaign_merchant cm JOIN promo.campaign c ON c.id = cm.campaign_id
   WHERE cm.merchant_id = v_merchant_id AND c.status IN ('active', 'paused')
     AND p_business_day BETWEEN c.first_day AND c.last_day
   ORDER BY c.id LIMIT 1;
  IF NOT FOUND THEN
    r.reason := 'no_active_campaign';
  ELSIF p_channel <> v_campaign.channel THEN
    r.reason := 'channel_not_eligible';
  ELSIF v_campaign.status = 'paused' THEN
    r.reason := 'campaign_paused';
  ELSIF p_amount_fen < v_campaign.min_payment_fen THEN
    r.reason := 'below_minimum_payment';
  ELSIF v_campaign.window_start_local IS NOT NULL
        AND NOT (v_local::time >= v_campaign.window_start_local AND v_local::time < v_campaign.window_end_local) THEN
    r.reason := 'outside_time_window';
  END IF;
  r.campaign_id := v_campaign.id;

  IF r.reason IS NULL AND v_campaign.payer_daily_limit IS NOT NULL THEN
    INSERT INTO promo.payer_day AS pd (campaign_id, payer_id, business_day, discounts)
    VALUES (v_campaign.id, v_payer_id, p_business_day, 0)
    ON CONFLICT (campaign_id, payer_id, business_day) DO UPDATE SET discounts = pd.discounts
    RETURNING pd.discounts INTO v_count;
    IF v_count >= v_campaign.payer_daily_limit THEN
      r.reason := 'payer_daily_limit';
    END IF;
  END IF;

  IF r.reason IS NULL THEN
    -- Take the next card, exactly once: the row lock on the deck orders concurrent payments.
    UPDATE promo.deck d SET used_count = d.used_count + 1
     WHERE d.merchant_id = v_merchant_id AND d.business_day = p_business_day AND d.campaign_id = v_campaign.id
       AND d.status = 'open' AND d.used_count < d.card_count
    RETURNING d.* INTO v_deck;
    IF NOT FOUND THEN
      SELECT * INTO v_deck FROM promo.deck d WHERE d.merchant_id = v_merchant_id AND d.business_day = p_business_day;
      r.reason := CASE
        WHEN FOUND AND v_deck.status = 'closed' THEN 'day_closed'
        WHEN FOUND THEN 'daily_cap_reached'
        WHEN EXISTS (SELECT 1 FROM promo.deck_unfunded u WHERE u.merchant_id = v_merchant_id
                                                         AND u.business_day = p_business_day) THEN 'budget_exhausted'
        ELSE 'not_dealt' END;
      v_deck := NULL;
    ELSE
      r.deck_id := v_deck.id;
      r.card_position := v_deck.used_count;
      r.discount_fen := v_deck.cards_fen[v_deck.used_count];
      -- Odd-fen rule: the payer's share is rounded down, the merchant gets the rest, so the two
      -- always add up to the discount exactly (7.37 -> payer 3.68, merchant 3.69).
      r.payer_share_fen := (r.discount_fen * v_campaign.payer_share_bp) / 10000;
      r.merchant_share_fen := r.discount_fen - r.payer_share_fen;
      r.discounted := true;
      IF v_campaign.payer_daily_limit IS NOT NULL THEN
        UPDATE promo.payer_day SET discounts = discounts + 1
         WHERE campaign_id = v_campaign.id AND payer_id = v_payer_id AND business_day = p_business_day;
      END IF;
    END IF;
  END IF;

  -- The payment row first, the accounts after: the merchant's and outlet's rows are the hot ones, so
  -- they are locked as late as possible and held only until the commit that follows.
  INSERT INTO promo.payment (payment_id, payer_id, merchant_id, outlet_id, channel, amount_fen, paid_at, business_day,
                             campaign_id, deck_id, card_position, discount_fen, payer_share_fen, merchant_share_fen,
                             reason, entry_id)
  VALUES (p_payment_id, v_payer_id, v_merchant_id, v_outlet_id, p_channel, p_amount_fen, p_paid_at,
          p_business_day, r.campaign_id, r.deck_id, r.card_position, r.discount_fen, r.payer_share_fen,
          r.merchant_share_fen, r.reason, v_entry.id);

  IF r.discounted THEN
    PERFORM ledger.apply_lines(v_entry,
      ARRAY[v_payer_account, v_campaign.subsidy_account_id, v_merchant_account], ARRAY['D', 'D', 'C'],
      ARRAY[p_amount_fen - r.payer_share_fen, r.discount_fen, p_amount_fen + r.merchant_share_fen]);
  ELSE
    PERFORM ledger.apply_lines(v_entry, ARRAY[v_payer_account, v_merchant_account], ARRAY['D', 'C'],
                               ARRAY[p_amount_fen, p_amount_fen]);
  END IF;

  INSERT INTO promo.merchant_day_stats AS s (merchant_id, business_day, channel, payments, amount_fen, discounted,
                                             discount_fen, payer_share_fen, merchant_share_fen)
  VALUES (v_merchant_id, p_business_day, p_channel, 1, p_amount_fen, CASE WHEN r.discounted THEN 1 ELSE 0 END,
          r.discount_fen, r.payer_share_fen, r.merchant_share_fen)
  ON CONFLICT (merchant_id, business_day, channel) DO UPDATE
    SET payments = s.payments + 1, amount_fen = s.amount_fen + EXCLUDED.amount_fen,
        discounted = s.discounted + EXCLUDED.discounted, discount_fen = s.discount_fen + EXCLUDED.discount_fen,
        payer_share_fen = s.payer_share_fen + EXCLUDED.payer_share_fen,
        merchant_share_fen = s.merchant_share_fen + EXCLUDED.merchant_share_fen;

  r.status := 'posted';
  r.entry_id := v_entry.id;
  RETURN r;
END $$;

-- Reverses a payment as a whole. The subsidy goes back to the outlet's account; the card is not
-- dealt again and still counts toward the merchant's daily cap, so refunds cannot farm discounts.
-- Returns (status, entry_id, detail): posted | exists | unknown_payment | a ledger rejection.
CREATE FUNCTION promo.reverse_payment(p_payment_id text, p_business_day date)
RETURNS TABLE (status text, entry_id bigint, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, ledger, promo AS $$
DECLARE
  v_payment promo.payment;
  v_status text;
  v_entry bigint;
  v_detail text;
BEGIN
  SELECT * INTO v_payment FROM promo.payment p WHERE p.payment_id = p_payment_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'unknown_payment'::text, NULL::bigint, format('no payment %s', p_payment_id); RETURN;
  END IF;
  SELECT rev.status, rev.entry_id, rev.detail INTO v_status, v_entry, v_detail
    FROM ledger.reverse_entry(v_payment.entry_id, 'reversal:payment:' || p_payment_id, p_business_day,
                              format('reversal of payment %s', p_payment_id)) rev;
  IF v_status = 'posted' THEN
    INSERT INTO promo.payment_reversal (payment_id, entry_id, business_day) VALUES (p_payment_id, v_entry, p_business_day);
    UPDATE promo.merchant_day_stats s
       SET reversed = s.reversed + 1, reversed_amount_fen = s.reversed_amount_fen + v_payment.amount_fen,
           reversed_discount_fen = s.reversed_discount_fen + v_payment.discount_fen
     WHERE s.merchant_id = v_payment.merchant_id AND s.business_day = v_payment.business_day
       AND s.channel = v_payment.channel;
  END IF;
  RETURN QUERY SELECT v_status, v_entry, v_detail;
END $$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA promo FROM PUBLIC;
GRANT EXECUTE ON FUNCTION promo.post_payment(text, text, text, text, bigint, timestamptz, date),
                          promo.reverse_payment(text, date) TO promoledger_app;
GRANT SELECT ON ALL TABLES IN SCHEMA promo TO promoledger_auditor;
GRANT SELECT ON promo.campaign_event, promo.campaign_merchant, promo.deck_unfunded, promo.payment,
                promo.payment_reversal, promo.payer_day, promo.merchant_day_stats, promo.day_close
  TO promoledger_app;
-- The application may read decks and campaigns, but not the dealing secret nor an unrevealed seed.
GRANT SELECT (id, campaign_id, merchant_id, business_day, algorithm_version, deck_order, seed_commitment, card_count,
              used_count, reserved_fen, status, dealt_at, closed_at) ON promo.deck TO promoledger_app;
GRANT SELECT (id, name, status, funding_branch_id, gl_code, channel, first_day, last_day, window_start_local,
              window_end_local, min_payment_fen, min_discount_fen, max_discount_fen, band_low_fen, band_high_fen,
              band_share_bp, cards_per_day, payer_share_bp, deck_order, payer_daily_limit, budget_total_fen,
              outlet_daily_budget_fen, budget_reserved_fen, budget_spent_fen, params, created_by, created_at,
              approved_by, approved_at) ON promo.campaign TO promoledger_app;
