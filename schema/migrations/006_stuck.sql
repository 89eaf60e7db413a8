-- 006: technically stuck cases (issue 4). A background scan (package
-- supervision, run by the API processes under an advisory lock) asks
-- Temporal about open cases and stores what it finds here; the supervisors'
-- stuck list reads these tables instead of asking Temporal per request.
-- See docs/deadlines.md ("Technically stuck").

-- One row per scan: when it ran, how far it got, what it found. The list
-- shows the latest finished run so supervisors see how fresh it is.
CREATE TABLE stuck_scan_runs (
    id              bigserial PRIMARY KEY,
    scanner         text NOT NULL CHECK (length(scanner) BETWEEN 1 AND 200), -- host/pid of the process that ran it
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'finished', 'failed', 'abandoned')),
    error           text NOT NULL DEFAULT '' CHECK (length(error) <= 2000),
    checked_cases   int NOT NULL DEFAULT 0 CHECK (checked_cases >= 0),
    rechecked_cases int NOT NULL DEFAULT 0 CHECK (rechecked_cases >= 0), -- of those, cases with open findings
    new_findings    int NOT NULL DEFAULT 0 CHECK (new_findings >= 0),
    resolved        int NOT NULL DEFAULT 0 CHECK (resolved >= 0),
    open_findings   int NOT NULL DEFAULT 0 CHECK (open_findings >= 0),
    counts          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(counts) = 'object'), -- open findings per kind
    task_queues     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(task_queues) = 'array'), -- pollers as the scan saw them
    -- The sweep over quiet open cases continues after this key next time
    -- (NULL: from the start).
    sweep_after_updated_at timestamptz,
    sweep_after_id         bigint,
    CHECK ((sweep_after_updated_at IS NULL) = (sweep_after_id IS NULL)),
    CHECK ((status = 'running') = (finished_at IS NULL)),
    CHECK (finished_at IS NULL OR finished_at >= started_at),
    CHECK (status <> 'failed' OR error <> '')
);
-- At most one scan runs at a time (the advisory lock guarantees it; this
-- makes it a fact of the data).
CREATE UNIQUE INDEX stuck_scan_runs_one_running ON stuck_scan_runs ((true)) WHERE status = 'running';
-- The latest finished run.
CREATE INDEX stuck_scan_runs_finished ON stuck_scan_runs (finished_at DESC) WHERE status = 'finished';

-- One row per stuck condition of one case (or, for no_worker, of the task
-- queue itself: case_id NULL). It stays open (resolved_at NULL) while scans
-- keep finding it; the first scan that checks the case and no longer finds
-- it marks it resolved. Case, stage and place are copied from the case at
-- the last sighting, so the list needs no join and filters on its own
-- indexes.
CREATE TABLE stuck_findings (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('no_worker', 'activity_retrying', 'workflow_task_failing',
                      'workflow_missing', 'workflow_ended', 'read_model_disagrees')),
    -- What within the case: the activity ID for activity_retrying, the task
    -- kind ('workflow' or 'activity') for a queue's no_worker, else ''.
    subject       text NOT NULL DEFAULT '' CHECK (length(subject) <= 200),
    case_id       bigint REFERENCES cases (id) ON DELETE CASCADE,
    reference     text NOT NULL DEFAULT '',
    case_type     text NOT NULL DEFAULT '',
    stage         text NOT NULL DEFAULT '',
    district_code text NOT NULL DEFAULT '',
    township_code text NOT NULL DEFAULT '',
    workflow_id   text NOT NULL DEFAULT '',
    task_queue    text NOT NULL DEFAULT '',
    cause         text NOT NULL CHECK (length(cause) BETWEEN 1 AND 2000), -- in plain words
    activity      text NOT NULL DEFAULT '' CHECK (length(activity) <= 200),
    attempt       int NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    last_error    text NOT NULL DEFAULT '' CHECK (length(last_error) <= 2000),
    since         timestamptz, -- when the condition began, as far as Temporal tells
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at   timestamptz,
    CHECK (last_seen_at >= first_seen_at),
    CHECK (resolved_at IS NULL OR resolved_at >= last_seen_at),
    -- Only a task queue without workers is a finding without a case; a
    -- case's finding names where the case is.
    CHECK (case_id IS NOT NULL OR (kind = 'no_worker' AND task_queue <> '' AND subject IN ('workflow', 'activity'))),
    CHECK (case_id IS NULL OR (reference <> '' AND district_code <> '' AND workflow_id <> '')),
    CHECK (kind <> 'activity_retrying' OR (subject <> '' AND activity <> '' AND attempt >= 2)),
    CHECK (kind <> 'workflow_task_failing' OR attempt >= 2)
);
-- One open finding per case, kind and subject: the scan upserts on it.
CREATE UNIQUE INDEX stuck_findings_open_key ON stuck_findings ((coalesce(case_id, 0)), kind, subject)
    WHERE resolved_at IS NULL;
-- The list: open findings of cases, longest known first, for the city and
-- for a district (keyset on first_seen_at, id). Both stay as small as the
-- number of open findings; resolved rows are history.
CREATE INDEX stuck_findings_open ON stuck_findings (first_seen_at, id)
    WHERE resolved_at IS NULL AND case_id IS NOT NULL;
CREATE INDEX stuck_findings_open_district ON stuck_findings (district_code, first_seen_at, id)
    WHERE resolved_at IS NULL AND case_id IS NOT NULL;
-- The scan re-checks the cases with open findings, least recently seen first.
CREATE INDEX stuck_findings_recheck ON stuck_findings (last_seen_at, case_id)
    WHERE resolved_at IS NULL AND case_id IS NOT NULL;
-- Recently resolved findings (the list with resolved=true) and the purge of old ones.
CREATE INDEX stuck_findings_resolved ON stuck_findings (resolved_at, id) WHERE resolved_at IS NOT NULL;
