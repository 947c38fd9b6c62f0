-- Incident reports (laporan kejadian) and the desk's updates on them: a projection of the
-- incidents.v1 topic written by the aggregator's incident recorder, replayed by `rebuild`.
CREATE TABLE incidents (
    incident_id     uuid PRIMARY KEY,
    reported_at     timestamptz NOT NULL,
    channel         text NOT NULL,
    operator_id     text NOT NULL,
    operator_name   text NOT NULL DEFAULT '',
    reply_to        text,
    -- The TPS or desa code reported; desa and kecamatan follow from it (for filters and counts).
    area_code       text COLLATE "C" NOT NULL,
    tps             text COLLATE "C",
    desa_code       text COLLATE "C" NOT NULL,
    kecamatan_code  text COLLATE "C" NOT NULL,
    category        text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    severity_rank   smallint NOT NULL CHECK (severity_rank BETWEEN 1 AND 4),
    text            text NOT NULL,
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'acknowledged', 'followed_up', 'closed')),
    updated_at      timestamptz NOT NULL,
    updated_by      text,
    kafka_partition integer,
    kafka_offset    bigint
);
CREATE INDEX incidents_feed_idx ON incidents (reported_at DESC);
CREATE INDEX incidents_kecamatan_idx ON incidents (kecamatan_code, status);
CREATE INDEX incidents_tps_idx ON incidents (tps) WHERE tps IS NOT NULL;

CREATE TABLE incident_updates (
    update_id    uuid PRIMARY KEY,
    incident_id  uuid NOT NULL REFERENCES incidents (incident_id) ON DELETE CASCADE,
    updated_at   timestamptz NOT NULL,
    by_id        text NOT NULL,
    by_name      text NOT NULL DEFAULT '',
    by_role      text NOT NULL,
    action       text NOT NULL CHECK (action IN ('acknowledge', 'follow_up', 'close')),
    note         text NOT NULL DEFAULT '',
    -- false when the action did not apply (e.g. a follow-up on a closed incident): kept, not used.
    applied      boolean NOT NULL,
    status_after text NOT NULL
);
CREATE INDEX incident_updates_incident_idx ON incident_updates (incident_id, updated_at);
