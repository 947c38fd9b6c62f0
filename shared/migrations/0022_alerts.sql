-- Desk alerts: raised by the screener's alert rules (services/screener/alerts.py), each once
-- (dedupe_key), shown as a banner on the dashboard until a camat (their kecamatan) or an admin
-- acknowledges it, and sent by WhatsApp to the desk's coordinators.
CREATE TABLE desk_alerts (
    alert_id         bigserial PRIMARY KEY,
    dedupe_key       text NOT NULL UNIQUE,
    rule             text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    -- '' for the whole desk (the pipeline), else a kecamatan code; scopes the acknowledgement.
    area_code        text COLLATE "C" NOT NULL DEFAULT '',
    pesan            text NOT NULL,
    message          text NOT NULL,
    details          jsonb NOT NULL DEFAULT '{}',
    raised_at        timestamptz NOT NULL DEFAULT now(),
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    ack_note         text NOT NULL DEFAULT '',
    -- The coordinators' WhatsApp messages: sent when every coordinator got it.
    notified_at      timestamptz,
    notify_attempts  integer NOT NULL DEFAULT 0
);
CREATE INDEX desk_alerts_open_idx ON desk_alerts (raised_at DESC) WHERE acknowledged_at IS NULL;
