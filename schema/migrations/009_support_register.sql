-- 009: the register of supported persons (在册特困人员, issue 18). A person
-- whose support is confirmed is entered in the register: centralised (集中,
-- in an institution, from the admission) or dispersed (分散, at home with a
-- carer under a care agreement, from the district's decision). The register
-- is periods of support: a period is opened by the case that confirmed it
-- and closed, once, by the case or step that ended it (a transfer to an
-- institution, a termination, a departure). Nothing in it is rewritten:
-- a period's own columns never change and its end is set once; every
-- change is also a row of register_changes, which is append-only. A person
-- is in the register at most once at any date (an exclusion constraint).
-- See docs/register.md.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Two processes on the pipeline act on a registered person: the transfer
-- from dispersed to centralised support (the person or a relative applies;
-- no new eligibility investigation) and the termination of support
-- (社会救助暂行办法 art. 18). Neither adds a stage of its own.
ALTER TABLE cases DROP CONSTRAINT cases_case_type_check;
ALTER TABLE cases ADD CONSTRAINT cases_case_type_check
    CHECK (case_type IN ('centralised_care', 'community_rehab', 'education_grant',
                         'support_transfer', 'support_termination'));

-- A completed transfer or termination is done with: it blocks nothing later.
DROP INDEX cases_one_open_per_person;
CREATE UNIQUE INDEX cases_one_open_per_person ON cases (person_id, case_type)
    WHERE stage NOT IN ('rejected', 'withdrawn', 'departed', 'closed', 'referred')
      AND NOT (case_type IN ('education_grant', 'support_transfer', 'support_termination') AND stage = 'completed');

-- The person's choice at the district's decision (社会救助暂行办法 art. 19).
ALTER TABLE cases ADD COLUMN support_form text CHECK (support_form IN ('centralised', 'dispersed'));

-- The monthly basic support standard (基本生活标准) per district, from an
-- effective date; the standard of a date is the row with the latest
-- effective_from on or before it. Administrators change it; the change is
-- audited by the API.
CREATE TABLE support_standards (
    district_code  text NOT NULL REFERENCES jurisdictions (code) CHECK (length(district_code) = 6),
    effective_from date NOT NULL,
    monthly_amount int NOT NULL CHECK (monthly_amount > 0 AND monthly_amount <= 100000), -- CNY
    set_by         text NOT NULL CHECK (set_by <> ''),
    set_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_code, effective_from)
);

CREATE TABLE register_periods (
    id                  bigserial PRIMARY KEY,
    person_id           bigint NOT NULL REFERENCES persons (id),
    form                text NOT NULL CHECK (form IN ('centralised', 'dispersed')),
    care_level          text NOT NULL CHECK (care_level IN ('self_care', 'semi_dependent', 'dependent')),
    district_code       text NOT NULL REFERENCES jurisdictions (code),
    township_code       text NOT NULL REFERENCES jurisdictions (code),
    -- centralised: the bed's allocation (and so institution and bed)
    allocation_id       bigint REFERENCES bed_allocations (id),
    institution_id      bigint REFERENCES institutions (id),
    -- dispersed: the carer (照料服务人) and the care agreement
    carer_name          text CHECK (btrim(carer_name) <> '' AND length(carer_name) <= 50),
    carer_relation      text CHECK (length(carer_relation) <= 30),
    carer_phone_enc     text,
    carer_phone_masked  text,
    agreement_starts_on date,
    agreement_ends_on   date,
    starts_on           date NOT NULL,
    ends_on             date, -- exclusive; NULL while the period runs
    end_reason          text CHECK (end_reason IN ('transferred', 'died', 'regained_income', 'supporter_found',
                                                   'moved_away', 'departed')),
    opened_by_case      bigint NOT NULL REFERENCES cases (id),
    closed_by_case      bigint REFERENCES cases (id),
    opened_at           timestamptz NOT NULL DEFAULT now(),
    closed_at           timestamptz,
    -- One period per case that opens one: a retried write inserts nothing.
    UNIQUE (opened_by_case),
    CHECK (left(township_code, 6) = district_code),
    CHECK ((form = 'centralised') = (institution_id IS NOT NULL)),
    CHECK (form <> 'centralised' OR allocation_id IS NOT NULL),
    CHECK ((form = 'dispersed') = (carer_name IS NOT NULL)),
    CHECK (form <> 'dispersed' OR (agreement_starts_on IS NOT NULL AND carer_phone_enc IS NOT NULL)),
    CHECK (agreement_ends_on IS NULL OR agreement_ends_on > agreement_starts_on),
    CHECK (ends_on IS NULL OR ends_on >= starts_on),
    CHECK ((ends_on IS NULL) = (end_reason IS NULL) AND (ends_on IS NULL) = (closed_at IS NULL)),
    -- In the register at most once at any date.
    EXCLUDE USING gist (person_id WITH =, daterange(starts_on, ends_on, '[)') WITH &&)
);
CREATE INDEX register_periods_scope ON register_periods (district_code, township_code) WHERE ends_on IS NULL;
CREATE INDEX register_periods_institution ON register_periods (institution_id) WHERE ends_on IS NULL;
CREATE INDEX register_periods_person ON register_periods (person_id, starts_on DESC);

-- A period is closed once and otherwise never changes.
CREATE FUNCTION register_period_close_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on register_periods is not allowed: the register is never rewritten';
    END IF;
    IF OLD.ends_on IS NOT NULL THEN
        RAISE EXCEPTION 'register period % is closed: it never changes again', OLD.id;
    END IF;
    IF (to_jsonb(NEW) - ARRAY['ends_on', 'end_reason', 'closed_by_case', 'closed_at'])
       IS DISTINCT FROM (to_jsonb(OLD) - ARRAY['ends_on', 'end_reason', 'closed_by_case', 'closed_at']) THEN
        RAISE EXCEPTION 'register period %: only its end may be set', OLD.id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER register_periods_close_only BEFORE UPDATE OR DELETE ON register_periods
    FOR EACH ROW EXECUTE FUNCTION register_period_close_only();
CREATE TRIGGER register_periods_no_truncate BEFORE TRUNCATE ON register_periods
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- What a transfer or termination case is about: the period it acts on and
-- what was declared when it was raised (the township's visit and the
-- district's decision are on the timeline).
CREATE TABLE register_cases (
    case_id      bigint PRIMARY KEY REFERENCES cases (id),
    period_id    bigint NOT NULL REFERENCES register_periods (id),
    raised_by    text NOT NULL CHECK (raised_by IN ('person', 'relative', 'committee', 'institution', 'township')),
    -- a transfer's reason, or a termination's
    reason       text NOT NULL CHECK (reason IN ('carer_unable', 'care_level_changed', 'persons_own_request',
                                                 'died', 'regained_income', 'supporter_found', 'moved_away')),
    effective_on date, -- termination: the day support ends
    CHECK ((effective_on IS NULL) = (reason IN ('carer_unable', 'care_level_changed', 'persons_own_request')))
);

-- Every change of the register, with its date and the case that caused it.
CREATE TABLE register_changes (
    id           bigserial PRIMARY KEY,
    person_id    bigint NOT NULL REFERENCES persons (id),
    period_id    bigint NOT NULL REFERENCES register_periods (id),
    kind         text NOT NULL CHECK (kind IN ('entered', 'ended')),
    effective_on date NOT NULL,
    case_id      bigint REFERENCES cases (id),
    change_key   text NOT NULL UNIQUE,
    actor        jsonb NOT NULL,
    details      jsonb,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX register_changes_person ON register_changes (person_id, id);
CREATE TRIGGER register_changes_append_only BEFORE UPDATE OR DELETE ON register_changes
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER register_changes_no_truncate BEFORE TRUNCATE ON register_changes
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- Time limits of the register's processes (docs/deadlines.md): a transfer
-- is handled like an application without an eligibility investigation; a
-- termination's notice runs 7 days like any 公示.
ALTER TABLE deadline_rules DROP CONSTRAINT deadline_rules_case_type_check;
ALTER TABLE deadline_rules ADD CONSTRAINT deadline_rules_case_type_check
    CHECK (case_type IN ('centralised_care', 'community_rehab', 'education_grant',
                         'support_transfer', 'support_termination'));
INSERT INTO deadline_rules (case_type, stage, jurisdiction_code, days, unit) VALUES
    ('support_transfer', 'intake', '610100', 5, 'working_days'),
    ('support_transfer', 'investigation', '610100', 10, 'working_days'),
    ('support_transfer', 'district_review', '610100', 10, 'working_days'),
    ('support_termination', 'intake', '610100', 5, 'working_days'),
    ('support_termination', 'district_review', '610100', 10, 'working_days'),
    ('support_termination', 'public_notice', '610100', 7, 'calendar_days')
ON CONFLICT DO NOTHING;
