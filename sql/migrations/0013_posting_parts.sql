-- promoledger migration 0013: the types promo.post_payments passes between its named parts
-- (sql/functions/promo.sql), so that a batch travels as one array of a composite per kind of row
-- instead of twelve parallel arrays, and the payment-id rule has one definition in SQL.
--
-- look_up_payments -> promo.payment_candidate[]   (the inputs and everything found before any lock)
-- lock_payment_rows -> promo.payment_slots[], ledger.account_balance[], promo.locked_deck[], promo.payer_day[]
-- decide_payments  -> promo.payment_result[], ledger.journal_line[]   (the rules, payment by payment)
-- write_payments   <- all of the above                               (one write per table)

-- One input payment of a batch, with what was found for it before any lock was taken.
CREATE TYPE promo.payment_candidate AS (
  ord                  integer,              -- arrival order in the batch, 1..n
  payment_id           text,
  payer                text,
  merchant             text,
  channel              text,
  amount_fen           bigint,
  paid_at              timestamptz,
  business_day         date,
  content_hash         bytea,                -- what a replay must match (the entry's content_hash)
  first_ord            integer,              -- the first occurrence of this payment id in the batch
  answer               promo.payment_result, -- the answer so far: status set when decided before any lock
  merchant_id          bigint,               -- NULL: unknown merchant (looked up only for a new payment)
  outlet_id            bigint,
  merchant_account_id  bigint,
  payer_id             bigint,               -- NULL: unknown payer
  payer_account_id     bigint,
  campaign_id          bigint,               -- the merchant's live campaign on the day, if any
  payer_daily_limit    integer,
  payer_share_bp       integer,
  subsidy_account_id   bigint,
  deck_id              bigint,               -- the merchant's deck of the day, if dealt
  ineligible_reason    text,                 -- no campaign, channel, paused, minimum or time window
  no_deck_reason       text                  -- not_dealt or budget_exhausted, when there is no deck
);

-- Where a payment's rows sit in the arrays of locked rows (NULL: not locked for it).
CREATE TYPE promo.payment_slots AS (
  payer_account     integer,
  merchant_account  integer,
  subsidy_account   integer,
  deck              integer,
  payer_day         integer
);

-- A deck locked for a batch, with the next cards it may give (at most one per payment that wants one).
CREATE TYPE promo.locked_deck AS (
  id           bigint,
  campaign_id  bigint,
  status       text,
  used_count   integer,    -- as the batch has used it so far
  card_count   integer,
  used_at_lock integer,    -- used_count as read when the deck was locked
  next_cards   integer[]   -- cards used_at_lock + 1 .. used_at_lock + demand (one per payment that may take one)
);

-- The payment-id rule, in SQL (promo/terms.hpp has it in C++; a test compares the two). A payment's
-- external reference is 'payment:' || id, so the id must leave room for the prefix in 128 characters.
CREATE FUNCTION promo.payment_id_valid(p_payment_id text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p_payment_id IS NOT NULL AND p_payment_id ~ '^[A-Za-z0-9_.:-]{1,64}$'
$$;
ALTER TABLE promo.payment DROP CONSTRAINT payment_payment_id_check,
  ADD CONSTRAINT payment_payment_id_valid CHECK (promo.payment_id_valid(payment_id));
