-- The posting-periods benchmark (scripts/bench.sh --only periods; bench/periods/periods.sh): the bank's
-- organisation and accounts, and a partition for every month of 2026 (the migration makes them from
-- 2026-11 on; pg_partman's own function makes the earlier ones, and ledger.guard_partitions() puts the
-- TRUNCATE guard on them as `db maintain` would). psql variables: merchants, payers.
\set ON_ERROR_STOP on
SET statement_timeout = 0;
SELECT partman.create_partition_time(t::text, ARRAY(SELECT generate_series(timestamptz '2026-01-01', '2026-10-01', '1 month')))
  FROM unnest(ledger.period_tables()) t;
SELECT ledger.guard_partitions();
SELECT ledger.add_org_unit('BRA', 'branch', 'Bench branch A', NULL), ledger.add_org_unit('BRB', 'branch', 'Bench branch B', NULL);
SELECT ledger.add_org_unit('SB' || s, 'sub_branch', 'Bench sub-branch ' || s, CASE WHEN s <= 2 THEN 'BRA' ELSE 'BRB' END)
  FROM generate_series(1, 4) s;
SELECT ledger.add_org_unit('OUT' || o, 'outlet', 'Bench outlet ' || o, 'SB' || (1 + o % 4)) FROM generate_series(1, 100) o;
SELECT count(ledger.add_merchant('BM' || m, 'Bench merchant ' || m, 'OUT' || (1 + m % 100))) FROM generate_series(1, :merchants) m;
SELECT count(ledger.add_payer('BP' || p, 'Bench payer ' || p)) FROM generate_series(1, :payers) p;
-- Where the payers' deposits come from (the bank's side of a top-up): 200 asset accounts, so that no
-- one chain is as long as the number of payers.
SELECT count(ledger.open_account('bench:fund:' || k, 'Bench funding ' || k, 'asset', NULL, NULL)) FROM generate_series(1, 200) k;
