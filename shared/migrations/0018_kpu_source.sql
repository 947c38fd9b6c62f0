-- KPU's published results, kept as a source apart from the desk's own count (owner: the
-- `deskpemilu kpu import` command; the api reads). Nothing here flows into tps_results or
-- area_summary: the desk's totals stay the desk's, and the api compares the two.
--
-- Each table pair keeps the history of what KPU showed when: *_versions gets one row each time
-- KPU's content for a TPS (or a desa, for D.Hasil) differs from what was last seen, *_current
-- points at the latest. An import that finds the same content writes nothing.

-- Sirekap: one document per TPS and contest, normalised to the desk's vote lines.
CREATE TABLE kpu_tps_versions (
    id               bigint GENERATED ALWAYS AS IDENTITY,
    election         text NOT NULL REFERENCES elections (id),
    contest          text NOT NULL,
    tps              text COLLATE "C" NOT NULL,  -- dotted, 16.07.01.1016.001; need not be in the roster
    content_hash     text NOT NULL,  -- sha256 of the normalised content (shared.kpu.sirekap.KpuTps)
    -- published: status_suara true and votes given; pending: a document without verified votes.
    state            text NOT NULL CHECK (state IN ('published', 'pending')),
    votes            jsonb NOT NULL DEFAULT '{}',  -- {"c1": 44, ...} as KPU showed them
    suara_sah        integer CHECK (suara_sah >= 0),
    suara_tidak_sah  integer CHECK (suara_tidak_sah >= 0),
    suara_total      integer CHECK (suara_total >= 0),
    pengguna         integer CHECK (pengguna >= 0),  -- pengguna_total_j
    dpt              integer CHECK (dpt >= 0),  -- pemilih_dpt_j
    status_suara     boolean,
    status_adm       boolean,
    psu              text,  -- KPU's psu field (repeat vote) as text; NULL: none
    kpu_ts           timestamptz,  -- KPU's own `ts`
    images           jsonb NOT NULL DEFAULT '[]',  -- the C.Hasil photo pages
    origin           text NOT NULL,  -- the file path or URL it was read from
    seen_at          timestamptz NOT NULL DEFAULT now(),  -- when the desk first saw this content
    PRIMARY KEY (election, contest, tps, id)
);

CREATE TABLE kpu_tps_current (
    election       text NOT NULL REFERENCES elections (id),
    contest        text NOT NULL,
    tps            text COLLATE "C" NOT NULL,
    version_id     bigint NOT NULL,
    content_hash   text NOT NULL,
    versions       integer NOT NULL DEFAULT 1 CHECK (versions >= 1),
    first_seen_at  timestamptz NOT NULL,
    changed_at     timestamptz NOT NULL,
    PRIMARY KEY (election, contest, tps),
    FOREIGN KEY (election, contest, tps, version_id)
        REFERENCES kpu_tps_versions (election, contest, tps, id)
);

-- D.Hasil: KPU's recapitulation per kecamatan, one row per desa (layout: docs/KPU_IMPORT.md).
CREATE TABLE kpu_recap_versions (
    id               bigint GENERATED ALWAYS AS IDENTITY,
    election         text NOT NULL REFERENCES elections (id),
    contest          text NOT NULL,
    area_code        text COLLATE "C" NOT NULL,  -- desa code, dotted
    content_hash     text NOT NULL,
    votes            jsonb NOT NULL DEFAULT '{}',
    suara_sah        integer CHECK (suara_sah >= 0),
    suara_tidak_sah  integer CHECK (suara_tidak_sah >= 0),
    pengguna         integer CHECK (pengguna >= 0),
    dpt              integer CHECK (dpt >= 0),
    origin           text NOT NULL,
    seen_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (election, contest, area_code, id)
);

CREATE TABLE kpu_recap_current (
    election       text NOT NULL REFERENCES elections (id),
    contest        text NOT NULL,
    area_code      text COLLATE "C" NOT NULL,
    version_id     bigint NOT NULL,
    content_hash   text NOT NULL,
    versions       integer NOT NULL DEFAULT 1 CHECK (versions >= 1),
    first_seen_at  timestamptz NOT NULL,
    changed_at     timestamptz NOT NULL,
    PRIMARY KEY (election, contest, area_code),
    FOREIGN KEY (election, contest, area_code, version_id)
        REFERENCES kpu_recap_versions (election, contest, area_code, id)
);
