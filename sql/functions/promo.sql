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


-- Posts a batch of scan payments: one call, one transaction, one result row per input in input order
-- (the same figures for a payment whatever batch it arrives in). Each payment is all or nothing on its
-- own: a refused payment writes nothing, takes no card and changes no balance that a later payment of
-- the batch sees; the others post. A payment id that appears twice posts once; a later occurrence gets
-- the first's result (exists, or exists_with_different_content).
--
-- The shape, and why: a payment's rules are sequential (whether a card is left depends on the earlier
-- payments at that merchant, whether the payer can pay depends on the card), but statements are what
-- cost. So the function runs a fixed number of statements per batch, not per payment:
--   1. guards, replay detection and every look-up for the whole batch, in one SELECT;
--   2. every lock the batch needs, each kind in one statement, in one global order: payer day
--      counters, decks, accounts (each sorted by key), then the stats rows at the write. Two batches
--      in flight therefore never deadlock. Payment ids take no lock: a concurrent duplicate of an
--      id is caught by the unique external_ref at the write, and the batch is retried (40001);
--   3. the rules, payment by payment in arrival order, over the locked rows held in arrays: no SQL
--      statement inside the loop, only expressions (the digest helpers are inlined);
--   4. one write per table: entries, lines, balances, payments, decks, payer day counters, stats.
-- Limits: 1..1000 payments per call (c_batch_max; the C++ poster's PaymentPoster::batch_size_max).
-- Lock order shared with ledger.apply_lines and promo.reverse_payment: accounts by id, then stats.
CREATE OR REPLACE FUNCTION promo.post_payments(p_payment_ids text[], p_payers text[], p_merchants text[],
                                               p_channels text[], p_amounts_fen bigint[], p_paid_at timestamptz[],
                                               p_business_days date[])
RETURNS SETOF promo.payment_result
LANGUAGE plpgsql SECURITY DEFINER
-- A generic plan for every statement: the statements take arrays, whose custom plans PostgreSQL would
-- otherwise rebuild on every call (measured: 2.8 ms -> 1.5 ms of CPU for a batch of one).
SET plan_cache_mode = force_generic_plan
-- The line digest formats the business day as text: pinned, so a caller's DateStyle cannot change it.
SET DateStyle = 'ISO, MDY'
SET search_path = pg_catalog, ledger, promo AS $$
DECLARE
  c_batch_max CONSTANT integer := 1000;
  c_amount_max_fen CONSTANT bigint := 10000000000;  -- 100,000,000.00 CNY: no scan payment is larger
  n integer := coalesce(cardinality(p_payment_ids), 0);
  v_now timestamptz := now();  -- the posted_at of every entry of the batch (the transaction's time)
  -- Days up to this one are closed (ledger.business_day_close): nothing may be posted into them. Read
  -- after the shared closing lock is taken (below), never in this DECLARE.
  v_last_closed date;
  -- A payment time after this is refused (paid_at_in_future): the clock plus ledger.posting_policy.
  v_paid_at_max timestamptz;
  -- Per input, index = arrival order. r_* are the results.
  r_status text[]; r_detail text[]; r_entry bigint[]; r_reason text[]; r_amount bigint[]; r_discount bigint[];
  r_payer_share bigint[]; r_merchant_share bigint[]; r_campaign bigint[]; r_deck bigint[]; r_card integer[];
  r_day date[];
  v_hash bytea[]; v_first integer[]; v_merchant bigint[]; v_outlet bigint[]; v_payer bigint[];
  v_reason0 text[]; v_limit integer[]; v_share_bp integer[]; v_nodeck_reason text[];
  v_payer_acc bigint[]; v_merchant_acc bigint[]; v_subsidy_acc bigint[]; v_deck_want bigint[]; v_pd_want boolean[];
  s_payer integer[]; s_merchant integer[]; s_subsidy integer[]; s_deck integer[]; s_pd integer[];
  v_order bigint[];       -- ordinals as aggregated in step 1: must be 1..n
  v_order_slots bigint[]; -- and in the slot mapping
  v_fail_acc bigint[];  -- the account whose limit refused a payment
  v_winner integer[];   -- by first occurrence of an id: the occurrence that posted
  -- Locked rows, each kind sorted by key; *0 are the values as read, to write back only what changed.
  a_id bigint[]; a_side text[]; a_min bigint[]; a_debits bigint[]; a_credits bigint[]; a_count bigint[];
  a_count0 bigint[]; a_head bytea[];
  d_id bigint[]; d_campaign bigint[]; d_status text[]; d_used integer[]; d_used0 integer[]; d_count integer[];
  d_offset integer[]; d_cards integer[];  -- card p of deck k is d_cards[d_offset[k] + p]
  pd_campaign bigint[]; pd_payer bigint[]; pd_day date[]; pd_count integer[]; pd_count0 integer[];
  -- What the batch writes.
  l_entry bigint[] := '{}'; l_no integer[] := '{}'; l_acc bigint[] := '{}'; l_side text[] := '{}';
  l_amount bigint[] := '{}'; l_seq bigint[] := '{}'; l_after bigint[] := '{}'; l_hash bytea[] := '{}';
  e_ord integer[] := '{}'; e_id bigint[] := '{}';
  nl integer := 0;
  ne integer := 0;
  v_failures integer := 0;
  v_rows bigint;
  -- The payment in hand.
  i integer; f integer; w integer; k integer; pa integer; ma integer; sa integer; pd integer;
  v_reason text; v_card integer; v_discount bigint; v_payer_share bigint; v_merchant_share bigint;
  v_pays bigint; v_receives bigint; v_bal_payer bigint; v_bal_subsidy bigint; v_bal_merchant bigint;
  v_entry_id bigint; v_header text; v_merchant_line integer;
BEGIN
  -- Step 1 reads the arrays by position (unnest WITH ORDINALITY), steps 3 and 4 by subscript: both
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

  v_fail_acc := array_fill(NULL::bigint, ARRAY[n]);
  v_winner := array_fill(NULL::integer, ARRAY[n]);
  -- Held to commit: a close-day waits for this batch, or this batch for it (migration 0009).
  PERFORM pg_advisory_xact_lock_shared(ledger.closing_lock_key());
  v_last_closed := ledger.last_closed_day();
  v_paid_at_max := v_now + ledger.future_tolerance();

  -- 1. Guards, replays and look-ups, set-wise. status is set here for what is decided before any
  --    lock (a malformed input, a payment already stored); the rest is decided in step 3.
  SELECT array_agg(g.ord), array_agg(g.status), array_agg(g.detail), array_agg(g.hash),
         array_agg(g.first_ord),
         -- A stored payment's figures only with a replay's answer, never with a rejection of the input.
         array_agg(CASE WHEN g.replay THEN g.ep_entry END), array_agg(CASE WHEN g.replay THEN g.ep_reason END),
         array_agg(CASE WHEN g.replay THEN g.ep_amount ELSE g.amount_fen END),
         array_agg(CASE WHEN g.replay THEN g.ep_discount END),
         array_agg(CASE WHEN g.replay THEN g.ep_payer_share END),
         array_agg(CASE WHEN g.replay THEN g.ep_merchant_share END),
         array_agg(CASE WHEN g.status IS NULL THEN g.campaign_id WHEN g.replay THEN g.ep_campaign END),
         array_agg(CASE WHEN g.replay THEN g.ep_deck END), array_agg(CASE WHEN g.replay THEN g.ep_card END),
         array_agg(CASE WHEN g.replay THEN g.ep_day ELSE g.day END),
         array_agg(g.merchant_id), array_agg(g.outlet_id), array_agg(g.payer_id),
         array_agg(g.reason0), array_agg(g.payer_daily_limit),
         array_agg(g.payer_share_bp), array_agg(g.nodeck_reason),
         -- What to lock: only for a payment that may still post, and the subsidy account and deck only
         -- for one that may still get a card.
         array_agg(CASE WHEN g.candidate THEN g.payer_account END),
         array_agg(CASE WHEN g.candidate THEN g.merchant_account END),
         array_agg(CASE WHEN g.candidate AND g.reason0 IS NULL AND g.deck_id IS NOT NULL THEN g.subsidy_account END),
         array_agg(CASE WHEN g.candidate AND g.reason0 IS NULL THEN g.deck_id END),
         array_agg(g.candidate AND g.reason0 IS NULL AND g.payer_daily_limit IS NOT NULL)
    INTO v_order, r_status, r_detail, v_hash, v_first, r_entry, r_reason, r_amount, r_discount, r_payer_share, r_merchant_share,
         r_campaign, r_deck, r_card, r_day, v_merchant, v_outlet, v_payer, v_reason0, v_limit, v_share_bp,
         v_nodeck_reason, v_payer_acc, v_merchant_acc, v_subsidy_acc, v_deck_want, v_pd_want
    FROM (
      SELECT h.*, h.status IS NULL AND h.merchant_id IS NOT NULL AND h.payer_id IS NOT NULL AS candidate,
             h.status IN ('exists', 'exists_with_different_content') AS replay
        FROM (
          SELECT t.ord, t.amount_fen, t.day, t.hash, min(t.ord) OVER (PARTITION BY t.payment_id) AS first_ord,
                 m.id AS merchant_id, m.outlet_id, m.account_id AS merchant_account, p.id AS payer_id,
                 p.account_id AS payer_account, c.id AS campaign_id, c.payer_daily_limit, c.payer_share_bp,
                 c.subsidy_account_id AS subsidy_account, d.id AS deck_id,
                 ep.entry_id AS ep_entry, ep.reason AS ep_reason, ep.amount_fen AS ep_amount,
                 ep.discount_fen AS ep_discount, ep.payer_share_fen AS ep_payer_share,
                 ep.merchant_share_fen AS ep_merchant_share, ep.campaign_id AS ep_campaign, ep.deck_id AS ep_deck,
                 ep.card_position AS ep_card, ep.business_day AS ep_day, ep.payment_id IS NOT NULL AS ep_found,
                 CASE
                   WHEN t.payment_id IS NULL OR t.payment_id !~ '^[A-Za-z0-9_.:-]{1,64}$' THEN 'invalid_payment_id'
                   WHEN t.amount_fen IS NULL OR t.amount_fen <= 0 THEN 'amount_must_be_positive'
                   WHEN t.amount_fen > c_amount_max_fen THEN 'amount_too_large'
                   WHEN t.channel IS NULL OR t.channel NOT IN ('bank_app', 'wechat', 'alipay') THEN 'unknown_channel'
                   -- The caller computes the day with the tz database (Asia/Shanghai); this is the second path.
                   WHEN t.day IS NULL OR t.paid_at IS NULL OR t.local_time::date <> t.day THEN 'business_day_mismatch'
                   WHEN ep.payment_id IS NULL AND e.id IS NOT NULL THEN 'external_ref_taken'
                   WHEN ep.payment_id IS NOT NULL AND e.content_hash = t.hash THEN 'exists'
                   WHEN ep.payment_id IS NOT NULL THEN 'exists_with_different_content'
                 END AS status,
                 CASE
                   WHEN t.payment_id IS NULL OR t.payment_id !~ '^[A-Za-z0-9_.:-]{1,64}$'
                     THEN 'payment id must be 1..64 of A-Z a-z 0-9 _ . : -'
                   WHEN t.amount_fen IS NULL OR t.amount_fen <= 0 THEN format('amount %s fen', t.amount_fen)
                   WHEN t.amount_fen > c_amount_max_fen
                     THEN format('amount %s fen exceeds %s fen', t.amount_fen, c_amount_max_fen)
                   WHEN t.channel IS NULL OR t.channel NOT IN ('bank_app', 'wechat', 'alipay')
                     THEN format('channel %s is not bank_app, wechat or alipay', t.channel)
                   WHEN t.day IS NULL OR t.paid_at IS NULL OR t.local_time::date <> t.day
                     THEN format('paid at %s local is day %s, not %s', t.local_time, t.local_time::date, t.day)
                   WHEN ep.payment_id IS NULL AND e.id IS NOT NULL
                     THEN format('journal reference payment:%s is used by an entry that is not a payment', t.payment_id)
                   WHEN ep.payment_id IS NOT NULL AND e.content_hash IS DISTINCT FROM t.hash
                     THEN format('payment %s was already posted (entry %s) with different payer, merchant, channel, '
                                 'amount or time', t.payment_id, ep.entry_id)
                 END AS detail,
                 -- Eligibility: the first reason found is recorded (the per-payer limit and the deck come in step 3).
                 CASE
                   WHEN c.id IS NULL THEN 'no_active_campaign'
                   WHEN t.channel <> c.channel THEN 'channel_not_eligible'
                   WHEN c.status = 'paused' THEN 'campaign_paused'
                   WHEN t.amount_fen < c.min_payment_fen THEN 'below_minimum_payment'
                   WHEN c.window_start_local IS NOT NULL
                        AND NOT (t.local_time::time >= c.window_start_local AND t.local_time::time < c.window_end_local)
                     THEN 'outside_time_window'
                 END AS reason0,
                 CASE WHEN d.id IS NULL AND c.id IS NOT NULL THEN
                   CASE WHEN EXISTS (SELECT 1 FROM promo.deck_unfunded u
                                      WHERE u.merchant_id = m.id AND u.business_day = t.day) THEN 'budget_exhausted'
                        ELSE 'not_dealt' END
                 END AS nodeck_reason
            FROM (SELECT u.*, u.paid_at AT TIME ZONE 'Asia/Shanghai' AS local_time,
                         -- What a replay must match: payer, merchant, channel, amount, time (microseconds)
                         -- and id; stored as the entry's content_hash.
                         sha256(convert_to(concat_ws('|', 'v1', u.payer, u.merchant, u.channel, u.amount_fen,
                                                     (extract(epoch FROM u.paid_at) * 1000000)::bigint, u.payment_id),
                                           'UTF8')) AS hash
                    FROM unnest(p_payment_ids, p_payers, p_merchants, p_channels, p_amounts_fen, p_paid_at, p_business_days)
                         WITH ORDINALITY AS u(payment_id, payer, merchant, channel, amount_fen, paid_at, day, ord)) t
            -- Every look-up is a LATERAL probe of a unique index (LIMIT 1 keeps the planner from turning
            -- it into a hash join over the whole table: the generic plan guesses 10 input rows).
            LEFT JOIN LATERAL (SELECT * FROM promo.payment x WHERE x.payment_id = t.payment_id LIMIT 1) ep ON true
            LEFT JOIN LATERAL (SELECT x.id, x.content_hash FROM ledger.journal_entry x
                                WHERE x.external_ref = 'payment:' || t.payment_id LIMIT 1) e ON true
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
        ) h
       ORDER BY h.ord
    ) g;
  -- The aggregates above read the rows in the subquery's order (one ORDER BY per aggregate would sort
  -- once per column: measured 0.2 ms of a batch of one). All of them read the same row stream, so the
  -- check in step 3 that the ordinals came in order (v_order[i] = i) proves every array is.

  <<posting>>
  BEGIN
  -- A batch that step 1 decided whole (replays after a lost answer, malformed input) is answered
  -- without taking a lock or writing.
  EXIT posting WHEN array_position(r_status, NULL) IS NULL;

  -- 2. Locks, in the global order. Payer day counters: the row is the lock (created at 0 if new).
  IF true = ANY(v_pd_want) THEN
    WITH locked AS (
      INSERT INTO promo.payer_day AS x (campaign_id, payer_id, business_day, discounts)
      SELECT DISTINCT u.campaign_id, u.payer_id, u.day, 0
        FROM unnest(r_campaign, v_payer, p_business_days, v_pd_want) AS u(campaign_id, payer_id, day, wanted)
       WHERE u.wanted
       ORDER BY 1, 2, 3
      ON CONFLICT (campaign_id, payer_id, business_day) DO UPDATE SET discounts = x.discounts
      RETURNING x.campaign_id, x.payer_id, x.business_day, x.discounts)
    -- The slots' order does not matter: every array is read from the same row stream.
    SELECT array_agg(l.campaign_id), array_agg(l.payer_id), array_agg(l.business_day), array_agg(l.discounts)
      INTO pd_campaign, pd_payer, pd_day, pd_count
      FROM locked l;
    pd_count0 := pd_count;
  END IF;
  -- Decks, with the next cards each may give to this batch (at most one per payment that wants one).
  IF v_deck_want IS NOT NULL AND EXISTS (SELECT 1 FROM unnest(v_deck_want) x WHERE x IS NOT NULL) THEN
    WITH wanted AS (
      SELECT u.deck_id, count(*)::integer AS demand FROM unnest(v_deck_want) AS u(deck_id)
       WHERE u.deck_id IS NOT NULL GROUP BY u.deck_id),
    locked AS (
      SELECT d.id, d.campaign_id, d.status, d.used_count, d.card_count,
             d.cards_fen[d.used_count + 1 : least(d.used_count + w.demand, d.card_count)] AS next_cards
        FROM promo.deck d JOIN wanted w ON w.deck_id = d.id
       ORDER BY d.id FOR NO KEY UPDATE OF d),
    placed AS (
      SELECT l.*, coalesce(sum(coalesce(cardinality(l.next_cards), 0)) OVER (ORDER BY l.id ROWS UNBOUNDED PRECEDING), 0)
                    - coalesce(cardinality(l.next_cards), 0) - l.used_count AS card_offset
        FROM locked l)
    SELECT array_agg(p.id), array_agg(p.campaign_id), array_agg(p.status), array_agg(p.used_count),
           array_agg(p.card_count), array_agg(p.card_offset::integer),
           (SELECT array_agg(c.card ORDER BY l.id, c.o) FROM locked l, unnest(l.next_cards) WITH ORDINALITY AS c(card, o))
      INTO d_id, d_campaign, d_status, d_used, d_count, d_offset, d_cards
      FROM placed p;
    d_used0 := d_used;
  END IF;
  -- Accounts, in id order (the order of ledger.apply_lines too).
  SELECT array_agg(s.account_id), array_agg(s.normal_side::text), array_agg(s.min_balance_fen),
         array_agg(s.debits_fen), array_agg(s.credits_fen), array_agg(s.line_count), array_agg(s.head_hash)
    INTO a_id, a_side, a_min, a_debits, a_credits, a_count, a_head
    FROM (SELECT b.* FROM ledger.account_balance b
           WHERE b.account_id = ANY(v_payer_acc || v_merchant_acc || v_subsidy_acc)
           ORDER BY b.account_id FOR NO KEY UPDATE) s;
  a_count0 := a_count;
  -- Each payment's slots in the locked arrays.
  SELECT array_agg(q.ord), array_agg(q.payer_slot), array_agg(q.merchant_slot), array_agg(q.subsidy_slot),
         array_agg(q.deck_slot), array_agg(q.pd_slot)
    INTO v_order_slots, s_payer, s_merchant, s_subsidy, s_deck, s_pd
    FROM (
      SELECT t.ord, ap.slot AS payer_slot, am.slot AS merchant_slot, asub.slot AS subsidy_slot, dk.slot AS deck_slot,
             pdc.slot AS pd_slot
        FROM unnest(v_payer_acc, v_merchant_acc, v_subsidy_acc, v_deck_want, v_pd_want, r_campaign, v_payer,
                    p_business_days)
             WITH ORDINALITY AS t(payer_acc, merchant_acc, subsidy_acc, deck_id, pd_wanted, campaign_id, payer_id, day, ord)
        LEFT JOIN unnest(a_id) WITH ORDINALITY AS ap(id, slot) ON ap.id = t.payer_acc
        LEFT JOIN unnest(a_id) WITH ORDINALITY AS am(id, slot) ON am.id = t.merchant_acc
        LEFT JOIN unnest(a_id) WITH ORDINALITY AS asub(id, slot) ON asub.id = t.subsidy_acc
        LEFT JOIN unnest(d_id) WITH ORDINALITY AS dk(id, slot) ON dk.id = t.deck_id
        LEFT JOIN unnest(pd_campaign, pd_payer, pd_day) WITH ORDINALITY AS pdc(campaign_id, payer_id, day, slot)
               ON t.pd_wanted AND pdc.campaign_id = t.campaign_id AND pdc.payer_id = t.payer_id AND pdc.day = t.day
       ORDER BY t.ord) q;
  IF cardinality(v_order) <> n OR cardinality(v_order_slots) <> n THEN
    RAISE EXCEPTION 'internal: % and % rows aggregated for % payments', cardinality(v_order), cardinality(v_order_slots), n
      USING ERRCODE = 'XX000';
  END IF;

  -- 3. The rules, payment by payment in arrival order: guard clauses first, then mutation.
  FOR i IN 1..n LOOP
    IF v_order[i] <> i OR v_order_slots[i] <> i THEN
      RAISE EXCEPTION 'internal: batch arrays out of arrival order at %', i USING ERRCODE = 'XX000';
    END IF;
    CONTINUE WHEN r_status[i] IS NOT NULL;
    f := v_first[i];
    w := v_winner[f];
    IF w IS NOT NULL THEN
      -- The same id earlier in this batch has posted: this one is its replay.
      IF v_hash[i] = v_hash[w] THEN
        r_status[i] := 'exists';
      ELSE
        r_status[i] := 'exists_with_different_content';
        r_detail[i] := format('payment %s was already posted (entry %s) with different payer, merchant, channel, '
                              'amount or time', p_payment_ids[i], r_entry[w]);
      END IF;
      r_entry[i] := r_entry[w]; r_reason[i] := r_reason[w]; r_amount[i] := r_amount[w];
      r_discount[i] := r_discount[w]; r_payer_share[i] := r_payer_share[w]; r_merchant_share[i] := r_merchant_share[w];
      r_campaign[i] := r_campaign[w]; r_deck[i] := r_deck[w]; r_card[i] := r_card[w]; r_day[i] := r_day[w];
      CONTINUE;
    END IF;
    IF v_merchant[i] IS NULL THEN
      r_status[i] := 'unknown_merchant'; r_detail[i] := format('no merchant %s', p_merchants[i]);
      r_campaign[i] := NULL; CONTINUE;
    END IF;
    IF v_payer[i] IS NULL THEN
      r_status[i] := 'unknown_payer'; r_detail[i] := format('no payer %s', p_payers[i]);
      r_campaign[i] := NULL; CONTINUE;
    END IF;
    IF p_business_days[i] <= v_last_closed THEN
      r_status[i] := 'business_day_closed';
      r_detail[i] := format('business day %s is closed (every day up to %s is): a closed day''s figures do not move',
                            p_business_days[i], v_last_closed);
      r_campaign[i] := NULL; CONTINUE;
    END IF;
    IF p_paid_at[i] > v_paid_at_max THEN
      r_status[i] := 'paid_at_in_future';
      r_detail[i] := format('paid_at %s is %s ahead of the ledger''s clock (%s); the tolerance is %s',
                            p_paid_at[i], date_trunc('second', p_paid_at[i] - v_now), v_now, ledger.future_tolerance());
      r_campaign[i] := NULL; CONTINUE;
    END IF;

    -- The discount: eligibility (step 1), the payer's daily limit, then the merchant's next card.
    v_reason := v_reason0[i];
    v_card := NULL;
    v_discount := 0;
    pd := s_pd[i];
    k := s_deck[i];
    IF v_reason IS NULL AND pd IS NOT NULL AND pd_count[pd] >= v_limit[i] THEN
      v_reason := 'payer_daily_limit';
    END IF;
    IF v_reason IS NULL THEN
      IF k IS NULL THEN
        v_reason := v_nodeck_reason[i];
      ELSIF d_status[k] = 'closed' THEN
        v_reason := 'day_closed';
      ELSIF d_campaign[k] <> r_campaign[i] OR d_used[k] >= d_count[k] THEN
        v_reason := 'daily_cap_reached';
      ELSE
        v_card := d_used[k] + 1;
        v_discount := d_cards[d_offset[k] + v_card];
      END IF;
    END IF;
    -- Odd-fen rule: the payer's share is rounded down, the merchant gets the rest, so the two always
    -- add up to the discount exactly (7.37 -> payer 3.68, merchant 3.69).
    v_payer_share := (v_discount * coalesce(v_share_bp[i], 0)) / 10000;
    v_merchant_share := v_discount - v_payer_share;
    v_pays := p_amounts_fen[i] - v_payer_share;
    v_receives := p_amounts_fen[i] + v_merchant_share;

    -- Account limits, line by line, on the balances the earlier payments of the batch left.
    pa := s_payer[i];
    ma := s_merchant[i];
    sa := CASE WHEN v_card IS NOT NULL THEN s_subsidy[i] END;
    v_merchant_line := CASE WHEN v_card IS NOT NULL THEN 3 ELSE 2 END;
    v_bal_payer := ledger.normal_balance(a_side[pa], a_debits[pa] + v_pays, a_credits[pa]);
    v_bal_merchant := ledger.normal_balance(a_side[ma], a_debits[ma], a_credits[ma] + v_receives);
    IF sa IS NOT NULL THEN
      v_bal_subsidy := ledger.normal_balance(a_side[sa], a_debits[sa] + v_discount, a_credits[sa]);
    END IF;
    IF a_min[pa] IS NOT NULL AND v_bal_payer < a_min[pa] THEN
      r_detail[i] := format('would fall below its limit of %s fen (line 1: D %s)', a_min[pa], v_pays);
      v_fail_acc[i] := a_id[pa];
    ELSIF sa IS NOT NULL AND a_min[sa] IS NOT NULL AND v_bal_subsidy < a_min[sa] THEN
      r_detail[i] := format('would fall below its limit of %s fen (line 2: D %s)', a_min[sa], v_discount);
      v_fail_acc[i] := a_id[sa];
    ELSIF a_min[ma] IS NOT NULL AND v_bal_merchant < a_min[ma] THEN
      r_detail[i] := format('would fall below its limit of %s fen (line %s: C %s)', a_min[ma], v_merchant_line,
                            v_receives);
      v_fail_acc[i] := a_id[ma];
    END IF;
    IF v_fail_acc[i] IS NOT NULL THEN
      r_status[i] := 'insufficient_funds';
      r_campaign[i] := NULL;
      v_failures := v_failures + 1;
      CONTINUE;
    END IF;

    -- Post: the entry id, then each line extends its account's sequence, balance and hash chain.
    v_entry_id := nextval('ledger.journal_entry_id_seq');
    v_header := ledger.entry_digest_header(p_business_days[i], v_now, NULL, v_hash[i], 'payment',
                                           'payment:' || p_payment_ids[i]);
    a_debits[pa] := a_debits[pa] + v_pays;
    a_count[pa] := a_count[pa] + 1;
    a_head[pa] := ledger.line_hash(a_head[pa], v_entry_id, 1, a_id[pa], 'D', v_pays, a_count[pa], v_bal_payer, v_header);
    nl := nl + 1;
    l_entry[nl] := v_entry_id; l_no[nl] := 1; l_acc[nl] := a_id[pa]; l_side[nl] := 'D'; l_amount[nl] := v_pays;
    l_seq[nl] := a_count[pa]; l_after[nl] := v_bal_payer; l_hash[nl] := a_head[pa];
    IF sa IS NOT NULL THEN
      a_debits[sa] := a_debits[sa] + v_discount;
      a_count[sa] := a_count[sa] + 1;
      a_head[sa] := ledger.line_hash(a_head[sa], v_entry_id, 2, a_id[sa], 'D', v_discount, a_count[sa], v_bal_subsidy,
                                     v_header);
      nl := nl + 1;
      l_entry[nl] := v_entry_id; l_no[nl] := 2; l_acc[nl] := a_id[sa]; l_side[nl] := 'D'; l_amount[nl] := v_discount;
      l_seq[nl] := a_count[sa]; l_after[nl] := v_bal_subsidy; l_hash[nl] := a_head[sa];
      d_used[k] := v_card;
      IF pd IS NOT NULL THEN
        pd_count[pd] := pd_count[pd] + 1;
      END IF;
    END IF;
    a_credits[ma] := a_credits[ma] + v_receives;
    a_count[ma] := a_count[ma] + 1;
    a_head[ma] := ledger.line_hash(a_head[ma], v_entry_id, v_merchant_line, a_id[ma], 'C', v_receives, a_count[ma],
                                   v_bal_merchant, v_header);
    nl := nl + 1;
    l_entry[nl] := v_entry_id; l_no[nl] := v_merchant_line; l_acc[nl] := a_id[ma]; l_side[nl] := 'C';
    l_amount[nl] := v_receives; l_seq[nl] := a_count[ma]; l_after[nl] := v_bal_merchant; l_hash[nl] := a_head[ma];

    ne := ne + 1;
    e_ord[ne] := i;
    e_id[ne] := v_entry_id;
    v_winner[f] := i;
    r_status[i] := 'posted'; r_entry[i] := v_entry_id; r_reason[i] := v_reason; r_discount[i] := v_discount;
    r_payer_share[i] := v_payer_share; r_merchant_share[i] := v_merchant_share;
    r_deck[i] := CASE WHEN v_card IS NOT NULL THEN d_id[k] END; r_card[i] := v_card;
  END LOOP;

  IF v_failures > 0 THEN
    SELECT array_agg(CASE WHEN x.account_id IS NULL THEN x.detail ELSE format('account %s %s', a.code, x.detail) END
                     ORDER BY x.ord)
      INTO r_detail
      FROM unnest(r_detail, v_fail_acc) WITH ORDINALITY AS x(detail, account_id, ord)
      LEFT JOIN ledger.account a ON a.id = x.account_id;
  END IF;

  -- 4. One write per table.
  IF ne > 0 THEN
    -- One statement for the six tables a payment writes (each sub-statement runs once, to completion),
    -- the stats upsert and the read-back check after it. A payment id stored by another transaction
    -- since step 1 (a concurrent duplicate) makes the entry or payment insert skip a row: nothing of
    -- this batch is kept, the caller retries it (40001), and the retry answers that id as a replay.
    WITH entries AS (
      INSERT INTO ledger.journal_entry (id, external_ref, kind, business_day, posted_at, description, content_hash)
      OVERRIDING SYSTEM VALUE
      SELECT e.id, 'payment:' || p_payment_ids[e.ord], 'payment', p_business_days[e.ord], v_now,
             format('%s scan payment %s: %s to %s', p_channels[e.ord], p_payment_ids[e.ord], p_payers[e.ord],
                    p_merchants[e.ord]),
             v_hash[e.ord]
        FROM unnest(e_ord, e_id) AS e(ord, id)
       -- Unique keys are claimed in payment id order, so two batches holding a concurrent duplicate
       -- each wait for the other in one order (one gets 40001 and retries), never in a cycle.
       ORDER BY p_payment_ids[e.ord]
      ON CONFLICT (external_ref) DO NOTHING
      RETURNING 1),
    lines AS (
      INSERT INTO ledger.journal_line (entry_id, line_no, account_id, side, amount_fen, account_seq, balance_after_fen,
                                       line_hash)
      SELECT * FROM unnest(l_entry, l_no, l_acc, l_side, l_amount, l_seq, l_after, l_hash)),
    balances AS (
      UPDATE ledger.account_balance b
         SET debits_fen = u.debits_fen, credits_fen = u.credits_fen, line_count = u.line_count, head_hash = u.head_hash
        FROM unnest(a_id, a_debits, a_credits, a_count, a_count0, a_head)
             AS u(account_id, debits_fen, credits_fen, line_count, line_count0, head_hash)
       WHERE b.account_id = u.account_id AND u.line_count <> u.line_count0),
    payments AS (
      INSERT INTO promo.payment (payment_id, payer_id, merchant_id, outlet_id, channel, amount_fen, paid_at,
                                 business_day, campaign_id, deck_id, card_position, discount_fen, payer_share_fen,
                                 merchant_share_fen, reason, entry_id)
      SELECT p_payment_ids[e.ord], v_payer[e.ord], v_merchant[e.ord], v_outlet[e.ord], p_channels[e.ord],
             p_amounts_fen[e.ord], p_paid_at[e.ord], p_business_days[e.ord], r_campaign[e.ord], r_deck[e.ord],
             r_card[e.ord], r_discount[e.ord], r_payer_share[e.ord], r_merchant_share[e.ord], r_reason[e.ord], e.id
        FROM unnest(e_ord, e_id) AS e(ord, id)
       ORDER BY p_payment_ids[e.ord]
      ON CONFLICT (payment_id) DO NOTHING
      RETURNING 1),
    decks AS (
      UPDATE promo.deck d SET used_count = u.used_count
        FROM unnest(d_id, d_used, d_used0) AS u(id, used_count, used_count0)
       WHERE d.id = u.id AND u.used_count <> u.used_count0),
    payer_days AS (
      UPDATE promo.payer_day x SET discounts = u.discounts
        FROM unnest(pd_campaign, pd_payer, pd_day, pd_count, pd_count0)
             AS u(campaign_id, payer_id, business_day, discounts, discounts0)
       WHERE x.campaign_id = u.campaign_id AND x.payer_id = u.payer_id AND x.business_day = u.business_day
         AND u.discounts <> u.discounts0)
    SELECT (SELECT count(*) FROM entries) + (SELECT count(*) FROM payments) INTO v_rows;
    IF v_rows <> 2 * ne THEN
      RAISE EXCEPTION 'concurrent_duplicate: % of % payment ids of the batch were stored concurrently', ne - v_rows / 2, ne
        USING ERRCODE = '40001';
    END IF;
    -- The balance rule's second path for this batch's entries (the deferred per-entry trigger skips
    -- kind payment): read back from the table, every entry has its lines and they balance.
    SELECT count(*) INTO v_rows
      FROM (SELECT l.entry_id FROM ledger.journal_line l WHERE l.entry_id = ANY(e_id)
             GROUP BY l.entry_id
            HAVING count(*) >= 2 AND sum(CASE WHEN l.side = 'D' THEN l.amount_fen ELSE -l.amount_fen END) = 0) balanced;
    IF v_rows <> ne THEN
      RAISE EXCEPTION 'unbalanced_at_commit: % of % payment entries of the batch do not balance', ne - v_rows, ne
        USING ERRCODE = 'PL003';
    END IF;
    -- Running aggregates per merchant, day and channel (the reports read these); locked last, sorted.
    INSERT INTO promo.merchant_day_stats AS s (merchant_id, business_day, channel, payments, amount_fen, discounted,
                                               discount_fen, payer_share_fen, merchant_share_fen)
    SELECT v_merchant[e.ord], p_business_days[e.ord], p_channels[e.ord], count(*), sum(p_amounts_fen[e.ord])::bigint,
           count(*) FILTER (WHERE r_discount[e.ord] > 0), sum(r_discount[e.ord])::bigint,
           sum(r_payer_share[e.ord])::bigint, sum(r_merchant_share[e.ord])::bigint
      FROM unnest(e_ord) AS e(ord)
     GROUP BY 1, 2, 3
     ORDER BY 1, 2, 3
    ON CONFLICT (merchant_id, business_day, channel) DO UPDATE
      SET payments = s.payments + EXCLUDED.payments, amount_fen = s.amount_fen + EXCLUDED.amount_fen,
          discounted = s.discounted + EXCLUDED.discounted, discount_fen = s.discount_fen + EXCLUDED.discount_fen,
          payer_share_fen = s.payer_share_fen + EXCLUDED.payer_share_fen,
          merchant_share_fen = s.merchant_share_fen + EXCLUDED.merchant_share_fen;
  END IF;

  END posting;

  RETURN QUERY
    SELECT x.status, p_payment_ids[x.ord::integer], x.entry_id,
           x.status IN ('posted', 'exists', 'exists_with_different_content') AND coalesce(x.discount_fen, 0) > 0,
           x.reason, x.amount_fen, coalesce(x.discount_fen, 0), coalesce(x.payer_share_fen, 0),
           coalesce(x.merchant_share_fen, 0), x.campaign_id, x.deck_id, x.card_position, x.business_day, x.detail
      FROM unnest(r_status, r_entry, r_reason, r_amount, r_discount, r_payer_share, r_merchant_share, r_campaign,
                  r_deck, r_card, r_day, r_detail)
           WITH ORDINALITY AS x(status, entry_id, reason, amount_fen, discount_fen, payer_share_fen, merchant_share_fen,
                                campaign_id, deck_id, card_position, business_day, detail, ord)
     ORDER BY x.ord;
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
  SELECT * INTO v_payment FROM promo.payment p WHERE p.payment_id = p_payment_id;
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

-- Privileges, restated here because a new function is executable by PUBLIC until revoked.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA promo FROM PUBLIC;
GRANT EXECUTE ON FUNCTION promo.post_payments(text[], text[], text[], text[], bigint[], timestamptz[], date[]),
                          promo.post_payment(text, text, text, text, bigint, timestamptz, date),
                          promo.reverse_payment(text, date) TO promoledger_app;
