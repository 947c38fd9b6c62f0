-- Projections of the Kafka log, filled by the aggregator (and review decisions) and read by the api.
-- Dropping these and replaying submissions.received.v1 must rebuild them exactly, so they refer to
-- the roster only through the election: a roster edited after the fact (a TPS renumbered, an
-- operator removed) must not make a replay of old, once-valid submissions fail.

-- Every submission the pipeline has seen, with its fate; the dedup key is submission_id.
CREATE TABLE submissions (
    submission_id    uuid PRIMARY KEY,
    election         text NOT NULL REFERENCES elections (id),
    contest          text NOT NULL,
    tps              text COLLATE "C" NOT NULL,
    operator_id      text NOT NULL,
    channel          text NOT NULL CHECK (channel IN ('api', 'batch', 'upload', 'whatsapp', 'sms')),
    idempotency_key  text,
    received_at      timestamptz NOT NULL,
    status           text NOT NULL CHECK (status IN ('received', 'accepted', 'rejected', 'duplicate',
                                                     'revision', 'conflict', 'superseded')),
    form             jsonb NOT NULL,  -- the CHasil as sent
    violations       jsonb NOT NULL DEFAULT '[]',  -- errors and warnings (shared.events.Violation)
    kafka_partition  integer,
    kafka_offset     bigint,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- Read paths: the history of one TPS, and what one operator sent (their own read-back screen).
CREATE INDEX submissions_tps_idx ON submissions (election, contest, tps, received_at);
CREATE INDEX submissions_operator_idx ON submissions (operator_id, received_at DESC);
-- The review queue lists conflicts only; a partial index keeps it small.
CREATE INDEX submissions_conflict_idx ON submissions (election, received_at)
    WHERE status = 'conflict';

-- The current result of one contest at one TPS.
CREATE TABLE tps_results (
    election         text NOT NULL REFERENCES elections (id),
    contest          text NOT NULL,
    tps              text COLLATE "C" NOT NULL,
    submission_id    uuid NOT NULL,  -- the version counted in the totals
    -- {"c1": 120, ...} or {"p3": 45, ...} (shared.form.CHasil.votes_by_candidate): read and
    -- written whole, since the aggregator needs the old lines to compute deltas.
    votes            jsonb NOT NULL,
    suara_sah        integer NOT NULL CHECK (suara_sah >= 0),
    suara_tidak_sah  integer NOT NULL CHECK (suara_tidak_sah >= 0),
    pengguna         integer CHECK (pengguna >= 0),  -- voters who voted (I.B.4), when given
    dpt              integer CHECK (dpt >= 0),  -- DPT as written on the form
    status           text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'disputed', 'verified')),
    version          integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    operator_id      text NOT NULL,
    channel          text NOT NULL,
    received_at      timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (election, contest, tps)
);
-- Read path: results of the TPS of one desa or kecamatan come from the primary key by prefix
-- (tps LIKE '16.07.01.%', COLLATE "C"); the review queue wants disputed ones only.
CREATE INDEX tps_results_disputed_idx ON tps_results (election, contest, updated_at)
    WHERE status = 'disputed';

-- Every decision taken on a TPS result, in order: the audit trail behind tps_results.
CREATE TABLE tps_result_versions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    election       text NOT NULL REFERENCES elections (id),
    contest        text NOT NULL,
    tps            text COLLATE "C" NOT NULL,
    version        integer,  -- tps_results.version after this decision; NULL if it changed nothing
    submission_id  uuid NOT NULL,
    decision       text NOT NULL CHECK (decision IN ('new', 'duplicate', 'revision', 'conflict',
                                                     'review')),
    operator_id    text NOT NULL,  -- sender, or the reviewer for decision 'review'
    channel        text,
    votes          jsonb,  -- the vote lines of this version, so the history reads without the form
    note           text NOT NULL DEFAULT '',
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tps_result_versions_tps_idx ON tps_result_versions (election, contest, tps, id);

-- Votes per candidate line and area. shard is 0 unless hot rows (kabupaten, provinsi) are split
-- per Kafka partition to spread lock contention; readers always sum over shard.
CREATE TABLE area_totals (
    election   text NOT NULL REFERENCES elections (id),
    contest    text NOT NULL,
    area_code  text COLLATE "C" NOT NULL,
    candidate  text NOT NULL CHECK (candidate ~ '^[cp][0-9]{1,3}$'),  -- 'c2' paslon, 'p3' party
    shard      smallint NOT NULL DEFAULT 0,
    votes      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (election, contest, area_code, candidate, shard)
);

-- Per area: vote sums and reporting progress. tps_total and dpt_total are roster facts, written
-- by the roster loader on shard 0; the rest is written by the aggregator, one upsert per touched
-- row per batch. Progress = tps_reported / tps_total summed over shards.
CREATE TABLE area_summary (
    election         text NOT NULL REFERENCES elections (id),
    contest          text NOT NULL,
    area_code        text COLLATE "C" NOT NULL,
    shard            smallint NOT NULL DEFAULT 0,
    suara_sah        bigint NOT NULL DEFAULT 0,
    suara_tidak_sah  bigint NOT NULL DEFAULT 0,
    pengguna         bigint NOT NULL DEFAULT 0,
    tps_reported     integer NOT NULL DEFAULT 0,
    tps_total        integer NOT NULL DEFAULT 0,
    dpt_total        bigint NOT NULL DEFAULT 0,
    dpt_reported     bigint NOT NULL DEFAULT 0,  -- DPT of the TPS that have reported
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (election, contest, area_code, shard)
);

-- Kafka offsets stored in the same transaction as the results they produced: exactly-once
-- totals; the consumer seeks here on partition assignment.
CREATE TABLE consumer_offsets (
    consumer_group  text NOT NULL,
    topic           text NOT NULL,
    partition       integer NOT NULL CHECK (partition >= 0),
    next_offset     bigint NOT NULL CHECK (next_offset >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Things a person should look at: warnings on accepted forms, conflicts, statistical outliers.
CREATE TABLE anomalies (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    election       text NOT NULL REFERENCES elections (id),
    contest        text NOT NULL,
    tps            text COLLATE "C" NOT NULL,
    code           text NOT NULL,  -- stable machine code, e.g. the Violation code
    severity       text NOT NULL CHECK (severity IN ('error', 'warning', 'info')),
    detail         jsonb NOT NULL DEFAULT '{}',
    submission_id  uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    resolved_by    text,
    -- A replay raises the same anomaly again: ON CONFLICT DO NOTHING keeps one row.
    CONSTRAINT anomalies_once UNIQUE NULLS NOT DISTINCT (election, contest, tps, code, submission_id)
);
-- Read path: the open review queue, newest first.
CREATE INDEX anomalies_open_idx ON anomalies (election, created_at DESC) WHERE resolved_at IS NULL;
CREATE INDEX anomalies_tps_idx ON anomalies (election, contest, tps);

-- Decisions by a camat or admin (shared.events.ReviewDecided), keyed by their id so a replay
-- applies each once.
CREATE TABLE review_decisions (
    decision_id    uuid PRIMARY KEY,
    election       text NOT NULL REFERENCES elections (id),
    contest        text NOT NULL,
    tps            text COLLATE "C" NOT NULL,
    reviewer_id    text NOT NULL,
    reviewer_role  text NOT NULL,
    action         text NOT NULL CHECK (action IN ('accept_version', 'verify')),
    submission_id  uuid,  -- the version accepted (accept_version)
    note           text NOT NULL DEFAULT '',
    decided_at     timestamptz NOT NULL,
    applied_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX review_decisions_tps_idx ON review_decisions (election, contest, tps, decided_at);
