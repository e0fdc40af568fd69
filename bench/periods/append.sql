-- Appends :payments scan payments over the business days :first_day .. :first_day + :days - 1 to the
-- posting-periods benchmark's ledger, set-wise in SQL (posting millions through the poster takes hours on
-- a shared two-core machine and measures the poster, not the periods). Written as the poster writes
-- them, so that `audit verify` and `period close` find every chain whole: one entry per payment
-- (external_ref payment:<tag>-<n>) with two lines, Dr payer deposit / Cr merchant settlement, each
-- account's lines numbered on from its stored line count in entry order, running balances, and each
-- line's hash over its predecessor's (ledger.line_hash, the poster's function) from the account's stored
-- head; the account balances and heads updated to match; the claims (ledger.entry_ref); promo.payment
-- rows; promo.merchant_day_stats (what the outlet report reads). A payer with no line yet is first
-- funded (a deposit entry on the first day, Cr its deposit, Dr one of the 200 funding accounts).
-- No discounts: the chains and the partitions are what is measured, not the card deck.
-- The hash chains are computed level by level (the k-th new line of every account from the (k-1)-th) by
-- one recursive query: as many levels as the longest account's new lines (payments / merchants).
-- Triggers are bypassed for the load (session_replication_role = replica): the append-only guards would
-- refuse nothing here, the posting triggers would re-check what this file computes.
-- psql variables: first_day (YYYY-MM-DD), days, payments, merchants, payers, tag (distinct per run).
\set ON_ERROR_STOP on
SET statement_timeout = 0;
SET work_mem = '256MB';
SET session_replication_role = replica;
SELECT coalesce(max(id), 0) AS id_base FROM ledger.journal_entry \gset
CREATE TEMP TABLE bench_entry AS
  SELECT :id_base + row_number() OVER (ORDER BY p.id) AS id, 'deposit:' || :'tag' || '-' || p.code AS external_ref,
         'deposit' AS kind, DATE :'first_day' AS business_day,
         (DATE :'first_day' + time '08:00') AT TIME ZONE 'Asia/Shanghai' AS posted_at,
         f.id AS debit_account, p.account_id AS credit_account, 1000000000::bigint AS amount_fen,
         NULL::bigint AS payer_id, NULL::bigint AS merchant_id, NULL::bigint AS outlet_id, NULL::text AS channel
    FROM ledger.payer p JOIN ledger.account_balance b ON b.account_id = p.account_id AND b.line_count = 0
    JOIN ledger.account f ON f.code = 'bench:fund:' || (1 + p.id % 200);
SELECT coalesce(max(id), :id_base) AS pay_base FROM bench_entry \gset
INSERT INTO bench_entry
  SELECT :pay_base + n, 'payment:' || :'tag' || '-' || n, 'payment', d,
         (d + time '08:00') AT TIME ZONE 'Asia/Shanghai' + (n % 43200) * interval '1 second',
         y.account_id, m.account_id, 1000 + abs(hashint8(n + 3)) % 19000, y.id, m.id, m.outlet_id,
         CASE WHEN abs(hashint8(n + 104729)) % 50 = 0 THEN 'bank_app'
              WHEN abs(hashint8(n + 104729)) % 50 < 5 THEN 'alipay' ELSE 'wechat' END
    FROM generate_series(1::bigint, :payments::bigint) n
    CROSS JOIN LATERAL (SELECT DATE :'first_day' + ((n - 1) * :days / :payments)::integer AS d) dd
    JOIN ledger.payer y ON y.code = 'BP' || (1 + abs(hashint8(n + 31)) % :payers)
    JOIN ledger.merchant m ON m.code = 'BM' || (1 + abs(hashint8(n + 7919)) % :merchants);
ALTER TABLE bench_entry ADD COLUMN content_hash bytea;
UPDATE bench_entry SET content_hash = sha256(convert_to(external_ref, 'UTF8'));
-- The lines, numbered and balanced on from each account's stored state.
CREATE TEMP TABLE bench_line AS
  WITH l AS (
    SELECT e.id AS entry_id, 1 AS line_no, e.debit_account AS account_id, 'D'::text AS side, e.amount_fen, e.business_day,
           ledger.entry_digest_header(e.business_day, e.posted_at, NULL, e.content_hash, e.kind, e.external_ref) AS header
      FROM bench_entry e
    UNION ALL
    SELECT e.id, 2, e.credit_account, 'C', e.amount_fen, e.business_day,
           ledger.entry_digest_header(e.business_day, e.posted_at, NULL, e.content_hash, e.kind, e.external_ref)
      FROM bench_entry e)
  SELECT l.*, row_number() OVER w AS k, b.line_count + row_number() OVER w AS account_seq,
         (ledger.normal_balance(b.normal_side, b.debits_fen, b.credits_fen)
           + sum(CASE WHEN l.side = b.normal_side THEN l.amount_fen ELSE -l.amount_fen END) OVER w)::bigint AS balance_after_fen
    FROM l JOIN ledger.account_balance b ON b.account_id = l.account_id
  WINDOW w AS (PARTITION BY l.account_id ORDER BY l.entry_id, l.line_no);
CREATE INDEX ON bench_line (account_id, k);
ANALYZE bench_line;
-- One level per step, each line found by the index from its predecessor (no hash join rebuilt per level).
SET enable_hashjoin = off;
SET enable_mergejoin = off;
CREATE TEMP TABLE bench_hash AS
  WITH RECURSIVE c AS (
    SELECT l.entry_id, l.line_no, l.account_id, l.k,
           ledger.line_hash(b.head_hash, l.entry_id, l.line_no, l.account_id, l.side, l.amount_fen, l.account_seq,
                            l.balance_after_fen, l.header) AS line_hash
      FROM bench_line l JOIN ledger.account_balance b ON b.account_id = l.account_id WHERE l.k = 1
    UNION ALL
    SELECT l.entry_id, l.line_no, l.account_id, l.k,
           ledger.line_hash(c.line_hash, l.entry_id, l.line_no, l.account_id, l.side, l.amount_fen, l.account_seq,
                            l.balance_after_fen, l.header)
      FROM c JOIN bench_line l ON l.account_id = c.account_id AND l.k = c.k + 1)
  SELECT entry_id, line_no, k, account_id, line_hash FROM c;
RESET enable_hashjoin;
RESET enable_mergejoin;
INSERT INTO ledger.journal_entry (id, external_ref, kind, business_day, posted_at, content_hash)
  OVERRIDING SYSTEM VALUE
  SELECT id, external_ref, kind, business_day, posted_at, content_hash FROM bench_entry ORDER BY id;
INSERT INTO ledger.journal_line (entry_id, line_no, account_id, side, amount_fen, account_seq, balance_after_fen,
                                 line_hash, business_day)
  SELECT l.entry_id, l.line_no, l.account_id, l.side, l.amount_fen, l.account_seq, l.balance_after_fen, h.line_hash,
         l.business_day
    FROM bench_line l JOIN bench_hash h USING (entry_id, line_no) ORDER BY l.business_day, l.entry_id, l.line_no;
INSERT INTO ledger.entry_ref (external_ref, entry_id, business_day, content_hash)
  SELECT external_ref, id, business_day, content_hash FROM bench_entry;
INSERT INTO promo.payment (payment_id, payer_id, merchant_id, outlet_id, channel, amount_fen, paid_at, business_day,
                           deck_id, card_position, discount_fen, payer_share_fen, merchant_share_fen, reason, entry_id)
  SELECT substr(external_ref, 9), payer_id, merchant_id, outlet_id, channel, amount_fen, posted_at, business_day,
         NULL, NULL, 0, 0, 0, CASE WHEN channel = 'bank_app' THEN 'not_dealt' ELSE 'channel_not_eligible' END, id
    FROM bench_entry WHERE kind = 'payment';
INSERT INTO promo.merchant_day_stats AS s (merchant_id, business_day, channel, payments, amount_fen)
  SELECT merchant_id, business_day, channel, count(*), sum(amount_fen) FROM bench_entry WHERE kind = 'payment'
   GROUP BY merchant_id, business_day, channel
  ON CONFLICT (merchant_id, business_day, channel)
  DO UPDATE SET payments = s.payments + excluded.payments, amount_fen = s.amount_fen + excluded.amount_fen;
UPDATE ledger.account_balance b
   SET debits_fen = b.debits_fen + x.debits, credits_fen = b.credits_fen + x.credits,
       line_count = b.line_count + x.lines, head_hash = x.head
  FROM (SELECT l.account_id, coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'D'), 0) AS debits,
               coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'C'), 0) AS credits, count(*) AS lines,
               (array_agg(h.line_hash ORDER BY h.k DESC))[1] AS head
          FROM bench_line l JOIN bench_hash h USING (entry_id, line_no) GROUP BY l.account_id) x
 WHERE b.account_id = x.account_id;
-- Every day through the last one loaded is closed (a month closes only when all of its days are).
INSERT INTO ledger.business_day_close (business_day)
  SELECT d::date FROM generate_series(DATE :'first_day', DATE :'first_day' + :days - 1, interval '1 day') d
  ON CONFLICT DO NOTHING;
RESET session_replication_role;
SELECT count(*) FILTER (WHERE kind = 'payment') AS payments, count(*) AS entries FROM bench_entry;
ANALYZE;
