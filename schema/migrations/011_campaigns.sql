-- 011: the annual review (年审) and the inspection campaign (专项排查),
-- issue 18 item 5. A supervisor starts a campaign over the persons in the
-- register on a date, in a district or the whole city; each person gets one
-- task for the township official, who records the visit and its findings.
-- A finding opens items in the problem ledger (问题台账), closed one by one
-- (逐一销号) with what was done. A person found eligible but not in the
-- register gets an application on their behalf (relation community).
-- Tasks are rows, not workflows: docs/campaigns.md says why.

CREATE TABLE campaigns (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('annual_review', 'inspection')),
    -- the city (610100) or one district: the persons in the register there
    scope_code      text NOT NULL REFERENCES jurisdictions (code) CHECK (length(scope_code) = 6),
    title           text NOT NULL CHECK (btrim(title) <> '' AND length(title) <= 200),
    -- the register as it stands on this day is the campaign's population
    as_of           date NOT NULL,
    created_by      bigint NOT NULL REFERENCES users (id),
    created_by_name text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- a repeated create with the same Idempotency-Key finds this row
    idempotency_key text UNIQUE CHECK (length(idempotency_key) <= 255),
    -- set once the workflow has created every task
    tasks_created_at timestamptz,
    task_count      int CHECK (task_count >= 0),
    closed_at       timestamptz,
    closed_by_name  text,
    closing_note    text CHECK (length(closing_note) <= 2000),
    CHECK ((tasks_created_at IS NULL) = (task_count IS NULL)),
    CHECK ((closed_at IS NULL) = (closed_by_name IS NULL)),
    CHECK (closed_at IS NULL OR tasks_created_at IS NOT NULL)
);
CREATE INDEX campaigns_scope ON campaigns (scope_code, id DESC);

-- One task per campaign and person: the chunked creation inserts with ON
-- CONFLICT DO NOTHING, so a retried chunk creates nothing twice. District
-- and township are copied from the period so that the board groups one
-- table; a visit is recorded once (the trigger below).
CREATE TABLE campaign_tasks (
    id            bigserial PRIMARY KEY,
    campaign_id   bigint NOT NULL REFERENCES campaigns (id),
    person_id     bigint NOT NULL REFERENCES persons (id),
    period_id     bigint NOT NULL REFERENCES register_periods (id),
    district_code text NOT NULL,
    township_code text NOT NULL,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'visited')),
    visited_on    date,
    visitor_id    bigint REFERENCES users (id),
    visitor_name  text,
    findings      text CHECK (length(findings) <= 4000),
    outcome       text CHECK (outcome IN ('ok', 'problem')),
    recorded_at   timestamptz,
    UNIQUE (campaign_id, person_id),
    CHECK (left(township_code, 6) = district_code),
    CHECK ((state = 'visited') = (visited_on IS NOT NULL)
       AND (state = 'visited') = (visitor_id IS NOT NULL)
       AND (state = 'visited') = (outcome IS NOT NULL)
       AND (state = 'visited') = (recorded_at IS NOT NULL))
);
-- The board: GROUP BY district, township over one campaign, state read from
-- the index (an index-only scan once the table is vacuumed).
CREATE INDEX campaign_tasks_board ON campaign_tasks (campaign_id, district_code, township_code) INCLUDE (state, outcome);
-- A township official's pending tasks, keyset-paged by id.
CREATE INDEX campaign_tasks_pending ON campaign_tasks (township_code, campaign_id, id) WHERE state = 'pending';

-- The problem ledger. An item is opened by a visit's finding (or later on
-- the same task) and closed once with what was done; nothing else changes.
CREATE TABLE campaign_ledger_items (
    id             bigserial PRIMARY KEY,
    task_id        bigint NOT NULL REFERENCES campaign_tasks (id),
    campaign_id    bigint NOT NULL REFERENCES campaigns (id),
    district_code  text NOT NULL,
    township_code  text NOT NULL,
    description    text NOT NULL CHECK (btrim(description) <> '' AND length(description) <= 2000),
    opened_at      timestamptz NOT NULL DEFAULT now(),
    opened_by_name text NOT NULL,
    closed_at      timestamptz,
    closed_by_name text,
    action_taken   text CHECK (btrim(action_taken) <> '' AND length(action_taken) <= 2000),
    CHECK ((closed_at IS NULL) = (action_taken IS NULL) AND (closed_at IS NULL) = (closed_by_name IS NULL))
);
CREATE INDEX campaign_ledger_open ON campaign_ledger_items (campaign_id, district_code, township_code) WHERE closed_at IS NULL;
CREATE INDEX campaign_ledger_task ON campaign_ledger_items (task_id, id);

-- A person found during the campaign, eligible and not in the register: the
-- application started on their behalf (relation community).
CREATE TABLE campaign_found_persons (
    id            bigserial PRIMARY KEY,
    campaign_id   bigint NOT NULL REFERENCES campaigns (id),
    case_id       bigint NOT NULL UNIQUE REFERENCES cases (id),
    district_code text NOT NULL,
    township_code text NOT NULL,
    found_by      bigint NOT NULL REFERENCES users (id),
    found_by_name text NOT NULL,
    found_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_found_board ON campaign_found_persons (campaign_id, township_code);

-- A visit is recorded once; a ledger item is closed once; a campaign's task
-- count is set once and its closing once. Nothing is deleted.
CREATE FUNCTION campaign_write_once() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    settable text[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'DELETE on % is not allowed', TG_TABLE_NAME;
    END IF;
    CASE TG_TABLE_NAME
    WHEN 'campaign_tasks' THEN
        IF OLD.state <> 'pending' THEN
            RAISE EXCEPTION 'campaign task %: the visit is recorded already', OLD.id;
        END IF;
        settable := ARRAY['state', 'visited_on', 'visitor_id', 'visitor_name', 'findings', 'outcome', 'recorded_at'];
    WHEN 'campaign_ledger_items' THEN
        IF OLD.closed_at IS NOT NULL THEN
            RAISE EXCEPTION 'ledger item %: closed already', OLD.id;
        END IF;
        settable := ARRAY['closed_at', 'closed_by_name', 'action_taken'];
    WHEN 'campaigns' THEN
        IF OLD.closed_at IS NOT NULL THEN
            RAISE EXCEPTION 'campaign %: closed already', OLD.id;
        END IF;
        IF OLD.tasks_created_at IS NOT NULL AND NEW.task_count IS DISTINCT FROM OLD.task_count THEN
            RAISE EXCEPTION 'campaign %: its tasks are counted already', OLD.id;
        END IF;
        settable := ARRAY['tasks_created_at', 'task_count', 'closed_at', 'closed_by_name', 'closing_note'];
    END CASE;
    IF (to_jsonb(NEW) - settable) IS DISTINCT FROM (to_jsonb(OLD) - settable) THEN
        RAISE EXCEPTION '%: only % may be set', TG_TABLE_NAME, settable;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER campaigns_write_once BEFORE UPDATE OR DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION campaign_write_once();
CREATE TRIGGER campaign_tasks_write_once BEFORE UPDATE OR DELETE ON campaign_tasks
    FOR EACH ROW EXECUTE FUNCTION campaign_write_once();
CREATE TRIGGER campaign_ledger_write_once BEFORE UPDATE OR DELETE ON campaign_ledger_items
    FOR EACH ROW EXECUTE FUNCTION campaign_write_once();
CREATE TRIGGER campaign_found_append_only BEFORE UPDATE OR DELETE ON campaign_found_persons
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER campaigns_no_truncate BEFORE TRUNCATE ON campaigns
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER campaign_tasks_no_truncate BEFORE TRUNCATE ON campaign_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER campaign_ledger_no_truncate BEFORE TRUNCATE ON campaign_ledger_items
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER campaign_found_no_truncate BEFORE TRUNCATE ON campaign_found_persons
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- The audit trail names campaigns, tasks and ledger items as targets.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_target_type_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_target_type_check
    CHECK (target_type IN ('', 'case', 'person', 'user', 'config', 'allocation', 'session',
                           'institution', 'bed', 'campaign', 'campaign_task', 'campaign_ledger_item'));
