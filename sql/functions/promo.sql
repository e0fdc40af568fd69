-- promoledger: the current definition of every function of the promo schema. Re-applied by
-- `promoledger db migrate` whenever its checksum changes (recorded as functions/promo.sql), after the
-- numbered migrations in sql/migrations/ (tables, indexes, triggers: append-only history).
--
-- Where the rules live: every rule of a payment (guards, idempotency, eligibility, the payer's daily
-- limit, the daily cap and the card, the split, the account limits, the hash chains, the aggregates)
-- is in promo.post_payments below, and nowhere else. promo.post_payment is a batch of one.

-- Approved parameters are immutable: after approval only the status and the budget counters move.
CREATE OR REPLACE FUNCTION promo.campaign_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
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


-- The outlet daily budget's second check, on promo.deck itself (the triggers and why they are these
-- two: migration 0010). 23514 check_violation, constraint deck_within_outlet_daily_budget: the decks
-- of (campaign, outlet, business day) reserve more than the campaign's outlet daily budget, after an
-- INSERT of decks (once per statement, over its transition table) or an UPDATE that moves a
-- reservation or a deck. It locks the touched campaigns' rows (FOR UPDATE, id order) before it sums,
-- as dealing does, so two writers of one campaign's decks cannot each pass on a snapshot without the
-- other.
CREATE OR REPLACE FUNCTION promo.deck_within_outlet_daily_budget() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- ----------------------------------------------------------------------------------- scan payments
-- promo.post_payments posts a batch of scan payments: one call, one transaction, one result row per
-- input in input order (the same figures for a payment whatever batch it arrives in). Each payment is
-- all or nothing on its own: a refused payment writes nothing, takes no card and changes no balance
-- that a later payment of the batch sees; the others post. A payment id that appears twice posts
-- once; a later occurrence gets the first's result (exists, or exists_with_different_content).
--
-- The shape, and why: a payment's rules are sequential (whether a card is left depends on the earlier
-- payments at that merchant, whether the payer can pay depends on the card), but statements are what
-- cost. So a batch runs a fixed number of statements, not a number per payment, in four named parts:
--   1. promo.look_up_payments: guards, replay detection and every look-up, in one SELECT;
--   2. promo.lock_payment_rows: every lock the batch needs, each kind in one statement, in one global
--      order: payer day counters, decks, accounts (each sorted by key), then the stats rows at the
--      write. Two batches in flight therefore never deadlock. Payment ids take no lock: a concurrent
--      duplicate of an id is caught by the unique external_ref at the write, and the batch is
--      retried (40001);
--   3. promo.decide_payments: the rules, payment by payment in arrival order, over the locked rows
--      held in arrays: no SQL statement inside the loop, only expressions;
--   4. promo.write_payments: one write per table.
-- The parts pass one array of a composite per kind of row (migration 0013): promo.payment_result (the
-- answers), promo.payment_candidate (inputs and look-ups), ledger.account_balance, promo.locked_deck,
-- promo.payer_day, ledger.journal_line. They are called only from here (no grant to the application).
-- Limits: 1..1000 payments per call (c_batch_max; the C++ poster's PaymentPoster::batch_size_max).
-- Lock order shared with ledger.apply_lines and promo.reverse_payment: accounts by id, then stats.

-- The payment-id rule (promo/terms.hpp holds it in C++; a test compares the two). A payment's journal
-- reference is 'payment:' || id, within the 128 characters of an external reference. Also the CHECK
-- of promo.payment.payment_id (migration 0013).
CREATE OR REPLACE FUNCTION promo.payment_id_valid(p_payment_id text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p_payment_id IS NOT NULL AND p_payment_id ~ '^[A-Za-z0-9_.:-]{1,64}$'
$$;

-- The channels a payment may name (promo/terms.hpp holds the same list; DomainTermsTest compares).
CREATE OR REPLACE FUNCTION promo.channels() RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ARRAY['bank_app', 'wechat', 'alipay']
$$;

-- The words of a replay whose content differs from the stored payment's (step 1 and step 3 both say it).
CREATE OR REPLACE FUNCTION promo.different_content_detail(p_payment_id text, p_entry_id bigint) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT format('payment %s was already posted (entry %s) with different payer, merchant, channel, amount or time',
                p_payment_id, p_entry_id)
$$;

-- The odd-fen rule: the payer's share is rounded down, the merchant gets the rest, so the two always
-- add up to the discount exactly (7.37 at 5000 bp -> payer 3.68, merchant 3.69).
CREATE OR REPLACE FUNCTION promo.payer_share_fen(p_discount_fen bigint, p_payer_share_bp integer) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (p_discount_fen * coalesce(p_payer_share_bp, 0)) / 10000
$$;

-- What a replay must match: payer, merchant, channel, amount, time (microseconds) and id; stored as the
-- entry's content_hash. STABLE, not IMMUTABLE, because extract() from a timestamptz is: so it is inlined.
CREATE OR REPLACE FUNCTION promo.payment_content_hash(p_payment_id text, p_payer text, p_merchant text, p_channel text,
                                                      p_amount_fen bigint, p_paid_at timestamptz) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT sha256(convert_to(concat_ws('|', 'v1', p_payer, p_merchant, p_channel, p_amount_fen,
                                     (extract(epoch FROM p_paid_at) * 1000000)::bigint, p_payment_id), 'UTF8'))
$$;

-- What a payment may still need, judged before the locks. One that step 1 left undecided, of a known
-- merchant and payer, may post (its payer and merchant accounts are locked); one that is also
-- eligible may take a card (its deck, subsidy account and payer day counter are locked).
CREATE OR REPLACE FUNCTION promo.may_post(c promo.payment_candidate) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT (c.answer).status IS NULL AND c.merchant_id IS NOT NULL AND c.payer_id IS NOT NULL
$$;
CREATE OR REPLACE FUNCTION promo.may_take_card(c promo.payment_candidate) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT (c.answer).status IS NULL AND c.merchant_id IS NOT NULL AND c.payer_id IS NOT NULL
         AND c.ineligible_reason IS NULL
$$;

-- 1. Guards, replays and look-ups for a whole batch, set-wise, before any lock. One row per input in
--    arrival order. Its answer is decided here for a malformed input and for a payment already stored
--    (answered with the stored figures); every other answer has status NULL, for step 3. The status
--    is decided once (the first guard that fails), and its words follow from it.
CREATE OR REPLACE FUNCTION promo.look_up_payments(p_payment_ids text[], p_payers text[], p_merchants text[],
                                                  p_channels text[], p_amounts_fen bigint[], p_paid_at timestamptz[],
                                                  p_business_days date[], p_replay_horizon date)
RETURNS SETOF promo.payment_candidate
LANGUAGE plpgsql STABLE
-- A generic plan: the statement takes arrays, whose custom plans PostgreSQL would otherwise rebuild on
-- every call (measured: 2.8 ms -> 1.5 ms of CPU for a batch of one).
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, ledger, promo AS $$
DECLARE
  c_amount_max_fen CONSTANT bigint := 10000000000;  -- 100,000,000.00 CNY: no scan payment is larger
BEGIN
  RETURN QUERY
  SELECT v.ord::integer, v.payment_id, v.payer, v.merchant, v.channel, v.amount_fen, v.paid_at, v.day, v.hash,
         v.first_ord::integer,
         -- A stored payment's figures only with a replay's answer, never with a refusal of the input.
         CASE WHEN v.status IN ('exists', 'exists_with_different_content')
           THEN ROW(v.status, v.payment_id, v.ep_entry, NULL, v.ep_reason, v.ep_amount, v.ep_discount, v.ep_payer_share,
                    v.ep_merchant_share, v.ep_campaign, v.ep_deck, v.ep_card, v.ep_day, v.detail)::promo.payment_result
           ELSE ROW(v.status, v.payment_id, NULL, NULL, NULL, v.amount_fen, NULL, NULL, NULL,
                    CASE WHEN v.status IS NULL THEN v.campaign_id END, NULL, NULL, v.day, v.detail)::promo.payment_result
         END,
         v.merchant_id, v.outlet_id, v.merchant_account, v.payer_id, v.payer_account, v.campaign_id,
         v.payer_daily_limit, v.payer_share_bp, v.subsidy_account, v.deck_id, v.ineligible_reason, v.no_deck_reason
    FROM (
      SELECT g.*,
             CASE g.status
               WHEN 'invalid_payment_id' THEN 'payment id must be 1..64 of A-Z a-z 0-9 _ . : -'
               WHEN 'amount_must_be_positive' THEN format('amount %s fen', g.amount_fen)
               WHEN 'amount_too_large' THEN format('amount %s fen exceeds %s fen', g.amount_fen, c_amount_max_fen)
               WHEN 'unknown_channel' THEN format('channel %s is not %s', g.channel,
                                                  regexp_replace(array_to_string(promo.channels(), ', '), ', ([^,]*)$',
                                                                 ' or \1'))
               WHEN 'business_day_mismatch'
                 THEN format('paid at %s local is day %s, not %s', g.local_time, g.local_time::date, g.day)
               WHEN 'replay_window_passed'
                 THEN format('business day %s is before the replay window, which starts on %s: it can be neither posted '
                             'nor answered as a replay', g.day, p_replay_horizon)
               WHEN 'external_ref_taken'
                 THEN format('journal reference payment:%s is used by an entry that is not a payment', g.payment_id)
               WHEN 'exists_with_different_content' THEN promo.different_content_detail(g.payment_id, g.ep_entry)
             END AS detail
        FROM (
          SELECT t.*, min(t.ord) OVER (PARTITION BY t.payment_id) AS first_ord,
                 m.id AS merchant_id, m.outlet_id, m.account_id AS merchant_account, p.id AS payer_id,
                 p.account_id AS payer_account, c.id AS campaign_id, c.payer_daily_limit, c.payer_share_bp,
                 c.subsidy_account_id AS subsidy_account, d.id AS deck_id,
                 ep.entry_id AS ep_entry, ep.reason AS ep_reason, ep.amount_fen AS ep_amount,
                 ep.discount_fen AS ep_discount, ep.payer_share_fen AS ep_payer_share,
                 ep.merchant_share_fen AS ep_merchant_share, ep.campaign_id AS ep_campaign, ep.deck_id AS ep_deck,
                 ep.card_position AS ep_card, ep.business_day AS ep_day,
                 CASE
                   WHEN NOT promo.payment_id_valid(t.payment_id) THEN 'invalid_payment_id'
                   WHEN t.amount_fen IS NULL OR t.amount_fen <= 0 THEN 'amount_must_be_positive'
                   WHEN t.amount_fen > c_amount_max_fen THEN 'amount_too_large'
                   WHEN t.channel IS NULL OR NOT t.channel = ANY (promo.channels()) THEN 'unknown_channel'
                   -- The caller computes the day with the tz database (Asia/Shanghai); this is the second path.
                   WHEN t.day IS NULL OR t.paid_at IS NULL OR t.local_time::date <> t.day THEN 'business_day_mismatch'
                   -- Before the window a claim may be gone: whether the payment was stored cannot be told.
                   WHEN t.day < p_replay_horizon THEN 'replay_window_passed'
                   WHEN ep.payment_id IS NULL AND r.entry_id IS NOT NULL THEN 'external_ref_taken'
                   WHEN ep.payment_id IS NOT NULL AND r.content_hash = t.hash THEN 'exists'
                   WHEN ep.payment_id IS NOT NULL THEN 'exists_with_different_content'
                 END AS status,
                 -- Eligibility: the first reason found (the per-payer limit and the deck come in step 3).
                 CASE
                   WHEN c.id IS NULL THEN 'no_active_campaign'
                   WHEN t.channel <> c.channel THEN 'channel_not_eligible'
                   WHEN c.status = 'paused' THEN 'campaign_paused'
                   WHEN t.amount_fen < c.min_payment_fen THEN 'below_minimum_payment'
                   WHEN c.window_start_local IS NOT NULL
                        AND NOT (t.local_time::time >= c.window_start_local AND t.local_time::time < c.window_end_local)
                     THEN 'outside_time_window'
                 END AS ineligible_reason,
                 CASE WHEN d.id IS NULL AND c.id IS NOT NULL THEN
                   CASE WHEN EXISTS (SELECT 1 FROM promo.deck_unfunded u
                                      WHERE u.merchant_id = m.id AND u.business_day = t.day) THEN 'budget_exhausted'
                        ELSE 'not_dealt' END
                 END AS no_deck_reason
            FROM (SELECT u.*, u.paid_at AT TIME ZONE 'Asia/Shanghai' AS local_time,
                         promo.payment_content_hash(u.payment_id, u.payer, u.merchant, u.channel, u.amount_fen,
                                                    u.paid_at) AS hash
                    FROM unnest(p_payment_ids, p_payers, p_merchants, p_channels, p_amounts_fen, p_paid_at, p_business_days)
                         WITH ORDINALITY AS u(payment_id, payer, merchant, channel, amount_fen, paid_at, day, ord)) t
            -- Every look-up is a LATERAL probe of a unique index (LIMIT 1 keeps the planner from turning
            -- it into a hash join over the whole table: the generic plan guesses 10 input rows).
            -- A stored payment is found through its claim (unique across partitions), then in its day's
            -- partition.
            LEFT JOIN LATERAL (SELECT x.entry_id, x.business_day, x.content_hash FROM ledger.entry_ref x
                                WHERE x.external_ref = 'payment:' || t.payment_id LIMIT 1) r ON true
            LEFT JOIN LATERAL (SELECT * FROM promo.payment x
                                WHERE x.payment_id = t.payment_id AND x.business_day = r.business_day LIMIT 1) ep ON true
            -- A payment already stored is answered from its row: the merchant and payer (and through them
            -- the campaign and deck) are looked up only for a new one, so a replay costs two probes.
            LEFT JOIN LATERAL (SELECT x.id, x.outlet_id, x.account_id FROM ledger.merchant x
                                WHERE ep.payment_id IS NULL AND x.code = t.merchant LIMIT 1) m ON true
            LEFT JOIN LATERAL (SELECT x.id, x.account_id FROM ledger.payer x
                                WHERE ep.payment_id IS NULL AND x.code = t.payer LIMIT 1) p ON true
            LEFT JOIN LATERAL (
              SELECT c1.id, c1.channel, c1.status, c1.min_payment_fen, c1.window_start_local, c1.window_end_local,
                     c1.payer_daily_limit, c1.payer_share_bp, cm.subsidy_account_id
                FROM promo.campaign_merchant cm JOIN promo.campaign c1 ON c1.id = cm.campaign_id
               WHERE cm.merchant_id = m.id AND c1.status IN ('active', 'paused')
                 AND t.day BETWEEN c1.first_day AND c1.last_day
               ORDER BY c1.id LIMIT 1) c ON true
            LEFT JOIN LATERAL (SELECT x.id FROM promo.deck x WHERE x.merchant_id = m.id AND x.business_day = t.day
                                LIMIT 1) d ON true
        ) g
    ) v
   ORDER BY v.ord;
END $$;

-- 2. Every lock the batch needs, each kind in one statement, in the global order (payer day counters,
--    decks, accounts; each sorted by key), and where each payment's rows sit in the locked arrays.
CREATE OR REPLACE FUNCTION promo.lock_payment_rows(c promo.payment_candidate[], OUT slots promo.payment_slots[],
                                                   OUT accounts ledger.account_balance[], OUT decks promo.locked_deck[],
                                                   OUT payer_days promo.payer_day[])
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, ledger, promo AS $$
BEGIN
  -- Payer day counters (only where the campaign has a per-payer limit): the row is the lock, created at
  -- 0 if new.
  WITH locked AS (
    INSERT INTO promo.payer_day AS x (campaign_id, payer_id, business_day, discounts)
    SELECT DISTINCT w.campaign_id, w.payer_id, w.business_day, 0
      FROM unnest(c) w
     WHERE promo.may_take_card(w) AND w.payer_daily_limit IS NOT NULL
     ORDER BY 1, 2, 3
    ON CONFLICT (campaign_id, payer_id, business_day) DO UPDATE SET discounts = x.discounts
    RETURNING x.*)
  SELECT array_agg(l) INTO payer_days FROM locked l;
  -- Decks, with the next cards each may give to this batch (at most one per payment that wants one).
  SELECT array_agg(ROW(d.id, d.campaign_id, d.status, d.used_count, d.card_count, d.used_count,
                       d.cards_fen[d.used_count + 1 : least(d.used_count + d.demand, d.card_count)],
                       d.business_day)::promo.locked_deck)
    INTO decks
    FROM (SELECT x.id, x.campaign_id, x.status, x.used_count, x.card_count, x.cards_fen, x.business_day, w.demand
            FROM promo.deck x
            JOIN (SELECT u.deck_id, u.business_day, count(*)::integer AS demand FROM unnest(c) u
                   WHERE promo.may_take_card(u) AND u.deck_id IS NOT NULL GROUP BY u.deck_id, u.business_day) w
              ON w.deck_id = x.id AND w.business_day = x.business_day
           ORDER BY x.id FOR NO KEY UPDATE OF x) d;
  -- Accounts, in id order (the order of ledger.apply_lines too): payer and merchant of a payment that
  -- may post, the subsidy account of one that may take a card.
  SELECT array_agg(b) INTO accounts
    FROM (SELECT x.* FROM ledger.account_balance x
           WHERE x.account_id IN (SELECT y.id FROM unnest(c) u,
                                    LATERAL (VALUES (CASE WHEN promo.may_post(u) THEN u.payer_account_id END),
                                                    (CASE WHEN promo.may_post(u) THEN u.merchant_account_id END),
                                                    (CASE WHEN promo.may_take_card(u) AND u.deck_id IS NOT NULL
                                                          THEN u.subsidy_account_id END)) y(id))
           ORDER BY x.account_id FOR NO KEY UPDATE) b;
  -- Each payment's slots, by arrival order.
  SELECT array_agg(ROW(ap.slot, am.slot, asub.slot, dk.slot, pdc.slot)::promo.payment_slots ORDER BY u.ord)
    INTO slots
    FROM unnest(c) u
    LEFT JOIN unnest(accounts) WITH ORDINALITY AS ap(account_id, n1, n2, n3, n4, n5, n6, slot)
           ON promo.may_post(u) AND ap.account_id = u.payer_account_id
    LEFT JOIN unnest(accounts) WITH ORDINALITY AS am(account_id, n1, n2, n3, n4, n5, n6, slot)
           ON promo.may_post(u) AND am.account_id = u.merchant_account_id
    LEFT JOIN unnest(accounts) WITH ORDINALITY AS asub(account_id, n1, n2, n3, n4, n5, n6, slot)
           ON promo.may_take_card(u) AND u.deck_id IS NOT NULL AND asub.account_id = u.subsidy_account_id
    LEFT JOIN unnest(decks) WITH ORDINALITY AS dk(id, n1, n2, n3, n4, n5, n6, n7, slot)
           ON promo.may_take_card(u) AND dk.id = u.deck_id
    LEFT JOIN unnest(payer_days) WITH ORDINALITY AS pdc(campaign_id, payer_id, business_day, n1, slot)
           ON promo.may_take_card(u) AND u.payer_daily_limit IS NOT NULL AND pdc.campaign_id = u.campaign_id
              AND pdc.payer_id = u.payer_id AND pdc.business_day = u.business_day;
END $$;

-- 3. The rules, payment by payment in arrival order, over the rows step 2 locked: guard clauses first,
--    then mutation. A refused payment changes nothing a later one sees. A posted one takes its entry
--    id and extends each account's sequence, running balance and hash chain (ledger.line_hash, the
--    expression ledger.apply_lines and audit verify use), and leaves its entry, lines and payment row
--    for step 4. No SQL statement inside the loop (a refusal for funds is named after it).
CREATE OR REPLACE FUNCTION promo.decide_payments(
    INOUT answers promo.payment_result[], c promo.payment_candidate[], slots promo.payment_slots[],
    INOUT accounts ledger.account_balance[], INOUT decks promo.locked_deck[], INOUT payer_days promo.payer_day[],
    p_last_closed date, p_paid_at_max timestamptz, p_now timestamptz,
    OUT entries ledger.journal_entry[], OUT lines ledger.journal_line[], OUT payments promo.payment[])
LANGUAGE plpgsql
-- The line digest formats the business day as text: pinned, so a caller's DateStyle cannot change it.
SET DateStyle = 'ISO, MDY'
SET search_path = pg_catalog, ledger, promo AS $$
DECLARE
  x promo.payment_candidate;  -- the payment in hand
  r promo.payment_result;     -- its answer
  s promo.payment_slots;      -- where its locked rows are
  pa ledger.account_balance; sa ledger.account_balance; ma ledger.account_balance;  -- payer, subsidy, merchant
  k promo.locked_deck;  -- its deck
  q promo.payer_day;    -- its payer day counter
  winner integer[] := array_fill(NULL::integer, ARRAY[cardinality(c)]);  -- by first occurrence: the one that posted
  short bigint[] := '{}';  -- by arrival order: the account whose limit refused the payment
  card integer; discount bigint; payer_share bigint; pays bigint; receives bigint; merchant_line integer;
  bal_payer bigint; bal_subsidy bigint; bal_merchant bigint; entry_id bigint; header text;
BEGIN
  entries := '{}'; lines := '{}'; payments := '{}';
  FOR i IN 1..cardinality(c) LOOP
    x := c[i];
    r := answers[i];
    -- Stays on in production (not ASSERT, which plpgsql.check_asserts can turn off): every array is in arrival order.
    IF x.ord <> i THEN RAISE EXCEPTION 'internal: batch arrays out of arrival order at %', i USING ERRCODE = 'XX000';
    END IF;
    CONTINUE WHEN r.status IS NOT NULL;
    IF winner[x.first_ord] IS NOT NULL THEN
      -- The same id earlier in this batch has posted: this one is its replay, with the first's figures.
      r := answers[winner[x.first_ord]];
      r.status := CASE WHEN x.content_hash = c[winner[x.first_ord]].content_hash THEN 'exists'
                       ELSE 'exists_with_different_content' END;
      r.detail := CASE r.status WHEN 'exists_with_different_content'
                    THEN promo.different_content_detail(x.payment_id, r.entry_id) END;
      answers[i] := r;
      CONTINUE;
    END IF;
    r.status := CASE WHEN x.merchant_id IS NULL THEN 'unknown_merchant'
                     WHEN x.payer_id IS NULL THEN 'unknown_payer'
                     WHEN x.business_day <= p_last_closed THEN 'business_day_closed'
                     WHEN x.paid_at > p_paid_at_max THEN 'paid_at_in_future' END;
    IF r.status IS NOT NULL THEN
      r.detail := CASE r.status
        WHEN 'unknown_merchant' THEN format('no merchant %s', x.merchant)
        WHEN 'unknown_payer' THEN format('no payer %s', x.payer)
        WHEN 'business_day_closed'
          THEN format('business day %s is closed (every day up to %s is): a closed day''s figures do not move',
                      x.business_day, p_last_closed)
        ELSE format('paid_at %s is %s ahead of the ledger''s clock (%s); the tolerance is %s', x.paid_at,
                    date_trunc('second', x.paid_at - p_now), p_now, ledger.future_tolerance())
      END;
      r.campaign_id := NULL;
      answers[i] := r;
      CONTINUE;
    END IF;

    -- The discount: eligibility (step 1), the payer's daily limit, then the merchant's next card.
    s := slots[i];
    r.reason := coalesce(x.ineligible_reason, CASE
      WHEN s.payer_day IS NOT NULL AND payer_days[s.payer_day].discounts >= x.payer_daily_limit THEN 'payer_daily_limit'
      WHEN s.deck IS NULL THEN x.no_deck_reason
      WHEN decks[s.deck].status = 'closed' THEN 'day_closed'
      WHEN decks[s.deck].campaign_id <> x.campaign_id OR decks[s.deck].used_count >= decks[s.deck].card_count
        THEN 'daily_cap_reached'
    END);
    card := NULL;
    discount := 0;
    IF r.reason IS NULL THEN
      k := decks[s.deck];
      card := k.used_count + 1;
      discount := k.next_cards[card - k.used_at_lock];
    END IF;
    payer_share := promo.payer_share_fen(discount, x.payer_share_bp);
    pays := x.amount_fen - payer_share;
    receives := x.amount_fen + (discount - payer_share);

    -- Account limits, line by line, on the balances the earlier payments of the batch left.
    pa := accounts[s.payer_account];
    ma := accounts[s.merchant_account];
    sa := CASE WHEN card IS NOT NULL THEN accounts[s.subsidy_account] END;
    merchant_line := CASE WHEN card IS NOT NULL THEN 3 ELSE 2 END;
    bal_payer := ledger.normal_balance(pa.normal_side, pa.debits_fen + pays, pa.credits_fen);
    bal_subsidy := ledger.normal_balance(sa.normal_side, sa.debits_fen + discount, sa.credits_fen);
    bal_merchant := ledger.normal_balance(ma.normal_side, ma.debits_fen, ma.credits_fen + receives);
    r.detail := CASE
      WHEN bal_payer < pa.min_balance_fen
        THEN format('would fall below its limit of %s fen (line 1: D %s)', pa.min_balance_fen, pays)
      WHEN bal_subsidy < sa.min_balance_fen
        THEN format('would fall below its limit of %s fen (line 2: D %s)', sa.min_balance_fen, discount)
      WHEN bal_merchant < ma.min_balance_fen
        THEN format('would fall below its limit of %s fen (line %s: C %s)', ma.min_balance_fen, merchant_line, receives)
    END;
    IF r.detail IS NOT NULL THEN
      short[i] := CASE WHEN bal_payer < pa.min_balance_fen THEN pa.account_id
                       WHEN bal_subsidy < sa.min_balance_fen THEN sa.account_id ELSE ma.account_id END;
      r.status := 'insufficient_funds';
      r.reason := NULL;
      r.campaign_id := NULL;
      answers[i] := r;
      CONTINUE;
    END IF;

    -- Post: the entry, then each line extends its account's sequence, balance and hash chain.
    entry_id := nextval('ledger.journal_entry_id_seq');
    header := ledger.entry_digest_header(x.business_day, p_now, NULL, x.content_hash, 'payment', 'payment:' || x.payment_id);
    pa.debits_fen := pa.debits_fen + pays;
    pa.line_count := pa.line_count + 1;
    pa.head_hash := ledger.line_hash(pa.head_hash, entry_id, 1, pa.account_id, 'D', pays, pa.line_count, bal_payer, header);
    accounts[s.payer_account] := pa;
    lines[cardinality(lines) + 1] := ROW(entry_id, 1, pa.account_id, 'D', pays, pa.line_count, bal_payer, pa.head_hash,
                                         x.business_day);
    IF card IS NOT NULL THEN
      sa.debits_fen := sa.debits_fen + discount;
      sa.line_count := sa.line_count + 1;
      sa.head_hash := ledger.line_hash(sa.head_hash, entry_id, 2, sa.account_id, 'D', discount, sa.line_count, bal_subsidy,
                                       header);
      accounts[s.subsidy_account] := sa;
      lines[cardinality(lines) + 1] := ROW(entry_id, 2, sa.account_id, 'D', discount, sa.line_count, bal_subsidy,
                                           sa.head_hash, x.business_day);
      k.used_count := card;
      decks[s.deck] := k;
      IF s.payer_day IS NOT NULL THEN
        q := payer_days[s.payer_day];
        q.discounts := q.discounts + 1;
        payer_days[s.payer_day] := q;
      END IF;
    END IF;
    ma.credits_fen := ma.credits_fen + receives;
    ma.line_count := ma.line_count + 1;
    ma.head_hash := ledger.line_hash(ma.head_hash, entry_id, merchant_line, ma.account_id, 'C', receives, ma.line_count,
                                     bal_merchant, header);
    accounts[s.merchant_account] := ma;
    lines[cardinality(lines) + 1] := ROW(entry_id, merchant_line, ma.account_id, 'C', receives, ma.line_count,
                                         bal_merchant, ma.head_hash, x.business_day);

    winner[x.first_ord] := i;
    r.status := 'posted';
    r.entry_id := entry_id;
    r.discount_fen := discount;
    r.payer_share_fen := payer_share;
    r.merchant_share_fen := discount - payer_share;
    r.deck_id := CASE WHEN card IS NOT NULL THEN k.id END;
    r.card_position := card;
    answers[i] := r;
    entries[cardinality(entries) + 1] :=
      ROW(entry_id, 'payment:' || x.payment_id, 'payment', x.business_day, p_now,
          format('%s scan payment %s: %s to %s', x.channel, x.payment_id, x.payer, x.merchant), x.content_hash, NULL);
    payments[cardinality(payments) + 1] :=
      ROW(x.payment_id, x.payer_id, x.merchant_id, x.outlet_id, x.channel, x.amount_fen, x.paid_at, x.business_day,
          x.campaign_id, r.deck_id, card, discount, payer_share, r.merchant_share_fen, r.reason, entry_id);
  END LOOP;

  IF cardinality(short) > 0 THEN
    answers := promo.name_short_accounts(answers, short);
  END IF;
END $$;

-- The refusals for funds of step 3 name their account; its code is read here, once for all of them,
-- not inside the loop. short[i]: the account whose limit refused payment i (NULL for the others).
CREATE OR REPLACE FUNCTION promo.name_short_accounts(answers promo.payment_result[], short bigint[])
RETURNS promo.payment_result[] LANGUAGE plpgsql
SET search_path = pg_catalog, ledger, promo AS $$
DECLARE
  ids bigint[];
  codes text[];
  r promo.payment_result;
BEGIN
  SELECT array_agg(a.id), array_agg(a.code) INTO ids, codes FROM ledger.account a WHERE a.id = ANY (short);
  FOR i IN array_lower(short, 1)..array_upper(short, 1) LOOP
    CONTINUE WHEN short[i] IS NULL;
    r := answers[i];
    r.detail := format('account %s %s', codes[array_position(ids, short[i])], r.detail);
    answers[i] := r;
  END LOOP;
  RETURN answers;
END $$;

-- 4. One write per table, for what step 3 posted. One statement for the six tables a payment writes
--    (each sub-statement runs once, to completion), then the read-back check and the aggregates.
CREATE OR REPLACE FUNCTION promo.write_payments(entries ledger.journal_entry[], lines ledger.journal_line[],
                                                payments promo.payment[], accounts ledger.account_balance[],
                                                decks promo.locked_deck[], payer_days promo.payer_day[])
RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, ledger, promo AS $$
DECLARE
  n integer := cardinality(entries);
  ids bigint[] := ARRAY(SELECT e.id FROM unnest(entries) e);
  days date[] := ARRAY(SELECT DISTINCT e.business_day FROM unnest(entries) e);
  written bigint;
BEGIN
  -- A payment id claimed by another transaction since step 1 (a concurrent duplicate) makes the
  -- claim insert skip a row: nothing of this batch is kept, the caller retries it (40001), and the
  -- retry answers that id as a replay. The claims are the only unique keys across partitions.
  WITH claim_rows AS (
    INSERT INTO ledger.entry_ref (external_ref, entry_id, business_day, content_hash)
    SELECT e.external_ref, e.id, e.business_day, e.content_hash
      FROM unnest(entries) e
     -- Claimed in payment id order, so two batches holding a concurrent duplicate each wait for the
     -- other in one order (one gets 40001 and retries), never in a cycle.
     ORDER BY e.external_ref
    ON CONFLICT (external_ref) DO NOTHING
    RETURNING 1),
  entry_rows AS (
    INSERT INTO ledger.journal_entry (id, external_ref, kind, business_day, posted_at, description, content_hash)
    OVERRIDING SYSTEM VALUE
    SELECT e.id, e.external_ref, e.kind, e.business_day, e.posted_at, e.description, e.content_hash
      FROM unnest(entries) e),
  line_rows AS (
    INSERT INTO ledger.journal_line SELECT * FROM unnest(lines)),
  balance_rows AS (
    -- The accounts this batch wrote a line to.
    UPDATE ledger.account_balance b
       SET debits_fen = u.debits_fen, credits_fen = u.credits_fen, line_count = u.line_count, head_hash = u.head_hash
      FROM unnest(accounts) u
     WHERE b.account_id = u.account_id AND u.account_id IN (SELECT l.account_id FROM unnest(lines) l)),
  payment_rows AS (
    -- Only once every claim is in: the sub-select reads claim_rows whole before the first row here. A
    -- concurrent duplicate (same id, same day) must meet the claim, which skips it (40001 below), not
    -- this table's key, which would fail the batch with 23505 (PromoTest.ReplaysReturnTheFirstResult...
    -- failed so about one run in four).
    INSERT INTO promo.payment SELECT * FROM unnest(payments) WHERE (SELECT count(*) FROM claim_rows) = n),
  deck_rows AS (
    UPDATE promo.deck d SET used_count = u.used_count
      FROM unnest(decks) u
     WHERE d.id = u.id AND d.business_day = u.business_day AND u.used_count <> u.used_at_lock),
  payer_day_rows AS (
    -- The payer day counters of the payments that took a card.
    UPDATE promo.payer_day x SET discounts = u.discounts
      FROM unnest(payer_days) u
     WHERE x.campaign_id = u.campaign_id AND x.payer_id = u.payer_id AND x.business_day = u.business_day
       AND (u.campaign_id, u.payer_id, u.business_day) IN (SELECT p.campaign_id, p.payer_id, p.business_day
                                                            FROM unnest(payments) p WHERE p.deck_id IS NOT NULL))
  SELECT count(*) INTO written FROM claim_rows;
  IF written <> n THEN
    RAISE EXCEPTION 'concurrent_duplicate: % of % payment ids of the batch were claimed concurrently', n - written, n
      USING ERRCODE = '40001';
  END IF;
  -- The balance rule's second path for this batch's entries (the deferred per-entry trigger skips
  -- kind payment): read back from the table, every entry has its lines and they balance. The days
  -- name the partitions to read.
  SELECT count(*) INTO written
    FROM (SELECT l.entry_id FROM ledger.journal_line l
           WHERE l.business_day = ANY (days) AND l.entry_id = ANY (ids)
           GROUP BY l.entry_id
          HAVING count(*) >= 2 AND sum(CASE WHEN l.side = 'D' THEN l.amount_fen ELSE -l.amount_fen END) = 0) balanced;

  IF written <> n THEN
    RAISE EXCEPTION 'unbalanced_at_commit: % of % payment entries of the batch do not balance', n - written, n
      USING ERRCODE = 'PL003';
  END IF;
  -- Running aggregates per merchant, day and channel (the reports read these); locked last, sorted.
  INSERT INTO promo.merchant_day_stats AS s (merchant_id, business_day, channel, payments, amount_fen, discounted,
                                             discount_fen, payer_share_fen, merchant_share_fen)
  SELECT p.merchant_id, p.business_day, p.channel, count(*), sum(p.amount_fen)::bigint,
         count(*) FILTER (WHERE p.discount_fen > 0), sum(p.discount_fen)::bigint, sum(p.payer_share_fen)::bigint,
         sum(p.merchant_share_fen)::bigint
    FROM unnest(payments) p
   GROUP BY 1, 2, 3
   ORDER BY 1, 2, 3
  ON CONFLICT (merchant_id, business_day, channel) DO UPDATE
    SET payments = s.payments + EXCLUDED.payments, amount_fen = s.amount_fen + EXCLUDED.amount_fen,
        discounted = s.discounted + EXCLUDED.discounted, discount_fen = s.discount_fen + EXCLUDED.discount_fen,
        payer_share_fen = s.payer_share_fen + EXCLUDED.payer_share_fen,
        merchant_share_fen = s.merchant_share_fen + EXCLUDED.merchant_share_fen;
END $$;

CREATE OR REPLACE FUNCTION promo.post_payments(p_payment_ids text[], p_payers text[], p_merchants text[],
                                               p_channels text[], p_amounts_fen bigint[], p_paid_at timestamptz[],
                                               p_business_days date[])
RETURNS SETOF promo.payment_result
LANGUAGE plpgsql SECURITY DEFINER
SET plan_cache_mode = force_generic_plan
SET DateStyle = 'ISO, MDY'
SET search_path = pg_catalog, ledger, promo AS $$
DECLARE
  c_batch_max CONSTANT integer := 1000;
  n integer := coalesce(cardinality(p_payment_ids), 0);
  now_ timestamptz := now();  -- the posted_at of every entry of the batch (the transaction's time)
  c promo.payment_candidate[];  -- by arrival order: the inputs and what step 1 found
  r promo.payment_result[];     -- by arrival order: the answers
  locked record;                -- step 2: slots, accounts, decks, payer_days
  decided record;               -- step 3: answers, accounts, decks, payer_days, entries, lines, payments
BEGIN
  -- Step 1 reads the arrays by position (unnest WITH ORDINALITY), the rest by arrival order: both
  -- agree only for one-dimensional arrays that start at 1, so nothing else is accepted (an array
  -- '[0:1]={…}' would otherwise let the rules check one element and the writes store another).
  IF n NOT BETWEEN 1 AND c_batch_max
     OR array_ndims(p_payment_ids) <> 1 OR array_lower(p_payment_ids, 1) <> 1
     OR array_ndims(p_payers) IS DISTINCT FROM 1 OR array_lower(p_payers, 1) IS DISTINCT FROM 1
     OR array_ndims(p_merchants) IS DISTINCT FROM 1 OR array_lower(p_merchants, 1) IS DISTINCT FROM 1
     OR array_ndims(p_channels) IS DISTINCT FROM 1 OR array_lower(p_channels, 1) IS DISTINCT FROM 1
     OR array_ndims(p_amounts_fen) IS DISTINCT FROM 1 OR array_lower(p_amounts_fen, 1) IS DISTINCT FROM 1
     OR array_ndims(p_paid_at) IS DISTINCT FROM 1 OR array_lower(p_paid_at, 1) IS DISTINCT FROM 1
     OR array_ndims(p_business_days) IS DISTINCT FROM 1 OR array_lower(p_business_days, 1) IS DISTINCT FROM 1
     OR cardinality(p_payers) <> n OR cardinality(p_merchants) <> n OR cardinality(p_channels) <> n
     OR cardinality(p_amounts_fen) <> n OR cardinality(p_paid_at) <> n OR cardinality(p_business_days) <> n THEN
    RAISE EXCEPTION 'invalid_batch: 1..% payments, every array one-dimensional from 1 and of equal length; got % '
                    'payment ids', c_batch_max, n
      USING ERRCODE = '22023';
  END IF;
  -- A batch of replays alone (a client re-sending after a lost answer) is answered from the claims and
  -- the stored payments: two index probes a payment, no lock, no step. The answers are step 1's for a
  -- stored payment re-sent with the same content (the same guards, the same hash, the stored figures);
  -- a batch with anything else (not stored, different content, out of the window, malformed) takes
  -- the steps below whole. OneBatchTest.AReplayAnswersTheSameAloneAndAmongOtherPayments holds both
  -- ways to one answer. Measured: a replay batch of one 400 -> 214 us of backend CPU (docs/benchmarks.md).
  -- Tried only when the first payment is stored: a batch of new payments pays one probe for it, not
  -- two probes and a hash a payment (group commit mixes a client's replay with others' new payments).
  IF EXISTS (SELECT 1 FROM ledger.entry_ref x WHERE x.external_ref = 'payment:' || p_payment_ids[1]) THEN
    SELECT array_agg(ROW('exists', u.payment_id, y.entry_id, NULL, y.reason, y.amount_fen, y.discount_fen,
                         y.payer_share_fen, y.merchant_share_fen, y.campaign_id, y.deck_id, y.card_position,
                         y.business_day, NULL)::promo.payment_result ORDER BY u.ord)
      INTO r
      FROM unnest(p_payment_ids, p_payers, p_merchants, p_channels, p_amounts_fen, p_paid_at, p_business_days)
           WITH ORDINALITY AS u(payment_id, payer, merchant, channel, amount_fen, paid_at, day, ord)
      JOIN LATERAL (SELECT x.business_day, x.content_hash FROM ledger.entry_ref x
                     WHERE x.external_ref = 'payment:' || u.payment_id LIMIT 1) cl ON true
      JOIN LATERAL (SELECT * FROM promo.payment x
                     WHERE x.payment_id = u.payment_id AND x.business_day = cl.business_day LIMIT 1) y ON true
     WHERE promo.payment_id_valid(u.payment_id) AND u.payer IS NOT NULL AND u.merchant IS NOT NULL
       AND u.channel = ANY (promo.channels()) AND u.amount_fen > 0
       AND (u.paid_at AT TIME ZONE 'Asia/Shanghai')::date = u.day AND cl.business_day = u.day
       AND u.day >= (SELECT ledger.replay_horizon())  -- once, not once a row
       AND cl.content_hash = promo.payment_content_hash(u.payment_id, u.payer, u.merchant, u.channel, u.amount_fen,
                                                       u.paid_at);
  END IF;
  IF cardinality(r) IS DISTINCT FROM n THEN
    -- Held to commit: a close-day waits for this batch, or this batch for it (migration 0009). The
    -- closed days and the tolerance are read after it (step 3).
    PERFORM pg_advisory_xact_lock_shared(ledger.closing_lock_key());

    -- The candidates come in arrival order (the function's ORDER BY); step 3 checks it (x.ord = i).
    SELECT array_agg(x), array_agg(x.answer) INTO c, r
      FROM promo.look_up_payments(p_payment_ids, p_payers, p_merchants, p_channels, p_amounts_fen, p_paid_at,
                                  p_business_days, ledger.replay_horizon()) x;
    IF cardinality(c) <> n THEN
      RAISE EXCEPTION 'internal: % candidates for % payments', cardinality(c), n USING ERRCODE = 'XX000';
    END IF;
    -- A batch that step 1 decided whole (replays after a lost answer, malformed input) is answered
    -- without taking a lock or writing.
    IF EXISTS (SELECT 1 FROM unnest(r) a WHERE a.status IS NULL) THEN
      locked := promo.lock_payment_rows(c);
      decided := promo.decide_payments(r, c, locked.slots, locked.accounts, locked.decks, locked.payer_days,
                                       ledger.last_closed_day(), now_ + ledger.future_tolerance(), now_);
      r := decided.answers;
      IF cardinality(decided.entries) > 0 THEN
        PERFORM promo.write_payments(decided.entries, decided.lines, decided.payments, decided.accounts, decided.decks,
                                     decided.payer_days);
      END IF;
    END IF;
  END IF;

  RETURN QUERY
    SELECT a.status, a.payment_id, a.entry_id,
           a.status IN ('posted', 'exists', 'exists_with_different_content') AND coalesce(a.discount_fen, 0) > 0,
           a.reason, a.amount_fen, coalesce(a.discount_fen, 0), coalesce(a.payer_share_fen, 0),
           coalesce(a.merchant_share_fen, 0), a.campaign_id, a.deck_id, a.card_position, a.business_day, a.detail
      FROM unnest(r) WITH ORDINALITY AS a
     ORDER BY a.ordinality;
END $$;

-- One payment: a batch of one, so the rules above are the only ones.
CREATE OR REPLACE FUNCTION promo.post_payment(p_payment_id text, p_payer text, p_merchant text, p_channel text,
                                              p_amount_fen bigint, p_paid_at timestamptz, p_business_day date)
RETURNS promo.payment_result
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, ledger, promo AS $$
  SELECT * FROM promo.post_payments(ARRAY[p_payment_id], ARRAY[p_payer], ARRAY[p_merchant], ARRAY[p_channel],
                                    ARRAY[p_amount_fen], ARRAY[p_paid_at], ARRAY[p_business_day])
$$;

-- Reverses a payment as a whole. The subsidy goes back to the outlet's account; the card is not
-- dealt again and still counts toward the merchant's daily cap, so refunds cannot farm discounts.
-- Returns (status, entry_id, detail): posted | exists | unknown_payment | a ledger rejection.
CREATE OR REPLACE FUNCTION promo.reverse_payment(p_payment_id text, p_business_day date)
RETURNS TABLE (status text, entry_id bigint, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, ledger, promo AS $$
DECLARE
  v_payment promo.payment;
  v_status text;
  v_entry bigint;
  v_detail text;
BEGIN
  -- Found through its claim, in its day's partition.
  SELECT p.* INTO v_payment
    FROM ledger.entry_ref r JOIN promo.payment p ON p.payment_id = p_payment_id AND p.business_day = r.business_day
   WHERE r.external_ref = 'payment:' || p_payment_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'unknown_payment'::text, NULL::bigint, format('no payment %s', p_payment_id); RETURN;
  END IF;
  -- A reversal into a closed day (business_day_closed) or after the bank's date (business_day_in_future)
  -- is refused by ledger.post_entry, as every entry is; one already posted is still answered.
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

-- ------------------------------------------------------------------------------------ verification
-- The promotion's rules checked over the whole database, beside ledger.verify (the ledger's own). Each
-- check is a function that returns one line of words per violation; promo.verify runs the named ones
-- (all when p_checks is NULL) in this order and reports each with its count and the first few. The
-- C++ side (promo/audit_checks.cpp) adds the decks' re-deal, which needs the dealing code; a test
-- compares its list of names with promo.verify's.

-- Every card a payment took is debited from its campaign's subsidy account, once, for its face value;
-- and no subsidy account is debited without a card.
CREATE OR REPLACE FUNCTION promo.violations_subsidy_lines_match_cards(p_since date) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger, promo AS $$
  SELECT format('payment %s: discount %s, card %s, subsidy debits matching %s', p.payment_id, p.discount_fen,
                d.cards_fen[p.card_position],
                (SELECT count(*) FROM ledger.journal_line l WHERE l.entry_id = p.entry_id AND l.business_day = p.business_day
                    AND l.account_id = cm.subsidy_account_id AND l.side = 'D' AND l.amount_fen = p.discount_fen))
    FROM promo.payment p LEFT JOIN promo.deck d ON d.id = p.deck_id AND d.business_day = p.business_day
    LEFT JOIN promo.campaign_merchant cm ON cm.campaign_id = p.campaign_id AND cm.merchant_id = p.merchant_id
   WHERE p.deck_id IS NOT NULL AND (p_since IS NULL OR p.business_day >= p_since)
     AND (d.id IS NULL OR cm.subsidy_account_id IS NULL
         OR p.discount_fen <> d.cards_fen[p.card_position]
         OR (SELECT count(*) FROM ledger.journal_line l WHERE l.entry_id = p.entry_id AND l.business_day = p.business_day
                AND l.account_id = cm.subsidy_account_id) <> 1
         OR NOT EXISTS (SELECT 1 FROM ledger.journal_line l WHERE l.entry_id = p.entry_id AND l.business_day = p.business_day
                           AND l.account_id = cm.subsidy_account_id AND l.side = 'D' AND l.amount_fen = p.discount_fen))
  UNION ALL
  SELECT format('entry %s debits subsidy account %s by %s without a card', l.entry_id, l.account_id, l.amount_fen)
    FROM ledger.journal_line l
   WHERE l.side = 'D' AND (p_since IS NULL OR l.business_day >= p_since)
     AND l.account_id IN (SELECT subsidy_account_id FROM promo.campaign_merchant)
     AND NOT EXISTS (SELECT 1 FROM promo.payment p
                      WHERE p.entry_id = l.entry_id AND p.business_day = l.business_day AND p.deck_id IS NOT NULL)
$$;

-- A deck's used count is the number of payments that took one of its cards, each card at most once.
CREATE OR REPLACE FUNCTION promo.violations_cards_used_once(p_since date) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger, promo AS $$
  SELECT format('deck %s: used_count %s, %s payment(s) on %s distinct position(s), highest %s', d.id, d.used_count,
                coalesce(u.n, 0), coalesce(u.nd, 0), coalesce(u.mx, 0))
    FROM promo.deck d
    LEFT JOIN (SELECT deck_id, count(*) AS n, count(DISTINCT card_position) AS nd, max(card_position) AS mx
                 FROM promo.payment WHERE deck_id IS NOT NULL AND (p_since IS NULL OR business_day >= p_since)
                GROUP BY deck_id) u ON u.deck_id = d.id
   WHERE (p_since IS NULL OR d.business_day >= p_since)
     AND (coalesce(u.n, 0) <> d.used_count OR coalesce(u.nd, 0) <> d.used_count OR coalesce(u.mx, 0) > d.used_count)
$$;

-- At most cards_per_day discounted payments per merchant and day.
CREATE OR REPLACE FUNCTION promo.violations_daily_cap(p_since date) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger, promo AS $$
  SELECT format('merchant %s on %s: %s discounts, cap %s', m.code, x.business_day, x.n, c.cards_per_day)
    FROM (SELECT campaign_id, merchant_id, business_day, count(*) AS n FROM promo.payment
           WHERE deck_id IS NOT NULL AND (p_since IS NULL OR business_day >= p_since) GROUP BY 1, 2, 3) x
    JOIN promo.campaign c ON c.id = x.campaign_id JOIN ledger.merchant m ON m.id = x.merchant_id
   WHERE x.n > c.cards_per_day
$$;

-- The two shares add up to the discount, and the payer's and merchant's lines carry amount - payer
-- share and amount + merchant share.
CREATE OR REPLACE FUNCTION promo.violations_split_adds_up(p_since date) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger, promo AS $$
  SELECT format('payment %s: amount %s, payer share %s, merchant share %s, discount %s', p.payment_id, p.amount_fen,
                p.payer_share_fen, p.merchant_share_fen, p.discount_fen)
    FROM promo.payment p JOIN ledger.payer py ON py.id = p.payer_id JOIN ledger.merchant m ON m.id = p.merchant_id
   WHERE (p_since IS NULL OR p.business_day >= p_since)
     AND (p.payer_share_fen + p.merchant_share_fen <> p.discount_fen
      OR NOT EXISTS (SELECT 1 FROM ledger.journal_line l WHERE l.entry_id = p.entry_id AND l.business_day = p.business_day
                        AND l.account_id = py.account_id AND l.side = 'D' AND l.amount_fen = p.amount_fen - p.payer_share_fen)
      OR NOT EXISTS (SELECT 1 FROM ledger.journal_line l WHERE l.entry_id = p.entry_id AND l.business_day = p.business_day
                        AND l.account_id = m.account_id AND l.side = 'C' AND l.amount_fen = p.amount_fen + p.merchant_share_fen))
$$;

-- Reserved + spent within the total; reserved = the open decks' reservations; spent = the closed days'.
CREATE OR REPLACE FUNCTION promo.violations_budget_within_limit(p_since date) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger, promo AS $$
  SELECT format('campaign %s: total %s, reserved %s (open decks %s), spent %s (closed days %s)', c.id,
                c.budget_total_fen, c.budget_reserved_fen, o.open_fen, c.budget_spent_fen, cl.closed_fen)
    FROM promo.campaign c
    CROSS JOIN LATERAL (SELECT coalesce(sum(reserved_fen), 0) AS open_fen FROM promo.deck d
                         WHERE d.campaign_id = c.id AND d.status = 'open') o
    CROSS JOIN LATERAL (SELECT coalesce(sum(subsidy_fen), 0) AS closed_fen FROM promo.day_close dc
                         WHERE dc.campaign_id = c.id) cl
   WHERE c.budget_reserved_fen + c.budget_spent_fen > c.budget_total_fen OR c.budget_reserved_fen <> o.open_fen
      OR c.budget_spent_fen <> cl.closed_fen
$$;

-- The outlet daily budget (migration 0010 guards the decks; this finds what bypassed it): per campaign,
-- home outlet and day, what the decks reserve, what their cards are worth and what payments took from
-- them, each against the campaign's outlet_daily_budget_fen.
CREATE OR REPLACE FUNCTION promo.violations_outlet_daily_budget(p_since date) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger, promo AS $$
  SELECT format('campaign %s outlet %s on %s: decks reserve %s, cards worth %s, discounts paid %s, budget %s',
                x.campaign_id, coalesce(o.code, '?'), x.business_day, x.reserved_fen, x.face_fen, x.paid_fen,
                c.outlet_daily_budget_fen)
    FROM (SELECT d.campaign_id, cm.outlet_id, d.business_day, sum(d.reserved_fen) AS reserved_fen,
                 sum((SELECT coalesce(sum(card), 0) FROM unnest(d.cards_fen) AS card)) AS face_fen,
                 sum((SELECT coalesce(sum(p.discount_fen), 0) FROM promo.payment p
                       WHERE p.deck_id = d.id AND p.business_day = d.business_day)) AS paid_fen
            FROM promo.deck d JOIN promo.campaign dc ON dc.id = d.campaign_id AND dc.outlet_daily_budget_fen IS NOT NULL
             AND (p_since IS NULL OR d.business_day >= p_since)
            LEFT JOIN promo.campaign_merchant cm ON cm.campaign_id = d.campaign_id AND cm.merchant_id = d.merchant_id
           GROUP BY 1, 2, 3) x
    JOIN promo.campaign c ON c.id = x.campaign_id LEFT JOIN ledger.org_unit o ON o.id = x.outlet_id
   WHERE greatest(x.reserved_fen, x.face_fen, x.paid_fen) > c.outlet_daily_budget_fen
   ORDER BY x.campaign_id, x.business_day, o.code
$$;

-- The columns whose foreign keys were dropped (from the hot path in migrations 0004 and 0005; into the
-- partitioned tables in 0014) point at rows.
CREATE OR REPLACE FUNCTION promo.violations_referential_integrity(p_since date) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger, promo AS $$
  SELECT format('payment %s refers to a missing payer, merchant, outlet, campaign or deck', p.payment_id)
    FROM promo.payment p
   WHERE (p_since IS NULL OR p.business_day >= p_since) AND (NOT EXISTS (SELECT 1 FROM ledger.payer x WHERE x.id = p.payer_id)
      OR NOT EXISTS (SELECT 1 FROM ledger.merchant x WHERE x.id = p.merchant_id)
      OR NOT EXISTS (SELECT 1 FROM ledger.org_unit x WHERE x.id = p.outlet_id)
      OR (p.campaign_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM promo.campaign x WHERE x.id = p.campaign_id))
      OR (p.deck_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM promo.deck x
                                                 WHERE x.id = p.deck_id AND x.business_day = p.business_day)))
  UNION ALL
  SELECT format('entry %s line %s refers to missing account %s', l.entry_id, l.line_no, l.account_id)
    FROM ledger.journal_line l
   WHERE (p_since IS NULL OR l.business_day >= p_since) AND NOT EXISTS (SELECT 1 FROM ledger.account a WHERE a.id = l.account_id)
  UNION ALL
  SELECT format('line %s of entry %s has no entry of its day', l.line_no, l.entry_id)
    FROM ledger.journal_line l
   WHERE (p_since IS NULL OR l.business_day >= p_since)
     AND NOT EXISTS (SELECT 1 FROM ledger.journal_entry e WHERE e.id = l.entry_id AND e.business_day = l.business_day)
  UNION ALL
  SELECT format('payment %s refers to missing entry %s', p.payment_id, p.entry_id)
    FROM promo.payment p
   WHERE (p_since IS NULL OR p.business_day >= p_since)
     AND NOT EXISTS (SELECT 1 FROM ledger.journal_entry e WHERE e.id = p.entry_id AND e.business_day = p.business_day)
  UNION ALL
  SELECT format('reversal of payment %s refers to a missing payment or entry %s', r.payment_id, r.entry_id)
    FROM promo.payment_reversal r
   WHERE (p_since IS NULL OR r.business_day >= p_since) AND (NOT EXISTS (SELECT 1 FROM promo.payment p JOIN ledger.entry_ref c ON c.external_ref = 'payment:' || p.payment_id
                      WHERE p.payment_id = r.payment_id AND p.business_day = c.business_day)
      OR NOT EXISTS (SELECT 1 FROM ledger.journal_entry e WHERE e.id = r.entry_id AND e.business_day = r.business_day))
  UNION ALL
  SELECT format('deck %s refers to a missing campaign %s or merchant %s', d.id, d.campaign_id, d.merchant_id)
    FROM promo.deck d
   WHERE (p_since IS NULL OR d.business_day >= p_since)
     AND (NOT EXISTS (SELECT 1 FROM promo.campaign x WHERE x.id = d.campaign_id)
          OR NOT EXISTS (SELECT 1 FROM ledger.merchant x WHERE x.id = d.merchant_id))
  UNION ALL
  SELECT format('day close of %s on %s refers to missing deck %s', dc.merchant_id, dc.business_day, dc.deck_id)
    FROM promo.day_close dc
   WHERE (p_since IS NULL OR dc.business_day >= p_since) AND NOT EXISTS (SELECT 1 FROM promo.deck d WHERE d.id = dc.deck_id AND d.business_day = dc.business_day)
$$;

-- The named checks (all when p_checks is NULL), in the order of promo.verify_check_names(): each with
-- its count of violations and the first p_sample_max of them in words. An unknown name is refused.
-- p_since: only the payments, decks and lines of that business day on (audit verify since the latest
-- anchor; NULL: all); the budgets are checked whole (they are per campaign).
CREATE OR REPLACE FUNCTION promo.verify_check_names() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY['subsidy_lines_match_cards', 'cards_used_once', 'daily_cap', 'split_adds_up', 'budget_within_limit',
               'outlet_daily_budget', 'referential_integrity']
$$;
CREATE OR REPLACE FUNCTION promo.verify(p_checks text[] DEFAULT NULL, p_sample_max integer DEFAULT 5,
                                        p_since date DEFAULT NULL)
RETURNS TABLE (check_name text, violations bigint, sample text)
LANGUAGE plpgsql STABLE SET DateStyle = 'ISO, MDY' SET search_path = pg_catalog, ledger, promo AS $$
DECLARE
  unknown text[];
BEGIN
  SELECT array_agg(x) INTO unknown FROM unnest(p_checks) x WHERE NOT x = ANY (promo.verify_check_names());
  IF unknown IS NOT NULL THEN
    RAISE EXCEPTION 'promo.verify: no check named %', array_to_string(unknown, ', ') USING ERRCODE = '22023';
  END IF;
  FOREACH check_name IN ARRAY promo.verify_check_names() LOOP
    CONTINUE WHEN p_checks IS NOT NULL AND NOT check_name = ANY (p_checks);
    RETURN QUERY EXECUTE format(
      'SELECT %L::text, count(*), string_agg(v.what, ''; '') FILTER (WHERE v.n <= $1) '
      'FROM (SELECT w.what, row_number() OVER () AS n FROM promo.%I($2) AS w(what)) v', check_name,
      'violations_' || check_name) USING p_sample_max, p_since;
  END LOOP;
END $$;

-- Privileges, restated here because a new function is executable by PUBLIC until revoked.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA promo FROM PUBLIC;
GRANT EXECUTE ON FUNCTION promo.post_payments(text[], text[], text[], text[], bigint[], timestamptz[], date[]),
                          promo.post_payment(text, text, text, text, bigint, timestamptz, date),
                          promo.reverse_payment(text, date) TO promoledger_app;
-- The promotion's checks read everything, as the caller: the auditor's `audit verify`, the service's.
GRANT EXECUTE ON FUNCTION promo.verify(text[], integer, date), promo.verify_check_names(),
                          promo.violations_subsidy_lines_match_cards(date), promo.violations_cards_used_once(date),
                          promo.violations_daily_cap(date), promo.violations_split_adds_up(date),
                          promo.violations_budget_within_limit(date), promo.violations_outlet_daily_budget(date),
                          promo.violations_referential_integrity(date)
  TO promoledger_auditor, promoledger_app;
