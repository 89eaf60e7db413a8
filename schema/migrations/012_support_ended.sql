-- 012: a person whose support ended may apply again (issue 18). A
-- completed centralised-care case blocked every later application of the
-- person for ever (cases_one_open_per_person), even once a termination
-- (regained income, a supporter found, moving away) had ended the support
-- it confirmed. The end of the person's support is now marked on those
-- cases, and the index lets a marked case go.

ALTER TABLE cases ADD COLUMN support_ended_at timestamptz;
ALTER TABLE cases ADD CONSTRAINT cases_support_ended_completed
    CHECK (support_ended_at IS NULL OR (case_type = 'centralised_care' AND stage IN ('completed', 'departed')));

DROP INDEX cases_one_open_per_person;
CREATE UNIQUE INDEX cases_one_open_per_person ON cases (person_id, case_type)
    WHERE stage NOT IN ('rejected', 'withdrawn', 'departed', 'closed', 'referred')
      AND NOT (case_type IN ('education_grant', 'support_transfer', 'support_termination') AND stage = 'completed')
      AND support_ended_at IS NULL;
