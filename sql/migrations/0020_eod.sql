-- promoledger migration 0020: the end of the day (docs/integration.md): what leaves the ledger for the
-- core general ledger (the GL journal), what it compares with the clearing side (reconciliation).
-- Merchant statements are read from the journal and need no table.
--
-- No table here holds a foreign key into ledger.journal_entry, ledger.journal_line, promo.payment or
-- promo.payment_reversal: those become partitioned (issue 19), and pg_partman's retention fails on a
-- foreign key pointing into a partitioned table. Entry ids and payment ids are plain columns.
-- Everything is append-only (even for the owner), like the journal: an extract, an acknowledgement, a
-- mapping change or a reconciliation run is a fact, corrected by a later fact, never edited.
-- Only the owner writes (the commands run as the login that owns the schema); the application and
-- the auditor read.

CREATE SCHEMA eod;
REVOKE ALL ON SCHEMA eod FROM PUBLIC;
GRANT USAGE ON SCHEMA eod TO promoledger_app, promoledger_auditor;

-- 1. The GL mapping, as data with its history (like ledger.posting_policy): which GL account (科目号)
--    and which organisation unit book each class of ledger account. The mapping in force at a
--    version V is, per (account_class, account_code), the row with the largest id <= V. An extract
--    records the version it used, so re-extracting a day later uses the same mapping.
--      account_class  payer_deposit        payer:<P>:deposit           (the deposit control account)
--                     merchant_settlement  merchant:<M>:settlement     (the settlement transit account, 过渡户)
--                     outlet_subsidy       outlet:<O>:subsidy:<GL>     (gl_account NULL: the campaign's <GL>)
--                     bank_funding         bank:funding
--                     inter_unit           the balancing line of an org unit (no ledger account)
--                     account              one account by its code (account_code), before its class
--      booking        account_unit  the account's own org unit (merchants and subsidies: the outlet);
--                                   for inter_unit, the unit being balanced
--                     fixed         org_unit_id (payers have no home unit: their branch is named here)
CREATE TABLE eod.gl_mapping (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_class  text NOT NULL CHECK (account_class IN ('payer_deposit', 'merchant_settlement', 'outlet_subsidy',
                                                        'bank_funding', 'inter_unit', 'account')),
  account_code   text CHECK (account_code ~ '^[A-Za-z0-9_.:-]{1,80}$'),
  gl_account     text CHECK (gl_account ~ '^[0-9A-Za-z]{1,16}$'),
  booking        text NOT NULL CHECK (booking IN ('account_unit', 'fixed')),
  org_unit_id    bigint REFERENCES ledger.org_unit (id),
  reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  changed_at     timestamptz NOT NULL DEFAULT now(),
  changed_by     text NOT NULL DEFAULT current_user,
  CHECK ((account_class = 'account') = (account_code IS NOT NULL)),
  CHECK ((booking = 'fixed') = (org_unit_id IS NOT NULL)),
  CHECK (gl_account IS NOT NULL OR account_class = 'outlet_subsidy'),
  CHECK (account_class <> 'inter_unit' OR booking = 'account_unit')
);
CREATE TRIGGER gl_mapping_append_only BEFORE UPDATE OR DELETE ON eod.gl_mapping
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER gl_mapping_no_truncate BEFORE TRUNCATE ON eod.gl_mapping
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- 2. Extracted GL batches: one file per branch and closed day (and sequence: a batch the GL rejected
--    is followed by a new one). The file itself is not stored: it is recomputed from the closed day and
--    the recorded mapping version, and must hash to sha256 again (else the extract is refused as
--    extract_differs: the closed day changed).
CREATE TABLE eod.gl_batch (
  batch_id          text PRIMARY KEY CHECK (batch_id ~ '^PROMO-[0-9]{8}-[A-Za-z0-9_.-]{1,32}-[0-9]{3}$'),
  business_day      date NOT NULL,
  branch_id         bigint NOT NULL REFERENCES ledger.org_unit (id),
  seq               integer NOT NULL CHECK (seq BETWEEN 1 AND 999),
  mapping_version   bigint NOT NULL CHECK (mapping_version >= 0),
  file_name         text NOT NULL CHECK (file_name ~ '^GL_PROMO_[0-9]{8}_[A-Za-z0-9_.-]{1,32}_[0-9]{3}\.csv$'),
  record_count      integer NOT NULL CHECK (record_count >= 0),
  debit_total_fen   numeric(38, 0) NOT NULL CHECK (debit_total_fen >= 0),
  credit_total_fen  numeric(38, 0) NOT NULL,
  sha256            text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  generated_at      timestamptz NOT NULL,
  extracted_at      timestamptz NOT NULL DEFAULT now(),
  extracted_by      text NOT NULL DEFAULT current_user,
  UNIQUE (business_day, branch_id, seq),
  CHECK (debit_total_fen = credit_total_fen)
);
CREATE TRIGGER gl_batch_append_only BEFORE UPDATE OR DELETE ON eod.gl_batch
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER gl_batch_no_truncate BEFORE TRUNCATE ON eod.gl_batch
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- The GL's answer per batch: accepted, or rejected with its reason. One answer per batch (the same
-- answer again is a no-op; another answer is refused as ack_conflicts).
CREATE TABLE eod.gl_ack (
  batch_id          text PRIMARY KEY REFERENCES eod.gl_batch (batch_id),
  status            text NOT NULL CHECK (status IN ('accepted', 'rejected')),
  reason            text CHECK (length(reason) BETWEEN 1 AND 500),
  ack_file_sha256   text NOT NULL CHECK (ack_file_sha256 ~ '^[0-9a-f]{64}$'),
  acknowledged_at   timestamptz NOT NULL DEFAULT now(),
  acknowledged_by   text NOT NULL DEFAULT current_user,
  CHECK ((status = 'rejected') = (reason IS NOT NULL))
);
CREATE TRIGGER gl_ack_append_only BEFORE UPDATE OR DELETE ON eod.gl_ack
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER gl_ack_no_truncate BEFORE TRUNCATE ON eod.gl_ack
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- 3. Reconciliation runs: one per profile, day and file (by its SHA-256); a re-run with the same file
--    answers the stored run. Totals are numeric (exact); the file's own summary is what its summary
--    line says (NULL where the profile has none of that figure).
CREATE TABLE eod.recon_run (
  id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  profile                text NOT NULL CHECK (profile IN ('platform', 'wechat', 'alipay')),
  business_day           date NOT NULL,
  file_sha256            text NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
  file_name              text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
  file_bytes             bigint NOT NULL CHECK (file_bytes >= 0),
  clearing_payments      bigint NOT NULL,
  clearing_payments_fen  numeric(38, 0) NOT NULL,
  clearing_refunds       bigint NOT NULL,
  clearing_refunds_fen   numeric(38, 0) NOT NULL,
  summary_count          bigint,
  summary_payments_fen   numeric(38, 0),
  summary_refunds_fen    numeric(38, 0),
  ledger_payments        bigint NOT NULL,
  ledger_payments_fen    numeric(38, 0) NOT NULL,
  ledger_refunds         bigint NOT NULL,
  ledger_refunds_fen     numeric(38, 0) NOT NULL,
  matched                bigint NOT NULL,
  ledger_only            bigint NOT NULL,
  clearing_only          bigint NOT NULL,
  amount_mismatch        bigint NOT NULL,
  status_mismatch        bigint NOT NULL,
  cutoff                 bigint NOT NULL,
  run_at                 timestamptz NOT NULL DEFAULT now(),
  run_by                 text NOT NULL DEFAULT current_user,
  UNIQUE (profile, business_day, file_sha256)
);
CREATE INDEX recon_run_day ON eod.recon_run (business_day);
CREATE TRIGGER recon_run_append_only BEFORE UPDATE OR DELETE ON eod.recon_run
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER recon_run_no_truncate BEFORE TRUNCATE ON eod.recon_run
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

-- The differences of a run, one row each (matched items are counted in the run, not listed: nothing is
-- to be done about them, and the file and the ledger reproduce them). payment_id is a plain column.
CREATE TABLE eod.recon_item (
  run_id               bigint NOT NULL REFERENCES eod.recon_run (id),
  item_no              integer NOT NULL CHECK (item_no > 0),
  category             text NOT NULL CHECK (category IN ('LEDGER_ONLY', 'CLEARING_ONLY', 'AMOUNT_MISMATCH',
                                                         'STATUS_MISMATCH', 'CUTOFF')),
  payment_id           text NOT NULL,
  file_line            bigint,
  ledger_day           date,
  ledger_amount_fen    bigint,
  clearing_amount_fen  bigint,
  ledger_status        text,
  clearing_status      text,
  detail               text NOT NULL,
  PRIMARY KEY (run_id, item_no)
);
CREATE TRIGGER recon_item_append_only BEFORE UPDATE OR DELETE ON eod.recon_item
  FOR EACH ROW EXECUTE FUNCTION ledger.refuse_change();
CREATE TRIGGER recon_item_no_truncate BEFORE TRUNCATE ON eod.recon_item
  FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_change();

GRANT SELECT ON ALL TABLES IN SCHEMA eod TO promoledger_app, promoledger_auditor;
