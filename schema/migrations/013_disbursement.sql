-- 013: the 低保 roll and disbursement runs (发放批次), issue 19
-- (docs/payments.md).
-- 1. The minimum-living-allowance roll (低保): households and their
--    members, imported per district from the file the district exports
--    (CSV with a UTF-8 BOM or XLSX). An import is the district's whole roll
--    on a date: members in the file start from that date, members on the
--    roll and not in the file end on it. An import with errors changes
--    nothing; the same file imported again changes nothing.
-- 2. Payees: each person's bank account, sealed at rest like the ID number.
-- 3. Disbursement runs: one Temporal workflow per run; lines are rows
--    (one per person), computed, confirmed per district, approved by the
--    city, exported to the banks in batch files (代发文件), settled from
--    the banks' return files. A person is paid at most once per programme
--    and year across runs: the partial unique index payment_lines_once.

-- Banks that take batch files. Codes name the file a run exports.
CREATE TABLE banks (
    code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9]{1,15}$'),
    name text NOT NULL CHECK (name <> '')
);
INSERT INTO banks (code, name) VALUES
    ('icbc', '中国工商银行'),
    ('abc',  '中国农业银行'),
    ('boc',  '中国银行'),
    ('ccb',  '中国建设银行'),
    ('psbc', '中国邮政储蓄银行'),
    ('xab',  '西安银行'),
    ('cab',  '长安银行');

-- A person's account for payments. Sealed with AES-256-GCM under the
-- associated data 'payee.account', so that the copy a line takes opens
-- only as a payee's account.
CREATE TABLE payee_accounts (
    person_id      bigint PRIMARY KEY REFERENCES persons (id),
    bank_code      text NOT NULL REFERENCES banks (code),
    account_enc    text NOT NULL CHECK (account_enc ~ '^[a-z0-9]{1,16}:[A-Za-z0-9+/]+=*$'),
    account_masked text NOT NULL CHECK (account_masked ~ '^[0-9]{4}\*+[0-9]{4}$'),
    -- 'roll:<import id>', 'seed' or 'official:<user id>'
    source         text NOT NULL CHECK (source <> ''),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One import of a district's roll. The file's SHA-256 is unique per
-- district: importing the same file again answers this row. A rejected
-- import keeps its error report (downloadable) and nothing else.
CREATE TABLE roll_imports (
    id            bigserial PRIMARY KEY,
    district_code text NOT NULL REFERENCES jurisdictions (code) CHECK (length(district_code) = 6),
    file_sha256   bytea NOT NULL CHECK (length(file_sha256) = 32),
    file_name     text NOT NULL CHECK (length(file_name) <= 255),
    format        text NOT NULL CHECK (format IN ('csv', 'xlsx')),
    as_of         date NOT NULL,
    state         text NOT NULL CHECK (state IN ('applied', 'rejected')),
    rows          int NOT NULL CHECK (rows >= 0),
    households    int NOT NULL CHECK (households >= 0),
    members       int NOT NULL CHECK (members >= 0),
    added         int NOT NULL DEFAULT 0 CHECK (added >= 0),
    ended         int NOT NULL DEFAULT 0 CHECK (ended >= 0),
    error_count   int NOT NULL DEFAULT 0 CHECK (error_count >= 0),
    -- the error report as CSV with a UTF-8 BOM (row, column, value, reason)
    error_report  bytea,
    imported_by   bigint NOT NULL REFERENCES users (id),
    imported_by_name text NOT NULL,
    imported_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (district_code, file_sha256),
    CHECK ((state = 'rejected') = (error_count > 0)),
    CHECK ((error_report IS NULL) = (error_count = 0))
);
CREATE INDEX roll_imports_district ON roll_imports (district_code, id DESC);

-- A household on the roll. Its number is the district's (户编号); the
-- monthly standard is the guarantee standard per member (保障标准, CNY).
CREATE TABLE dibao_households (
    id               bigserial PRIMARY KEY,
    district_code    text NOT NULL REFERENCES jurisdictions (code) CHECK (length(district_code) = 6),
    household_no     text NOT NULL CHECK (household_no ~ '^[0-9A-Za-z-]{1,32}$'),
    township_code    text NOT NULL REFERENCES jurisdictions (code),
    monthly_standard int NOT NULL CHECK (monthly_standard > 0 AND monthly_standard <= 100000),
    import_id        bigint NOT NULL REFERENCES roll_imports (id),
    UNIQUE (district_code, household_no),
    CHECK (left(township_code, 6) = district_code)
);

-- A member's time on the roll. A person belongs to at most one household
-- on any date, across districts (the exclusion constraint); the range is
-- ended once, by the import that no longer lists them.
CREATE TABLE dibao_members (
    id           bigserial PRIMARY KEY,
    household_id bigint NOT NULL REFERENCES dibao_households (id),
    person_id    bigint NOT NULL REFERENCES persons (id),
    relation     text NOT NULL CHECK (relation IN ('head', 'spouse', 'child', 'parent', 'other')),
    on_roll      daterange NOT NULL CHECK (NOT isempty(on_roll) AND lower_inc(on_roll) AND NOT upper_inc(on_roll)),
    added_by     bigint NOT NULL REFERENCES roll_imports (id),
    ended_by     bigint REFERENCES roll_imports (id),
    CHECK ((ended_by IS NULL) = upper_inf(on_roll)),
    EXCLUDE USING gist (person_id WITH =, on_roll WITH &&)
);
CREATE INDEX dibao_members_household ON dibao_members (household_id);
CREATE INDEX dibao_members_person ON dibao_members (person_id);

-- A member's period ends once; nothing else changes, nothing is deleted.
CREATE FUNCTION dibao_member_end_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'roll members are never deleted' USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.ended_by IS NOT NULL OR NEW.id <> OLD.id OR NEW.household_id <> OLD.household_id
       OR NEW.person_id <> OLD.person_id OR NEW.relation <> OLD.relation
       OR lower(NEW.on_roll) <> lower(OLD.on_roll) OR NEW.added_by <> OLD.added_by THEN
        RAISE EXCEPTION 'a roll member''s period only ends, once' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER dibao_members_end_once BEFORE UPDATE OR DELETE ON dibao_members
    FOR EACH ROW EXECUTE FUNCTION dibao_member_end_once();

-- A disbursement run. Its stage is written by its workflow's activities;
-- the progress columns are counted by the chunk statements that do the
-- work, so the console's progress bar reads rows, not the workflow.
CREATE TABLE payment_runs (
    id              bigserial PRIMARY KEY,
    programme       text NOT NULL CHECK (programme IN ('spring_festival', 'education_grant')),
    year            int NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    cut_off         date NOT NULL,
    title           text NOT NULL CHECK (btrim(title) <> '' AND length(title) <= 200),
    -- a follow-up run re-issues the failed and returned lines of this run
    follow_up_of    bigint REFERENCES payment_runs (id),
    stage           text NOT NULL DEFAULT 'defined' CHECK (stage IN ('defined', 'computing', 'review',
                        'approved', 'exporting', 'exported', 'reconciling', 'reconciled', 'cancelled')),
    paused          boolean NOT NULL DEFAULT false,
    created_by      bigint NOT NULL REFERENCES users (id),
    created_by_name text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    idempotency_key text UNIQUE CHECK (length(idempotency_key) <= 255),
    -- the work of the current stage, as the chunks count it
    progress_done   bigint NOT NULL DEFAULT 0 CHECK (progress_done >= 0),
    progress_total  bigint NOT NULL DEFAULT 0 CHECK (progress_total >= 0),
    line_count      int CHECK (line_count >= 0),
    total_amount    bigint CHECK (total_amount >= 0),
    computed_at     timestamptz,
    approved_by     bigint REFERENCES users (id),
    approved_by_name text,
    approved_at     timestamptz,
    exported_at     timestamptz,
    reconciled_at   timestamptz,
    cancelled_at    timestamptz,
    cancelled_by_name text,
    CHECK (approved_by IS NULL OR approved_by <> created_by),
    CHECK ((computed_at IS NULL) = (line_count IS NULL) AND (line_count IS NULL) = (total_amount IS NULL)),
    CHECK ((approved_at IS NULL) = (approved_by IS NULL)),
    CHECK (cancelled_at IS NULL OR exported_at IS NULL),
    CHECK (follow_up_of IS NULL OR follow_up_of <> id)
);
CREATE INDEX payment_runs_recent ON payment_runs (id DESC);

-- Each district's part of a run: its totals, and its confirmation by the
-- district (set once).
CREATE TABLE payment_run_districts (
    run_id        bigint NOT NULL REFERENCES payment_runs (id),
    district_code text NOT NULL REFERENCES jurisdictions (code) CHECK (length(district_code) = 6),
    line_count    int NOT NULL CHECK (line_count >= 0),
    total_amount  bigint NOT NULL CHECK (total_amount >= 0),
    -- persons eligible but without a bank account: no line, named in the review
    no_account    int NOT NULL DEFAULT 0 CHECK (no_account >= 0),
    confirmed_by  bigint REFERENCES users (id),
    confirmed_by_name text,
    confirmed_at  timestamptz,
    PRIMARY KEY (run_id, district_code),
    CHECK ((confirmed_at IS NULL) = (confirmed_by IS NULL))
);

-- One line per person and run. The account is the payee's, copied sealed
-- when the line is computed: what the district confirms is what is paid.
CREATE TABLE payment_lines (
    id            bigserial PRIMARY KEY,
    run_id        bigint NOT NULL REFERENCES payment_runs (id),
    programme     text NOT NULL,
    year          int NOT NULL,
    person_id     bigint NOT NULL REFERENCES persons (id),
    -- who the person is paid as: 'dibao', 'extremely_poor', 'education_grant'
    payee_group   text NOT NULL CHECK (payee_group IN ('dibao', 'extremely_poor', 'education_grant')),
    district_code text NOT NULL,
    township_code text NOT NULL,
    amount        int NOT NULL CHECK (amount > 0),
    bank_code     text NOT NULL REFERENCES banks (code),
    account_enc   text NOT NULL,
    -- an education award paid by this line
    award_id      bigint REFERENCES education_awards (id),
    -- the line this one re-issues (a follow-up run)
    reissues      bigint REFERENCES payment_lines (id),
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'exported', 'paid', 'failed',
                      'returned', 'cancelled')),
    batch_id      bigint,
    reason        text CHECK (length(reason) <= 200),
    settled_at    timestamptz,
    UNIQUE (run_id, person_id),
    CHECK ((batch_id IS NULL) = (state IN ('pending', 'cancelled'))),
    CHECK ((state IN ('paid', 'failed', 'returned')) = (settled_at IS NOT NULL)),
    CHECK (state NOT IN ('failed', 'returned') OR reason IS NOT NULL)
);
-- Paid at most once per programme and year: a person has at most one line
-- that is pending, exported or paid, whatever the run. A failed, returned
-- or cancelled line leaves the index, so a follow-up run may re-issue it.
CREATE UNIQUE INDEX payment_lines_once ON payment_lines (programme, year, person_id)
    WHERE state IN ('pending', 'exported', 'paid');
CREATE INDEX payment_lines_run_state ON payment_lines (run_id, state, id);
CREATE INDEX payment_lines_batch ON payment_lines (batch_id, id) WHERE batch_id IS NOT NULL;
CREATE UNIQUE INDEX payment_lines_reissued_once ON payment_lines (reissues) WHERE reissues IS NOT NULL
    AND state IN ('pending', 'exported', 'paid');

-- A line's state moves forward only: pending → exported | cancelled,
-- exported → paid | failed | returned; nothing is deleted.
CREATE FUNCTION payment_line_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'payment lines are never deleted' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.id <> OLD.id OR NEW.run_id <> OLD.run_id OR NEW.person_id <> OLD.person_id
       OR NEW.amount <> OLD.amount OR NEW.account_enc <> OLD.account_enc OR NEW.bank_code <> OLD.bank_code
       OR NOT ((OLD.state = NEW.state AND OLD.batch_id IS NOT DISTINCT FROM NEW.batch_id
                AND OLD.reason IS NOT DISTINCT FROM NEW.reason)
            OR (OLD.state = 'pending' AND NEW.state IN ('exported', 'cancelled'))
            OR (OLD.state = 'exported' AND NEW.state IN ('paid', 'failed', 'returned')
                AND NEW.batch_id = OLD.batch_id)) THEN
        RAISE EXCEPTION 'payment line % may not go from % to %', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payment_lines_forward BEFORE UPDATE OR DELETE ON payment_lines
    FOR EACH ROW EXECUTE FUNCTION payment_line_forward();

-- One batch file per run and bank (代发文件). Its header's control total
-- (count and sum) is fixed when the batch is created; the file's lines are
-- written in parts, one per chunk, so that an export survives a crash and
-- no part is written twice.
CREATE TABLE payment_batches (
    id           bigserial PRIMARY KEY,
    run_id       bigint NOT NULL REFERENCES payment_runs (id),
    bank_code    text NOT NULL REFERENCES banks (code),
    batch_no     text NOT NULL UNIQUE,
    line_count   int NOT NULL CHECK (line_count > 0),
    total_amount bigint NOT NULL CHECK (total_amount > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- set once every part is written; then the file may be downloaded
    completed_at timestamptz,
    sha256       bytea CHECK (length(sha256) = 32),
    returned_at  timestamptz,
    UNIQUE (run_id, bank_code),
    CHECK ((completed_at IS NULL) = (sha256 IS NULL)),
    CHECK (returned_at IS NULL OR completed_at IS NOT NULL)
);
ALTER TABLE payment_lines ADD CONSTRAINT payment_lines_batch_fk FOREIGN KEY (batch_id) REFERENCES payment_batches (id);

CREATE TABLE payment_batch_parts (
    batch_id    bigint NOT NULL REFERENCES payment_batches (id),
    part_no     int NOT NULL CHECK (part_no >= 0),
    first_line  bigint NOT NULL,
    last_line   bigint NOT NULL,
    line_count  int NOT NULL CHECK (line_count > 0),
    content     bytea NOT NULL,
    PRIMARY KEY (batch_id, part_no),
    UNIQUE (batch_id, first_line),
    CHECK (first_line <= last_line)
);

-- A bank's return file for one batch, checked whole and kept as rows
-- before it is applied: reconciliation applies them in chunks.
CREATE TABLE bank_returns (
    id           bigserial PRIMARY KEY,
    batch_id     bigint NOT NULL UNIQUE REFERENCES payment_batches (id),
    file_sha256  bytea NOT NULL CHECK (length(file_sha256) = 32),
    paid         int NOT NULL CHECK (paid >= 0),
    failed       int NOT NULL CHECK (failed >= 0),
    returned     int NOT NULL CHECK (returned >= 0),
    paid_amount  bigint NOT NULL CHECK (paid_amount >= 0),
    imported_by  bigint NOT NULL REFERENCES users (id),
    imported_by_name text NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now(),
    applied_at   timestamptz
);

CREATE TABLE bank_return_rows (
    return_id bigint NOT NULL REFERENCES bank_returns (id),
    line_id   bigint NOT NULL REFERENCES payment_lines (id),
    outcome   text NOT NULL CHECK (outcome IN ('paid', 'failed', 'returned')),
    reason    text CHECK (length(reason) <= 200),
    PRIMARY KEY (return_id, line_id),
    CHECK ((outcome = 'paid') = (reason IS NULL))
);

-- Education awards move on when their line is paid.
ALTER TABLE education_awards DROP CONSTRAINT IF EXISTS education_awards_state_check;
ALTER TABLE education_awards ADD CONSTRAINT education_awards_state_check
    CHECK (state IN ('awaiting_payment', 'paid'));
-- An award is paid only by a paid line of a run, and only once.
CREATE FUNCTION education_award_paid_by_line() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state <> OLD.state AND (OLD.state <> 'awaiting_payment' OR NEW.state <> 'paid'
       OR NOT EXISTS (SELECT 1 FROM payment_lines WHERE award_id = NEW.id AND state = 'paid')) THEN
        RAISE EXCEPTION 'education award % is paid only by a paid payment line', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER education_awards_paid_by_line BEFORE UPDATE OF state ON education_awards
    FOR EACH ROW EXECUTE FUNCTION education_award_paid_by_line();

CREATE TRIGGER roll_imports_no_truncate BEFORE TRUNCATE ON roll_imports
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER dibao_members_no_truncate BEFORE TRUNCATE ON dibao_members
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER payment_runs_no_truncate BEFORE TRUNCATE ON payment_runs
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();
CREATE TRIGGER payment_lines_no_truncate BEFORE TRUNCATE ON payment_lines
    FOR EACH STATEMENT EXECUTE FUNCTION forbid_change();

-- The audit trail names roll imports and payment runs as targets.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_target_type_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_target_type_check
    CHECK (target_type IN ('', 'case', 'person', 'user', 'config', 'allocation', 'session',
                           'institution', 'bed', 'campaign', 'campaign_task', 'campaign_ledger_item',
                           'roll_import', 'payment_run'));
