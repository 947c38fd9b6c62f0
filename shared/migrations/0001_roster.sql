-- Roster: elections, their contests, parties and candidates, the Kemendagri area tree, the TPS of
-- each election with their DPT, and the operators who send results. Loaded by `deskpemilu roster
-- load` (deskpemilu/roster_load.py); read into memory by shared/roster_db.py.
--
-- Area and TPS codes use COLLATE "C": byte order sorts dotted digit codes correctly and lets a
-- btree answer prefix searches (code LIKE '16.07.01.%') without text_pattern_ops indexes.

CREATE TABLE elections (
    id                  text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{1,63}$'),
    kind                text NOT NULL CHECK (kind IN ('pemilu', 'pilkada')),
    name                text NOT NULL CHECK (name <> ''),
    date                date NOT NULL,
    -- 300 in Pemilu 2024, 600 in Pilkada 2024: the validator's upper bound for a TPS's DPT.
    max_dpt_per_tps     integer NOT NULL CHECK (max_dpt_per_tps > 0),
    -- Ballots received = DPT + this reserve (2.0 in Pemilu, 2.5 in Pilkada).
    ballot_reserve_pct  numeric(5, 2) NOT NULL CHECK (ballot_reserve_pct BETWEEN 0 AND 100),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contests (
    election  text NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    -- The values of shared.form.Contest; whether it is a party-list contest follows from the code.
    contest   text NOT NULL CHECK (contest IN ('PPWP', 'DPR', 'DPD', 'DPRD_PROV', 'DPRD_KABKO',
                                               'PILGUB', 'PILBUP', 'PILWALKOT')),
    name      text NOT NULL CHECK (name <> ''),
    PRIMARY KEY (election, contest)
);

CREATE TABLE parties (
    election    text NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    nomor       smallint NOT NULL CHECK (nomor BETWEEN 1 AND 999),  -- KPU's party number
    short_name  text NOT NULL CHECK (short_name <> ''),
    name        text NOT NULL CHECK (name <> ''),
    PRIMARY KEY (election, nomor)
);

CREATE TABLE candidates (
    -- Surrogate key because party is NULL for paslon and DPD candidates and a primary key column
    -- cannot be; the natural key is the unique constraint below.
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    election   text NOT NULL,
    contest    text NOT NULL,
    party      smallint,  -- party nomor for DPR/DPRD lists, NULL for PPWP, DPD and Pilkada paslon
    nomor      smallint NOT NULL CHECK (nomor BETWEEN 1 AND 999),  -- no. urut (within the party)
    name       text NOT NULL CHECK (name <> ''),
    -- true for the made-up names of the demo roster, so nobody mistakes them for real candidates.
    generated  boolean NOT NULL DEFAULT false,
    FOREIGN KEY (election, contest) REFERENCES contests (election, contest) ON DELETE CASCADE,
    FOREIGN KEY (election, party) REFERENCES parties (election, nomor),
    CONSTRAINT candidates_party_iff_party_list CHECK (
        (contest IN ('DPR', 'DPRD_PROV', 'DPRD_KABKO')) = (party IS NOT NULL)),
    CONSTRAINT candidates_natural_key UNIQUE NULLS NOT DISTINCT (election, contest, party, nomor)
);

CREATE TABLE areas (
    code         text COLLATE "C" PRIMARY KEY,
    level        text NOT NULL CHECK (level IN ('provinsi', 'kabko', 'kecamatan', 'desa')),
    name         text NOT NULL CHECK (name <> ''),
    parent_code  text COLLATE "C" REFERENCES areas (code),
    -- desa|kelurahan for level desa, kabupaten|kota for level kabko, NULL otherwise.
    kind         text CHECK (kind IN ('desa', 'kelurahan', 'kabupaten', 'kota')),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- The code says the level (Kemendagri: 16 / 16.07 / 16.07.01 / 16.07.01.1016) and its parent
    -- is the code minus its last part; checking both here keeps the tree from drifting.
    CONSTRAINT areas_code_matches_level CHECK (
        (level = 'provinsi' AND code ~ '^\d{2}$') OR
        (level = 'kabko' AND code ~ '^\d{2}\.\d{2}$') OR
        (level = 'kecamatan' AND code ~ '^\d{2}\.\d{2}\.\d{2}$') OR
        (level = 'desa' AND code ~ '^\d{2}\.\d{2}\.\d{2}\.\d{4}$')),
    CONSTRAINT areas_parent_is_prefix CHECK (
        CASE WHEN level = 'provinsi' THEN parent_code IS NULL
             ELSE parent_code IS NOT NULL AND code LIKE parent_code || '.%' END),
    CONSTRAINT areas_kind_fits_level CHECK (
        CASE level WHEN 'desa' THEN kind IN ('desa', 'kelurahan')
                   WHEN 'kabko' THEN kind IS NULL OR kind IN ('kabupaten', 'kota')
                   ELSE kind IS NULL END)
);
-- Read path: children of an area (dashboard drill-down, exports per kecamatan).
CREATE INDEX areas_parent_idx ON areas (parent_code, code);

CREATE TABLE tps (
    election    text NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    code        text COLLATE "C" NOT NULL,  -- desa code + '.' + 3-digit number
    desa_code   text COLLATE "C" NOT NULL REFERENCES areas (code),
    number      smallint NOT NULL CHECK (number BETWEEN 1 AND 999),
    dpt_l       integer NOT NULL CHECK (dpt_l >= 0),
    dpt_p       integer NOT NULL CHECK (dpt_p >= 0),
    dpt         integer GENERATED ALWAYS AS (dpt_l + dpt_p) STORED,
    -- KPU numbers TPS lokasi khusus (hospitals, prisons, campuses) from 901 upwards.
    special     boolean GENERATED ALWAYS AS (number >= 900) STORED,
    -- true when the DPT figures (or the TPS itself) are made up for a demo roster.
    generated   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (election, code),
    CONSTRAINT tps_code_is_desa_and_number CHECK (code = desa_code || '.' || lpad(number::text, 3, '0'))
);
-- Read path: the TPS of one desa (desa page, progress per desa).
CREATE INDEX tps_desa_idx ON tps (election, desa_code, number);

CREATE TABLE operators (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    name        text NOT NULL CHECK (name <> ''),
    role        text NOT NULL CHECK (role IN ('operator', 'camat', 'admin', 'viewer')),
    -- Area codes the operator may report or read; empty for admin/viewer means everywhere. An
    -- array rather than a join table: it is read whole, with the operator, on every token check.
    scope       text[] NOT NULL DEFAULT '{}',
    -- WhatsApp/SMS sender in E.164 without '+', e.g. 6281100000101; the webhook looks it up.
    phone       text UNIQUE CHECK (phone ~ '^[1-9][0-9]{7,14}$'),
    active      boolean NOT NULL DEFAULT true,
    -- Demo operators carry fake numbers: nothing may be sent to them outside a demo.
    demo        boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT operators_field_roles_have_scope CHECK (
        role IN ('admin', 'viewer') OR cardinality(scope) > 0)
);

CREATE TABLE operator_tokens (
    jti          uuid PRIMARY KEY,
    operator_id  text NOT NULL REFERENCES operators (id),
    issued_at    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
-- Services refresh the revoked set periodically; only unexpired revocations matter to them.
CREATE INDEX operator_tokens_revoked_idx ON operator_tokens (revoked_at, expires_at)
    WHERE revoked_at IS NOT NULL;
CREATE INDEX operator_tokens_operator_idx ON operator_tokens (operator_id);

-- Audit of every roster load: which election, from which folder, its content hash and counts.
CREATE TABLE roster_loads (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    election      text NOT NULL REFERENCES elections (id) ON DELETE CASCADE,
    source        text NOT NULL,
    content_hash  text NOT NULL,  -- sha256 over the folder's files, to tell a re-load from a change
    counts        jsonb NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now()
);

-- One counter bumped by any write to a roster table (the loader, an admin deactivating an
-- operator, a hand-run UPDATE), so that services caching the roster only have to poll one row.
CREATE TABLE roster_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO roster_state DEFAULT VALUES;

CREATE FUNCTION bump_roster_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE roster_state SET version = version + 1, changed_at = now();
    RETURN NULL;
END;
$$;

-- Statement-level, so a load of 800,000 TPS bumps the counter once per statement, not per row.
CREATE TRIGGER elections_bump_roster AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON elections
    FOR EACH STATEMENT EXECUTE FUNCTION bump_roster_version();
CREATE TRIGGER contests_bump_roster AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON contests
    FOR EACH STATEMENT EXECUTE FUNCTION bump_roster_version();
CREATE TRIGGER parties_bump_roster AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON parties
    FOR EACH STATEMENT EXECUTE FUNCTION bump_roster_version();
CREATE TRIGGER candidates_bump_roster AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON candidates
    FOR EACH STATEMENT EXECUTE FUNCTION bump_roster_version();
CREATE TRIGGER areas_bump_roster AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON areas
    FOR EACH STATEMENT EXECUTE FUNCTION bump_roster_version();
CREATE TRIGGER tps_bump_roster AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tps
    FOR EACH STATEMENT EXECUTE FUNCTION bump_roster_version();
CREATE TRIGGER operators_bump_roster AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON operators
    FOR EACH STATEMENT EXECUTE FUNCTION bump_roster_version();
