package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"civicflow"
)

// The education grant (issue 15, migration 008): the education part of a
// case, the tier rules (per district, with the city's defaults), and the
// awards recorded for payment, one per student and admission year. See
// docs/education.md.

// awardPerYearConstraint is the constraint that refuses a second award for
// a student and admission year.
const awardPerYearConstraint = "education_awards_one_per_student_year"

// ErrAwardHeld marks the refusal of an application for a student who
// already holds the grant for that admission year (with a *civicflow.Error
// of code ECONFLICT that names no case: the caller may be anybody who knows
// an ID number).
var ErrAwardHeld = errors.New("the student already holds the grant for the admission year")

// insertEducationApplication records the education part of a new case, in
// the transaction that creates the case (CreateApplication), after the
// idempotency key was checked: a request sent again still gets its case
// back once the case holds the award.
func insertEducationApplication(ctx context.Context, tx pgx.Tx, caseID, personID int64, caseType civicflow.CaseType,
	e *civicflow.EducationApplication) error {
	switch {
	case e == nil:
		return civicflow.Invalid(civicflow.FieldError{Field: "education", Reason: "is required for an education-grant application"})
	case caseType != civicflow.CaseTypeEducationGrant:
		return civicflow.Invalid(civicflow.FieldError{Field: "education", Reason: "only for an education-grant application"})
	}
	// One award per student and year: an application that could only end
	// in a refused award is refused now (education_awards still decides).
	var held bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM education_awards WHERE person_id = $1 AND admission_year = $2)`,
		personID, e.AdmissionYear).Scan(&held); err != nil {
		return mapError("look up award", err)
	}
	if held {
		return fmt.Errorf("%w: %w", ErrAwardHeld, civicflow.Errorf(civicflow.ECONFLICT,
			"this student already holds the education grant for admission year %d", e.AdmissionYear))
	}
	_, err := tx.Exec(ctx, `INSERT INTO education_applications (case_id, family_status, school, school_kind, major,
			admission_year, notice_number)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		caseID, string(e.FamilyStatus), e.School, string(e.SchoolKind), e.Major, e.AdmissionYear, e.NoticeNumber)
	return mapError(fmt.Sprintf("record education application of case %d", caseID), err)
}

// EducationDetails is the education part of a case as its page shows it.
type EducationDetails struct {
	// Application is what the applicant declared.
	Application civicflow.EducationApplication
	// Verification is the township's latest record_verification (nil
	// before there is one).
	Verification *civicflow.EducationVerification
	// Tier is the rule in force now for the verified family status and
	// kind of school, or the declared ones before a verification names
	// them (nil: no rule gives a grant).
	Tier *civicflow.TierRule
	// TierBasis says which: "verified" or "declared".
	TierBasis string
	// Award is the award recorded for payment (nil before approval).
	Award *civicflow.EducationAward
}

// Tier bases of EducationDetails.
const (
	TierBasisVerified = "verified"
	TierBasisDeclared = "declared"
)

// latestVerificationSQL is a lateral subquery of education_applications e:
// the details of the case's latest record_verification step, which are
// the verification itself or an object holding it under "verification".
const latestVerificationSQL = `SELECT coalesce(ev.details -> 'verification', ev.details) AS details FROM case_events ev
	WHERE ev.case_id = e.case_id AND ev.action = 'record_verification' AND ev.details IS NOT NULL
	ORDER BY ev.at DESC, ev.id DESC LIMIT 1`

// EducationDetails reads the education part of a case, its latest
// verification (latestVerificationSQL), the tier the rules give now and
// its award, in one round trip.
func (db *DB) EducationDetails(ctx context.Context, caseID int64) (*EducationDetails, error) {
	var (
		d            EducationDetails
		verification []byte
		verified     bool
		rule         struct {
			jurisdiction, status, kind *string
			amount                     *int
			updatedAt                  *time.Time
		}
		award struct {
			id, person                 *int64
			year, amount               *int
			status, kind, district, st *string
			at                         *time.Time
		}
	)
	a := &d.Application
	err := db.pool.QueryRow(ctx, `SELECT e.family_status, e.school, e.school_kind, e.major, e.admission_year, e.notice_number,
			v.details, coalesce(b.verified, false), r.jurisdiction_code, r.family_status, r.school_kind, r.amount, r.updated_at,
			aw.id, aw.person_id, aw.admission_year, aw.amount, aw.family_status, aw.school_kind, aw.district_code, aw.state, aw.awarded_at
		FROM education_applications e
		JOIN cases c ON c.id = e.case_id
		LEFT JOIN LATERAL (`+latestVerificationSQL+`) v ON true
		-- The verified status and kind when the verification names both.
		CROSS JOIN LATERAL (SELECT v.details ->> 'family_status' IN ('dibao', 'dibao_margin', 'extremely_poor')
			AND v.details ->> 'school_kind' IN ('undergraduate', 'vocational') AS verified) b
		LEFT JOIN LATERAL (SELECT t.jurisdiction_code, t.family_status, t.school_kind, t.amount, t.updated_at
			FROM education_tier_rules t
			WHERE t.family_status = CASE WHEN b.verified THEN v.details ->> 'family_status' ELSE e.family_status END
			  AND t.school_kind = CASE WHEN b.verified THEN v.details ->> 'school_kind' ELSE e.school_kind END
			  AND t.jurisdiction_code IN (c.district_code, $2)
			ORDER BY t.jurisdiction_code = c.district_code DESC LIMIT 1) r ON true
		LEFT JOIN education_awards aw ON aw.case_id = e.case_id
		WHERE e.case_id = $1`, caseID, civicflow.CityCode).Scan(
		&a.FamilyStatus, &a.School, &a.SchoolKind, &a.Major, &a.AdmissionYear, &a.NoticeNumber,
		&verification, &verified, &rule.jurisdiction, &rule.status, &rule.kind, &rule.amount, &rule.updatedAt,
		&award.id, &award.person, &award.year, &award.amount, &award.status, &award.kind, &award.district, &award.st, &award.at)
	if err != nil {
		return nil, mapError(fmt.Sprintf("education details of case %d", caseID), err)
	}
	d.TierBasis = TierBasisDeclared
	if verified {
		d.TierBasis = TierBasisVerified
	}
	if len(verification) > 0 {
		var v civicflow.EducationVerification
		if err := json.Unmarshal(verification, &v); err != nil {
			return nil, fmt.Errorf("decode verification of case %d: %w", caseID, err)
		}
		d.Verification = &v
	}
	if rule.amount != nil {
		d.Tier = &civicflow.TierRule{Jurisdiction: *rule.jurisdiction, FamilyStatus: civicflow.FamilyStatus(*rule.status),
			SchoolKind: civicflow.SchoolKind(*rule.kind), Amount: *rule.amount, UpdatedAt: *rule.updatedAt}
	}
	if award.id != nil {
		d.Award = &civicflow.EducationAward{ID: *award.id, CaseID: caseID, PersonID: *award.person, AdmissionYear: *award.year,
			Amount: *award.amount, FamilyStatus: civicflow.FamilyStatus(*award.status), SchoolKind: civicflow.SchoolKind(*award.kind),
			DistrictCode: *award.district, State: civicflow.AwardState(*award.st), AwardedAt: *award.at}
	}
	return &d, nil
}

const tierColumns = `jurisdiction_code, family_status, school_kind, amount, updated_at`

func scanTierRule(r pgx.CollectableRow) (civicflow.TierRule, error) {
	var t civicflow.TierRule
	return t, r.Scan(&t.Jurisdiction, &t.FamilyStatus, &t.SchoolKind, &t.Amount, &t.UpdatedAt)
}

func resolveTier(ctx context.Context, q querier, district string, status civicflow.FamilyStatus, kind civicflow.SchoolKind) (civicflow.TierRule, error) {
	rows, err := q.Query(ctx, `SELECT `+tierColumns+` FROM education_tier_rules
		WHERE family_status = $2 AND school_kind = $3 AND jurisdiction_code IN ($1, $4)
		ORDER BY jurisdiction_code = $1 DESC LIMIT 1`, district, string(status), string(kind), civicflow.CityCode)
	if err != nil {
		return civicflow.TierRule{}, mapError("resolve tier", err)
	}
	rs, err := pgx.CollectRows(rows, scanTierRule)
	if err != nil {
		return civicflow.TierRule{}, mapError("resolve tier", err)
	}
	if len(rs) == 0 {
		return civicflow.TierRule{}, civicflow.Errorf(civicflow.ENOTFOUND, "no tier rule for %s/%s in %s or the city", status, kind, district)
	}
	return rs[0], nil
}

// ResolveTier returns the tier rule for a family status and kind of school
// in a district: the district's own rule, else the city's; ENOTFOUND when
// neither exists (no grant).
func (db *DB) ResolveTier(ctx context.Context, district string, status civicflow.FamilyStatus, kind civicflow.SchoolKind) (civicflow.TierRule, error) {
	return resolveTier(ctx, db.pool, district, status, kind)
}

// TierRules lists the rules of the city and of one district (of every
// district when district is "").
func (db *DB) TierRules(ctx context.Context, district string) ([]civicflow.TierRule, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+tierColumns+` FROM education_tier_rules
		WHERE $1 = '' OR jurisdiction_code IN ($1, $2)
		ORDER BY jurisdiction_code, family_status, school_kind`, district, civicflow.CityCode)
	if err != nil {
		return nil, mapError("list tier rules", err)
	}
	out, err := pgx.CollectRows(rows, scanTierRule)
	return out, mapError("list tier rules", err)
}

// validTierRule checks a rule before it is written, with reasons a person
// can act on (the schema checks the same).
func validTierRule(r civicflow.TierRule) error {
	var bad []civicflow.FieldError
	if len(r.Jurisdiction) != 6 {
		bad = append(bad, civicflow.FieldError{Field: "jurisdiction", Reason: "must be the city (610100) or a district"})
	}
	if !r.FamilyStatus.Valid() {
		bad = append(bad, civicflow.FieldError{Field: "family_status", Reason: "must be one of: dibao, dibao_margin, extremely_poor"})
	}
	if !r.SchoolKind.Valid() {
		bad = append(bad, civicflow.FieldError{Field: "school_kind", Reason: "must be one of: undergraduate, vocational"})
	}
	if !civicflow.ValidGrantTier(r.Amount) {
		bad = append(bad, civicflow.FieldError{Field: "amount", Reason: "must be one of the tiers: 3000, 5000, 7000"})
	}
	if len(bad) > 0 {
		return civicflow.Invalid(bad...)
	}
	return nil
}

// PutTierRule adds or replaces a rule of the city or of a district and
// returns it as stored. It applies to approvals after it; awards made
// keep their amount.
func (db *DB) PutTierRule(ctx context.Context, r civicflow.TierRule, by int64) (civicflow.TierRule, error) {
	if err := validTierRule(r); err != nil {
		return civicflow.TierRule{}, err
	}
	rows, err := db.pool.Query(ctx, `INSERT INTO education_tier_rules (jurisdiction_code, family_status, school_kind, amount, updated_by)
		VALUES ($1, $2, $3, $4, nullif($5, 0))
		ON CONFLICT (jurisdiction_code, family_status, school_kind) DO UPDATE SET amount = excluded.amount,
			updated_by = excluded.updated_by, updated_at = now()
		RETURNING `+tierColumns, r.Jurisdiction, string(r.FamilyStatus), string(r.SchoolKind), r.Amount, by)
	if err != nil {
		return civicflow.TierRule{}, mapError("save tier rule", err)
	}
	saved, err := pgx.CollectExactlyOneRow(rows, scanTierRule)
	return saved, mapError("save tier rule", err)
}

// DeleteTierRule removes a district's rule; the city's applies again. The
// city's own rules cannot be removed, only changed: without one, a status
// and kind would get no grant anywhere.
func (db *DB) DeleteTierRule(ctx context.Context, jurisdiction string, status civicflow.FamilyStatus, kind civicflow.SchoolKind) error {
	if jurisdiction == civicflow.CityCode {
		return civicflow.Errorf(civicflow.ECONFLICT, "the city's default cannot be removed; change it instead")
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM education_tier_rules WHERE jurisdiction_code = $1 AND family_status = $2 AND school_kind = $3`,
		jurisdiction, string(status), string(kind))
	if err != nil {
		return mapError("delete tier rule", err)
	}
	if tag.RowsAffected() == 0 {
		return civicflow.Errorf(civicflow.ENOTFOUND, "no tier rule for %s/%s in %s", status, kind, jurisdiction)
	}
	return nil
}

// RecordAward writes an approved education grant: the step that completes
// the case (as RecordTransition) and the award for payment, in one
// transaction. The step's key makes it idempotent: an attempt that finds
// the key written changes nothing and succeeds. It refuses, writing
// nothing, an amount other than the one the tier rules of the case's
// district (else the city's) give the verified family status and kind of
// school, and a status and kind no rule gives a grant (EINVALID, field
// tier_amount); and a second award for the same student and admission
// year, whatever the case (ECONFLICT naming the case that holds it,
// decided by the constraint education_awards_one_per_student_year).
func (db *DB) RecordAward(ctx context.Context, w civicflow.AwardWrite) error {
	t := w.Transition
	var bad []civicflow.FieldError
	if !w.FamilyStatus.Valid() {
		bad = append(bad, civicflow.FieldError{Field: "verification.family_status", Reason: "is not a family status that qualifies"})
	}
	if !w.SchoolKind.Valid() {
		bad = append(bad, civicflow.FieldError{Field: "verification.school_kind", Reason: "is not a kind of school"})
	}
	if t.Key == "" {
		bad = append(bad, civicflow.FieldError{Field: "key", Reason: "the step needs a key"})
	}
	if len(bad) > 0 {
		return civicflow.Invalid(bad...)
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// The case row is locked first, so that two attempts of one step
		// run one after the other and the second finds the first's key.
		var (
			district, districtName string
			personID               int64
			year                   int
		)
		err := tx.QueryRow(ctx, `SELECT c.district_code, coalesce(d.name, c.district_code), c.person_id, e.admission_year
			FROM cases c JOIN education_applications e ON e.case_id = c.id
			LEFT JOIN jurisdictions d ON d.code = c.district_code
			WHERE c.id = $1 FOR UPDATE OF c`, t.CaseID).Scan(&district, &districtName, &personID, &year)
		if errors.Is(err, pgx.ErrNoRows) {
			return civicflow.Errorf(civicflow.ENOTFOUND, "education-grant case %d: not found", t.CaseID)
		} else if err != nil {
			return mapError(fmt.Sprintf("lock case %d", t.CaseID), err)
		}
		done, err := stepDone(ctx, tx, t.CaseID, t.Key)
		if err != nil {
			return err
		}
		if done {
			return nil // recorded by an earlier attempt
		}
		rule, err := checkTier(ctx, tx, district, districtName, w.FamilyStatus, w.SchoolKind, w.Amount)
		if err != nil {
			return err
		}
		if err := insertAward(ctx, tx, t, personID, year, w, district, rule.Jurisdiction); err != nil {
			return err
		}
		return recordTransition(ctx, tx, t)
	})
	return mapError("record award", err)
}

// checkTier returns the rule that gives a grant for the status and kind in
// the district, and refuses (EINVALID, field tier_amount) an amount other
// than its own, or any amount when no rule gives one.
func checkTier(ctx context.Context, q querier, district, districtName string, status civicflow.FamilyStatus,
	kind civicflow.SchoolKind, amount int) (civicflow.TierRule, error) {
	rule, err := resolveTier(ctx, q, district, status, kind)
	switch {
	case civicflow.ErrorCode(err) == civicflow.ENOTFOUND:
		return rule, civicflow.Invalid(civicflow.FieldError{Field: "tier_amount",
			Reason: fmt.Sprintf("the rules of %s give no grant for %s/%s", districtName, status, kind)})
	case err != nil:
		return rule, err
	case rule.Amount != amount:
		return rule, civicflow.Invalid(civicflow.FieldError{Field: "tier_amount",
			Reason: fmt.Sprintf("the rules of %s give %d for %s/%s", districtName, rule.Amount, status, kind)})
	}
	return rule, nil
}

// CheckAwardAmount refuses, as RecordAward would (EINVALID, field
// tier_amount), an amount other than the one the tier rules give the
// family status and kind of school the township verified. Before a
// verification names both there is nothing to check against, and it
// returns nil. The API calls it so that a wrong amount is refused before
// it reaches the workflow; RecordAward checks again when it writes.
func (db *DB) CheckAwardAmount(ctx context.Context, caseID int64, amount int) error {
	var district, districtName string
	var status, kind *string
	err := db.pool.QueryRow(ctx, `SELECT c.district_code, coalesce(d.name, c.district_code),
			v.details ->> 'family_status', v.details ->> 'school_kind'
		FROM education_applications e JOIN cases c ON c.id = e.case_id
		LEFT JOIN jurisdictions d ON d.code = c.district_code
		LEFT JOIN LATERAL (`+latestVerificationSQL+`) v ON true
		WHERE e.case_id = $1`, caseID).Scan(&district, &districtName, &status, &kind)
	if err != nil {
		return mapError(fmt.Sprintf("education case %d", caseID), err)
	}
	if status == nil || kind == nil || !civicflow.FamilyStatus(*status).Valid() || !civicflow.SchoolKind(*kind).Valid() {
		return nil
	}
	_, err = checkTier(ctx, db.pool, district, districtName, civicflow.FamilyStatus(*status), civicflow.SchoolKind(*kind), amount)
	return err
}

// insertAward inserts the award in a savepoint, so that a refusal by the
// one-per-student-and-year constraint can still read which case holds the
// award (the transaction is rolled back after that).
func insertAward(ctx context.Context, tx pgx.Tx, t civicflow.Transition, personID int64, year int, w civicflow.AwardWrite,
	district, ruleJurisdiction string) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return mapError("award savepoint", err)
	}
	_, err = sp.Exec(ctx, `INSERT INTO education_awards (case_id, person_id, admission_year, amount, family_status, school_kind,
			district_code, rule_jurisdiction, event_key, awarded_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		t.CaseID, personID, year, w.Amount, string(w.FamilyStatus), string(w.SchoolKind), district, ruleJurisdiction, t.Key, t.At)
	if err == nil {
		return mapError("award savepoint", sp.Commit(ctx))
	}
	if rerr := sp.Rollback(ctx); rerr != nil {
		return mapError("roll back award savepoint", rerr)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		if pgErr.ConstraintName == awardPerYearConstraint {
			var holder string
			if herr := tx.QueryRow(ctx, `SELECT c.reference FROM education_awards a JOIN cases c ON c.id = a.case_id
				WHERE a.person_id = $1 AND a.admission_year = $2`, personID, year).Scan(&holder); herr != nil {
				return mapError("find the award held", herr)
			}
			return &civicflow.Error{Code: civicflow.ECONFLICT, Reference: holder,
				Message: fmt.Sprintf("the student already holds the education grant for admission year %d, in case %s", year, holder)}
		}
		return civicflow.Errorf(civicflow.ECONFLICT, "case %d already has an award", t.CaseID)
	}
	return mapError(fmt.Sprintf("insert award of case %d", t.CaseID), err)
}

const awardColumns = `id, case_id, person_id, admission_year, amount, family_status, school_kind, district_code, state, awarded_at`

// AwardOf returns the award of a case, nil when it has none.
func (db *DB) AwardOf(ctx context.Context, caseID int64) (*civicflow.EducationAward, error) {
	var a civicflow.EducationAward
	err := db.pool.QueryRow(ctx, `SELECT `+awardColumns+` FROM education_awards WHERE case_id = $1`, caseID).
		Scan(&a.ID, &a.CaseID, &a.PersonID, &a.AdmissionYear, &a.Amount, &a.FamilyStatus, &a.SchoolKind, &a.DistrictCode,
			&a.State, &a.AwardedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, mapError(fmt.Sprintf("award of case %d", caseID), err)
	}
	return &a, nil
}

// HoldsAward reports whether the person with this ID number already holds
// an education grant for the admission year. The number is looked up by
// its keyed hash, like every person.
func (db *DB) HoldsAward(ctx context.Context, idNumber string, year int) (bool, error) {
	h, err := db.IDNumberHash(idNumber)
	if err != nil {
		return false, err
	}
	var held bool
	err = db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM education_awards a JOIN persons p ON p.id = a.person_id
		WHERE p.id_number_hash = $1 AND a.admission_year = $2)`, h, year).Scan(&held)
	return held, mapError("look up award", err)
}

// awardAmount is the amount of a case's award for its approval notice
// (enqueueNotices), read in the transaction that records it; 0 without one.
func awardAmount(ctx context.Context, tx pgx.Tx, caseID int64) (int, error) {
	var amount int
	err := tx.QueryRow(ctx, `SELECT coalesce((SELECT amount FROM education_awards WHERE case_id = $1), 0)`, caseID).Scan(&amount)
	if err != nil {
		return 0, mapError(fmt.Sprintf("award amount of case %d", caseID), err)
	}
	return amount, nil
}
