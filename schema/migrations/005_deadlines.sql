-- 005: deadlines (issue 4). The working-day calendar of mainland China,
-- time limits per process, stage and jurisdiction, the current stage's due
-- date and responsible official on the case, and the record of stage visits
-- behind the supervisors' statistics. See docs/deadlines.md.

-- Exceptions to the usual week (Monday-Friday working, weekend off): public
-- holidays and days off moved by 调休 ('holiday'), and weekend days worked
-- instead ('workday'). Rows marked 'official' come from the State Council
-- General Office's yearly notices; administrators add later years ('admin').
CREATE TABLE calendar_days (
    day        date PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name       text NOT NULL DEFAULT '' CHECK (length(name) <= 64),
    source     text NOT NULL DEFAULT 'admin' CHECK (source IN ('official', 'admin')),
    updated_by bigint REFERENCES users (id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- A working day by 调休 is always a Saturday or Sunday.
    CHECK (kind <> 'workday' OR extract(isodow FROM day) IN (6, 7))
);

-- 国办发明电〔2024〕12号 (2025) and 国办发明电〔2025〕7号 (2026).
INSERT INTO calendar_days (day, kind, name, source) VALUES
    ('2025-01-01', 'holiday', '元旦', 'official'),
    ('2025-01-26', 'workday', '春节调休上班', 'official'),
    ('2025-01-28', 'holiday', '春节', 'official'),
    ('2025-01-29', 'holiday', '春节', 'official'),
    ('2025-01-30', 'holiday', '春节', 'official'),
    ('2025-01-31', 'holiday', '春节', 'official'),
    ('2025-02-01', 'holiday', '春节', 'official'),
    ('2025-02-02', 'holiday', '春节', 'official'),
    ('2025-02-03', 'holiday', '春节', 'official'),
    ('2025-02-04', 'holiday', '春节', 'official'),
    ('2025-02-08', 'workday', '春节调休上班', 'official'),
    ('2025-04-04', 'holiday', '清明节', 'official'),
    ('2025-04-05', 'holiday', '清明节', 'official'),
    ('2025-04-06', 'holiday', '清明节', 'official'),
    ('2025-04-27', 'workday', '劳动节调休上班', 'official'),
    ('2025-05-01', 'holiday', '劳动节', 'official'),
    ('2025-05-02', 'holiday', '劳动节', 'official'),
    ('2025-05-03', 'holiday', '劳动节', 'official'),
    ('2025-05-04', 'holiday', '劳动节', 'official'),
    ('2025-05-05', 'holiday', '劳动节', 'official'),
    ('2025-05-31', 'holiday', '端午节', 'official'),
    ('2025-06-01', 'holiday', '端午节', 'official'),
    ('2025-06-02', 'holiday', '端午节', 'official'),
    ('2025-09-28', 'workday', '国庆节调休上班', 'official'),
    ('2025-10-01', 'holiday', '国庆节、中秋节', 'official'),
    ('2025-10-02', 'holiday', '国庆节、中秋节', 'official'),
    ('2025-10-03', 'holiday', '国庆节、中秋节', 'official'),
    ('2025-10-04', 'holiday', '国庆节、中秋节', 'official'),
    ('2025-10-05', 'holiday', '国庆节、中秋节', 'official'),
    ('2025-10-06', 'holiday', '国庆节、中秋节', 'official'),
    ('2025-10-07', 'holiday', '国庆节、中秋节', 'official'),
    ('2025-10-08', 'holiday', '国庆节、中秋节', 'official'),
    ('2025-10-11', 'workday', '国庆节调休上班', 'official'),
    ('2026-01-01', 'holiday', '元旦', 'official'),
    ('2026-01-02', 'holiday', '元旦', 'official'),
    ('2026-01-03', 'holiday', '元旦', 'official'),
    ('2026-01-04', 'workday', '元旦调休上班', 'official'),
    ('2026-02-14', 'workday', '春节调休上班', 'official'),
    ('2026-02-15', 'holiday', '春节', 'official'),
    ('2026-02-16', 'holiday', '春节', 'official'),
    ('2026-02-17', 'holiday', '春节', 'official'),
    ('2026-02-18', 'holiday', '春节', 'official'),
    ('2026-02-19', 'holiday', '春节', 'official'),
    ('2026-02-20', 'holiday', '春节', 'official'),
    ('2026-02-21', 'holiday', '春节', 'official'),
    ('2026-02-22', 'holiday', '春节', 'official'),
    ('2026-02-23', 'holiday', '春节', 'official'),
    ('2026-02-28', 'workday', '春节调休上班', 'official'),
    ('2026-04-04', 'holiday', '清明节', 'official'),
    ('2026-04-05', 'holiday', '清明节', 'official'),
    ('2026-04-06', 'holiday', '清明节', 'official'),
    ('2026-05-01', 'holiday', '劳动节', 'official'),
    ('2026-05-02', 'holiday', '劳动节', 'official'),
    ('2026-05-03', 'holiday', '劳动节', 'official'),
    ('2026-05-04', 'holiday', '劳动节', 'official'),
    ('2026-05-05', 'holiday', '劳动节', 'official'),
    ('2026-05-09', 'workday', '劳动节调休上班', 'official'),
    ('2026-06-19', 'holiday', '端午节', 'official'),
    ('2026-06-20', 'holiday', '端午节', 'official'),
    ('2026-06-21', 'holiday', '端午节', 'official'),
    ('2026-09-20', 'workday', '国庆节调休上班', 'official'),
    ('2026-09-25', 'holiday', '中秋节', 'official'),
    ('2026-09-26', 'holiday', '中秋节', 'official'),
    ('2026-09-27', 'holiday', '中秋节', 'official'),
    ('2026-10-01', 'holiday', '国庆节', 'official'),
    ('2026-10-02', 'holiday', '国庆节', 'official'),
    ('2026-10-03', 'holiday', '国庆节', 'official'),
    ('2026-10-04', 'holiday', '国庆节', 'official'),
    ('2026-10-05', 'holiday', '国庆节', 'official'),
    ('2026-10-06', 'holiday', '国庆节', 'official'),
    ('2026-10-07', 'holiday', '国庆节', 'official'),
    ('2026-10-10', 'workday', '国庆节调休上班', 'official');

-- Time limits. The city's row (610100) is the default; a district's row
-- overrides it for that district. The workflow reads the limit when a stage
-- starts, so a change applies to stages that start after it.
CREATE TABLE deadline_rules (
    case_type         text NOT NULL CHECK (case_type IN ('centralised_care')),
    stage             text NOT NULL CHECK (stage IN ('intake', 'investigation', 'public_notice', 'district_review',
                          'placement', 'waitlisted', 'awaiting_admission', 'refusal_notice')),
    jurisdiction_code text NOT NULL REFERENCES jurisdictions (code) CHECK (length(jurisdiction_code) = 6),
    days              int NOT NULL CHECK (days BETWEEN 1 AND 365),
    unit              text NOT NULL CHECK (unit IN ('working_days', 'calendar_days')),
    reminder_share    numeric(3, 2) NOT NULL DEFAULT 0.80 CHECK (reminder_share > 0 AND reminder_share < 1),
    updated_by        bigint REFERENCES users (id),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_type, stage, jurisdiction_code)
);

-- City defaults (docs/deadlines.md says where each comes from).
INSERT INTO deadline_rules (case_type, stage, jurisdiction_code, days, unit) VALUES
    ('centralised_care', 'intake', '610100', 5, 'working_days'),
    ('centralised_care', 'investigation', '610100', 15, 'working_days'),
    ('centralised_care', 'public_notice', '610100', 7, 'calendar_days'),
    ('centralised_care', 'district_review', '610100', 20, 'working_days'),
    ('centralised_care', 'refusal_notice', '610100', 3, 'working_days');

-- The due date of the case's current stage (NULL: no limit, the clock is
-- stopped while waiting for the applicant, or the case has ended), and the
-- official a supervisor made responsible for it (NULL: every official of
-- the role in the case's jurisdiction).
ALTER TABLE cases
    ADD COLUMN stage_due_at     timestamptz,
    ADD COLUMN assigned_user_id bigint REFERENCES users (id);

-- The overdue list: cases with a due date, most overdue first, for the city,
-- a district, or a district and stage; the counts per district x stage are
-- an index-only scan of the first. Only running, timed stages have a due
-- date, so the partial indexes stay small. Plans: docs/deadlines.md.
CREATE INDEX cases_overdue ON cases (stage_due_at, id) INCLUDE (district_code, township_code, stage)
    WHERE stage_due_at IS NOT NULL;
CREATE INDEX cases_overdue_district ON cases (district_code, stage_due_at, id) INCLUDE (township_code, stage)
    WHERE stage_due_at IS NOT NULL;
CREATE INDEX cases_overdue_stage ON cases (district_code, stage, stage_due_at, id) WHERE stage_due_at IS NOT NULL;
-- The stuck scan's candidates: open cases that have not moved for a while.
CREATE INDEX cases_open_by_update ON cases (updated_at, id)
    WHERE stage NOT IN ('completed', 'rejected', 'withdrawn', 'departed');

-- One row per stage a case has left: how long it stayed and whether it was
-- late. Written with the step that leaves the stage (same transaction).
CREATE TABLE stage_visits (
    case_id       bigint NOT NULL REFERENCES cases (id),
    case_type     text NOT NULL,
    stage         text NOT NULL,
    district_code text NOT NULL,
    township_code text NOT NULL,
    entered_at    timestamptz NOT NULL,
    left_at       timestamptz NOT NULL,
    due_at        timestamptz,
    PRIMARY KEY (case_id, left_at, stage),
    CHECK (left_at >= entered_at)
);
CREATE INDEX stage_visits_left ON stage_visits (left_at, stage);
