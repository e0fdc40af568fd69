-- promoledger: the current definition of every function of the api schema (the service's tokens).
-- Re-applied by `promoledger db migrate` whenever its checksum changes, after the numbered migrations
-- and the ledger and promo function files (tables and triggers: sql/migrations/0006_api_tokens.sql).

-- Only a revocation may change a row, and only once; nothing may be deleted.
CREATE OR REPLACE FUNCTION api.token_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR OLD.revoked_at IS NOT NULL
     OR (NEW.name, NEW.role, NEW.sha256, NEW.created_at, NEW.created_by)
        IS DISTINCT FROM (OLD.name, OLD.role, OLD.sha256, OLD.created_at, OLD.created_by) THEN
    RAISE EXCEPTION 'api.token is append-only: only an active token may be revoked (token %)', OLD.name
      USING ERRCODE = 'PL004';
  END IF;
  RETURN NEW;
END $$;

-- A trigger function is not for calling.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
