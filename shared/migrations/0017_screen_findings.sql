-- Findings of the screens across TPS (owner: screener, services/screener). One row per
-- election, contest, TPS (or area, for area-wide screens) and screen code: opened when a run of
-- the screens reports it, updated while it still holds with new numbers, closed (closed_at set)
-- when a later run over the kecamatan no longer reports it, reopened if it comes back. The rows
-- are a projection of tps_results: a run over the current results reproduces them, so
-- `deskpemilu rebuild` needs no replay of its own here.
CREATE TABLE screen_findings (
    election    text NOT NULL,
    contest     text NOT NULL,
    tps         text COLLATE "C" NOT NULL,  -- TPS code, or the kecamatan code (area screens)
    code        text NOT NULL,  -- stable screen code, e.g. TURNOUT_OUTLIER_KECAMATAN
    kecamatan   text COLLATE "C" NOT NULL,
    severity    text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    action      text NOT NULL DEFAULT 'flag' CHECK (action IN ('flag', 'hold')),
    value       jsonb NOT NULL,  -- the numbers that tripped it
    reference   jsonb NOT NULL,  -- what they were compared with
    pesan       text NOT NULL,
    message     text NOT NULL,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    closed_at   timestamptz,
    PRIMARY KEY (election, contest, tps, code)
);
-- Read paths: the open findings of an election by area prefix, and the per-kecamatan counts.
CREATE INDEX screen_findings_open_idx ON screen_findings (election, kecamatan, tps)
    WHERE closed_at IS NULL;

-- What the screener last saw of each kecamatan, so that a run recomputes only the kecamatan
-- whose results changed since (count, newest update and sum of versions of its TPS results).
CREATE TABLE screen_state (
    election     text NOT NULL,
    kecamatan    text COLLATE "C" NOT NULL,
    fingerprint  text NOT NULL,
    screened_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (election, kecamatan)
);

-- Quarantine (owner: aggregator). A held TPS result stays counted as reported (progress) but
-- its numbers are out of area_summary until a camat or admin releases or rejects it; the hold,
-- release and reject decisions are review decisions on the received topic, so a replay redoes
-- them. '' = in the totals, 'held' = waiting for review, 'rejected' = out until a new form.
ALTER TABLE tps_results
    ADD COLUMN hold text NOT NULL DEFAULT '' CHECK (hold IN ('', 'held', 'rejected'));
CREATE INDEX tps_results_held_idx ON tps_results (election, contest, tps) WHERE hold <> '';
ALTER TABLE review_decisions DROP CONSTRAINT review_decisions_action_check;
ALTER TABLE review_decisions ADD CONSTRAINT review_decisions_action_check
    CHECK (action IN ('accept_version', 'verify', 'hold', 'release', 'reject'));
