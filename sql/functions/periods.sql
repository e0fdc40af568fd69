-- promoledger: posting periods (migration 0014; docs/operations.md, "The monthly routine"). The
-- current definition of every function that closes, anchors, verifies, archives and maintains the
-- months of the journal. Re-applied by `promoledger db migrate` like the other function files.
--
-- A month is closed once every day of it is: the chains are verified from the previous anchor on and
-- every account's chain is anchored (its last sequence number, hash, totals and balance, as the
-- close's snapshot sees them), with the lines where a chain crosses from one month into another (the
-- links; a payment of the 31st posted after one of the 1st makes one). From then on `audit verify`
-- re-hashes only the months after the latest anchor, and a month can be verified on its own from its
-- lines and the links, even restored from an archive into an empty database.
--
-- SQLSTATEs: PL008 period_not_closable (open days, an earlier month open, or the chains do not verify),
-- PL009 period_archived (a read over a month whose partitions were archived).

-- The months of an account chain are those of its lines' business days. Everything below speaks of a
-- month by its first day.
CREATE OR REPLACE FUNCTION ledger.month_of(p_day date) RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT date_trunc('month', p_day)::date
$$;

-- Lines outside a verified set that lines in it may follow, as the closes recorded them: the links
-- (a chain crossing months) and the anchors (every chain's last line at a close).
-- (No SET clause: a plain SQL function is inlined into the query that reads it.)
CREATE OR REPLACE FUNCTION ledger.recorded_lines()
RETURNS TABLE (month date, account_id bigint, account_seq bigint, line_hash bytea, balance_after_fen bigint)
LANGUAGE sql STABLE AS $$
  SELECT k.month, k.account_id, k.account_seq, k.line_hash, k.balance_after_fen FROM ledger.period_link k
  UNION ALL
  SELECT a.month, a.account_id, a.line_count, a.head_hash, ledger.normal_balance(a.normal_side, a.debits_fen, a.credits_fen)
    FROM ledger.period_anchor a WHERE a.line_count > 0
$$;

-- Every line of the business days [p_from, p_to) (NULL: unbounded) checked against its predecessor:
-- the line before it in the set, or one recorded by a close, or the account's genesis. A line whose
-- predecessor is none of these, a sequence number twice, a running balance that does not follow, a
-- hash that does not match its content and predecessor, and a line that differs from what a close
-- recorded of it are violations. The normal side comes from the balances, or from the anchors in a
-- database that holds only restored months.
CREATE OR REPLACE FUNCTION ledger.verify_links(p_from date, p_to date, p_sample_max integer)
RETURNS TABLE (check_name text, violations bigint, sample text)
LANGUAGE sql STABLE
SET DateStyle = 'ISO, MDY' SET search_path = pg_catalog, ledger
SET work_mem = '256MB' SET enable_partitionwise_join = on AS $$
  WITH side AS (
    SELECT b.account_id, b.normal_side::text AS normal_side FROM ledger.account_balance b
    UNION
    SELECT DISTINCT a.account_id, a.normal_side::text FROM ledger.period_anchor a
     WHERE NOT EXISTS (SELECT 1 FROM ledger.account_balance b WHERE b.account_id = a.account_id)),
  chained AS (
    SELECT l.account_id, l.account_seq, l.entry_id, l.line_no, l.side::text AS side, l.amount_fen, l.balance_after_fen,
           l.line_hash, e AS entry, s.normal_side,
           lag(l.account_seq) OVER w AS prev_seq, lag(l.line_hash) OVER w AS prev_hash,
           lag(l.balance_after_fen) OVER w AS prev_balance
      FROM ledger.journal_line l
      JOIN ledger.journal_entry e ON e.id = l.entry_id AND e.business_day = l.business_day
      LEFT JOIN side s ON s.account_id = l.account_id
     WHERE (p_from IS NULL OR l.business_day >= p_from) AND (p_to IS NULL OR l.business_day < p_to)
    WINDOW w AS (PARTITION BY l.account_id ORDER BY l.account_seq)),
  linked AS (
    SELECT c.*,
           CASE WHEN c.prev_seq = c.account_seq - 1 THEN c.prev_hash
                WHEN c.account_seq = 1 THEN ledger.genesis_hash(c.account_id)
                ELSE k.line_hash END AS pred_hash,
           CASE WHEN c.prev_seq = c.account_seq - 1 THEN c.prev_balance
                WHEN c.account_seq = 1 THEN 0
                ELSE k.balance_after_fen END AS pred_balance
      FROM chained c
      LEFT JOIN LATERAL (SELECT r.line_hash, r.balance_after_fen FROM ledger.recorded_lines() r
                          WHERE c.prev_seq IS DISTINCT FROM c.account_seq - 1 AND c.account_seq > 1
                            AND r.account_id = c.account_id AND r.account_seq = c.account_seq - 1 LIMIT 1) k ON true),
  bad AS (
    SELECT format('account %s line seq %s (entry %s line %s): %s', account_id, account_seq, entry_id, line_no,
             CASE WHEN prev_seq = account_seq THEN 'its sequence number appears twice'
                  WHEN pred_hash IS NULL THEN format('its predecessor (seq %s) is neither here nor recorded by a close',
                                                     account_seq - 1)
                  WHEN normal_side IS NULL THEN 'its account is unknown'
                  WHEN balance_after_fen <> pred_balance + CASE WHEN side = normal_side THEN amount_fen ELSE -amount_fen END
                    THEN format('running balance %s, but %s after its predecessor''s %s', balance_after_fen,
                                pred_balance + CASE WHEN side = normal_side THEN amount_fen ELSE -amount_fen END, pred_balance)
                  ELSE 'hash does not match its content and predecessor' END) AS what
      FROM linked
     WHERE prev_seq = account_seq OR pred_hash IS NULL OR normal_side IS NULL
        OR balance_after_fen <> pred_balance + CASE WHEN side = normal_side THEN amount_fen ELSE -amount_fen END
        OR line_hash <> ledger.line_digest(pred_hash, entry, line_no, account_id, side, amount_fen, account_seq,
                                           balance_after_fen)
    UNION ALL
    -- What a close recorded of a line still holds for the line (a recorded line inside the set).
    SELECT format('account %s line seq %s: differs from what the close of %s recorded', c.account_id, c.account_seq,
                  to_char(r.month, 'YYYY-MM'))
      FROM chained c JOIN ledger.recorded_lines() r ON r.account_id = c.account_id AND r.account_seq = c.account_seq
     WHERE c.line_hash <> r.line_hash OR c.balance_after_fen <> r.balance_after_fen)
  SELECT 'hash_chain_links'::text, count(*), string_agg(what, '; ') FILTER (WHERE n <= p_sample_max)
    FROM (SELECT what, row_number() OVER () AS n FROM bad) b
$$;

-- Every entry of the business days [p_from, p_to) has at least two lines, and they balance.
CREATE OR REPLACE FUNCTION ledger.verify_entries(p_from date, p_to date, p_sample_max integer)
RETURNS TABLE (check_name text, violations bigint, sample text)
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger SET work_mem = '256MB' SET enable_partitionwise_join = on AS $$
  WITH bad AS (
    SELECT format('entry %s (%s): %s lines, debits %s, credits %s', e.id, e.external_ref, count(l.entry_id),
                  coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'D'), 0),
                  coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'C'), 0)) AS what
      FROM ledger.journal_entry e
      LEFT JOIN ledger.journal_line l ON l.entry_id = e.id AND l.business_day = e.business_day
     WHERE (p_from IS NULL OR e.business_day >= p_from) AND (p_to IS NULL OR e.business_day < p_to)
     GROUP BY e.id, e.external_ref
    HAVING count(l.entry_id) < 2
        OR coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'D'), 0)
           <> coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'C'), 0))
  SELECT 'entries_balance'::text, count(*), string_agg(what, '; ') FILTER (WHERE n <= p_sample_max)
    FROM (SELECT what, row_number() OVER () AS n FROM bad) b
$$;

-- The stored balances agree with the lines: totals and line counts, and each head is its chain's last
-- line. Over the business days from p_from on (NULL: all of them), where p_from is the month after an
-- anchored one: what the lines before p_from contributed is that month's anchor (the close's
-- snapshot), and a line from p_from on adds to it only if it came after the anchor.
CREATE OR REPLACE FUNCTION ledger.verify_balances(p_from date, p_sample_max integer)
RETURNS TABLE (check_name text, violations bigint, sample text)
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger SET work_mem = '256MB' AS $$
  WITH base AS (
    SELECT a.* FROM ledger.period_anchor a WHERE p_from IS NOT NULL AND a.month = (p_from - interval '1 month')::date),
  since AS (
    SELECT l.account_id,
           coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'D' AND l.account_seq > coalesce(b.line_count, 0)), 0) AS debits,
           coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'C' AND l.account_seq > coalesce(b.line_count, 0)), 0) AS credits,
           max(l.account_seq) AS last_seq
      FROM ledger.journal_line l LEFT JOIN base b ON b.account_id = l.account_id
     WHERE p_from IS NULL OR l.business_day >= p_from
     GROUP BY l.account_id),
  expected AS (
    SELECT b.account_id, b.debits_fen, b.credits_fen, b.line_count, b.head_hash,
           coalesce(a.debits_fen, 0) + coalesce(s.debits, 0) AS want_debits,
           coalesce(a.credits_fen, 0) + coalesce(s.credits, 0) AS want_credits,
           greatest(coalesce(a.line_count, 0), coalesce(s.last_seq, 0)) AS want_count,
           CASE WHEN s.last_seq IS NOT NULL AND s.last_seq >= coalesce(a.line_count, 0)
                  THEN (SELECT l.line_hash FROM ledger.journal_line l
                         WHERE l.account_id = b.account_id AND l.account_seq = s.last_seq
                           AND (p_from IS NULL OR l.business_day >= p_from) LIMIT 1)
                ELSE coalesce(a.head_hash, ledger.genesis_hash(b.account_id)) END AS want_head
      FROM ledger.account_balance b
      LEFT JOIN base a ON a.account_id = b.account_id
      LEFT JOIN since s ON s.account_id = b.account_id),
  bad AS (
    SELECT 'balances_equal_lines'::text AS check_name,
           format('account %s: stored debits %s credits %s lines %s; its lines make debits %s credits %s in %s lines',
                  account_id, debits_fen, credits_fen, line_count, want_debits, want_credits, want_count) AS what
      FROM expected
     WHERE debits_fen <> want_debits OR credits_fen <> want_credits OR line_count <> want_count
    UNION ALL
    SELECT 'hash_chain_heads', format('account %s: head hash does not match its last line', account_id)
      FROM expected WHERE head_hash IS DISTINCT FROM want_head)
  SELECT n.name, count(b.what), string_agg(b.what, '; ') FILTER (WHERE b.n <= p_sample_max)
    FROM unnest(ARRAY['balances_equal_lines', 'hash_chain_heads']) AS n(name)
    LEFT JOIN (SELECT x.check_name, x.what, row_number() OVER (PARTITION BY x.check_name) AS n FROM bad x) b
           ON b.check_name = n.name
   GROUP BY n.name ORDER BY min(array_position(ARRAY['balances_equal_lines', 'hash_chain_heads'], n.name))
$$;

-- Which business days audit verify covers by default: from the month after the latest closed one
-- (NULL: no month is closed, so all of them).
CREATE OR REPLACE FUNCTION ledger.verify_since() RETURNS date LANGUAGE sql STABLE
SET search_path = pg_catalog, ledger AS $$
  SELECT (max(p.month) + interval '1 month')::date FROM ledger.period p
$$;

-- Tamper evidence: the ledger's four checks over the business days [p_from, p_to). Three modes (docs/
-- operations.md): the whole history (both NULL); since the latest anchor (p_from =
-- ledger.verify_since(), p_to NULL), which reads only the months after it; one month (p_from its first
-- day, p_to the next month's), proved against what its close recorded, also in a database that holds
-- only that month. Stored balances and heads are checked only when p_to is NULL (they are today's).
CREATE OR REPLACE FUNCTION ledger.verify(p_sample_max integer DEFAULT 5, p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (check_name text, violations bigint, sample text)
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger AS $$
  SELECT * FROM ledger.verify_entries(p_from, p_to, p_sample_max)
  UNION ALL
  SELECT * FROM ledger.verify_balances(p_from, p_sample_max) WHERE p_to IS NULL
  UNION ALL
  SELECT * FROM ledger.verify_links(p_from, p_to, p_sample_max)
$$;

-- The months [p_from, p_to] that were archived and not restored since: a read over them must say so
-- (period_archived), never answer with a silent zero.
CREATE OR REPLACE FUNCTION ledger.archived_months(p_from date, p_to date) RETURNS date[] LANGUAGE sql STABLE
SET search_path = pg_catalog, ledger AS $$
  SELECT coalesce(array_agg(x.month ORDER BY x.month), '{}')
    FROM (SELECT DISTINCT ON (ev.month) ev.month, ev.event FROM ledger.period_event ev
           WHERE ev.month BETWEEN ledger.month_of(p_from) AND ledger.month_of(p_to)
           ORDER BY ev.month, ev.id DESC) x
   WHERE x.event = 'archived'
$$;

-- The links a close of p_month records: every line that a line of a different month follows in its
-- account's chain, where one of the two is in p_month, or the first is before it and the second after
-- it. Verifying p_month alone needs those into it; verifying the months after it needs those out of
-- it (with the anchors, for chains that continue after the close).
CREATE OR REPLACE FUNCTION ledger.record_period_links(p_month date) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, ledger SET work_mem = '256MB' AS $$
DECLARE
  v_next date := (p_month + interval '1 month')::date;
  v_links bigint;
BEGIN
  WITH later AS (  -- the lines of p_month and after, each with the line before it among them
    SELECT l.account_id, l.account_seq, l.business_day,
           lag(l.account_seq) OVER w AS prev_seq, lag(l.business_day) OVER w AS prev_day,
           lag(l.line_hash) OVER w AS prev_hash, lag(l.balance_after_fen) OVER w AS prev_balance
      FROM ledger.journal_line l WHERE l.business_day >= p_month
    WINDOW w AS (PARTITION BY l.account_id ORDER BY l.account_seq)),
  crossing AS (
    -- Predecessor among these lines, in another month, with p_month on one side.
    SELECT x.account_id, x.account_seq - 1 AS seq, x.prev_day AS day, x.prev_hash AS hash, x.prev_balance AS balance
      FROM later x
     WHERE x.prev_seq = x.account_seq - 1 AND ledger.month_of(x.prev_day) <> ledger.month_of(x.business_day)
       AND (ledger.month_of(x.prev_day) = p_month OR ledger.month_of(x.business_day) = p_month)
    UNION ALL
    -- Predecessor before p_month: from its partition, or from what an earlier close recorded.
    SELECT x.account_id, x.account_seq - 1, coalesce(o.business_day, r.day), coalesce(o.line_hash, r.line_hash),
           coalesce(o.balance_after_fen, r.balance_after_fen)
      FROM later x
      LEFT JOIN LATERAL (SELECT l.business_day, l.line_hash, l.balance_after_fen FROM ledger.journal_line l
                          WHERE l.account_id = x.account_id AND l.account_seq = x.account_seq - 1
                            AND l.business_day < p_month LIMIT 1) o ON true
      LEFT JOIN LATERAL (SELECT k.line_hash, k.balance_after_fen, k.month AS day FROM ledger.recorded_lines() k
                          WHERE o.line_hash IS NULL AND k.account_id = x.account_id AND k.account_seq = x.account_seq - 1
                          LIMIT 1) r ON true
     WHERE x.prev_seq IS DISTINCT FROM x.account_seq - 1 AND x.account_seq > 1)
  INSERT INTO ledger.period_link (month, account_id, account_seq, business_day, line_hash, balance_after_fen)
  SELECT DISTINCT ON (c.account_id, c.seq) p_month, c.account_id, c.seq, c.day, c.hash, c.balance FROM crossing c
   ORDER BY c.account_id, c.seq;
  GET DIAGNOSTICS v_links = ROW_COUNT;
  RETURN v_links;
END $$;

-- Closes the month p_month: its days must all be closed, and so must every earlier month with lines
-- (months are closed in order). The chains are verified from the previous anchor on (refused,
-- PL008, with the first violations, if they do not verify); then every account's chain is anchored as
-- this transaction's snapshot sees it, the links are recorded, and the period row keeps the anchors'
-- digest, which the auditors keep outside. Closing a closed month answers its row again.
-- REQUIRES: a REPEATABLE READ transaction (one snapshot for lines, balances and anchors), and the
-- caller holds the periods' advisory lock (ledger.period_lock_key()) taken before it began.
CREATE OR REPLACE FUNCTION ledger.close_period(p_month date) RETURNS ledger.period
LANGUAGE plpgsql SET search_path = pg_catalog, ledger SET DateStyle = 'ISO, MDY' AS $$
DECLARE
  v_next date := (p_month + interval '1 month')::date;
  v_last_closed date := ledger.last_closed_day();
  v_period ledger.period;
  v_prev date;
  v_open date;
  v_lines bigint;
  v_anchors bigint;
  v_links bigint;
  v_bad text;
BEGIN
  IF p_month IS NULL OR p_month <> ledger.month_of(p_month) THEN
    RAISE EXCEPTION 'period: % is not the first day of a month', p_month USING ERRCODE = '22023';
  END IF;
  IF current_setting('transaction_isolation') <> 'repeatable read' THEN
    RAISE EXCEPTION 'period: a close needs a REPEATABLE READ transaction (one snapshot)' USING ERRCODE = '25000';
  END IF;
  SELECT * INTO v_period FROM ledger.period WHERE month = p_month;
  IF FOUND THEN
    RETURN v_period;
  END IF;
  IF v_last_closed IS NULL OR v_last_closed < v_next - 1 THEN
    RAISE EXCEPTION 'period_not_closable: % has open days: % to % (close-day each of them first)', to_char(p_month, 'YYYY-MM'),
      greatest(coalesce(v_last_closed + 1, p_month), p_month), v_next - 1 USING ERRCODE = 'PL008';
  END IF;
  SELECT max(month) INTO v_prev FROM ledger.period;
  IF v_prev > p_month THEN
    RAISE EXCEPTION 'period_not_closable: % is closed already, and months are closed in order', to_char(v_prev, 'YYYY-MM')
      USING ERRCODE = 'PL008';
  END IF;
  SELECT ledger.month_of(min(l.business_day)) INTO v_open FROM ledger.journal_line l
   WHERE l.business_day < p_month AND (v_prev IS NULL OR l.business_day >= (v_prev + interval '1 month')::date);
  IF v_open IS NOT NULL THEN
    RAISE EXCEPTION 'period_not_closable: % has lines and is not closed: close it first', to_char(v_open, 'YYYY-MM')
      USING ERRCODE = 'PL008';
  END IF;
  -- Verified from the previous anchor on, against the balances of this snapshot.
  SELECT string_agg(format('%s: %s (%s)', v.check_name, v.violations, v.sample), '; ') INTO v_bad
    FROM ledger.verify(3, (v_prev + interval '1 month')::date, NULL) v WHERE v.violations > 0;
  IF v_bad IS NOT NULL THEN
    RAISE EXCEPTION 'period_not_closable: the chains do not verify: %', v_bad USING ERRCODE = 'PL008';
  END IF;
  SELECT count(*) INTO v_lines FROM ledger.journal_line l
   WHERE v_prev IS NULL OR l.business_day >= (v_prev + interval '1 month')::date;
  -- Anchors and links first (their key to the period is checked at commit), then the period with
  -- the counts and the digest (ledger.chain_digest: of the same heads, in the same snapshot).
  INSERT INTO ledger.period_anchor (month, account_id, normal_side, line_count, head_hash, debits_fen, credits_fen)
  SELECT p_month, b.account_id, b.normal_side, b.line_count, b.head_hash, b.debits_fen, b.credits_fen
    FROM ledger.account_balance b;
  GET DIAGNOSTICS v_anchors = ROW_COUNT;
  v_links := ledger.record_period_links(p_month);
  INSERT INTO ledger.period (month, verified_lines, anchors, links, chain_digest)
  VALUES (p_month, v_lines, v_anchors, v_links, ledger.chain_digest())
  RETURNING * INTO v_period;
  RETURN v_period;
END $$;

-- The partition of `p_parent` (one of the six journal tables) that holds exactly the month p_month,
-- or NULL. Partitions are pg_partman's, named <table>_pYYYY_MM.
CREATE OR REPLACE FUNCTION ledger.month_partition(p_parent regclass, p_month date) RETURNS regclass
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT i.inhrelid::regclass FROM pg_inherits i
   WHERE i.inhparent = p_parent
     AND pg_get_expr((SELECT c.relpartbound FROM pg_class c WHERE c.oid = i.inhrelid), i.inhrelid)
         = format('FOR VALUES FROM (%L) TO (%L)', p_month, (p_month + interval '1 month')::date)
$$;

-- The six tables that are partitioned by business day (migration 0014), parents first, in the order
-- an archive writes and a restore reads them.
CREATE OR REPLACE FUNCTION ledger.period_tables() RETURNS regclass[] LANGUAGE sql STABLE AS $$
  SELECT ARRAY['ledger.journal_entry'::regclass, 'ledger.journal_line'::regclass, 'promo.payment'::regclass,
               'promo.payment_reversal'::regclass, 'promo.payer_day'::regclass, 'promo.deck'::regclass]
$$;

-- Every partition of the journal tables refuses TRUNCATE, as its parent does (a statement trigger is
-- not copied to partitions); pg_partman makes new partitions at every maintenance, so this runs then
-- too. Returns how many partitions it guarded now.
CREATE OR REPLACE FUNCTION ledger.guard_partitions() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
  v_child regclass;
  v_guarded integer := 0;
BEGIN
  FOR v_child IN
    SELECT i.inhrelid::regclass FROM pg_inherits i WHERE i.inhparent = ANY (ledger.period_tables())
       AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = i.inhrelid AND t.tgname = 'partition_no_truncate')
  LOOP
    EXECUTE format('CREATE TRIGGER partition_no_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT '
                   'EXECUTE FUNCTION ledger.refuse_change()', v_child);
    v_guarded := v_guarded + 1;
  END LOOP;
  RETURN v_guarded;
END $$;

-- `promoledger db maintain` (an operator's cron job, daily): pg_partman makes the months ahead
-- (premake 4), new partitions are guarded, and claims dated before the replay window are deleted
-- (the only deletion ledger.entry_ref allows).
CREATE OR REPLACE FUNCTION ledger.maintain(OUT partitions_guarded integer, OUT claims_deleted bigint,
                                           OUT months_ahead date)
LANGUAGE plpgsql SET search_path = pg_catalog, ledger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM partman.part_config) THEN
    PERFORM partman.run_maintenance(p_jobmon := false);
  END IF;
  partitions_guarded := ledger.guard_partitions();
  DELETE FROM ledger.entry_ref WHERE business_day < ledger.replay_horizon();
  GET DIAGNOSTICS claims_deleted = ROW_COUNT;
  SELECT max((regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([0-9-]+)''\)'))[1]::date) - 1
    INTO months_ahead
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'ledger.journal_line'::regclass;
END $$;

-- Privileges: a new function is executable by PUBLIC until revoked. The checks read as the caller (the
-- auditor's `audit verify`, the service's); closing a month is the owner's.
REVOKE ALL ON FUNCTION ledger.month_of(date), ledger.recorded_lines(), ledger.verify_links(date, date, integer),
                       ledger.verify_entries(date, date, integer), ledger.verify_balances(date, integer),
                       ledger.verify_since(), ledger.verify(integer, date, date), ledger.archived_months(date, date),
                       ledger.record_period_links(date), ledger.close_period(date),
                       ledger.month_partition(regclass, date), ledger.period_tables(), ledger.guard_partitions(),
                       ledger.maintain()
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.month_of(date), ledger.recorded_lines(), ledger.verify_links(date, date, integer),
                          ledger.verify_entries(date, date, integer), ledger.verify_balances(date, integer),
                          ledger.verify_since(), ledger.verify(integer, date, date), ledger.archived_months(date, date)
  TO promoledger_auditor, promoledger_app;

-- Partitions made since the last application of this file (by migration 0014, by maintenance) get
-- their guard now: applying the function files is part of every `db migrate`.
SELECT ledger.guard_partitions();
