-- Quick-count samples (owner: `deskpemilu quickcount draw`; read by the api). A sample is drawn
-- before polling day: its seed, design and time are kept so that anyone can draw it again and
-- check. Drawing again after the first result of the election arrived needs --force; the old
-- sample stays (current = false) and the new one says it was forced, for the dashboard.
CREATE TABLE quickcount_samples (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    election         text NOT NULL REFERENCES elections (id),
    seed             bigint NOT NULL,
    size             integer NOT NULL CHECK (size > 0),
    design           text NOT NULL,  -- strata, allocation and selection, in words
    sample_order     text NOT NULL,  -- the order systematic selection runs over
    allocation       jsonb NOT NULL,  -- {"16.07.01": 12, ...}: TPS drawn per kecamatan
    drawn_at         timestamptz NOT NULL DEFAULT now(),
    drawn_by         text NOT NULL,
    results_at_draw  integer NOT NULL DEFAULT 0,  -- TPS results already counted when drawn
    forced           boolean NOT NULL DEFAULT false,
    reason           text NOT NULL DEFAULT '',  -- why a forced draw was needed
    current          boolean NOT NULL DEFAULT true
);
CREATE UNIQUE INDEX quickcount_samples_current_idx ON quickcount_samples (election) WHERE current;

CREATE TABLE quickcount_sample_tps (
    sample_id  bigint NOT NULL REFERENCES quickcount_samples (id) ON DELETE CASCADE,
    tps        text COLLATE "C" NOT NULL,
    kecamatan  text COLLATE "C" NOT NULL,
    PRIMARY KEY (sample_id, tps)
);
