-- C.Hasil photos: projections of photos.received.v1, filled by the aggregator's photo recorder.
-- The bytes live in the blob store under their SHA-256 (original, served copy, thumbnail); these
-- tables only link them. Dropping them and replaying the photos topic relinks every photo.

-- One row per distinct image (the original's bytes).
CREATE TABLE photos (
    sha256         text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    served_sha256  text NOT NULL,
    thumb_sha256   text NOT NULL,
    mime           text NOT NULL,
    width          integer NOT NULL CHECK (width > 0),
    height         integer NOT NULL CHECK (height > 0),
    size           integer NOT NULL CHECK (size > 0),
    phash          bigint NOT NULL,  -- imagehash pHash, 64 bits as a signed integer
    taken_at       timestamptz,  -- EXIF capture time
    gps_lat        double precision,  -- EXIF GPS: for the desk, never served
    gps_lon        double precision,
    first_seen_at  timestamptz NOT NULL
);

-- One row per photo attached to a TPS and contest (the same image for two TPS: two rows).
CREATE TABLE photo_links (
    photo_id         uuid PRIMARY KEY,  -- shared.events.photo_id_for(sha256, election, contest, tps)
    sha256           text NOT NULL REFERENCES photos (sha256),
    election         text NOT NULL REFERENCES elections (id),
    contest          text NOT NULL,
    tps              text COLLATE "C" NOT NULL,
    submission_id    uuid,  -- the version it documents, when the sender said so
    operator_id      text NOT NULL,
    channel          text NOT NULL,
    caption          text NOT NULL DEFAULT '',
    received_at      timestamptz NOT NULL,
    kafka_partition  integer,
    kafka_offset     bigint
);
CREATE INDEX photo_links_tps_idx ON photo_links (election, contest, tps, received_at);
CREATE INDEX photo_links_sha_idx ON photo_links (sha256);
