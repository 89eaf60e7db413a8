-- 003: security (issue 3).
-- 1. Personal data sealed at rest: ID numbers, phone numbers, the applicant's
--    e-mail and disability details move from plain columns to AES-256-GCM
--    sealed ones ("<key id>:<base64>"), with a keyed hash (HMAC-SHA256) for
--    finding and deduplicating persons and masked copies for lists. The Go
--    step marked below seals the rows already there (it needs the keys), then
--    the plain columns are dropped, all in this migration's transaction.
-- 2. A hash-chained, append-only audit log.
-- 3. Counters for failed logins and access-code attempts (lockout, throttle).
-- 4. civicflow_grant_app_role(): the grants of the role the application runs
--    as, without UPDATE/DELETE on the append-only tables.

ALTER TABLE persons
    ADD COLUMN id_number_enc    text,
    ADD COLUMN id_number_hash   bytea,
    ADD COLUMN id_number_masked text,
    ADD COLUMN phone_enc        text,
    ADD COLUMN phone_masked     text;

ALTER TABLE cases
    ADD COLUMN applicant_phone_enc text,
    ADD COLUMN applicant_email_enc text,
    ADD COLUMN disability_enc      text,
    ADD COLUMN has_disability      boolean NOT NULL DEFAULT false;

-- civicflow:go seal_personal_data

ALTER TABLE persons DROP COLUMN id_number, DROP COLUMN phone;
ALTER TABLE persons
    ALTER COLUMN id_number_enc SET NOT NULL,
    ALTER COLUMN id_number_hash SET NOT NULL,
    ALTER COLUMN id_number_masked SET NOT NULL,
    ADD CONSTRAINT persons_id_number_hash_key UNIQUE (id_number_hash),
    ADD CONSTRAINT persons_id_number_hash_len CHECK (length(id_number_hash) = 32),
    ADD CONSTRAINT persons_id_number_sealed CHECK (id_number_enc ~ '^[a-z0-9]{1,16}:[A-Za-z0-9+/]+=*$'),
    ADD CONSTRAINT persons_phone_sealed CHECK (phone_enc IS NULL OR phone_enc ~ '^[a-z0-9]{1,16}:[A-Za-z0-9+/]+=*$'),
    ADD CONSTRAINT persons_id_number_masked CHECK (id_number_masked ~ '^[0-9]{4}\*{10}[0-9]{3}[0-9X]$'),
    ADD CONSTRAINT persons_phone_masked CHECK ((phone_enc IS NULL) = (phone_masked IS NULL)
        AND (phone_masked IS NULL OR phone_masked ~ '^1[0-9]{2}\*{4}[0-9]{4}$'));

ALTER TABLE cases DROP COLUMN applicant_phone, DROP COLUMN applicant_email,
    DROP COLUMN disability_kind, DROP COLUMN disability_grade;
ALTER TABLE cases
    ADD CONSTRAINT cases_applicant_phone_sealed CHECK (applicant_phone_enc IS NULL OR applicant_phone_enc ~ '^[a-z0-9]{1,16}:[A-Za-z0-9+/]+=*$'),
    ADD CONSTRAINT cases_applicant_email_sealed CHECK (applicant_email_enc IS NULL OR applicant_email_enc ~ '^[a-z0-9]{1,16}:[A-Za-z0-9+/]+=*$'),
    ADD CONSTRAINT cases_disability_sealed CHECK ((disability_enc IS NULL) = NOT has_disability
        AND (disability_enc IS NULL OR disability_enc ~ '^[a-z0-9]{1,16}:[A-Za-z0-9+/]+=*$'));

-- Audit trail. Each entry's hash is SHA-256 over a canonical encoding of the
-- entry and the previous entry's hash (see postgres/audit.go); entries are
-- appended one at a time under the lock of the audit_head row, which holds
-- the id and hash of the newest entry.
CREATE TABLE audit_log (
    id                 bigint PRIMARY KEY CHECK (id > 0),
    at                 timestamptz NOT NULL,
    actor_user_id      bigint,
    actor_username     text NOT NULL DEFAULT '',
    actor_role         text NOT NULL CHECK (actor_role <> ''),
    actor_jurisdiction text NOT NULL DEFAULT '',
    actor_case_id      bigint,
    action             text NOT NULL CHECK (action ~ '^[a-z_.]{1,64}$'),
    target_type        text NOT NULL DEFAULT '' CHECK (target_type IN ('', 'case', 'person', 'user', 'config', 'allocation', 'session')),
    target_id          text NOT NULL DEFAULT '',
    outcome            text NOT NULL CHECK (outcome IN ('success', 'denied', 'failed', 'error')),
    remote_addr        text NOT NULL DEFAULT '',
    user_agent         text NOT NULL DEFAULT '',
    request_id         text NOT NULL DEFAULT '',
    details            jsonb,
    prev_hash          bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash               bytea NOT NULL UNIQUE CHECK (length(hash) = 32)
);
CREATE SEQUENCE audit_log_id_seq OWNED BY audit_log.id;
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, at);
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, at) WHERE actor_user_id IS NOT NULL;

CREATE TABLE audit_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id   bigint NOT NULL DEFAULT 0,
    last_hash bytea NOT NULL DEFAULT decode(repeat('00', 32), 'hex') CHECK (length(last_hash) = 32)
);
INSERT INTO audit_head DEFAULT VALUES;

-- The log is append-only, for every role including superusers (who must
-- drop or disable the triggers first, which is itself visible in the chain).
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- The head only moves forward and is never removed.
CREATE FUNCTION audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.last_id <= OLD.last_id THEN
        RAISE EXCEPTION 'the audit chain head only moves forward';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_forward();

-- Failed logins and access-code attempts, per key ("user:wang", "ip:…",
-- "ref:TK-…"), shared by every API instance.
CREATE TABLE auth_throttle (
    key          text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 400),
    failures     int NOT NULL CHECK (failures >= 0),
    window_start timestamptz NOT NULL,
    locked_until timestamptz
);

CREATE INDEX sessions_user ON sessions (user_id);

-- Grants for the role the application connects as (not the owner of the
-- tables): everything it needs, but no UPDATE, DELETE or TRUNCATE on the
-- append-only tables. Run after every migration:
--   SELECT civicflow_grant_app_role('civicflow_app');
CREATE FUNCTION civicflow_grant_app_role(app name) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', app);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', app);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', app);
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, case_events FROM %I', app);
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM %I', app);
    EXECUTE format('REVOKE DELETE, TRUNCATE ON audit_head FROM %I', app);
END $$;
