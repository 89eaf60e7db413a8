-- civicflow initial schema: jurisdictions, people, cases (read model),
-- their append-only timeline, papers, institutions and beds, users.

CREATE TABLE jurisdictions (
    code        text PRIMARY KEY CHECK (code ~ '^[0-9]{6}([0-9]{3}){0,2}$'),
    name        text NOT NULL CHECK (name <> ''),
    level       text NOT NULL CHECK (level IN ('city', 'district', 'township', 'community')),
    parent_code text REFERENCES jurisdictions (code),
    CHECK (
        (level = 'city' AND parent_code IS NULL AND length(code) = 6) OR
        (level = 'district' AND parent_code IS NOT NULL AND length(code) = 6) OR
        (level = 'township' AND length(code) = 9 AND left(code, 6) = parent_code) OR
        (level = 'community' AND length(code) = 12 AND left(code, 9) = parent_code)
    )
);

CREATE TABLE institutions (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name <> ''),
    district_code text NOT NULL REFERENCES jurisdictions (code) CHECK (length(district_code) = 6),
    designated    boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE beds (
    id             bigserial PRIMARY KEY,
    institution_id bigint NOT NULL REFERENCES institutions (id),
    label          text NOT NULL CHECK (label <> ''),
    care_level     text NOT NULL CHECK (care_level IN ('self_care', 'semi_dependent', 'dependent')),
    UNIQUE (institution_id, label)
);

CREATE TABLE users (
    id                bigserial PRIMARY KEY,
    username          text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_.-]{3,64}$'),
    display_name      text NOT NULL,
    password_hash     text NOT NULL,
    role              text NOT NULL CHECK (role IN ('township_official', 'district_reviewer',
                          'institution_staff', 'rehab_assessor', 'supervisor', 'administrator')),
    jurisdiction_code text NOT NULL REFERENCES jurisdictions (code),
    institution_id    bigint REFERENCES institutions (id),
    disabled          boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'institution_staff') = (institution_id IS NOT NULL)),
    CHECK (role <> 'township_official' OR length(jurisdiction_code) = 9),
    CHECK (role NOT IN ('district_reviewer', 'rehab_assessor', 'institution_staff') OR length(jurisdiction_code) = 6)
);

CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE TABLE persons (
    id                  bigserial PRIMARY KEY,
    id_number           text NOT NULL UNIQUE CHECK (id_number ~ '^[0-9]{17}[0-9X]$'),
    name                text NOT NULL CHECK (name <> ''),
    birth_date          date NOT NULL,
    male                boolean NOT NULL,
    phone               text CHECK (phone ~ '^1[3-9][0-9]{9}$'),
    hukou_township_code text NOT NULL REFERENCES jurisdictions (code),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cases (
    id                 bigserial PRIMARY KEY,
    reference          text NOT NULL UNIQUE,
    case_type          text NOT NULL CHECK (case_type IN ('centralised_care')),
    stage              text NOT NULL CHECK (stage IN ('submitted', 'intake', 'awaiting_supplements',
                           'investigation', 'public_notice', 'district_review', 'placement',
                           'waitlisted', 'awaiting_admission', 'completed', 'rejected',
                           'withdrawn', 'departed')),
    workflow_id        text NOT NULL UNIQUE,
    person_id          bigint NOT NULL REFERENCES persons (id),
    district_code      text NOT NULL REFERENCES jurisdictions (code),
    township_code      text NOT NULL REFERENCES jurisdictions (code),
    community_code     text REFERENCES jurisdictions (code),
    address            text NOT NULL,
    relation           text NOT NULL CHECK (relation IN ('self', 'relative', 'agent', 'community')),
    applicant_name     text NOT NULL CHECK (applicant_name <> ''),
    applicant_phone    text CHECK (applicant_phone ~ '^1[3-9][0-9]{9}$'),
    applicant_email    text,
    reported_self_care text NOT NULL CHECK (reported_self_care IN ('self_care', 'semi_dependent', 'dependent')),
    care_level         text CHECK (care_level IN ('self_care', 'semi_dependent', 'dependent')),
    disability_kind    text,
    disability_grade   int CHECK (disability_grade BETWEEN 1 AND 4),
    statement          text NOT NULL DEFAULT '',
    access_code_hash   bytea NOT NULL,
    waiting_for        jsonb NOT NULL DEFAULT '[]',
    institution_id     bigint REFERENCES institutions (id),
    bed_id             bigint REFERENCES beds (id),
    allocation_id      bigint,
    support_start      date,
    notice_ends_at     timestamptz,
    seq                int NOT NULL DEFAULT 0,
    stage_entered_at   timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (left(township_code, 6) = district_code),
    CHECK (community_code IS NULL OR left(community_code, 9) = township_code),
    CHECK ((disability_kind IS NULL) = (disability_grade IS NULL))
);

-- One open application per person and process: a second one is a conflict.
-- A supported resident (completed) may not apply again either.
CREATE UNIQUE INDEX cases_one_open_per_person ON cases (person_id, case_type)
    WHERE stage NOT IN ('rejected', 'withdrawn', 'departed');
CREATE INDEX cases_scope ON cases (district_code, township_code, stage);
CREATE INDEX cases_stage ON cases (stage, stage_entered_at);

CREATE TABLE case_events (
    id         bigserial PRIMARY KEY,
    case_id    bigint NOT NULL REFERENCES cases (id),
    event_key  text NOT NULL,
    action     text NOT NULL,
    from_stage text,
    to_stage   text NOT NULL,
    actor      jsonb NOT NULL,
    reasons    text NOT NULL DEFAULT '',
    details    jsonb,
    at         timestamptz NOT NULL,
    -- The key makes activity writes idempotent: a retried activity inserts nothing.
    UNIQUE (case_id, event_key)
);

-- The timeline is append-only.
CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: the table is append-only', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

CREATE TABLE documents (
    id           bigserial PRIMARY KEY,
    case_id      bigint NOT NULL REFERENCES cases (id),
    filename     text NOT NULL CHECK (filename <> ''),
    content_type text NOT NULL CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    size         bigint NOT NULL CHECK (size > 0 AND size <= 10485760),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content      bytea NOT NULL,
    uploaded_by  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (length(content) = size),
    UNIQUE (case_id, sha256)
);

CREATE TABLE economic_checks (
    case_id    bigint NOT NULL REFERENCES cases (id),
    round      int NOT NULL CHECK (round > 0),
    result     jsonb NOT NULL,
    checked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, round)
);

CREATE TABLE bed_allocations (
    id             bigserial PRIMARY KEY,
    bed_id         bigint NOT NULL REFERENCES beds (id),
    case_id        bigint NOT NULL REFERENCES cases (id),
    allocated_at   timestamptz NOT NULL DEFAULT now(),
    admitted_at    timestamptz,
    released_at    timestamptz,
    release_reason text,
    CHECK (released_at IS NULL OR released_at >= allocated_at)
);
-- Whatever the concurrency, a bed has at most one current allocation and a
-- case at most one current bed.
CREATE UNIQUE INDEX bed_allocations_one_per_bed ON bed_allocations (bed_id) WHERE released_at IS NULL;
CREATE UNIQUE INDEX bed_allocations_one_per_case ON bed_allocations (case_id) WHERE released_at IS NULL;
ALTER TABLE cases ADD FOREIGN KEY (allocation_id) REFERENCES bed_allocations (id);

CREATE TABLE waitlist (
    position      bigserial PRIMARY KEY,
    case_id       bigint NOT NULL UNIQUE REFERENCES cases (id),
    care_level    text NOT NULL CHECK (care_level IN ('self_care', 'semi_dependent', 'dependent')),
    district_code text NOT NULL,
    queued_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash bytea NOT NULL,
    case_id      bigint NOT NULL REFERENCES cases (id),
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
