-- A business day of :payments scan payments for the end-of-day benchmark (scripts/bench.sh --only eod),
-- generated set-wise in SQL: posting a million payments through the poster takes minutes on a shared
-- two-core machine and measures the poster, not the end of the day. What promo.post_payments writes
-- that the end of the day reads is written here the same way: one journal entry per payment
-- (external_ref payment:<id>, claimed in ledger.entry_ref), its lines (carrying the entry's business day, the
-- partition key) numbered 1, 2[, 3] as the poster numbers them (Dr payer deposit,
-- Dr outlet subsidy when discounted, Cr merchant settlement, balanced), and the promo.payment row. Triggers are bypassed for the load
-- (session_replication_role = replica) and the lines carry placeholder hashes, sequence numbers and
-- running balances: the load is for measuring the extract and the reconciliation, not the chain.
-- Mix as in the pilot's street: 90 % WeChat, 8 % Alipay, 2 % bank app (discounted 7.00..9.00, 50/50).
-- Then the day is closed and the GL mapping set. psql variables: payments, day (YYYY-MM-DD).
\set ON_ERROR_STOP on
SET statement_timeout = 0;
SET session_replication_role = replica;
SELECT ledger.add_org_unit('BRA', 'branch', 'Bench branch A', NULL), ledger.add_org_unit('BRB', 'branch', 'Bench branch B', NULL);
SELECT ledger.add_org_unit('SB' || s, 'sub_branch', 'Bench sub-branch ' || s, CASE WHEN s <= 2 THEN 'BRA' ELSE 'BRB' END)
  FROM generate_series(1, 4) s;
SELECT ledger.add_org_unit('OUT' || o, 'outlet', 'Bench outlet ' || o, 'SB' || (1 + o % 4)) FROM generate_series(1, 100) o;
SELECT ledger.add_merchant('BM' || m, 'Bench merchant ' || m, 'OUT' || (1 + m % 100)) FROM generate_series(1, 2000) m;
SELECT ledger.add_payer('BP' || p, 'Bench payer ' || p) FROM generate_series(1, 20000) p;
SELECT ledger.open_account('outlet:OUT' || o || ':subsidy:660101', 'subsidy', 'expense', NULL,
                           (SELECT id FROM ledger.org_unit WHERE code = 'OUT' || o))
  FROM generate_series(1, 100) o;
CREATE TEMP TABLE gen AS
  SELECT n, 1 + abs(hashint8(n + 7919)) % 2000 AS merchant_no, 1 + abs(hashint8(n + 31)) % 20000 AS payer_no,
         CASE WHEN abs(hashint8(n + 104729)) % 50 = 0 THEN 'bank_app'
              WHEN abs(hashint8(n + 104729)) % 50 < 5 THEN 'alipay' ELSE 'wechat' END AS channel,
         1000 + abs(hashint8(n + 3)) % 19000 AS amount_fen,
         (DATE :'day' + time '00:00') AT TIME ZONE 'Asia/Shanghai' + n * (interval '86399 seconds' / :payments) AS paid_at
    FROM generate_series(1::bigint, :payments::bigint) n;
ALTER TABLE gen ADD COLUMN discount_fen bigint NOT NULL DEFAULT 0;
UPDATE gen SET discount_fen = 700 + n % 201 WHERE channel = 'bank_app';
CREATE TEMP TABLE acc AS
  SELECT g.n, m.id AS merchant_id, m.account_id AS merchant_account, m.outlet_id, y.id AS payer_id,
         y.account_id AS payer_account, s.id AS subsidy_account
    FROM gen g JOIN ledger.merchant m ON m.code = 'BM' || g.merchant_no
    JOIN ledger.payer y ON y.code = 'BP' || g.payer_no
    JOIN ledger.org_unit u ON u.id = m.outlet_id
    JOIN ledger.account s ON s.code = 'outlet:' || u.code || ':subsidy:660101';
INSERT INTO ledger.journal_entry (id, external_ref, kind, business_day, posted_at, content_hash)
  OVERRIDING SYSTEM VALUE
  SELECT 2000000000 + n, 'payment:bench-' || n, 'payment', DATE :'day', paid_at, sha256(n::text::bytea) FROM gen;
INSERT INTO ledger.entry_ref (external_ref, entry_id, business_day, content_hash)
  SELECT 'payment:bench-' || n, 2000000000 + n, DATE :'day', sha256(n::text::bytea) FROM gen;
INSERT INTO ledger.journal_line (entry_id, line_no, account_id, side, amount_fen, account_seq, balance_after_fen, line_hash,
                                 business_day)
  SELECT 2000000000 + g.n, 1, a.payer_account, 'D', g.amount_fen - g.discount_fen / 2, 2000000000 + g.n, 0,
         sha256(g.n::text::bytea), DATE :'day' FROM gen g JOIN acc a USING (n)
  UNION ALL
  SELECT 2000000000 + g.n, 2, a.subsidy_account, 'D', g.discount_fen, 2000000000 + g.n, 0, sha256(g.n::text::bytea),
         DATE :'day' FROM gen g JOIN acc a USING (n) WHERE g.discount_fen > 0
  UNION ALL
  SELECT 2000000000 + g.n, CASE WHEN g.discount_fen > 0 THEN 3 ELSE 2 END, a.merchant_account, 'C',
         g.amount_fen + (g.discount_fen - g.discount_fen / 2),
         2000000000 + g.n, 0, sha256(g.n::text::bytea), DATE :'day' FROM gen g JOIN acc a USING (n);
INSERT INTO promo.payment (payment_id, payer_id, merchant_id, outlet_id, channel, amount_fen, paid_at, business_day,
                           deck_id, card_position, discount_fen, payer_share_fen, merchant_share_fen, reason, entry_id)
  SELECT 'bench-' || g.n, a.payer_id, a.merchant_id, a.outlet_id, g.channel, g.amount_fen, g.paid_at, DATE :'day',
         CASE WHEN g.discount_fen > 0 THEN g.n END, CASE WHEN g.discount_fen > 0 THEN 1 END, g.discount_fen,
         g.discount_fen / 2, g.discount_fen - g.discount_fen / 2,
         CASE WHEN g.discount_fen = 0 THEN 'channel_not_eligible' END, 2000000000 + g.n
    FROM gen g JOIN acc a USING (n);
INSERT INTO ledger.business_day_close (business_day) VALUES (DATE :'day');
RESET session_replication_role;
INSERT INTO eod.gl_mapping (account_class, gl_account, booking, org_unit_id, reason) VALUES
  ('payer_deposit', '201101', 'fixed', (SELECT id FROM ledger.org_unit WHERE code = 'BRA'), 'bench'),
  ('merchant_settlement', '224101', 'account_unit', NULL, 'bench'),
  ('outlet_subsidy', NULL, 'account_unit', NULL, 'bench'),
  ('inter_unit', '300101', 'account_unit', NULL, 'bench');
ANALYZE;
CHECKPOINT;
