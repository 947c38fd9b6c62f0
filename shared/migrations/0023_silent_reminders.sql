-- Reminders to the operators of silent TPS (owner: intake, services/intake/reminders.py; off
-- unless SILENT_REMINDERS_ENABLED). One row per reminder an intake claimed for an operator:
-- a claim is taken only when the operator has no claimed or sent reminder within the rate
-- limit (under an advisory lock per operator, so two intake replicas never both send), then
-- marked sent or failed (a failed one does not hold back the next attempt).
CREATE TABLE silent_reminders (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    election     text NOT NULL,
    operator_id  text NOT NULL,
    phone        text NOT NULL,
    tps          text[] NOT NULL,  -- the silent TPS the text names
    contests     text[] NOT NULL,  -- the contests missing at those TPS
    text         text NOT NULL,
    claimed_at   timestamptz NOT NULL,
    sent_at      timestamptz,
    status       text NOT NULL DEFAULT 'claimed' CHECK (status IN ('claimed', 'sent', 'failed'))
);
-- Read path: the operator's latest reminder (the rate limit), and the desk's list.
CREATE INDEX silent_reminders_operator_idx ON silent_reminders (operator_id, claimed_at DESC);
