-- The ceiling row of scripts/bench.sh (issue 20): what this schema and this disk allow, on the same
-- cluster in the same run. bench_ceiling.write_batch(n) writes the rows of n discounted payments the
-- way promo.write_payments writes them, set-wise in one batch, and nothing else:
--   a claim (ledger.entry_ref), an entry, three lines, the three accounts' balance rows, a payment,
--   the deck's row, the payer's day counter and the merchant's day statistics,
-- into the product's own tables, with their indexes, CHECKs, partitions and triggers. What it leaves
-- out is the product's work on top: no look-up of codes, no guard or eligibility rule, no card drawn,
-- no split, no SHA-256 (hash columns get a constant), no read-back check. Locks are taken as the
-- product takes them (accounts, then decks, then counters, each in key order), so that concurrent
-- batches wait for each other as payments do. Amounts are neutral for the balance rows (debits and
-- credits grow by the same fen), so no limit can refuse a row and the run never ends early.
--
-- Run it only on a database whose figures no longer matter: the rows it writes break the ledger's
-- chains and the cards' rules on purpose (scripts/bench.sh runs it last, after every invariant check).
-- psql -v day=YYYY-MM-DD -f bench/ceiling/write_batch.sql; then SELECT bench_ceiling.write_batch(50, 0, 1).

\set ON_ERROR_STOP on
DROP SCHEMA IF EXISTS bench_ceiling CASCADE;
CREATE SCHEMA bench_ceiling;
-- Line sequence numbers and card positions far above any real one (and above an earlier ceiling run's:
-- they start from the clock), so that no unique key collides.
CREATE SEQUENCE bench_ceiling.seq;
CREATE SEQUENCE bench_ceiling.card AS integer;
SELECT setval('bench_ceiling.seq', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint),
       setval('bench_ceiling.card', extract(epoch FROM clock_timestamp())::integer);

-- The accounts of a discounted payment at each campaign merchant of the day, numbered for random picks.
CREATE TABLE bench_ceiling.merchant AS
  SELECT row_number() OVER (ORDER BY m.id)::integer AS k, m.id AS merchant_id, m.outlet_id,
         m.account_id AS merchant_account, d.id AS deck_id, d.campaign_id, cm.subsidy_account_id, d.business_day
    FROM ledger.merchant m
    JOIN promo.deck d ON d.merchant_id = m.id AND d.business_day = :'day'
    JOIN promo.campaign_merchant cm ON cm.merchant_id = m.id AND cm.campaign_id = d.campaign_id;
ALTER TABLE bench_ceiling.merchant ADD PRIMARY KEY (k);
CREATE TABLE bench_ceiling.payer AS
  SELECT row_number() OVER (ORDER BY p.id)::integer AS k, p.id AS payer_id, p.account_id AS payer_account
    FROM ledger.payer p;
ALTER TABLE bench_ceiling.payer ADD PRIMARY KEY (k);
CREATE TABLE bench_ceiling.size AS
  SELECT (SELECT count(*) FROM bench_ceiling.merchant)::integer AS merchants,
         (SELECT count(*) FROM bench_ceiling.payer)::integer AS payers;
ANALYZE bench_ceiling.merchant;
ANALYZE bench_ceiling.payer;

CREATE TYPE bench_ceiling.shape AS (entry_id bigint, payer_id bigint, payer_account bigint, merchant_id bigint,
                                    outlet_id bigint, merchant_account bigint, deck_id bigint, campaign_id bigint,
                                    subsidy_account bigint, business_day date, amount_fen bigint);

-- n payments at merchants whose outlet falls to this writer (outlet id mod shards = shard), as the
-- product's writers take whole outlets (outlet affinity): two writers never wait for one outlet's row.
CREATE FUNCTION bench_ceiling.write_batch(n integer, shard integer, shards integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  s bench_ceiling.shape[];
  sz bench_ceiling.size;
  written integer;
  c_hash CONSTANT bytea := decode(repeat('00', 32), 'hex');
  c_discount_fen CONSTANT bigint := 800;
  c_payer_share_fen CONSTANT bigint := 400;
BEGIN
  SELECT * INTO sz FROM bench_ceiling.size;
  SELECT array_agg(ROW(nextval(pg_get_serial_sequence('ledger.journal_entry', 'id')), p.payer_id, p.payer_account,
                       m.merchant_id, m.outlet_id, m.merchant_account, m.deck_id, m.campaign_id, m.subsidy_account_id,
                       m.business_day, 1000 + m.i % 9000)::bench_ceiling.shape)
    INTO s
    FROM (SELECT row_number() OVER () AS i, r.pk, x.*
            FROM (SELECT 1 + floor(random() * sz.payers)::integer AS pk, 1 + floor(random() * sz.merchants)::integer AS mk
                    FROM generate_series(1, n * shards * 4)) r
            JOIN bench_ceiling.merchant x ON x.k = r.mk AND x.outlet_id % shards = shard
           LIMIT n) m
    JOIN bench_ceiling.payer p ON p.k = m.pk;
  -- The locks, in the product's order.
  PERFORM 1 FROM ledger.account_balance b
    WHERE b.account_id IN (SELECT x.payer_account FROM unnest(s) x UNION SELECT x.merchant_account FROM unnest(s) x
                           UNION SELECT x.subsidy_account FROM unnest(s) x)
    ORDER BY b.account_id FOR UPDATE;
  PERFORM 1 FROM promo.deck d
    WHERE (d.id, d.business_day) IN (SELECT x.deck_id, x.business_day FROM unnest(s) x)
    ORDER BY d.id FOR UPDATE;
  INSERT INTO promo.payer_day AS x (campaign_id, payer_id, business_day, discounts)
  SELECT DISTINCT u.campaign_id, u.payer_id, u.business_day, 0 FROM unnest(s) u ORDER BY 1, 2, 3
  ON CONFLICT (campaign_id, payer_id, business_day) DO UPDATE SET discounts = x.discounts;

  WITH lines AS (
    SELECT u.entry_id, l.line_no, l.account_id, l.side, l.amount_fen, u.business_day
      FROM unnest(s) u
      CROSS JOIN LATERAL (VALUES (1::smallint, u.payer_account, 'D'::char(1), u.amount_fen - c_payer_share_fen),
                                 (2::smallint, u.subsidy_account, 'D'::char(1), c_discount_fen),
                                 (3::smallint, u.merchant_account, 'C'::char(1),
                                  u.amount_fen + c_discount_fen - c_payer_share_fen)) AS l(line_no, account_id, side, amount_fen)),
  claim_rows AS (
    INSERT INTO ledger.entry_ref (external_ref, entry_id, business_day, content_hash)
    SELECT 'payment:ceiling-' || u.entry_id, u.entry_id, u.business_day, c_hash FROM unnest(s) u ORDER BY 1
    RETURNING 1),
  entry_rows AS (
    INSERT INTO ledger.journal_entry (id, external_ref, kind, business_day, posted_at, description, content_hash)
    OVERRIDING SYSTEM VALUE
    SELECT u.entry_id, 'payment:ceiling-' || u.entry_id, 'payment', u.business_day, now(), '', c_hash
      FROM unnest(s) u),
  line_rows AS (
    INSERT INTO ledger.journal_line (entry_id, line_no, account_id, side, amount_fen, account_seq, balance_after_fen,
                                     line_hash, business_day)
    SELECT l.entry_id, l.line_no, l.account_id, l.side, l.amount_fen, nextval('bench_ceiling.seq'), 0, c_hash,
           l.business_day
      FROM lines l),
  balance_rows AS (
    UPDATE ledger.account_balance b
       SET debits_fen = b.debits_fen + t.amount_fen, credits_fen = b.credits_fen + t.amount_fen,
           line_count = b.line_count + t.lines, head_hash = c_hash
      FROM (SELECT l.account_id, sum(l.amount_fen)::bigint AS amount_fen, count(*) AS lines
              FROM lines l GROUP BY 1) t
     WHERE b.account_id = t.account_id),
  payment_rows AS (
    INSERT INTO promo.payment (payment_id, payer_id, merchant_id, outlet_id, channel, amount_fen, paid_at, business_day,
                               campaign_id, deck_id, card_position, discount_fen, payer_share_fen, merchant_share_fen,
                               reason, entry_id)
    SELECT 'ceiling-' || u.entry_id, u.payer_id, u.merchant_id, u.outlet_id, 'bank_app', u.amount_fen, now(),
           u.business_day, u.campaign_id, u.deck_id, nextval('bench_ceiling.card'), c_discount_fen, c_payer_share_fen,
           c_discount_fen - c_payer_share_fen, NULL, u.entry_id
      FROM unnest(s) u),
  deck_rows AS (
    UPDATE promo.deck d SET used_count = d.used_count
     WHERE (d.id, d.business_day) IN (SELECT u.deck_id, u.business_day FROM unnest(s) u)),
  payer_day_rows AS (
    UPDATE promo.payer_day x SET discounts = x.discounts
     WHERE (x.campaign_id, x.payer_id, x.business_day) IN (SELECT u.campaign_id, u.payer_id, u.business_day
                                                           FROM unnest(s) u))
  SELECT count(*) INTO written FROM claim_rows;

  INSERT INTO promo.merchant_day_stats AS t (merchant_id, business_day, channel, payments, amount_fen, discounted,
                                             discount_fen, payer_share_fen, merchant_share_fen)
  SELECT u.merchant_id, u.business_day, 'bank_app', count(*), sum(u.amount_fen)::bigint, count(*),
         count(*) * c_discount_fen, count(*) * c_payer_share_fen, count(*) * (c_discount_fen - c_payer_share_fen)
    FROM unnest(s) u
   GROUP BY 1, 2, 3
   ORDER BY 1, 2, 3
  ON CONFLICT (merchant_id, business_day, channel) DO UPDATE
    SET payments = t.payments + EXCLUDED.payments, amount_fen = t.amount_fen + EXCLUDED.amount_fen,
        discounted = t.discounted + EXCLUDED.discounted, discount_fen = t.discount_fen + EXCLUDED.discount_fen,
        payer_share_fen = t.payer_share_fen + EXCLUDED.payer_share_fen,
        merchant_share_fen = t.merchant_share_fen + EXCLUDED.merchant_share_fen;
  RETURN n;
END $$;
