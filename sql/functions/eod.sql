-- The current text of every function of the eod schema (migration 0020; docs/integration.md).
-- Read-only helpers of the GL extract, the drill-down and the statements: one definition each, so the
-- extract, its drill-down and the service's re-reading of a batch can never disagree.
-- LANGUAGE sql, STABLE and without SET clauses, so that PostgreSQL inlines them into the caller's
-- query (a set-wise extract of a million payments must not call a function per row).

-- The class of a ledger account, from its code (ledger/account_codes.hpp writes these forms); NULL for
-- any other account, which only an 'account' mapping row can map.
CREATE OR REPLACE FUNCTION eod.account_class(p_code text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN p_code = 'bank:funding' THEN 'bank_funding'
              WHEN p_code ~ '^payer:[^:]+:deposit$' THEN 'payer_deposit'
              WHEN p_code ~ '^merchant:[^:]+:settlement$' THEN 'merchant_settlement'
              WHEN p_code ~ '^outlet:[^:]+:subsidy:[^:]+$' THEN 'outlet_subsidy'
         END
$$;

-- The mapping in force at version p_version: per (class, account code) the latest row with id <= it.
CREATE OR REPLACE FUNCTION eod.mapping_as_of(p_version bigint)
RETURNS TABLE (id bigint, account_class text, account_code text, gl_account text, booking text, org_unit_id bigint)
LANGUAGE sql STABLE AS $$
  SELECT DISTINCT ON (m.account_class, m.account_code) m.id, m.account_class, m.account_code, m.gl_account,
         m.booking, m.org_unit_id
    FROM eod.gl_mapping m
   WHERE m.id <= p_version
   ORDER BY m.account_class, m.account_code, m.id DESC
$$;

-- Every ledger account with the org unit and GL account that book it at version p_version. An account
-- row of the mapping wins over its class's row. org_unit_id or gl_account NULL: unmapped (an extract
-- touching it is refused, naming it). mapping_class is the class of the row used ('account' for an
-- account row, NULL when none applies).
CREATE OR REPLACE FUNCTION eod.account_map(p_version bigint)
RETURNS TABLE (account_id bigint, account_code text, mapping_class text, org_unit_id bigint, gl_account text)
LANGUAGE sql STABLE AS $$
  WITH m AS MATERIALIZED (SELECT * FROM eod.mapping_as_of(p_version))
  SELECT a.id, a.code, coalesce(s.account_class, c.account_class),
         CASE coalesce(s.booking, c.booking) WHEN 'fixed' THEN coalesce(s.org_unit_id, c.org_unit_id)
                                             WHEN 'account_unit' THEN a.org_unit_id END,
         coalesce(s.gl_account, c.gl_account,
                  CASE WHEN s.id IS NULL AND c.account_class = 'outlet_subsidy' THEN split_part(a.code, ':', 4) END)
    FROM ledger.account a
    LEFT JOIN m s ON s.account_class = 'account' AND s.account_code = a.code
    LEFT JOIN m c ON c.account_class = eod.account_class(a.code) AND c.account_code IS NULL
$$;

-- Every org unit with the branch it belongs to (the root of its tree).
CREATE OR REPLACE FUNCTION eod.unit_branch()
RETURNS TABLE (org_unit_id bigint, org_code text, kind text, branch_id bigint, branch_code text)
LANGUAGE sql STABLE AS $$
  WITH RECURSIVE t AS (
    SELECT u.id, u.code, u.kind, u.id AS branch_id, u.code AS branch_code FROM ledger.org_unit u WHERE u.parent_id IS NULL
    UNION ALL
    SELECT c.id, c.code, c.kind, t.branch_id, t.branch_code FROM ledger.org_unit c JOIN t ON c.parent_id = t.id)
  SELECT * FROM t
$$;

-- When business day p_day was closed: the first close at or after it (closing a day closes every day
-- before it too: ledger.last_closed_day). NULL while the day is open. The GL files and statements
-- carry this time, not "now", so that producing them again gives the same bytes.
CREATE OR REPLACE FUNCTION eod.close_time(p_day date) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT min(c.closed_at) FROM ledger.business_day_close c WHERE c.business_day >= p_day
$$;

-- Privileges, restated here because a new function is executable by PUBLIC until revoked. The
-- application (the service's read routes) and the auditor read; nobody but the owner writes.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA eod FROM PUBLIC;
GRANT EXECUTE ON FUNCTION eod.account_class(text), eod.mapping_as_of(bigint), eod.account_map(bigint),
                          eod.unit_branch(), eod.close_time(date)
  TO promoledger_app, promoledger_auditor;
