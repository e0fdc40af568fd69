-- promoledger migration 0002: merchants (with their home outlet) and payers, each with its account.

CREATE TABLE ledger.merchant (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,32}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  outlet_id   bigint NOT NULL REFERENCES ledger.org_unit (id),
  account_id  bigint NOT NULL UNIQUE REFERENCES ledger.account (id)
);
CREATE INDEX merchant_outlet ON ledger.merchant (outlet_id);

CREATE TABLE ledger.payer (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,32}$'),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  account_id  bigint NOT NULL UNIQUE REFERENCES ledger.account (id)
);

CREATE FUNCTION ledger.merchant_outlet_kind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM ledger.org_unit WHERE id = NEW.outlet_id AND kind = 'outlet') THEN
    RAISE EXCEPTION 'merchant %: home unit % is not an outlet', NEW.code, NEW.outlet_id USING ERRCODE = '23514';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER merchant_outlet_kind BEFORE INSERT OR UPDATE ON ledger.merchant
  FOR EACH ROW EXECUTE FUNCTION ledger.merchant_outlet_kind();

-- Adds an org unit under its parent (by codes). Returns its id.
CREATE FUNCTION ledger.add_org_unit(p_code text, p_kind text, p_name text, p_parent_code text)
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
CREATE FUNCTION ledger.add_merchant(p_code text, p_name text, p_outlet_code text)
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
CREATE FUNCTION ledger.add_payer(p_code text, p_name text)
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

REVOKE ALL ON FUNCTION ledger.add_org_unit(text, text, text, text), ledger.add_merchant(text, text, text),
                       ledger.add_payer(text, text), ledger.merchant_outlet_kind() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger.add_org_unit(text, text, text, text), ledger.add_merchant(text, text, text),
                          ledger.add_payer(text, text) TO promoledger_app;
GRANT SELECT ON ledger.merchant, ledger.payer TO promoledger_app, promoledger_auditor;
