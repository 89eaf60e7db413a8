-- 008: the education grant for low-income college freshmen (教育资助,
-- issue 15). A freshman from a family on minimum living allowance (低保),
-- at its margin (低保边缘) or an extremely poor person (特困) applies with
-- the admission notice; the township verifies the family status and the
-- enrolment; the district approves the tier the rules give (3,000, 5,000
-- or 7,000 CNY); the award is recorded for payment. The tiers are data,
-- per district with city-wide defaults, and one award per student and
-- admission year is a constraint. See docs/education.md.

-- Education-grant cases are cases of their own type; the township's
-- verification of family status and enrolment is a stage of their own.
ALTER TABLE cases DROP CONSTRAINT cases_case_type_check;
ALTER TABLE cases ADD CONSTRAINT cases_case_type_check
    CHECK (case_type IN ('centralised_care', 'community_rehab', 'education_grant'));
ALTER TABLE cases DROP CONSTRAINT cases_stage_check;
ALTER TABLE cases ADD CONSTRAINT cases_stage_check CHECK (stage IN ('submitted', 'intake', 'awaiting_supplements',
    'investigation', 'public_notice', 'district_review', 'placement', 'waitlisted', 'awaiting_admission',
    'completed', 'rejected', 'withdrawn', 'departed',
    'registration', 'assessment', 'planning', 'in_rehab', 'closed', 'referred',
    'verification'));

-- A completed education-grant case is an award made, not support that
-- runs: it no longer blocks an application for another admission year
-- (a second award for the same year is refused by education_awards).
DROP INDEX cases_one_open_per_person;
CREATE UNIQUE INDEX cases_one_open_per_person ON cases (person_id, case_type)
    WHERE stage NOT IN ('rejected', 'withdrawn', 'departed', 'closed', 'referred')
      AND NOT (case_type = 'education_grant' AND stage = 'completed');

-- The education part of a case, as the applicant declared it (the
-- township's verification is on the timeline, action record_verification).
-- The admission year is the year of the application or the one before
-- (a freshman applies in the year of admission, or early the next year).
CREATE TABLE education_applications (
    case_id        bigint PRIMARY KEY REFERENCES cases (id),
    family_status  text NOT NULL CHECK (family_status IN ('dibao', 'dibao_margin', 'extremely_poor')),
    school         text NOT NULL CHECK (btrim(school) <> '' AND length(school) <= 100),
    school_kind    text NOT NULL CHECK (school_kind IN ('undergraduate', 'vocational')),
    major          text NOT NULL DEFAULT '' CHECK (length(major) <= 100),
    admission_year int NOT NULL,
    notice_number  text NOT NULL CHECK (notice_number ~ '^[0-9A-Za-z]{1,40}$'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (admission_year BETWEEN extract(year FROM created_at AT TIME ZONE 'Asia/Shanghai')::int - 1
                              AND extract(year FROM created_at AT TIME ZONE 'Asia/Shanghai')::int),
    -- The award's foreign key names the case and its year together.
    UNIQUE (case_id, admission_year)
);

-- Which tier a family status and kind of school get: a district's row
-- overrides the city's (610100) for that district. Administrators change
-- them (api: /admin/education/tiers); an award takes the rule in force
-- when the district approves.
CREATE TABLE education_tier_rules (
    jurisdiction_code text NOT NULL REFERENCES jurisdictions (code) CHECK (length(jurisdiction_code) = 6),
    family_status     text NOT NULL CHECK (family_status IN ('dibao', 'dibao_margin', 'extremely_poor')),
    school_kind       text NOT NULL CHECK (school_kind IN ('undergraduate', 'vocational')),
    amount            int NOT NULL CHECK (amount IN (3000, 5000, 7000)),
    updated_by        bigint REFERENCES users (id),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (jurisdiction_code, family_status, school_kind)
);

-- City-wide defaults (docs/education.md says why): the most need gets the
-- highest tier whatever the school; a 低保 family's undergraduate 5,000
-- and vocational student 3,000 (高职 fees are lower); a margin family 3,000.
INSERT INTO education_tier_rules (jurisdiction_code, family_status, school_kind, amount) VALUES
    ('610100', 'extremely_poor', 'undergraduate', 7000),
    ('610100', 'extremely_poor', 'vocational', 7000),
    ('610100', 'dibao', 'undergraduate', 5000),
    ('610100', 'dibao', 'vocational', 3000),
    ('610100', 'dibao_margin', 'undergraduate', 3000),
    ('610100', 'dibao_margin', 'vocational', 3000)
ON CONFLICT DO NOTHING;

-- Approved grants, recorded for payment with the step that completes the
-- case (postgres.RecordAward). One per case, and one per student and
-- admission year whatever the case: the second is refused here.
CREATE TABLE education_awards (
    id                bigserial PRIMARY KEY,
    case_id           bigint NOT NULL UNIQUE,
    person_id         bigint NOT NULL REFERENCES persons (id),
    admission_year    int NOT NULL,
    amount            int NOT NULL CHECK (amount IN (3000, 5000, 7000)),
    -- What the township verified, and the rule that gave the amount.
    family_status     text NOT NULL CHECK (family_status IN ('dibao', 'dibao_margin', 'extremely_poor')),
    school_kind       text NOT NULL CHECK (school_kind IN ('undergraduate', 'vocational')),
    district_code     text NOT NULL REFERENCES jurisdictions (code) CHECK (length(district_code) = 6),
    rule_jurisdiction text NOT NULL REFERENCES jurisdictions (code) CHECK (length(rule_jurisdiction) = 6),
    -- Payment runs (a later process) move it on; they add their states.
    state             text NOT NULL DEFAULT 'awaiting_payment' CHECK (state IN ('awaiting_payment')),
    -- The case_events key of the step that made the award.
    event_key         text NOT NULL CHECK (event_key <> ''),
    awarded_at        timestamptz NOT NULL,
    FOREIGN KEY (case_id, admission_year) REFERENCES education_applications (case_id, admission_year),
    CONSTRAINT education_awards_one_per_student_year UNIQUE (person_id, admission_year)
);
-- An award is a financial record: only its state may change.
CREATE TRIGGER education_awards_keep BEFORE UPDATE OF id, case_id, person_id, admission_year, amount, family_status,
    school_kind, district_code, rule_jurisdiction, event_key, awarded_at OR DELETE ON education_awards
    FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- Time limits of the process: intake as elsewhere, the township's
-- verification 15 working days (as an investigation), the district's
-- decision 20 (configurable per district as before).
ALTER TABLE deadline_rules DROP CONSTRAINT deadline_rules_case_type_check;
ALTER TABLE deadline_rules ADD CONSTRAINT deadline_rules_case_type_check
    CHECK (case_type IN ('centralised_care', 'community_rehab', 'education_grant'));
ALTER TABLE deadline_rules DROP CONSTRAINT deadline_rules_stage_check;
ALTER TABLE deadline_rules ADD CONSTRAINT deadline_rules_stage_check CHECK (stage IN ('intake', 'investigation', 'public_notice',
    'district_review', 'placement', 'waitlisted', 'awaiting_admission', 'refusal_notice',
    'registration', 'assessment', 'planning', 'verification'));
INSERT INTO deadline_rules (case_type, stage, jurisdiction_code, days, unit) VALUES
    ('education_grant', 'intake', '610100', 5, 'working_days'),
    ('education_grant', 'verification', '610100', 15, 'working_days'),
    ('education_grant', 'district_review', '610100', 20, 'working_days'),
    ('education_grant', 'refusal_notice', '610100', 3, 'working_days')
ON CONFLICT DO NOTHING;
