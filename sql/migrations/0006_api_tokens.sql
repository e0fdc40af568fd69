-- promoledger migration 0006: API tokens for `promoledger serve` (service/, docs/operations.md).
--
-- A token is shown once, when `promoledger token create` makes it; only its SHA-256 is stored, so a
-- copy of the database does not hand out access. A token is never deleted: revoking stamps it, and
-- the row stays as the record of who could do what, and until when. The service reads the active
-- tokens (it cannot change them); creating and revoking is the owner's (the operator's command).
CREATE SCHEMA api;
REVOKE ALL ON SCHEMA api FROM PUBLIC;
GRANT USAGE ON SCHEMA api TO promoledger_app, promoledger_auditor;

CREATE TABLE api.token (
  name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
  -- poster: posts, reverses and reads payments; finance: reads reports and campaigns;
  -- auditor: reads everything and runs verify; operator: steers campaigns, reads metrics.
  role        text NOT NULL CHECK (role IN ('poster', 'finance', 'auditor', 'operator')),
  sha256      bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 200),
  revoked_at  timestamptz,
  revoked_by  text CHECK (length(revoked_by) BETWEEN 1 AND 200),
  CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
-- Only a revocation may change a row, and only once; nothing may be deleted.
CREATE FUNCTION api.token_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR OLD.revoked_at IS NOT NULL
     OR (NEW.name, NEW.role, NEW.sha256, NEW.created_at, NEW.created_by)
        IS DISTINCT FROM (OLD.name, OLD.role, OLD.sha256, OLD.created_at, OLD.created_by) THEN
    RAISE EXCEPTION 'api.token is append-only: only an active token may be revoked (token %)', OLD.name
      USING ERRCODE = 'PL004';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER token_guard BEFORE UPDATE OR DELETE ON api.token FOR EACH ROW EXECUTE FUNCTION api.token_guard();

GRANT SELECT ON api.token TO promoledger_app, promoledger_auditor;
