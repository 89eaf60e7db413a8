-- Bed operations (issue 18, docs/beds.md): institutions and beds
-- administered through the API, beds retired but never deleted, beds
-- given up before admission, and the wait-list served district first.

ALTER TABLE institutions ADD COLUMN address text NOT NULL DEFAULT '' CHECK (length(address) <= 200);
ALTER TABLE institutions ADD CONSTRAINT institutions_name_length CHECK (length(name) <= 100 AND name = btrim(name));

-- A retired bed keeps its row (allocations and timelines refer to it).
ALTER TABLE beds ADD COLUMN retired_at timestamptz;
ALTER TABLE beds ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE beds ADD CONSTRAINT beds_label_length CHECK (length(label) <= 40 AND label = btrim(label));

-- Beds and allocations are records: neither is ever deleted.
CREATE TRIGGER beds_keep BEFORE DELETE ON beds FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER institutions_keep BEFORE DELETE ON institutions FOR EACH ROW EXECUTE FUNCTION forbid_change();
CREATE TRIGGER bed_allocations_keep BEFORE DELETE ON bed_allocations FOR EACH ROW EXECUTE FUNCTION forbid_change();

-- A retired bed is never allocated, and a bed is retired only while nobody
-- holds it. The two checks lock the bed's row (FOR SHARE against the
-- retiring UPDATE), so an allocation and a retirement that race are
-- ordered: whichever commits second sees the first and is refused.
CREATE FUNCTION bed_allocation_bed_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM beds WHERE id = NEW.bed_id AND retired_at IS NOT NULL FOR SHARE) THEN
        RAISE EXCEPTION 'bed % is retired', NEW.bed_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER bed_allocations_bed_active BEFORE INSERT ON bed_allocations
    FOR EACH ROW EXECUTE FUNCTION bed_allocation_bed_active();

CREATE FUNCTION bed_retire_free() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.retired_at IS NOT NULL AND NEW.retired_at IS DISTINCT FROM OLD.retired_at THEN
        RAISE EXCEPTION 'bed % is retired for good', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.retired_at IS NOT NULL AND OLD.retired_at IS NULL
       AND EXISTS (SELECT 1 FROM bed_allocations WHERE bed_id = NEW.id AND released_at IS NULL) THEN
        RAISE EXCEPTION 'bed % is held by a case', NEW.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER beds_retire_free BEFORE UPDATE OF retired_at ON beds
    FOR EACH ROW EXECUTE FUNCTION bed_retire_free();

-- Why an allocation ended: the resident left (departure, after admission)
-- or the bed was given up before admission (declined, died, no_show).
ALTER TABLE bed_allocations ADD COLUMN release_cause text
    CHECK (release_cause IN ('departure', 'declined', 'died', 'no_show'));
UPDATE bed_allocations SET release_cause = 'departure' WHERE released_at IS NOT NULL;
ALTER TABLE bed_allocations ADD CONSTRAINT bed_allocations_release_cause CHECK (
    (released_at IS NULL) = (release_cause IS NULL)
    AND (release_cause IS NULL OR (release_cause = 'departure') = (admitted_at IS NOT NULL)));
-- An allocation is admitted or released once: later writes may not move
-- either (a release and an admission that race cannot both win).
CREATE FUNCTION bed_allocation_settled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.admitted_at IS NOT NULL AND NEW.admitted_at IS DISTINCT FROM OLD.admitted_at)
       OR (OLD.released_at IS NOT NULL AND (NEW.released_at IS DISTINCT FROM OLD.released_at
                                            OR NEW.admitted_at IS DISTINCT FROM OLD.admitted_at)) THEN
        RAISE EXCEPTION 'allocation % is settled', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER bed_allocations_settled BEFORE UPDATE ON bed_allocations
    FOR EACH ROW EXECUTE FUNCTION bed_allocation_settled();

-- The wait-list is served per care level, district first (docs/beds.md).
CREATE INDEX waitlist_serve ON waitlist (care_level, district_code, position);
CREATE INDEX waitlist_city ON waitlist (care_level, position);

-- Administrators' changes of institutions and beds are audited with them
-- as their targets.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_target_type_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_target_type_check CHECK (target_type IN
    ('', 'case', 'person', 'user', 'config', 'allocation', 'session', 'institution', 'bed'));
