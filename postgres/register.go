package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"civicflow"
)

// The register of supported persons (migration 009, docs/register.md):
// periods of support opened by the case that confirmed them and closed
// once, each change also a row of register_changes.

const aadCarerPhone = "register_periods.carer_phone"

// chinaDate is the China calendar day of t, as a date column wants it.
func chinaDate(t time.Time) time.Time {
	d := t.In(civicflow.ChinaZone())
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
}

// stepRecorded locks the case row and reports whether the step with key
// was recorded already (by an earlier attempt of the same write): two
// attempts of one step then run one after the other and the second
// finds the first's key.
func stepRecorded(ctx context.Context, tx pgx.Tx, caseID int64, key string) (bool, error) {
	var done bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM case_events WHERE case_id = c.id AND event_key = $2)
		FROM cases c WHERE c.id = $1 FOR UPDATE OF c`, caseID, key).Scan(&done)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, civicflow.Errorf(civicflow.ENOTFOUND, "case %d: not found", caseID)
	}
	return done, err
}

// stepDone reports whether the step with key is on the case's timeline:
// an earlier attempt of the same write recorded it. (stepRecorded also
// locks the case first, for writes that must run one after the other.)
func stepDone(ctx context.Context, q pgx.Tx, caseID int64, key string) (bool, error) {
	var done bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM case_events WHERE case_id = $1 AND event_key = $2)`,
		caseID, key).Scan(&done)
	return done, mapError("look up step "+key, err)
}

// EnterDispersed records the district's approval in dispersed support:
// the step that completes the case, the period of support it opens (from
// w.StartsOn, with the carer and the care agreement) and the change, in
// one transaction. A retry of the same step writes nothing.
func (db *DB) EnterDispersed(ctx context.Context, w civicflow.DispersedWrite) error {
	t := w.Transition
	bad := w.Carer.Check("carer.")
	if !w.CareLevel.Valid() {
		bad = append(bad, civicflow.FieldError{Field: "care_level", Reason: "must be self_care, semi_dependent or dependent"})
	}
	if t.Key == "" {
		bad = append(bad, civicflow.FieldError{Field: "key", Reason: "the step needs a key"})
	}
	if len(bad) > 0 {
		return civicflow.Invalid(bad...)
	}
	phoneEnc, err := db.keys.seal(aadCarerPhone, w.Carer.Phone)
	if err != nil {
		return mapError("seal carer phone", err)
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		done, err := stepRecorded(ctx, tx, t.CaseID, t.Key)
		if err != nil || done {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM persons p JOIN cases c ON c.person_id = p.id WHERE c.id = $1
			FOR UPDATE OF p`, t.CaseID); err != nil {
			return err
		}
		var ends *string
		if w.Carer.EndsOn != "" {
			ends = &w.Carer.EndsOn
		}
		var periodID, personID int64
		err = tx.QueryRow(ctx, `INSERT INTO register_periods (person_id, form, care_level, district_code, township_code,
				carer_name, carer_relation, carer_phone_enc, carer_phone_masked, agreement_starts_on, agreement_ends_on,
				starts_on, opened_by_case)
			SELECT c.person_id, 'dispersed', $2, c.district_code, c.township_code, $3, $4, $5, $6, $7::date, $8::date, $9, c.id
			FROM cases c WHERE c.id = $1
			RETURNING id, person_id`,
			t.CaseID, string(w.CareLevel), w.Carer.Name, w.Carer.Relation, phoneEnc, civicflow.MaskPhone(w.Carer.Phone),
			w.Carer.StartsOn, ends, chinaDate(w.StartsOn)).Scan(&periodID, &personID)
		if err != nil {
			return mapError("enter the register", err)
		}
		if err := insertRegisterChange(ctx, tx, personID, periodID, civicflow.RegisterEntered, w.StartsOn, t.CaseID,
			fmt.Sprintf("case-%d-entered", t.CaseID), t.Actor, map[string]any{"form": civicflow.SupportDispersed, "care_level": w.CareLevel}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE cases SET support_form = 'dispersed' WHERE id = $1`, t.CaseID); err != nil {
			return err
		}
		return recordTransition(ctx, tx, t)
	})
	return mapError("record dispersed support", err)
}

// enterCentralised opens the centralised period of the admitted case from
// startsOn (its support start; an admission after a transfer: the
// admission day) and, for a transfer, ends the person's dispersed period
// that day. Called in ConfirmAdmission's transaction; a case opens at most
// one period, so a repeat opens nothing.
func enterCentralised(ctx context.Context, tx pgx.Tx, allocationID int64, t civicflow.Transition) error {
	var (
		personID  int64
		caseType  civicflow.CaseType
		careLevel string
	)
	if err := tx.QueryRow(ctx, `SELECT c.person_id, c.case_type, b.care_level FROM cases c
		JOIN bed_allocations a ON a.case_id = c.id JOIN beds b ON b.id = a.bed_id
		WHERE c.id = $1 AND a.id = $2`, t.CaseID, allocationID).Scan(&personID, &caseType, &careLevel); err != nil {
		return mapError("read admitted case", err)
	}
	if err := lockPerson(ctx, tx, personID); err != nil {
		return err
	}
	startsOn := civicflow.SupportStart(t.At)
	if t.SupportStart != nil {
		startsOn = *t.SupportStart
	}
	if caseType == civicflow.CaseTypeSupportTransfer {
		// The dispersed agreement ends on the day of admission; support
		// goes on in the institution from that day.
		startsOn = t.At
		if err := closeRunningPeriod(ctx, tx, personID, t.At, civicflow.EndTransferred, t.CaseID,
			fmt.Sprintf("case-%d-transferred", t.CaseID), t.Actor, civicflow.SupportDispersed); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE cases SET support_form = 'centralised' WHERE id = $1`, t.CaseID); err != nil {
		return mapError("record the form of support", err)
	}
	var periodID int64
	err := tx.QueryRow(ctx, `INSERT INTO register_periods (person_id, form, care_level, district_code, township_code,
			allocation_id, institution_id, starts_on, opened_by_case)
		SELECT c.person_id, 'centralised', $3, c.district_code, c.township_code, a.id, b.institution_id, $4, c.id
		FROM cases c JOIN bed_allocations a ON a.id = $2 JOIN beds b ON b.id = a.bed_id WHERE c.id = $1
		ON CONFLICT (opened_by_case) DO NOTHING RETURNING id`,
		t.CaseID, allocationID, careLevel, chinaDate(startsOn)).Scan(&periodID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // opened by an earlier attempt
	}
	if err != nil {
		return mapError("enter the register", err)
	}
	return insertRegisterChange(ctx, tx, personID, periodID, civicflow.RegisterEntered, startsOn, t.CaseID,
		fmt.Sprintf("case-%d-entered", t.CaseID), t.Actor, map[string]any{"form": civicflow.SupportCentralised,
			"care_level": careLevel, "allocation_id": allocationID})
}

// closeRunningPeriod ends the person's running period on the China day of
// at. form, when set, is the form the period must have (a transfer ends a
// dispersed period); a person with no running period (of that form) is a
// conflict.
func closeRunningPeriod(ctx context.Context, tx pgx.Tx, personID int64, at time.Time, reason civicflow.RegisterEndReason,
	caseID int64, key string, actor civicflow.Actor, form civicflow.SupportForm) error {
	if err := lockPerson(ctx, tx, personID); err != nil {
		return err
	}
	var periodID int64
	var caseArg *int64
	if caseID != 0 {
		caseArg = &caseID
	}
	// An end before the start (a death before the first month of
	// support) leaves an empty period: the person was never paid.
	err := tx.QueryRow(ctx, `UPDATE register_periods SET ends_on = greatest($2::date, starts_on), end_reason = $3,
			closed_by_case = $4, closed_at = now()
		WHERE person_id = $1 AND ends_on IS NULL AND ($5 = '' OR form = $5) RETURNING id`,
		personID, chinaDate(at), string(reason), caseArg, string(form)).Scan(&periodID)
	if errors.Is(err, pgx.ErrNoRows) {
		return civicflow.Errorf(civicflow.ECONFLICT, "the person has no running period of support to end")
	}
	if err != nil {
		return mapError("end the period of support", err)
	}
	if reason != civicflow.EndTransferred {
		// Support ended (not moved to an institution): the cases that
		// confirmed it no longer keep the person from applying again.
		if _, err := tx.Exec(ctx, `UPDATE cases SET support_ended_at = $2 WHERE person_id = $1
			AND case_type = 'centralised_care' AND stage = 'completed' AND support_ended_at IS NULL`, personID, at); err != nil {
			return mapError("mark the support ended", err)
		}
	}
	return insertRegisterChange(ctx, tx, personID, periodID, civicflow.RegisterEnded, at, caseID, key, actor,
		map[string]any{"reason": reason})
}

// closeAllocationPeriod ends the running centralised period held on an
// allocation (a departure), if there is one: a resident admitted before
// the register existed has none.
func closeAllocationPeriod(ctx context.Context, tx pgx.Tx, allocationID int64, at time.Time, caseID int64,
	key string, actor civicflow.Actor) error {
	var personID int64
	err := tx.QueryRow(ctx, `SELECT person_id FROM register_periods WHERE allocation_id = $1 AND ends_on IS NULL`,
		allocationID).Scan(&personID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return mapError("find the period of the allocation", err)
	}
	return closeRunningPeriod(ctx, tx, personID, at, civicflow.EndDeparted, caseID, key, actor, civicflow.SupportCentralised)
}

// lockPerson serialises every change of one person's register entries, so
// that a transfer and a termination arriving together run one after the
// other and the second sees the first's result (a period ended, or a new
// one opened).
func lockPerson(ctx context.Context, tx pgx.Tx, personID int64) error {
	_, err := tx.Exec(ctx, `SELECT 1 FROM persons WHERE id = $1 FOR UPDATE`, personID)
	return mapError("lock person", err)
}

// EndSupport records a confirmed termination: the step that completes the
// termination case, the end of the person's running period on
// w.EffectiveOn and, for a resident of an institution, the bed freed and
// given to the first case waiting for its care level, in one transaction.
// The departure names that case (NextCaseID) so the caller can wake it.
// A retry of the step writes nothing and answers an empty departure.
func (db *DB) EndSupport(ctx context.Context, w civicflow.TerminationWrite) (*civicflow.Departure, error) {
	t := w.Transition
	if !w.Reason.ValidTermination() {
		return nil, civicflow.Invalid(civicflow.FieldError{Field: "reason", Reason: "must be died, regained_income, supporter_found or moved_away"})
	}
	var d civicflow.Departure
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		done, err := stepRecorded(ctx, tx, t.CaseID, t.Key)
		if err != nil || done {
			return err
		}
		var personID int64
		if err := tx.QueryRow(ctx, `SELECT person_id FROM cases WHERE id = $1`, t.CaseID).Scan(&personID); err != nil {
			return err
		}
		if err := lockPerson(ctx, tx, personID); err != nil {
			return err
		}
		var allocationID *int64
		err = tx.QueryRow(ctx, `SELECT allocation_id FROM register_periods WHERE person_id = $1 AND ends_on IS NULL`,
			personID).Scan(&allocationID)
		if errors.Is(err, pgx.ErrNoRows) {
			return civicflow.Errorf(civicflow.ECONFLICT, "the person has no running period of support to end")
		}
		if err != nil {
			return err
		}
		if err := closeRunningPeriod(ctx, tx, personID, w.EffectiveOn, w.Reason, t.CaseID,
			fmt.Sprintf("case-%d-ended", t.CaseID), t.Actor, ""); err != nil {
			return err
		}
		if allocationID != nil {
			_, next, err := freeBed(ctx, tx, *allocationID, t.At, string(w.Reason))
			if err != nil {
				return err
			}
			d = next
		}
		return recordTransition(ctx, tx, t)
	})
	if err != nil {
		return nil, mapError("end support", err)
	}
	return &d, nil
}

func insertRegisterChange(ctx context.Context, tx pgx.Tx, personID, periodID int64, kind string, effective time.Time,
	caseID int64, key string, actor civicflow.Actor, details map[string]any) error {
	a, err := json.Marshal(actor)
	if err != nil {
		return err
	}
	d, err := json.Marshal(details)
	if err != nil {
		return err
	}
	var caseArg *int64
	if caseID != 0 {
		caseArg = &caseID
	}
	_, err = tx.Exec(ctx, `INSERT INTO register_changes (person_id, period_id, kind, effective_on, case_id, change_key, actor, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (change_key) DO NOTHING`,
		personID, periodID, kind, chinaDate(effective), caseArg, key, a, d)
	return mapError("record register change", err)
}

const registerColumns = `r.id, r.person_id, p.name, p.id_number_masked, extract(year FROM p.birth_date)::int,
	r.form, r.care_level, r.district_code, r.township_code, coalesce(r.institution_id, 0), coalesce(i.name, ''),
	coalesce(b.label, ''), coalesce(r.allocation_id, 0), r.carer_name, coalesce(r.carer_relation, ''),
	coalesce(r.carer_phone_masked, ''), coalesce(to_char(r.agreement_starts_on, 'YYYY-MM-DD'), ''),
	coalesce(to_char(r.agreement_ends_on, 'YYYY-MM-DD'), ''), r.starts_on, r.ends_on, coalesce(r.end_reason, ''),
	coalesce((SELECT s.monthly_amount FROM support_standards s WHERE s.district_code = r.district_code
		AND s.effective_from <= (now() AT TIME ZONE 'Asia/Shanghai')::date ORDER BY s.effective_from DESC LIMIT 1), 0),
	oc.reference, coalesce(cc.reference, '')`

const registerFrom = ` FROM register_periods r JOIN persons p ON p.id = r.person_id
	JOIN cases oc ON oc.id = r.opened_by_case LEFT JOIN cases cc ON cc.id = r.closed_by_case
	LEFT JOIN institutions i ON i.id = r.institution_id
	LEFT JOIN bed_allocations a ON a.id = r.allocation_id LEFT JOIN beds b ON b.id = a.bed_id`

func scanRegisterEntry(row pgx.Row) (*civicflow.RegisterEntry, error) {
	var e civicflow.RegisterEntry
	var carerName *string
	var carer civicflow.CarerAgreement
	err := row.Scan(&e.ID, &e.PersonID, &e.PersonName, &e.IDNumberMasked, &e.BirthYear, &e.Form, &e.CareLevel,
		&e.DistrictCode, &e.TownshipCode, &e.InstitutionID, &e.Institution, &e.BedLabel, &e.AllocationID,
		&carerName, &carer.Relation, &carer.Phone, &carer.StartsOn, &carer.EndsOn, &e.StartsOn, &e.EndsOn,
		&e.EndReason, &e.MonthlyStandard, &e.OpenedByCase, &e.ClosedByCase)
	if err != nil {
		return nil, err
	}
	e.PersonName = civicflow.MaskName(e.PersonName)
	if carerName != nil {
		carer.Name = civicflow.MaskName(*carerName)
		e.Carer = &carer
	}
	return &e, nil
}

// RegisterQuery selects register entries; the API narrows it to the
// caller's jurisdiction (DistrictCode, TownshipCode, InstitutionID).
type RegisterQuery struct {
	civicflow.RegisterFilter
	InstitutionID int64
}

// Register lists periods of support matching q, newest first, paged by
// keyset (q.AfterID). Names are masked. The filters are optional, so the
// query is built from the ones given.
func (db *DB) Register(ctx context.Context, q RegisterQuery) ([]*civicflow.RegisterEntry, error) {
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	var hash []byte
	if q.IDNumber != "" {
		h, err := db.keys.lookupHash("id_number", q.IDNumber)
		if err != nil {
			return nil, mapError("hash id number", err)
		}
		hash = h
	}
	rows, err := db.pool.Query(ctx, `SELECT `+registerColumns+registerFrom+`
		WHERE ($1 = '' OR r.district_code = $1) AND ($2 = '' OR r.township_code = $2)
		  AND ($3 = 0 OR r.institution_id = $3) AND ($4 = '' OR r.form = $4) AND ($5 = '' OR r.care_level = $5)
		  AND ($6 = '' OR p.name LIKE '%' || $6 || '%') AND ($7::bytea IS NULL OR p.id_number_hash = $7)
		  AND ($8 OR r.ends_on IS NULL) AND ($9 = 0 OR r.id < $9)
		ORDER BY r.id DESC LIMIT $10`,
		q.DistrictCode, q.TownshipCode, q.InstitutionID, string(q.Form), string(q.CareLevel), q.Name, hash,
		q.IncludeEnded, q.AfterID, q.Limit)
	if err != nil {
		return nil, mapError("list the register", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*civicflow.RegisterEntry, error) { return scanRegisterEntry(r) })
	return out, mapError("list the register", err)
}

// RegisterEntry returns one period of support.
func (db *DB) RegisterEntry(ctx context.Context, id int64) (*civicflow.RegisterEntry, error) {
	e, err := scanRegisterEntry(db.pool.QueryRow(ctx, `SELECT `+registerColumns+registerFrom+` WHERE r.id = $1`, id))
	if err != nil {
		return nil, mapError(fmt.Sprintf("register entry %d", id), err)
	}
	return e, nil
}

// RunningPeriod returns the person's running period of support, if any
// (ENOTFOUND otherwise).
func (db *DB) RunningPeriod(ctx context.Context, personID int64) (*civicflow.RegisterEntry, error) {
	e, err := scanRegisterEntry(db.pool.QueryRow(ctx, `SELECT `+registerColumns+registerFrom+`
		WHERE r.person_id = $1 AND r.ends_on IS NULL`, personID))
	if err != nil {
		return nil, mapError(fmt.Sprintf("running period of person %d", personID), err)
	}
	return e, nil
}

// RegisterChanges returns every change of the person's register entries,
// oldest first.
func (db *DB) RegisterChanges(ctx context.Context, personID int64) ([]civicflow.RegisterChange, error) {
	rows, err := db.pool.Query(ctx, `SELECT g.id, g.period_id, g.kind, g.effective_on, coalesce(c.reference, ''),
			g.actor, g.details, g.at
		FROM register_changes g LEFT JOIN cases c ON c.id = g.case_id WHERE g.person_id = $1 ORDER BY g.id`, personID)
	if err != nil {
		return nil, mapError("list register changes", err)
	}
	defer rows.Close()
	out := []civicflow.RegisterChange{}
	for rows.Next() {
		var ch civicflow.RegisterChange
		var actor, details []byte
		if err := rows.Scan(&ch.ID, &ch.PeriodID, &ch.Kind, &ch.EffectiveOn, &ch.Case, &actor, &details, &ch.At); err != nil {
			return nil, mapError("list register changes", err)
		}
		if err := json.Unmarshal(actor, &ch.Actor); err != nil {
			return nil, fmt.Errorf("register change %d actor: %w", ch.ID, err)
		}
		if len(details) > 0 {
			if err := json.Unmarshal(details, &ch.Details); err != nil {
				return nil, fmt.Errorf("register change %d details: %w", ch.ID, err)
			}
		}
		out = append(out, ch)
	}
	return out, mapError("list register changes", rows.Err())
}

// RegisterCounts counts the persons in the register today per district,
// form and care level, within district ("" or the city: every district).
func (db *DB) RegisterCounts(ctx context.Context, district string) ([]civicflow.RegisterCount, error) {
	if district == civicflow.CityCode {
		district = ""
	}
	rows, err := db.pool.Query(ctx, `SELECT r.district_code, coalesce(j.name, r.district_code), r.form, r.care_level, count(*)
		FROM register_periods r LEFT JOIN jurisdictions j ON j.code = r.district_code
		WHERE r.ends_on IS NULL AND ($1 = '' OR r.district_code = $1)
		GROUP BY 1, 2, 3, 4 ORDER BY 1, 3, 4`, district)
	if err != nil {
		return nil, mapError("count the register", err)
	}
	defer rows.Close()
	out := []civicflow.RegisterCount{}
	for rows.Next() {
		var c civicflow.RegisterCount
		if err := rows.Scan(&c.DistrictCode, &c.District, &c.Form, &c.CareLevel, &c.Persons); err != nil {
			return nil, mapError("count the register", err)
		}
		out = append(out, c)
	}
	return out, mapError("count the register", rows.Err())
}

// SupportStandards lists the standards of every district (or one),
// newest first per district.
func (db *DB) SupportStandards(ctx context.Context, district string) ([]civicflow.SupportStandard, error) {
	rows, err := db.pool.Query(ctx, `SELECT s.district_code, coalesce(j.name, ''), s.effective_from, s.monthly_amount, s.set_by, s.set_at
		FROM support_standards s LEFT JOIN jurisdictions j ON j.code = s.district_code
		WHERE ($1 = '' OR s.district_code = $1) ORDER BY s.district_code, s.effective_from DESC`, district)
	if err != nil {
		return nil, mapError("list support standards", err)
	}
	defer rows.Close()
	out := []civicflow.SupportStandard{}
	for rows.Next() {
		var s civicflow.SupportStandard
		if err := rows.Scan(&s.DistrictCode, &s.District, &s.EffectiveFrom, &s.MonthlyAmount, &s.SetBy, &s.SetAt); err != nil {
			return nil, mapError("list support standards", err)
		}
		out = append(out, s)
	}
	return out, mapError("list support standards", rows.Err())
}

// PutSupportStandard sets a district's monthly standard from a date
// (creating or replacing the standard of that date).
func (db *DB) PutSupportStandard(ctx context.Context, s civicflow.SupportStandard) (civicflow.SupportStandard, error) {
	var level string
	err := db.pool.QueryRow(ctx, `SELECT level FROM jurisdictions WHERE code = $1`, s.DistrictCode).Scan(&level)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && level != "district") {
		return s, civicflow.Invalid(civicflow.FieldError{Field: "district", Reason: "is not a district of Xi'an"})
	}
	if err != nil {
		return s, mapError("look up district", err)
	}
	err = db.pool.QueryRow(ctx, `INSERT INTO support_standards (district_code, effective_from, monthly_amount, set_by)
		VALUES ($1, $2, $3, $4) ON CONFLICT (district_code, effective_from)
		DO UPDATE SET monthly_amount = EXCLUDED.monthly_amount, set_by = EXCLUDED.set_by, set_at = now()
		RETURNING set_at`, s.DistrictCode, s.EffectiveFrom, s.MonthlyAmount, s.SetBy).Scan(&s.SetAt)
	return s, mapError("set support standard", err)
}

// DeleteSupportStandard removes the standard of a district from a date.
func (db *DB) DeleteSupportStandard(ctx context.Context, district string, from time.Time) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM support_standards WHERE district_code = $1 AND effective_from = $2`, district, from)
	if err != nil {
		return mapError("delete support standard", err)
	}
	if tag.RowsAffected() == 0 {
		return civicflow.Errorf(civicflow.ENOTFOUND, "no standard of %s from %s", district, from.Format(time.DateOnly))
	}
	return nil
}

// OpenRegisterCase records a transfer or termination of a running period
// of support as a new case in stage submitted, for the period's person,
// in the period's township. The person must still be in that period (a
// transfer: in dispersed support); a second open case of the same type
// for the person is a conflict (cases_one_open_per_person).
func (db *DB) OpenRegisterCase(ctx context.Context, rc civicflow.RegisterCase) (*Created, error) {
	var bad []civicflow.FieldError
	switch rc.Type {
	case civicflow.CaseTypeSupportTransfer:
		if !civicflow.TransferReason(rc.Reason).Valid() {
			bad = append(bad, civicflow.FieldError{Field: "reason", Reason: "must be carer_unable, care_level_changed or persons_own_request"})
		}
	case civicflow.CaseTypeSupportTermination:
		if !civicflow.RegisterEndReason(rc.Reason).ValidTermination() {
			bad = append(bad, civicflow.FieldError{Field: "reason", Reason: "must be died, regained_income, supporter_found or moved_away"})
		}
		if rc.EffectiveOn == nil {
			bad = append(bad, civicflow.FieldError{Field: "effective_on", Reason: "is required"})
		}
	default:
		return nil, civicflow.Errorf(civicflow.EINVALID, "%s is not a process on the register", rc.Type)
	}
	if len(bad) > 0 {
		return nil, civicflow.Invalid(bad...)
	}
	sc, err := db.sealCaseContact(rc.ApplicantPhone, rc.ApplicantEmail, nil)
	if err != nil {
		return nil, err
	}
	var out *Created
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var (
			personID           int64
			form               civicflow.SupportForm
			district, township string
			careLevel, address string
			ended              bool
		)
		err := tx.QueryRow(ctx, `SELECT r.person_id, r.form, r.district_code, r.township_code, r.care_level,
				coalesce(oc.address, ''), r.ends_on IS NOT NULL
			FROM register_periods r JOIN cases oc ON oc.id = r.opened_by_case WHERE r.id = $1`, rc.PeriodID).
			Scan(&personID, &form, &district, &township, &careLevel, &address, &ended)
		if errors.Is(err, pgx.ErrNoRows) {
			return civicflow.Errorf(civicflow.ENOTFOUND, "register entry %d: not found", rc.PeriodID)
		}
		if err != nil {
			return err
		}
		if err := lockPerson(ctx, tx, personID); err != nil {
			return err
		}
		if ended {
			return civicflow.Errorf(civicflow.ECONFLICT, "register entry %d has ended", rc.PeriodID)
		}
		if rc.Type == civicflow.CaseTypeSupportTransfer && form != civicflow.SupportDispersed {
			return civicflow.Errorf(civicflow.ECONFLICT, "the person is in centralised support already")
		}
		var openRef string
		err = tx.QueryRow(ctx, `SELECT reference FROM cases WHERE person_id = $1 AND case_type = $2
			AND stage NOT IN ('rejected', 'withdrawn', 'departed', 'closed', 'referred', 'completed')`, personID, rc.Type).Scan(&openRef)
		if err == nil {
			return &civicflow.Error{Code: civicflow.ECONFLICT, Reference: openRef,
				Message: "an open " + string(rc.Type) + " case for this person already exists"}
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var caseID int64
		if err := tx.QueryRow(ctx, `SELECT nextval('cases_id_seq')`).Scan(&caseID); err != nil {
			return err
		}
		prefix := "ZJ" // 转集中
		relation := civicflow.RelationSelf
		switch {
		case rc.Type == civicflow.CaseTypeSupportTermination:
			prefix, relation = "ZZ", civicflow.RelationCommunity // 终止
		case rc.RaisedBy == civicflow.RaisedByRelative:
			relation = civicflow.RelationRelative
		}
		ref := fmt.Sprintf("%s-%s-%06d", prefix, district, caseID)
		code := newAccessCode()
		if _, err := tx.Exec(ctx, `INSERT INTO cases (id, reference, case_type, stage, workflow_id, person_id,
				district_code, township_code, address, relation, applicant_name, applicant_phone_enc,
				applicant_email_enc, reported_self_care, care_level, statement, access_code_hash)
			VALUES ($1, $2, $3, 'submitted', $4, $5, $6, $7, $8, $9, $10, nullif($11, ''), nullif($12, ''), $13, $13, $14, $15)`,
			caseID, ref, rc.Type, civicflow.CaseWorkflowID(caseID), personID, district, township, address, relation,
			rc.ApplicantName, sc.phoneEnc, sc.emailEnc, careLevel, rc.Statement, accessCodeHash(ref, code)); err != nil {
			return mapError("record case", err)
		}
		var effective *time.Time
		if rc.EffectiveOn != nil {
			d := chinaDate(*rc.EffectiveOn)
			effective = &d
		}
		if _, err := tx.Exec(ctx, `INSERT INTO register_cases (case_id, period_id, raised_by, reason, effective_on)
			VALUES ($1, $2, $3, $4, $5)`, caseID, rc.PeriodID, rc.RaisedBy, rc.Reason, effective); err != nil {
			return mapError("record register case", err)
		}
		out = &Created{CaseID: caseID, Reference: ref, AccessCode: code, WorkflowID: civicflow.CaseWorkflowID(caseID)}
		return nil
	})
	if err != nil {
		return nil, mapError("open "+string(rc.Type)+" case", err)
	}
	return out, nil
}

// RegisterCaseDetails returns what a transfer or termination case is
// about.
func (db *DB) RegisterCaseDetails(ctx context.Context, caseID int64) (*civicflow.RegisterCaseDetails, error) {
	var d civicflow.RegisterCaseDetails
	err := db.pool.QueryRow(ctx, `SELECT period_id, raised_by, reason, effective_on FROM register_cases WHERE case_id = $1`,
		caseID).Scan(&d.PeriodID, &d.RaisedBy, &d.Reason, &d.EffectiveOn)
	if err != nil {
		return nil, mapError(fmt.Sprintf("register case %d", caseID), err)
	}
	return &d, nil
}

// RunningPeriodByIDNumber finds the running period of the person with
// that ID number (through the keyed hash), ENOTFOUND when the person is
// not in the register.
func (db *DB) RunningPeriodByIDNumber(ctx context.Context, idNumber string) (*civicflow.RegisterEntry, error) {
	hash, err := db.keys.lookupHash("id_number", idNumber)
	if err != nil {
		return nil, mapError("hash id number", err)
	}
	e, err := scanRegisterEntry(db.pool.QueryRow(ctx, `SELECT `+registerColumns+registerFrom+`
		WHERE p.id_number_hash = $1 AND r.ends_on IS NULL`, hash))
	if err != nil {
		return nil, mapError("the person's register entry", err)
	}
	return e, nil
}

// PersonNameMatches reports whether the person of a period has that name
// (compared in the database: the API returns only masked names).
func (db *DB) PersonNameMatches(ctx context.Context, periodID int64, name string) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT p.name = $2 FROM register_periods r JOIN persons p ON p.id = r.person_id
		WHERE r.id = $1`, periodID, name).Scan(&ok)
	return ok, mapError(fmt.Sprintf("register entry %d", periodID), err)
}

// RegisterPersonal is a period's personal data, unmasked, for an audited
// reveal.
type RegisterPersonal struct {
	PersonName, CarerName, CarerPhone string
}

// RegisterPersonalData opens a period's personal data.
func (db *DB) RegisterPersonalData(ctx context.Context, periodID int64) (RegisterPersonal, error) {
	var pd RegisterPersonal
	var carer, enc *string
	err := db.pool.QueryRow(ctx, `SELECT p.name, r.carer_name, r.carer_phone_enc FROM register_periods r
		JOIN persons p ON p.id = r.person_id WHERE r.id = $1`, periodID).Scan(&pd.PersonName, &carer, &enc)
	if err != nil {
		return pd, mapError(fmt.Sprintf("register entry %d", periodID), err)
	}
	if carer != nil {
		pd.CarerName = *carer
	}
	if enc != nil {
		if pd.CarerPhone, err = db.keys.open(aadCarerPhone, *enc); err != nil {
			return pd, mapError("open carer phone", err)
		}
	}
	return pd, nil
}
