-- 007: community rehabilitation for mental disorders (精神障碍社区康复,
-- issue 5). The application pipeline (intake, district review) is the one
-- centralised care uses; the case then moves to the district's rehab
-- centre: registration, assessment, plan, periodic reviews, closure or
-- referral. Clinical content (diagnosis, assessments, plans, progress
-- notes) is sealed at rest like other personal data (AES-256-GCM, see
-- postgres/crypto.go); only dates, counts and stages are kept in the clear.
-- See docs/workflows.md and docs/rehab.md.

-- One community rehab centre per district; the city is building 8.
CREATE TABLE rehab_centres (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name <> ''),
    district_code text NOT NULL UNIQUE REFERENCES jurisdictions (code) CHECK (length(district_code) = 6),
    address       text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);

INSERT INTO rehab_centres (name, district_code, address) VALUES
    ('新城区精神障碍社区康复服务中心', '610102', '新城区长乐中路街道'),
    ('碑林区精神障碍社区康复服务中心', '610103', '碑林区柏树林街道'),
    ('莲湖区精神障碍社区康复服务中心', '610104', '莲湖区北院门街道'),
    ('灞桥区精神障碍社区康复服务中心', '610111', '灞桥区纺织城街道'),
    ('未央区精神障碍社区康复服务中心', '610112', '未央区张家堡街道'),
    ('雁塔区精神障碍社区康复服务中心', '610113', '雁塔区小寨路街道'),
    ('长安区精神障碍社区康复服务中心', '610116', '长安区韦曲街道'),
    ('临潼区精神障碍社区康复服务中心', '610115', '临潼区骊山街道')
ON CONFLICT DO NOTHING;

-- Rehab cases are cases of their own type, with their own stages. A rehab
-- case reports no self-care ability (that is centralised care's question).
ALTER TABLE cases DROP CONSTRAINT cases_case_type_check;
ALTER TABLE cases ADD CONSTRAINT cases_case_type_check CHECK (case_type IN ('centralised_care', 'community_rehab'));
ALTER TABLE cases DROP CONSTRAINT cases_stage_check;
ALTER TABLE cases ADD CONSTRAINT cases_stage_check CHECK (stage IN ('submitted', 'intake', 'awaiting_supplements',
    'investigation', 'public_notice', 'district_review', 'placement', 'waitlisted', 'awaiting_admission',
    'completed', 'rejected', 'withdrawn', 'departed',
    'registration', 'assessment', 'planning', 'in_rehab', 'closed', 'referred'));
ALTER TABLE cases ALTER COLUMN reported_self_care DROP NOT NULL;
ALTER TABLE cases ADD CONSTRAINT cases_self_care_reported CHECK (case_type <> 'centralised_care' OR reported_self_care IS NOT NULL);
-- The centre holding the case: named by the district, changed by a
-- transfer to another centre. Rehab assessors act on their centre's cases.
ALTER TABLE cases ADD COLUMN rehab_centre_id bigint REFERENCES rehab_centres (id);
ALTER TABLE cases ADD CONSTRAINT cases_rehab_centre CHECK (rehab_centre_id IS NULL OR case_type = 'community_rehab');
CREATE INDEX cases_rehab_centre ON cases (rehab_centre_id, id) WHERE rehab_centre_id IS NOT NULL;

-- Closed and referred rehab cases no longer block a new application.
DROP INDEX cases_one_open_per_person;
CREATE UNIQUE INDEX cases_one_open_per_person ON cases (person_id, case_type)
    WHERE stage NOT IN ('rejected', 'withdrawn', 'departed', 'closed', 'referred');

-- Who applied and, for a minor or a person without capacity, the
-- guardian's recorded consent. The guardian's name is personal data.
CREATE TABLE rehab_applications (
    id                bigserial PRIMARY KEY,
    case_id           bigint NOT NULL UNIQUE REFERENCES cases (id),
    applied_by        text NOT NULL CHECK (applied_by IN ('patient', 'family', 'guardian')),
    minor             boolean NOT NULL,
    without_capacity  boolean NOT NULL,
    guardian_name_enc text CHECK (guardian_name_enc IS NULL OR guardian_name_enc ~ '^[a-z0-9]{1,16}:[A-Za-z0-9+/]+=*$'),
    guardian_consent  boolean NOT NULL DEFAULT false,
    consent_on        date,
    -- A minor or a person without capacity applies through a guardian,
    -- whose consent is recorded.
    CHECK (NOT (minor OR without_capacity) OR (applied_by = 'guardian' AND guardian_consent
        AND guardian_name_enc IS NOT NULL AND consent_on IS NOT NULL)),
    CHECK (applied_by <> 'guardian' OR guardian_name_enc IS NOT NULL)
);

-- The rehab part of a case as anyone who reads the case may see it: dates
-- and counts, no clinical content. Written with the step that changes it.
CREATE TABLE rehab_cases (
    case_id              bigint PRIMARY KEY REFERENCES cases (id),
    centre_id            bigint NOT NULL REFERENCES rehab_centres (id),
    registered_at        timestamptz,
    assessed_at          timestamptz,
    plan_start           date,
    review_interval_days int CHECK (review_interval_days BETWEEN 7 AND 365),
    reviews_done         int NOT NULL DEFAULT 0 CHECK (reviews_done >= 0),
    next_review_due      timestamptz,
    closed_at            timestamptz
);

-- Clinical records, append-only, sealed: what the assessor recorded at
-- registration, assessment, plan, each review, closure and referral.
CREATE TABLE rehab_records (
    id          bigserial PRIMARY KEY,
    case_id     bigint NOT NULL REFERENCES cases (id),
    -- The case_events key of the step that recorded it: one record per step.
    event_key   text NOT NULL CHECK (event_key <> ''),
    kind        text NOT NULL CHECK (kind IN ('registration', 'assessment', 'plan', 'review', 'closure', 'referral')),
    centre_id   bigint NOT NULL REFERENCES rehab_centres (id),
    actor       jsonb NOT NULL,
    content_enc text NOT NULL CHECK (content_enc ~ '^[a-z0-9]{1,16}:[A-Za-z0-9+/]+=*$'),
    recorded_at timestamptz NOT NULL,
    UNIQUE (case_id, event_key)
);
CREATE INDEX rehab_records_case ON rehab_records (case_id, recorded_at, id);
CREATE TRIGGER rehab_records_append_only BEFORE UPDATE OF case_id, event_key, kind, centre_id, actor, recorded_at OR DELETE ON rehab_records
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Time limits of the rehab process: the shared pipeline keeps centralised
-- care's limits; the centre registers within 5 working days and assesses
-- and agrees a plan within 10 each (configurable per district as before).
ALTER TABLE deadline_rules DROP CONSTRAINT deadline_rules_case_type_check;
ALTER TABLE deadline_rules ADD CONSTRAINT deadline_rules_case_type_check CHECK (case_type IN ('centralised_care', 'community_rehab'));
ALTER TABLE deadline_rules DROP CONSTRAINT deadline_rules_stage_check;
ALTER TABLE deadline_rules ADD CONSTRAINT deadline_rules_stage_check CHECK (stage IN ('intake', 'investigation', 'public_notice',
    'district_review', 'placement', 'waitlisted', 'awaiting_admission', 'refusal_notice',
    'registration', 'assessment', 'planning'));
INSERT INTO deadline_rules (case_type, stage, jurisdiction_code, days, unit) VALUES
    ('community_rehab', 'intake', '610100', 5, 'working_days'),
    ('community_rehab', 'district_review', '610100', 20, 'working_days'),
    ('community_rehab', 'refusal_notice', '610100', 3, 'working_days'),
    ('community_rehab', 'registration', '610100', 5, 'working_days'),
    ('community_rehab', 'assessment', '610100', 10, 'working_days'),
    ('community_rehab', 'planning', '610100', 10, 'working_days')
ON CONFLICT DO NOTHING;
