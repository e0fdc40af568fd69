-- promoledger migration 0001: roles, the organisation, accounts and the append-only journal.
--
-- Conventions: money is bigint fen, never numeric/double; sums are computed as numeric (exact, cannot
-- overflow) and travel to C++ as text. Business rejections come back as a status column; the few
-- that can only be detected after a write raise one of the project's SQLSTATEs (class PL):
--   PL001 insufficient_funds   a limited account would go below its limit (whole transaction undone)
--   PL003 unbalanced_at_commit an entry's lines do not balance at commit (second check, after C++'s)
--   PL004 append_only          an UPDATE, DELETE or TRUNCATE of a journal row
--   PL005 invalid_reference    a line names an unknown account

-- Roles are cluster-wide, so they are created once and shared by every database of the cluster.
-- The login that runs `promoledger db migrate` owns every object (the "owner" role); the application
-- role may only call the posting functions and read; the auditor role may only read.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'promoledger_app') THEN
    CREATE ROLE promoledger_app NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'promoledger_auditor') THEN
    CREATE ROLE promoledger_auditor NOLOGIN;
  END IF;
END $$;

CREATE SCHEMA ledger;
REVOKE ALL ON SCHEMA ledger FROM PUBLIC;
GRANT USAGE ON SCHEMA ledger TO promoledger_app, promoledger_auditor;

-- The organisation: branch (分行) -> sub-branch (支行) -> outlet (网点).
CREATE TABLE ledger.org_unit (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code       text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,32}$'),
  kind       text NOT NULL CHECK (kind IN ('branch', 'sub_branch', 'outlet')),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  parent_id  bigint REFERENCES ledger.org_unit (id),
  CHECK ((kind = 'branch') = (parent_id IS NULL))
);
CREATE INDEX org_unit_parent ON ledger.org_unit (parent_id);

CREATE FUNCTION ledger.org_unit_parent_kind() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER org_unit_parent_kind BEFORE INSERT OR UPDATE ON ledger.org_unit
  FOR EACH ROW EXECUTE FUNCTION ledger.org_unit_parent_kind();

-- Accounts. normal_side follows the type: assets and expenses grow by debits, the rest by credits.
-- min_balance_fen limits the normal-side balance (a payer deposit: 0, never overdrawn).
CREATE TABLE ledger.account (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code             text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.:-]{1,80}$'),
  name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  type             text NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
  normal_side      char(1) NOT NULL GENERATED ALWAYS AS
                     (CASE WHEN type IN ('asset', 'expense') THEN 'D' ELSE 'C' END) STORED,
  currency         char(3) NOT NULL DEFAULT 'CNY' CHECK (currency = 'CNY'),
  min_balance_fen  bigint,
  org_unit_id      bigint REFERENCES ledger.org_unit (id),
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_org_unit ON ledger.account (org_unit_id);

-- The mutable state of an account, apart from its static master row so that the hot UPDATE touches
-- a narrow row with one index (HOT updates) and foreign keys to ledger.account never wait on it.
-- head_hash is the head of the account's hash chain (see ledger.line_digest).
CREATE TABLE ledger.account_balance (
  account_id       bigint PRIMARY KEY REFERENCES ledger.account (id),
  normal_side      char(1) NOT NULL CHECK (normal_side IN ('D', 'C')),
  min_balance_fen  bigint,
  debits_fen       bigint NOT NULL DEFAULT 0 CHECK (debits_fen >= 0),
  credits_fen      bigint NOT NULL DEFAULT 0 CHECK (credits_fen >= 0),
  line_count       bigint NOT NULL DEFAULT 0 CHECK (line_count >= 0),
  head_hash        bytea NOT NULL,
  -- The same limit rule as the posting function, enforced again where the data lives.
  CONSTRAINT balance_within_limit CHECK (
    min_balance_fen IS NULL
    OR (CASE normal_side WHEN 'D' THEN debits_fen - credits_fen ELSE credits_fen - debits_fen END) >= min_balance_fen)
) WITH (fillfactor = 70);

CREATE FUNCTION ledger.genesis_hash(p_account_id bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT sha256(convert_to('promoledger/account/v1/' || p_account_id::text, 'UTF8'))
$$;

-- Opens an account (idempotent when the same code is opened again with the same type and limit).
CREATE FUNCTION ledger.open_account(p_code text, p_name text, p_type text, p_min_balance_fen bigint,
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

-- The journal. One entry = a header and 2..64 lines that balance. Nothing here is ever updated or
-- deleted: corrections are reversal entries (reverses_entry_id, unique: an entry is reversed once).
CREATE TABLE ledger.journal_entry (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  external_ref       text NOT NULL UNIQUE CHECK (length(external_ref) BETWEEN 1 AND 128),
  kind               text NOT NULL CHECK (kind ~ '^[a-z_]{1,32}$'),
  business_day       date NOT NULL,
  posted_at          timestamptz NOT NULL DEFAULT now(),
  description        text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  content_hash       bytea NOT NULL CHECK (length(content_hash) = 32),
  reverses_entry_id  bigint UNIQUE REFERENCES ledger.journal_entry (id)
);
CREATE INDEX journal_entry_business_day ON ledger.journal_entry (business_day);
CREATE INDEX journal_entry_posted_at ON ledger.journal_entry (posted_at);

-- account_seq numbers an account's lines 1, 2, 3, ... in the order they were applied under the
-- account's row lock; balance_after_fen is the normal-side balance after the line, so a statement
-- with a running balance is a range scan; line_hash chains the account's lines (tamper evidence).
CREATE TABLE ledger.journal_line (
  entry_id           bigint NOT NULL REFERENCES ledger.journal_entry (id),
  line_no            smallint NOT NULL CHECK (line_no BETWEEN 1 AND 64),
  account_id         bigint NOT NULL REFERENCES ledger.account (id),
  side               char(1) NOT NULL CHECK (side IN ('D', 'C')),
  amount_fen         bigint NOT NULL CHECK (amount_fen > 0),
  account_seq        bigint NOT NULL CHECK (account_seq > 0),
  balance_after_fen  bigint NOT NULL,
  line_hash          bytea NOT NULL CHECK (length(line_hash) = 32),
  PRIMARY KEY (entry_id, line_no),
  UNIQUE (account_id, account_seq)
);

-- What one line contributes to its account's hash chain. Every field is of a restricted character
-- set except external_ref, which comes last, so the encoding is unambiguous. Covers the entry header
-- too (day, kind, time, reversal link, content hash), so editing a header breaks its lines' links.
CREATE FUNCTION ledger.line_digest(p_prev_hash bytea, p_entry ledger.journal_entry, p_line_no integer,
                                   p_account_id bigint, p_side text, p_amount_fen bigint, p_account_seq bigint,
                                   p_balance_after_fen bigint)
RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT sha256(p_prev_hash || convert_to(concat_ws('|', 'v1', p_entry.id, p_line_no, p_account_id, p_side,
    p_amount_fen, p_account_seq, p_balance_after_fen, p_entry.business_day,
    (extract(epoch FROM p_entry.posted_at) * 1000000)::bigint, coalesce(p_entry.reverses_entry_id, 0),
    encode(p_entry.content_hash, 'hex'), p_entry.kind, p_entry.external_ref), 'UTF8'))
$$;

-- Applies the lines of an entry whose header is already inserted: updates balances and appends lines.
-- Accounts are updated in ascending id order, one global order, so concurrent postings cannot deadlock.
-- REQUIRES: the arrays have equal length 2..64, amounts > 0, sides 'D'/'C' (checked by callers).
CREATE FUNCTION ledger.apply_lines(p_entry ledger.journal_entry, p_account_ids bigint[], p_sides text[],
                                   p_amounts_fen bigint[])
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, ledger AS $$
DECLARE
  v_i integer;
  v_debit_fen bigint;
  v_credit_fen bigint;
  v_seq bigint;
  v_balance_fen bigint;
  v_hash bytea;
  v_min_fen bigint;
BEGIN
  FOR v_i IN SELECT t.ord FROM unnest(p_account_ids) WITH ORDINALITY AS t(account_id, ord)
             ORDER BY t.account_id, t.ord LOOP
    v_debit_fen := CASE WHEN p_sides[v_i] = 'D' THEN p_amounts_fen[v_i] ELSE 0 END;
    v_credit_fen := CASE WHEN p_sides[v_i] = 'C' THEN p_amounts_fen[v_i] ELSE 0 END;
    UPDATE ledger.account_balance b
       SET debits_fen = b.debits_fen + v_debit_fen,
           credits_fen = b.credits_fen + v_credit_fen,
           line_count = b.line_count + 1,
           head_hash = ledger.line_digest(b.head_hash, p_entry, v_i, b.account_id, p_sides[v_i], p_amounts_fen[v_i],
             b.line_count + 1,
             CASE b.normal_side WHEN 'D' THEN (b.debits_fen + v_debit_fen) - (b.credits_fen + v_credit_fen)
                                ELSE (b.credits_fen + v_credit_fen) - (b.debits_fen + v_debit_fen) END)
     WHERE b.account_id = p_account_ids[v_i]
       AND (b.min_balance_fen IS NULL
            OR (CASE b.normal_side WHEN 'D' THEN (b.debits_fen + v_debit_fen) - (b.credits_fen + v_credit_fen)
                                   ELSE (b.credits_fen + v_credit_fen) - (b.debits_fen + v_debit_fen) END)
               >= b.min_balance_fen)
    RETURNING b.line_count,
              CASE b.normal_side WHEN 'D' THEN b.debits_fen - b.credits_fen ELSE b.credits_fen - b.debits_fen END,
              b.head_hash
         INTO v_seq, v_balance_fen, v_hash;
    IF NOT FOUND THEN
      SELECT b.min_balance_fen INTO v_min_fen FROM ledger.account_balance b WHERE b.account_id = p_account_ids[v_i];
      IF NOT FOUND THEN
        RAISE EXCEPTION 'invalid_reference: line % names account id %, which does not exist', v_i, p_account_ids[v_i]
          USING ERRCODE = 'PL005';
      END IF;
      RAISE EXCEPTION 'insufficient_funds: account % would fall below its limit of % fen (line %: % %)',
        (SELECT code FROM ledger.account WHERE id = p_account_ids[v_i]), v_min_fen, v_i, p_sides[v_i], p_amounts_fen[v_i]
        USING ERRCODE = 'PL001';
    END IF;
    INSERT INTO ledger.journal_line (entry_id, line_no, account_id, side, amount_fen, account_seq, balance_after_fen, line_hash)
    VALUES (p_entry.id, v_i, p_account_ids[v_i], p_sides[v_i], p_amounts_fen[v_i], v_seq, v_balance_fen, v_hash);
  END LOOP;
END $$;

-- The second check on a separate path: at commit, every new entry has >= 2 lines and balances.
CREATE FUNCTION ledger.check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_debits numeric;
  v_credits numeric;
  v_lines bigint;
BEGIN
  SELECT coalesce(sum(amount_fen) FILTER (WHERE side = 'D'), 0), coalesce(sum(amount_fen) FILTER (WHERE side = 'C'), 0),
         count(*)
    INTO v_debits, v_credits, v_lines
    FROM ledger.journal_line WHERE entry_id = NEW.id;
  IF v_lines < 2 OR v_debits <> v_credits THEN
    RAISE EXCEPTION 'unbalanced_at_commit: entry % (%) has % lines, debits % fen, credits % fen',
      NEW.id, NEW.external_ref, v_lines, v_debits, v_credits USING ERRCODE = 'PL003';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_entry_balanced AFTER INSERT ON ledger.journal_entry
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger.check_entry_balanced();

CREATE FUNCTION ledger.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'append_only: % on %.% is refused; the journal is append-only, post a reversing entry instead',
    TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'PL004';
END $$;
CREATE TRIGGER journal_entry_append_only BEFORE UPDATE OR DELETE ON ledger.journal_entry
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER journal_entry_no_truncate BEFORE TRUNCATE ON ledger.journal_entry
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER journal_line_append_only BEFORE UPDATE OR DELETE ON ledger.journal_line
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER journal_line_no_truncate BEFORE TRUNCATE ON ledger.journal_line
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- Content of an entry for the idempotency comparison: a replay must carry the same kind, day,
-- description, reversal link and lines (in order) to be called the same entry.
CREATE FUNCTION ledger.entry_content_hash(p_kind text, p_business_day date, p_description text,
                                          p_reverses_entry_id bigint, p_account_codes text[], p_sides text[],
                                          p_amounts_fen bigint[])
RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT sha256(convert_to(concat_ws('|', 'v1', p_kind, p_business_day, coalesce(p_reverses_entry_id, 0),
    array_to_string(p_account_codes, ','), array_to_string(p_sides, ','), array_to_string(p_amounts_fen, ','),
    p_description), 'UTF8'))
$$;

-- Posts a general entry. Returns (status, entry_id, detail): status 'posted', 'exists' (a replay with
-- the same content: the original entry), or a rejection; nothing is written on a rejection.
-- The C++ EntryBuilder enforces the same guards first; these are the second path.
CREATE FUNCTION ledger.post_entry(p_external_ref text, p_kind text, p_business_day date, p_description text,
                                  p_account_codes text[], p_sides text[], p_amounts_fen bigint[],
                                  p_reverses_entry_id bigint DEFAULT NULL)
RETURNS TABLE (status text, entry_id bigint, detail text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, ledger AS $$
DECLARE
  v_lines integer := coalesce(cardinality(p_account_codes), 0);
  v_debits numeric;
  v_credits numeric;
  v_ids bigint[];
  v_unknown text;
  v_hash bytea;
  v_entry ledger.journal_entry;
  v_existing ledger.journal_entry;
BEGIN
  IF p_external_ref IS NULL OR length(p_external_ref) NOT BETWEEN 1 AND 128 THEN
    RETURN QUERY SELECT 'invalid_external_ref'::text, NULL::bigint, 'external_ref must be 1..128 characters'::text; RETURN;
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
  IF p_reverses_entry_id IS NOT NULL THEN
    IF NOT EXISTS (SELECT 1 FROM ledger.journal_entry e WHERE e.id = p_reverses_entry_id) THEN
      RETURN QUERY SELECT 'unknown_entry'::text, NULL::bigint, format('no entry %s to reverse', p_reverses_entry_id); RETURN;
    END IF;
  END IF;

  -- Idempotency: the unique external_ref decides. A concurrent insert of the same ref waits here for
  -- the other transaction and then sees its committed row (READ COMMITTED, new snapshot per statement).
  INSERT INTO ledger.journal_entry (external_ref, kind, business_day, description, content_hash, reverses_entry_id)
  VALUES (p_external_ref, p_kind, p_business_day, coalesce(p_description, ''), v_hash, p_reverses_entry_id)
  ON CONFLICT (external_ref) DO NOTHING
  RETURNING * INTO v_entry;
  IF v_entry.id IS NULL THEN
    SELECT * INTO v_existing FROM ledger.journal_entry e WHERE e.external_ref = p_external_ref;
    IF v_existing.content_hash = v_hash THEN
      RETURN QUERY SELECT 'exists'::text, v_existing.id, NULL::text;
    ELSE
      RETURN QUERY SELECT 'exists_with_different_content'::text, v_existing.id,
        format('entry %s was posted under %s with other content', v_existing.id, p_external_ref);
    END IF;
    RETURN;
  END IF;
  PERFORM ledger.apply_lines(v_entry, v_ids, p_sides, p_amounts_fen);
  RETURN QUERY SELECT 'posted'::text, v_entry.id, NULL::text;
END $$;

-- Reverses an entry as a whole: the same lines with the sides swapped, referencing the original.
-- Returns (status, entry_id, detail): 'posted', 'exists' (this reversal was already posted),
-- 'unknown_entry', 'already_reversed' (by another reference), 'cannot_reverse_a_reversal'.
CREATE FUNCTION ledger.reverse_entry(p_entry_id bigint, p_external_ref text, p_business_day date, p_description text)
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
    FROM ledger.journal_line l JOIN ledger.account a ON a.id = l.account_id WHERE l.entry_id = p_entry_id;
  RETURN QUERY SELECT * FROM ledger.post_entry(p_external_ref, 'reversal', p_business_day,
    coalesce(p_description, format('reversal of entry %s', p_entry_id)), v_codes, v_sides, v_amounts, p_entry_id);
END $$;

-- Tamper evidence: recomputes every link of every account's chain, and checks the derived state.
-- Returns one row per check: (check_name, violations, sample) where sample describes the first few.
CREATE FUNCTION ledger.verify(p_sample_max integer DEFAULT 5)
RETURNS TABLE (check_name text, violations bigint, sample text)
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger AS $$
  WITH entry_totals AS (
    SELECT e.id, e.external_ref,
           coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'D'), 0) AS debits,
           coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'C'), 0) AS credits,
           count(l.entry_id) AS lines
      FROM ledger.journal_entry e LEFT JOIN ledger.journal_line l ON l.entry_id = e.id
     GROUP BY e.id, e.external_ref),
  bad_entries AS (
    SELECT format('entry %s (%s): %s lines, debits %s, credits %s', id, external_ref, lines, debits, credits) AS what
      FROM entry_totals WHERE lines < 2 OR debits <> credits ORDER BY id),
  account_totals AS (
    SELECT b.account_id, b.debits_fen, b.credits_fen, b.line_count, b.head_hash,
           coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'D'), 0) AS line_debits,
           coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'C'), 0) AS line_credits,
           count(l.entry_id) AS lines
      FROM ledger.account_balance b LEFT JOIN ledger.journal_line l ON l.account_id = b.account_id
     GROUP BY b.account_id),
  bad_balances AS (
    SELECT format('account %s: stored debits %s credits %s lines %s; lines sum to debits %s credits %s in %s lines',
                  account_id, debits_fen, credits_fen, line_count, line_debits, line_credits, lines) AS what
      FROM account_totals
     WHERE debits_fen <> line_debits OR credits_fen <> line_credits OR line_count <> lines ORDER BY account_id),
  chained AS (
    SELECT l.*, e AS entry, b.normal_side,
           lag(l.line_hash) OVER w AS prev_hash,
           row_number() OVER w AS expected_seq,
           sum(CASE WHEN l.side = b.normal_side THEN l.amount_fen ELSE -l.amount_fen END) OVER w AS running_fen
      FROM ledger.journal_line l
      JOIN ledger.journal_entry e ON e.id = l.entry_id
      JOIN ledger.account_balance b ON b.account_id = l.account_id
    WINDOW w AS (PARTITION BY l.account_id ORDER BY l.account_seq)),
  bad_links AS (
    SELECT format('account %s line seq %s (entry %s line %s): %s', account_id, account_seq, entry_id, line_no,
             CASE WHEN account_seq <> expected_seq THEN format('sequence gap: expected seq %s', expected_seq)
                  WHEN balance_after_fen <> running_fen THEN format('running balance %s, lines sum to %s', balance_after_fen, running_fen)
                  ELSE 'hash does not match its content and predecessor' END) AS what
      FROM chained
     WHERE account_seq <> expected_seq
        OR balance_after_fen <> running_fen
        OR line_hash <> ledger.line_digest(coalesce(prev_hash, ledger.genesis_hash(account_id)), entry, line_no,
                                           account_id, side, amount_fen, account_seq, balance_after_fen)
     ORDER BY account_id, account_seq),
  heads AS (
    SELECT b.account_id, b.head_hash, b.line_count,
           (SELECT l.line_hash FROM ledger.journal_line l WHERE l.account_id = b.account_id
             ORDER BY l.account_seq DESC LIMIT 1) AS last_hash
      FROM ledger.account_balance b),
  bad_heads AS (
    SELECT format('account %s: head hash does not match its last line', account_id) AS what
      FROM heads WHERE head_hash <> coalesce(last_hash, ledger.genesis_hash(account_id)) ORDER BY account_id)
  SELECT 'entries_balance', (SELECT count(*) FROM bad_entries),
         (SELECT string_agg(what, '; ') FROM (SELECT what FROM bad_entries LIMIT p_sample_max) s)
  UNION ALL
  SELECT 'balances_equal_lines', (SELECT count(*) FROM bad_balances),
         (SELECT string_agg(what, '; ') FROM (SELECT what FROM bad_balances LIMIT p_sample_max) s)
  UNION ALL
  SELECT 'hash_chain_links', (SELECT count(*) FROM bad_links),
         (SELECT string_agg(what, '; ') FROM (SELECT what FROM bad_links LIMIT p_sample_max) s)
  UNION ALL
  SELECT 'hash_chain_heads', (SELECT count(*) FROM bad_heads),
         (SELECT string_agg(what, '; ') FROM (SELECT what FROM bad_heads LIMIT p_sample_max) s)
$$;

-- A digest of every account's chain head: recorded by `audit verify`, kept by auditors outside the
-- database. Rewriting history consistently (every hash recomputed) changes this digest.
CREATE FUNCTION ledger.chain_digest() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, ledger AS $$
  SELECT encode(sha256(convert_to(coalesce(string_agg(account_id || ':' || line_count || ':' || encode(head_hash, 'hex'), ','
                                   ORDER BY account_id), ''), 'UTF8')), 'hex')
    FROM ledger.account_balance
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ledger FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.post_entry(text, text, date, text, text[], text[], bigint[], bigint),
                          ledger.reverse_entry(bigint, text, date, text),
                          ledger.open_account(text, text, text, bigint, bigint)
  TO promoledger_app;
GRANT EXECUTE ON FUNCTION ledger.verify(integer), ledger.chain_digest(), ledger.line_digest(bytea, ledger.journal_entry, integer, bigint, text, bigint, bigint, bigint), ledger.genesis_hash(bigint)
  TO promoledger_auditor, promoledger_app;
GRANT SELECT ON ALL TABLES IN SCHEMA ledger TO promoledger_app, promoledger_auditor;
