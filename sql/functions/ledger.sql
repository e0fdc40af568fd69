-- promoledger: the current definition of every function of the ledger schema (organisation, accounts,
-- journal, posting, verification). This file is re-applied by `promoledger db migrate` whenever its
-- checksum changes (recorded in public.promoledger_migration as functions/ledger.sql), after the
-- numbered migrations, so the text here is the one the database runs. Tables, indexes, triggers and
-- data changes live in sql/migrations/ (append-only history); a function that is dropped or changes
-- its signature is dropped by a migration.
--
-- SQLSTATEs raised here (class PL): PL001 insufficient_funds, PL003 unbalanced_at_commit,
-- PL004 append_only, PL005 invalid_reference, PL007 business_day_closed.

CREATE OR REPLACE FUNCTION ledger.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'append_only: % on %.% is refused; the journal is append-only, post a reversing entry instead',
    TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'PL004';
END $$;

CREATE OR REPLACE FUNCTION ledger.org_unit_parent_kind() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_parent_kind text;
BEGIN
  IF NEW.parent_id IS NULL THEN RETURN NEW; END IF;
  SELECT kind INTO v_parent_kind FROM ledger.org_unit WHERE id = NEW.parent_id;
  IF (NEW.kind = 'sub_branch' AND v_parent_kind <> 'branch')
     OR (NEW.kind = 'outlet' AND v_parent_kind <> 'sub_branch') THEN
    RAISE EXCEPTION 'org unit % (%) cannot have a parent of kind %', NEW.code, NEW.kind, v_parent_kind
      USING ERRCODE = '23514';
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION ledger.merchant_outlet_kind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ledger.org_unit WHERE id = NEW.outlet_id AND kind = 'outlet') THEN
    RAISE EXCEPTION 'merchant %: home unit % is not an outlet', NEW.code, NEW.outlet_id USING ERRCODE = '23514';
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION ledger.genesis_hash(p_account_id bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT sha256(convert_to('promoledger/account/v1/' || p_account_id::text, 'UTF8'))
$$;

-- Opens an account (idempotent when the same code is opened again with the same type and limit).
CREATE OR REPLACE FUNCTION ledger.open_account(p_code text, p_name text, p_type text, p_min_balance_fen bigint,
                                    p_org_unit_id bigint)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, ledger AS $$
DECLARE
  v_id bigint;
  v_account ledger.account;
BEGIN
  SELECT * INTO v_account FROM ledger.account WHERE code = p_code;
  IF FOUND THEN
    IF v_account.type <> p_type OR v_account.min_balance_fen IS DISTINCT FROM p_min_balance_fen THEN
      RAISE EXCEPTION 'account % exists with type % and limit %', p_code, v_account.type, v_account.min_balance_fen
        USING ERRCODE = '23505';
    END IF;
    RETURN v_account.id;
  END IF;
  INSERT INTO ledger.account (code, name, type, min_balance_fen, org_unit_id)
  VALUES (p_code, p_name, p_type, p_min_balance_fen, p_org_unit_id)
  RETURNING id INTO v_id;
  INSERT INTO ledger.account_balance (account_id, normal_side, min_balance_fen, head_hash)
  SELECT a.id, a.normal_side, a.min_balance_fen, ledger.genesis_hash(a.id) FROM ledger.account a WHERE a.id = v_id;
  RETURN v_id;
END $$;

-- Adds an org unit under its parent (by codes). Returns its id.
CREATE OR REPLACE FUNCTION ledger.add_org_unit(p_code text, p_kind text, p_name text, p_parent_code text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, ledger AS $$
DECLARE
  v_parent bigint;
  v_id bigint;
BEGIN
  IF p_parent_code IS NOT NULL AND p_parent_code <> '' THEN
    SELECT id INTO v_parent FROM ledger.org_unit WHERE code = p_parent_code;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'unknown parent unit %', p_parent_code USING ERRCODE = 'PL005';
    END IF;
  END IF;
  -- Importing the same unit again is a no-op; a different definition under the same code is an error.
  SELECT u.id INTO v_id FROM ledger.org_unit u WHERE u.code = p_code;
  IF FOUND THEN
    IF NOT EXISTS (SELECT 1 FROM ledger.org_unit u WHERE u.id = v_id AND u.kind = p_kind AND u.name = p_name
                   AND u.parent_id IS NOT DISTINCT FROM v_parent) THEN
      RAISE EXCEPTION 'org unit % exists with another kind, name or parent', p_code USING ERRCODE = '23505';
    END IF;
    RETURN v_id;
  END IF;
  INSERT INTO ledger.org_unit (code, kind, name, parent_id) VALUES (p_code, p_kind, p_name, v_parent) RETURNING id INTO v_id;
  RETURN v_id;
END $$;

-- Adds a merchant with its settlement account (liability: what the bank owes the merchant).
CREATE OR REPLACE FUNCTION ledger.add_merchant(p_code text, p_name text, p_outlet_code text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, ledger AS $$
DECLARE
  v_outlet bigint;
  v_account bigint;
  v_id bigint;
BEGIN
  SELECT id INTO v_outlet FROM ledger.org_unit WHERE code = p_outlet_code;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown outlet %', p_outlet_code USING ERRCODE = 'PL005';
  END IF;
  SELECT m.id INTO v_id FROM ledger.merchant m WHERE m.code = p_code;
  IF FOUND THEN
    IF NOT EXISTS (SELECT 1 FROM ledger.merchant m WHERE m.id = v_id AND m.name = p_name AND m.outlet_id = v_outlet) THEN
      RAISE EXCEPTION 'merchant % exists with another name or home outlet', p_code USING ERRCODE = '23505';
    END IF;
    RETURN v_id;
  END IF;
  v_account := ledger.open_account('merchant:' || p_code || ':settlement', 'settlement of merchant ' || p_code,
                                   'liability', NULL, v_outlet);
  INSERT INTO ledger.merchant (code, name, outlet_id, account_id) VALUES (p_code, p_name, v_outlet, v_account)
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;

-- Adds a payer with a deposit account that may never be overdrawn (min balance 0).
CREATE OR REPLACE FUNCTION ledger.add_payer(p_code text, p_name text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, ledger AS $$
DECLARE
  v_account bigint;
  v_id bigint;
BEGIN
  SELECT p.id INTO v_id FROM ledger.payer p WHERE p.code = p_code;
  IF FOUND THEN
    IF NOT EXISTS (SELECT 1 FROM ledger.payer p WHERE p.id = v_id AND p.name = p_name) THEN
      RAISE EXCEPTION 'payer % exists with another name', p_code USING ERRCODE = '23505';
    END IF;
    RETURN v_id;
  END IF;
  v_account := ledger.open_account('payer:' || p_code || ':deposit', 'deposit of payer ' || p_code, 'liability', 0, NULL);
  INSERT INTO ledger.payer (code, name, account_id) VALUES (p_code, p_name, v_account) RETURNING id INTO v_id;
  RETURN v_id;
END $$;

-- Content of an entry for the idempotency comparison: a replay must carry the same kind, day,
-- description, reversal link and lines (in order) to be called the same entry.
CREATE OR REPLACE FUNCTION ledger.entry_content_hash(p_kind text, p_business_day date, p_description text,
                                          p_reverses_entry_id bigint, p_account_codes text[], p_sides text[],
                                          p_amounts_fen bigint[])
RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT sha256(convert_to(concat_ws('|', 'v1', p_kind, p_business_day, coalesce(p_reverses_entry_id, 0),
    array_to_string(p_account_codes, ','), array_to_string(p_sides, ','), array_to_string(p_amounts_fen, ','),
    p_description), 'UTF8'))
$$;

-- What one line contributes to its account's hash chain. Every field is of a restricted character
-- set except external_ref, which comes last, so the encoding is unambiguous. Covers the entry header
-- too (day, kind, time, reversal link, content hash), so editing a header breaks its lines' links.
-- Written as two STABLE one-expression SQL functions so that PostgreSQL inlines them into the posting
-- functions' expressions (no function call per line) and verify uses the very same text.
CREATE OR REPLACE FUNCTION ledger.entry_digest_header(p_business_day date, p_posted_at timestamptz,
                                                      p_reverses_entry_id bigint, p_content_hash bytea, p_kind text,
                                                      p_external_ref text)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT concat_ws('|', p_business_day, (extract(epoch FROM p_posted_at) * 1000000)::bigint,
                   coalesce(p_reverses_entry_id, 0), encode(p_content_hash, 'hex'), p_kind, p_external_ref)
$$;

CREATE OR REPLACE FUNCTION ledger.line_hash(p_prev_hash bytea, p_entry_id bigint, p_line_no integer,
                                            p_account_id bigint, p_side text, p_amount_fen bigint,
                                            p_account_seq bigint, p_balance_after_fen bigint, p_entry_header text)
RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT sha256(p_prev_hash || convert_to(concat_ws('|', 'v1', p_entry_id, p_line_no, p_account_id, p_side,
                                                     p_amount_fen, p_account_seq, p_balance_after_fen, p_entry_header),
                                           'UTF8'))
$$;

-- The normal-side balance: what a limit is compared with and what a line records as balance_after_fen.
CREATE OR REPLACE FUNCTION ledger.normal_balance(p_normal_side text, p_debits_fen bigint, p_credits_fen bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN p_normal_side = 'D' THEN p_debits_fen - p_credits_fen ELSE p_credits_fen - p_debits_fen END
$$;

CREATE OR REPLACE FUNCTION ledger.line_digest(p_prev_hash bytea, p_entry ledger.journal_entry, p_line_no integer,
                                              p_account_id bigint, p_side text, p_amount_fen bigint,
                                              p_account_seq bigint, p_balance_after_fen bigint)
RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT ledger.line_hash(p_prev_hash, p_entry.id, p_line_no, p_account_id, p_side, p_amount_fen, p_account_seq,
                          p_balance_after_fen,
                          ledger.entry_digest_header(p_entry.business_day, p_entry.posted_at, p_entry.reverses_entry_id,
                                                     p_entry.content_hash, p_entry.kind, p_entry.external_ref))
$$;

-- Applies the lines of one general entry whose header is already inserted (opening deposits, transfers,
-- reversals; payments are applied set-wise by promo.post_payments, with the same helpers). Four
-- statements: lock every account of the entry in one SELECT ... ORDER BY account_id FOR UPDATE (the
-- global lock order, so no deadlocks), compute sequence numbers, running balances, limits and chain
-- hashes in memory, then write the balances with one UPDATE and the lines with one INSERT.
-- REQUIRES: the arrays have equal length 2..64, amounts > 0, sides 'D'/'C' (checked by callers).
CREATE OR REPLACE FUNCTION ledger.apply_lines(p_entry ledger.journal_entry, p_account_ids bigint[], p_sides text[],
                                              p_amounts_fen bigint[])
RETURNS void LANGUAGE plpgsql AS $$
-- No SET search_path here: it runs only inside the SECURITY DEFINER posting functions, which fix the
-- search_path already, and a SET clause costs a configuration save and restore on every call.
DECLARE
  v_lines integer := cardinality(p_account_ids);
  v_order integer[];
  v_acc bigint[];          -- locked accounts, ascending id
  v_side text[];
  v_min bigint[];
  v_debits bigint[];
  v_credits bigint[];
  v_count bigint[];
  v_head bytea[];
  v_seq bigint[] := array_fill(0::bigint, ARRAY[v_lines]);
  v_after bigint[] := array_fill(0::bigint, ARRAY[v_lines]);
  v_hash bytea[] := array_fill(''::bytea, ARRAY[v_lines]);
  v_i integer;
  v_k integer := 0;
  v_balance bigint;
  v_header text;
BEGIN
  SELECT array_agg(t.ord::integer ORDER BY t.account_id, t.ord) INTO v_order
    FROM unnest(p_account_ids) WITH ORDINALITY AS t(account_id, ord);
  SELECT array_agg(s.account_id ORDER BY s.account_id), array_agg(s.normal_side::text ORDER BY s.account_id),
         array_agg(s.min_balance_fen ORDER BY s.account_id), array_agg(s.debits_fen ORDER BY s.account_id),
         array_agg(s.credits_fen ORDER BY s.account_id), array_agg(s.line_count ORDER BY s.account_id),
         array_agg(s.head_hash ORDER BY s.account_id)
    INTO v_acc, v_side, v_min, v_debits, v_credits, v_count, v_head
    FROM (SELECT b.* FROM ledger.account_balance b WHERE b.account_id = ANY(p_account_ids)
          ORDER BY b.account_id FOR UPDATE) s;
  -- The entry's part of every line digest, formatted once (see ledger.line_digest).
  v_header := ledger.entry_digest_header(p_entry.business_day, p_entry.posted_at, p_entry.reverses_entry_id,
                                        p_entry.content_hash, p_entry.kind, p_entry.external_ref);
  FOREACH v_i IN ARRAY v_order LOOP
    -- Lines arrive sorted by account: advance to this line's account among the locked ones.
    WHILE v_k = 0 OR v_acc[v_k] <> p_account_ids[v_i] LOOP
      v_k := v_k + 1;
      IF v_k > coalesce(cardinality(v_acc), 0) THEN
        RAISE EXCEPTION 'invalid_reference: line % names account id %, which does not exist', v_i, p_account_ids[v_i]
          USING ERRCODE = 'PL005';
      END IF;
    END LOOP;
    IF p_sides[v_i] = 'D' THEN
      v_debits[v_k] := v_debits[v_k] + p_amounts_fen[v_i];
    ELSE
      v_credits[v_k] := v_credits[v_k] + p_amounts_fen[v_i];
    END IF;
    v_balance := ledger.normal_balance(v_side[v_k], v_debits[v_k], v_credits[v_k]);
    IF v_min[v_k] IS NOT NULL AND v_balance < v_min[v_k] THEN
      RAISE EXCEPTION 'insufficient_funds: account % would fall below its limit of % fen (line %: % %)',
        (SELECT code FROM ledger.account WHERE id = v_acc[v_k]), v_min[v_k], v_i, p_sides[v_i], p_amounts_fen[v_i]
        USING ERRCODE = 'PL001';
    END IF;
    v_count[v_k] := v_count[v_k] + 1;
    v_head[v_k] := ledger.line_hash(v_head[v_k], p_entry.id, v_i, v_acc[v_k], p_sides[v_i], p_amounts_fen[v_i],
                                    v_count[v_k], v_balance, v_header);
    v_seq[v_i] := v_count[v_k];
    v_after[v_i] := v_balance;
    v_hash[v_i] := v_head[v_k];
  END LOOP;
  UPDATE ledger.account_balance b
     SET debits_fen = u.debits_fen, credits_fen = u.credits_fen, line_count = u.line_count, head_hash = u.head_hash
    FROM unnest(v_acc, v_debits, v_credits, v_count, v_head) AS u(account_id, debits_fen, credits_fen, line_count, head_hash)
   WHERE b.account_id = u.account_id;
  INSERT INTO ledger.journal_line (entry_id, line_no, account_id, side, amount_fen, account_seq, balance_after_fen, line_hash,
                                   business_day)
  SELECT p_entry.id, t.ord, t.account_id, t.side, t.amount_fen, t.seq, t.after_fen, t.hash, p_entry.business_day
    FROM unnest(p_account_ids, p_sides, p_amounts_fen, v_seq, v_after, v_hash)
         WITH ORDINALITY AS t(account_id, side, amount_fen, seq, after_fen, hash, ord);
END $$;

-- The second check on a separate path: at commit, every new entry has >= 2 lines and balances.
CREATE OR REPLACE FUNCTION ledger.check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_debits numeric;
  v_credits numeric;
  v_lines bigint;
BEGIN
  SELECT coalesce(sum(amount_fen) FILTER (WHERE side = 'D'), 0), coalesce(sum(amount_fen) FILTER (WHERE side = 'C'), 0),
         count(*)
    INTO v_debits, v_credits, v_lines
    FROM ledger.journal_line WHERE entry_id = NEW.id AND business_day = NEW.business_day;
  IF v_lines < 2 OR v_debits <> v_credits THEN
    RAISE EXCEPTION 'unbalanced_at_commit: entry % (%) has % lines, debits % fen, credits % fen',
      NEW.id, NEW.external_ref, v_lines, v_debits, v_credits USING ERRCODE = 'PL003';
  END IF;
  RETURN NULL;
END $$;

-- Closed days and impossible times (migration 0009, docs/accounting.md). Every posting transaction
-- holds the shared closing lock from before it reads the closed days until it commits; close-day takes
-- it exclusively when it records a day. So no entry can commit into a day after that day's close.
CREATE OR REPLACE FUNCTION ledger.closing_lock_key() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
  SELECT x'706c636c6f7365'::bigint  -- 'plclose'
$$;

CREATE OR REPLACE FUNCTION ledger.lock_for_closing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(ledger.closing_lock_key());
  RETURN NULL;
END $$;

-- Every day on or before this one is closed (NULL: none is). Read it only while holding the shared
-- closing lock, in a statement after the one that took it (READ COMMITTED: a fresh snapshot).
CREATE OR REPLACE FUNCTION ledger.last_closed_day() RETURNS date LANGUAGE sql STABLE
SET search_path = pg_catalog, ledger AS $$
  SELECT max(c.business_day) FROM ledger.business_day_close c
$$;

-- How far ahead of the database clock a payment time may lie (ledger.posting_policy: the latest row).
CREATE OR REPLACE FUNCTION ledger.future_tolerance() RETURNS interval LANGUAGE sql STABLE
SET search_path = pg_catalog, ledger AS $$
  SELECT p.future_tolerance FROM ledger.posting_policy p ORDER BY p.id DESC LIMIT 1
$$;

-- The latest business day an entry may be dated: the bank's date (Asia/Shanghai, as C++ computes
-- business days) of the database clock plus the tolerance.
CREATE OR REPLACE FUNCTION ledger.business_day_max() RETURNS date LANGUAGE sql STABLE
SET search_path = pg_catalog, ledger AS $$
  SELECT ((now() + ledger.future_tolerance()) AT TIME ZONE 'Asia/Shanghai')::date
$$;

-- How long a reference stays claimed, so that a re-sent payment or entry is answered as a replay
-- (ledger.posting_policy: the latest row; migration 0014).
CREATE OR REPLACE FUNCTION ledger.replay_window() RETURNS interval LANGUAGE sql STABLE
SET search_path = pg_catalog, ledger AS $$
  SELECT p.replay_window FROM ledger.posting_policy p ORDER BY p.id DESC LIMIT 1
$$;

-- The first business day inside the replay window: the bank's date (Asia/Shanghai) of the database
-- clock minus the window. A payment or entry dated before it is refused (replay_window_passed): its
-- claim may have been deleted, so whether it was stored cannot be told.
CREATE OR REPLACE FUNCTION ledger.replay_horizon() RETURNS date LANGUAGE sql STABLE
SET search_path = pg_catalog, ledger AS $$
  SELECT ((now() AT TIME ZONE 'Asia/Shanghai')::date - ledger.replay_window())::date
$$;

-- A claim never changes; only one dated before the replay window may be deleted (db maintain).
CREATE OR REPLACE FUNCTION ledger.entry_ref_guard() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, ledger AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.business_day < ledger.replay_horizon() THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'append_only: % of the claim of % (dated %) is refused; a claim is deleted only after the replay '
                  'window', TG_OP, OLD.external_ref, OLD.business_day USING ERRCODE = 'PL004';
END $$;

-- The second check, where the data lives (a statement trigger on ledger.journal_entry): whatever
-- path wrote them, new entries into a closed day undo the statement. The posting functions refuse
-- such entries first with a status, so this fires only for a path that skipped them.
CREATE OR REPLACE FUNCTION ledger.refuse_closed_days() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, ledger AS $$
DECLARE
  v_last_closed date;
  v_entry record;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(ledger.closing_lock_key());
  v_last_closed := ledger.last_closed_day();
  IF v_last_closed IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT n.id, n.external_ref, n.business_day INTO v_entry
    FROM new_entries n WHERE n.business_day <= v_last_closed ORDER BY n.id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'business_day_closed: entry % (%) is dated %, and every day up to % is closed',
      v_entry.id, v_entry.external_ref, v_entry.business_day, v_last_closed USING ERRCODE = 'PL007';
  END IF;
  RETURN NULL;
END $$;

-- Posts a general entry. Returns (status, entry_id, detail): status 'posted', 'exists' (a replay with
-- the same content: the original entry), or a rejection; nothing is written on a rejection.
-- The C++ EntryBuilder enforces the same guards first; these are the second path.
CREATE OR REPLACE FUNCTION ledger.post_entry(p_external_ref text, p_kind text, p_business_day date, p_description text,
                                  p_account_codes text[], p_sides text[], p_amounts_fen bigint[],
                                  p_reverses_entry_id bigint DEFAULT NULL)
RETURNS TABLE (status text, entry_id bigint, detail text)
LANGUAGE plpgsql SECURITY DEFINER
-- The line digest formats the business day as text: pinned, so a caller's DateStyle cannot change it.
SET DateStyle = 'ISO, MDY'
SET search_path = pg_catalog, ledger AS $$
DECLARE
  v_lines integer := coalesce(cardinality(p_account_codes), 0);
  v_debits numeric;
  v_credits numeric;
  v_ids bigint[];
  v_unknown text;
  v_hash bytea;
  v_entry ledger.journal_entry;
  v_claim ledger.entry_ref;
  v_other ledger.journal_entry;
  v_last_closed date;
  v_day_max date;
BEGIN
  IF p_external_ref IS NULL OR length(p_external_ref) NOT BETWEEN 1 AND 128 THEN
    RETURN QUERY SELECT 'invalid_external_ref'::text, NULL::bigint, 'external_ref must be 1..128 characters'::text; RETURN;
  END IF;
  IF left(p_external_ref, 8) = 'payment:' THEN
    -- The payment:<id> references belong to promo.post_payments, which checks their entries' balance
    -- per batch (the deferred per-entry check skips them: migration 0005).
    RETURN QUERY SELECT 'invalid_external_ref'::text, NULL::bigint,
      'external_ref payment:... is reserved for payments (promo.post_payments)'::text;
    RETURN;
  END IF;
  IF v_lines < 2 THEN
    RETURN QUERY SELECT 'too_few_lines'::text, NULL::bigint, format('%s line(s); an entry needs at least 2', v_lines); RETURN;
  END IF;
  IF v_lines > 64 THEN
    RETURN QUERY SELECT 'too_many_lines'::text, NULL::bigint, format('%s lines; at most 64', v_lines); RETURN;
  END IF;
  IF coalesce(cardinality(p_sides), 0) <> v_lines OR coalesce(cardinality(p_amounts_fen), 0) <> v_lines THEN
    RETURN QUERY SELECT 'malformed_lines'::text, NULL::bigint, 'accounts, sides and amounts differ in length'::text; RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(p_amounts_fen) a WHERE a IS NULL OR a <= 0) THEN
    RETURN QUERY SELECT 'amount_must_be_positive'::text, NULL::bigint, 'every line amount must be > 0 fen'::text; RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(p_sides) s WHERE s IS NULL OR s NOT IN ('D', 'C')) THEN
    RETURN QUERY SELECT 'invalid_side'::text, NULL::bigint, 'side must be D or C'::text; RETURN;
  END IF;
  SELECT coalesce(sum(a) FILTER (WHERE s = 'D'), 0), coalesce(sum(a) FILTER (WHERE s = 'C'), 0)
    INTO v_debits, v_credits FROM unnest(p_sides, p_amounts_fen) AS t(s, a);
  IF v_debits <> v_credits THEN
    RETURN QUERY SELECT 'unbalanced'::text, NULL::bigint, format('debits %s fen <> credits %s fen', v_debits, v_credits); RETURN;
  END IF;
  SELECT array_agg(a.id ORDER BY t.ord), min(t.code) FILTER (WHERE a.id IS NULL)
    INTO v_ids, v_unknown
    FROM unnest(p_account_codes) WITH ORDINALITY AS t(code, ord) LEFT JOIN ledger.account a ON a.code = t.code;
  IF v_unknown IS NOT NULL THEN
    RETURN QUERY SELECT 'unknown_account'::text, NULL::bigint, format('no account with code %s', v_unknown); RETURN;
  END IF;
  v_hash := ledger.entry_content_hash(p_kind, p_business_day, coalesce(p_description, ''), p_reverses_entry_id,
                                      p_account_codes, p_sides, p_amounts_fen);
  -- Closed and future days. The shared closing lock first (held to commit), then the closed days in a
  -- statement of their own. A replay is still answered: the stored entry decides below.
  PERFORM pg_advisory_xact_lock_shared(ledger.closing_lock_key());
  v_last_closed := ledger.last_closed_day();
  v_day_max := ledger.business_day_max();
  -- Before the replay window, a reference may have lost its claim: refused whether stored or not.
  IF p_business_day < ledger.replay_horizon() THEN
    RETURN QUERY SELECT 'replay_window_passed'::text, NULL::bigint,
      format('business day %s is before the replay window (%s back from the bank''s date): it can be neither '
             'posted nor answered as a replay', p_business_day, ledger.replay_window());
    RETURN;
  END IF;
  IF (p_business_day <= v_last_closed OR p_business_day > v_day_max)
     AND NOT EXISTS (SELECT 1 FROM ledger.entry_ref r WHERE r.external_ref = p_external_ref) THEN
    IF p_business_day <= v_last_closed THEN
      RETURN QUERY SELECT 'business_day_closed'::text, NULL::bigint,
        format('business day %s is closed (every day up to %s is): a closed day''s figures do not move',
               p_business_day, v_last_closed);
    ELSE
      RETURN QUERY SELECT 'business_day_in_future'::text, NULL::bigint,
        format('business day %s is after %s, the bank''s date by the ledger''s clock plus the tolerance of %s',
               p_business_day, v_day_max, ledger.future_tolerance());
    END IF;
    RETURN;
  END IF;
  IF p_reverses_entry_id IS NOT NULL THEN
    -- One reversal per entry: the original's row lock (held to commit) makes concurrent reversals of it
    -- take turns, and the second sees the first. A reversal under this same reference is this one's
    -- replay, answered by the claim below.
    PERFORM 1 FROM ledger.journal_entry e WHERE e.id = p_reverses_entry_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'unknown_entry'::text, NULL::bigint, format('no entry %s to reverse', p_reverses_entry_id); RETURN;
    END IF;
    SELECT * INTO v_other FROM ledger.journal_entry e
     WHERE e.reverses_entry_id = p_reverses_entry_id AND e.external_ref <> p_external_ref;
    IF FOUND THEN
      RETURN QUERY SELECT 'already_reversed'::text, v_other.id,
        format('entry %s was already reversed by entry %s (%s)', p_reverses_entry_id, v_other.id, v_other.external_ref);
      RETURN;
    END IF;
  END IF;
  -- Idempotency: the claim of the reference decides (ledger.entry_ref, unique across partitions). A
  -- concurrent claim of the same reference waits here for the other transaction and then sees its
  -- committed row (READ COMMITTED, new snapshot per statement).
  v_entry.id := nextval('ledger.journal_entry_id_seq');
  INSERT INTO ledger.entry_ref (external_ref, entry_id, business_day, content_hash)
  VALUES (p_external_ref, v_entry.id, p_business_day, v_hash)
  ON CONFLICT (external_ref) DO NOTHING
  RETURNING * INTO v_claim;
  IF v_claim.entry_id IS NULL THEN
    SELECT * INTO v_claim FROM ledger.entry_ref r WHERE r.external_ref = p_external_ref;
    IF v_claim.content_hash = v_hash THEN
      RETURN QUERY SELECT 'exists'::text, v_claim.entry_id, NULL::text;
    ELSE
      RETURN QUERY SELECT 'exists_with_different_content'::text, v_claim.entry_id,
        format('entry %s was posted under %s with other content', v_claim.entry_id, p_external_ref);
    END IF;
    RETURN;
  END IF;
  INSERT INTO ledger.journal_entry (id, external_ref, kind, business_day, description, content_hash, reverses_entry_id)
  OVERRIDING SYSTEM VALUE
  VALUES (v_entry.id, p_external_ref, p_kind, p_business_day, coalesce(p_description, ''), v_hash, p_reverses_entry_id)
  RETURNING * INTO v_entry;
  PERFORM ledger.apply_lines(v_entry, v_ids, p_sides, p_amounts_fen);
  RETURN QUERY SELECT 'posted'::text, v_entry.id, NULL::text;
END $$;

-- Reverses an entry as a whole: the same lines with the sides swapped, referencing the original.
-- Returns (status, entry_id, detail): 'posted', 'exists' (this reversal was already posted),
-- 'unknown_entry', 'already_reversed' (by another reference), 'cannot_reverse_a_reversal'.
CREATE OR REPLACE FUNCTION ledger.reverse_entry(p_entry_id bigint, p_external_ref text, p_business_day date, p_description text)
RETURNS TABLE (status text, entry_id bigint, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, ledger AS $$
DECLARE
  v_original ledger.journal_entry;
  v_codes text[];
  v_sides text[];
  v_amounts bigint[];
  v_other ledger.journal_entry;
BEGIN
  SELECT * INTO v_original FROM ledger.journal_entry e WHERE e.id = p_entry_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'unknown_entry'::text, NULL::bigint, format('no entry %s', p_entry_id); RETURN;
  END IF;
  IF v_original.reverses_entry_id IS NOT NULL THEN
    RETURN QUERY SELECT 'cannot_reverse_a_reversal'::text, NULL::bigint,
      format('entry %s is itself the reversal of entry %s', p_entry_id, v_original.reverses_entry_id); RETURN;
  END IF;
  SELECT * INTO v_other FROM ledger.journal_entry e WHERE e.reverses_entry_id = p_entry_id;
  IF FOUND AND v_other.external_ref <> p_external_ref THEN
    RETURN QUERY SELECT 'already_reversed'::text, v_other.id,
      format('entry %s was already reversed by entry %s (%s)', p_entry_id, v_other.id, v_other.external_ref); RETURN;
  END IF;
  SELECT array_agg(a.code ORDER BY l.line_no), array_agg(CASE l.side WHEN 'D' THEN 'C' ELSE 'D' END ORDER BY l.line_no),
         array_agg(l.amount_fen ORDER BY l.line_no)
    INTO v_codes, v_sides, v_amounts
    FROM ledger.journal_line l JOIN ledger.account a ON a.id = l.account_id
   WHERE l.entry_id = p_entry_id AND l.business_day = v_original.business_day;
  RETURN QUERY SELECT * FROM ledger.post_entry(p_external_ref, 'reversal', p_business_day,
    coalesce(p_description, format('reversal of entry %s', p_entry_id)), v_codes, v_sides, v_amounts, p_entry_id);
END $$;

-- A digest of every account's chain head: recorded by `audit verify`, kept by auditors outside the
-- database. Rewriting history consistently (every hash recomputed) changes this digest.
CREATE OR REPLACE FUNCTION ledger.chain_digest() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger AS $$
  SELECT encode(sha256(convert_to(coalesce(string_agg(account_id || ':' || line_count || ':' || encode(head_hash, 'hex'), ','
                                   ORDER BY account_id), ''), 'UTF8')), 'hex')
    FROM ledger.account_balance
$$;

-- Privileges, restated here because a new function is executable by PUBLIC until revoked.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ledger FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.post_entry(text, text, date, text, text[], text[], bigint[], bigint),
                          ledger.reverse_entry(bigint, text, date, text),
                          ledger.open_account(text, text, text, bigint, bigint),
                          ledger.add_org_unit(text, text, text, text), ledger.add_merchant(text, text, text),
                          ledger.add_payer(text, text)
  TO promoledger_app;
GRANT EXECUTE ON FUNCTION ledger.chain_digest(),
                          ledger.line_digest(bytea, ledger.journal_entry, integer, bigint, text, bigint, bigint, bigint),
                          ledger.genesis_hash(bigint),
                          ledger.entry_digest_header(date, timestamptz, bigint, bytea, text, text),
                          ledger.line_hash(bytea, bigint, integer, bigint, text, bigint, bigint, bigint, text),
                          ledger.normal_balance(text, bigint, bigint)
  TO promoledger_auditor, promoledger_app;
