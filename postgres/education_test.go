package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

// thisYear is the admission year a freshman applies for now.
func thisYear() int { return time.Now().In(civicflow.ChinaZone()).Year() }

// educationApplication returns an education-grant application of a new
// freshman (born 2007 or 2008, a valid ID number) registered in township.
func educationApplication(township string, status civicflow.FamilyStatus, kind civicflow.SchoolKind) civicflow.Application {
	n := personSeq.Add(1)
	birth := time.Date(2007, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n%700))
	first17 := township[:6] + birth.Format("20060102") + fmt.Sprintf("%03d", n%1000)
	id := first17 + string(civicflow.IDCheckChar(first17))
	name := fmt.Sprintf("学生%d", n)
	return civicflow.Application{
		Type: civicflow.CaseTypeEducationGrant,
		Person: civicflow.Person{Name: name, IDNumber: id, BirthDate: birth, Male: n%2 == 1, Phone: "13912345678",
			TownshipCode: township},
		Relation: civicflow.RelationRelative, ApplicantName: "家长" + name, Address: "小寨东路 1 号",
		Education: &civicflow.EducationApplication{FamilyStatus: status, School: "西北大学", SchoolKind: kind,
			Major: "汉语言文学", AdmissionYear: thisYear(), NoticeNumber: "2026610113000123"},
	}
}

// toDistrictReview records an education case's steps up to the district's
// review, as the workflow would.
func toDistrictReview(t *testing.T, db *postgres.DB, caseID int64, status civicflow.FamilyStatus, kind civicflow.SchoolKind) {
	t.Helper()
	ctx := context.Background()
	township := civicflow.Actor{Role: civicflow.RoleTownshipOfficial, Username: "ts", Jurisdiction: "610113001"}
	steps := []civicflow.Transition{
		{Key: "submitted", Action: civicflow.StepSubmitted, From: civicflow.StageSubmitted, To: civicflow.StageIntake, Actor: civicflow.SystemActor},
		{Key: "accept", Action: civicflow.ActionAccept, From: civicflow.StageIntake, To: civicflow.StageVerification, Actor: township},
		{Key: "verify", Action: civicflow.ActionRecordVerification, From: civicflow.StageVerification, To: civicflow.StageDistrictReview,
			Actor: township, Details: civicflow.EducationVerification{FamilyStatus: status, SchoolKind: kind, EnrolmentConfirmed: true,
				Findings: "低保证及录取通知书核实无误", Opinion: civicflow.OpinionEligible}},
	}
	for i, s := range steps {
		s.CaseID, s.Seq, s.At = caseID, i+1, now()
		require.NoError(t, db.RecordTransition(ctx, s))
	}
}

func approval(caseID int64, amount int, status civicflow.FamilyStatus, kind civicflow.SchoolKind) civicflow.AwardWrite {
	return civicflow.AwardWrite{Amount: amount, FamilyStatus: status, SchoolKind: kind,
		Transition: civicflow.Transition{CaseID: caseID, Key: "approve-4", Seq: 4, Action: civicflow.ActionApprove,
			From: civicflow.StageDistrictReview, To: civicflow.StageCompleted,
			Actor:   civicflow.Actor{Role: civicflow.RoleDistrictReviewer, Username: "dr", Jurisdiction: "610113"},
			Details: map[string]any{"tier_amount": amount}, At: now()}}
}

func fieldErrors(t *testing.T, err error) []civicflow.FieldError {
	t.Helper()
	var de *civicflow.Error
	require.True(t, errors.As(err, &de), "%v", err)
	return de.Fields
}

func TestEducationApplicationAndDetails(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	a := educationApplication("610113001", civicflow.FamilyDibao, civicflow.SchoolVocational)
	cr, err := db.CreateApplication(ctx, postgres.NewCase{Application: a})
	require.NoError(t, err)
	c := getCase(t, db, cr.CaseID)
	require.Equal(t, civicflow.CaseTypeEducationGrant, c.Type)
	require.Equal(t, civicflow.CareLevel(""), c.SelfCare)

	d, err := db.EducationDetails(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Equal(t, *a.Education, d.Application)
	require.Nil(t, d.Verification)
	require.Nil(t, d.Award)
	// Before the verification, the declared status and kind select the tier.
	require.Equal(t, postgres.TierBasisDeclared, d.TierBasis)
	require.Equal(t, 3000, d.Tier.Amount)
	require.Equal(t, civicflow.CityCode, d.Tier.Jurisdiction)

	require.NoError(t, db.CheckAwardAmount(ctx, cr.CaseID, 7000), "nothing verified yet to check against")

	// After it, what the township verified does.
	toDistrictReview(t, db, cr.CaseID, civicflow.FamilyExtremelyPoor, civicflow.SchoolUndergraduate)
	d, err = db.EducationDetails(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Equal(t, postgres.TierBasisVerified, d.TierBasis)
	require.Equal(t, civicflow.FamilyExtremelyPoor, d.Verification.FamilyStatus)
	require.True(t, d.Verification.EnrolmentConfirmed)
	require.Equal(t, 7000, d.Tier.Amount)

	// One open education case per student; another process is another matter.
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: a})
	requireCode(t, err, civicflow.ECONFLICT)

	// The schema refuses what the API would: nothing is written.
	before := count(t, db, `SELECT count(*) FROM cases`)
	for name, edit := range map[string]func(e *civicflow.EducationApplication){
		"admitted three years ago": func(e *civicflow.EducationApplication) { e.AdmissionYear = thisYear() - 3 },
		"admitted next year":       func(e *civicflow.EducationApplication) { e.AdmissionYear = thisYear() + 1 },
		"notice number":            func(e *civicflow.EducationApplication) { e.NoticeNumber = "2026 0001" },
		"family status":            func(e *civicflow.EducationApplication) { e.FamilyStatus = "rich" },
		"kind of school":           func(e *civicflow.EducationApplication) { e.SchoolKind = "doctoral" },
		"school":                   func(e *civicflow.EducationApplication) { e.School = "  " },
	} {
		bad := educationApplication("610113001", civicflow.FamilyDibao, civicflow.SchoolUndergraduate)
		edit(bad.Education)
		_, err := db.CreateApplication(ctx, postgres.NewCase{Application: bad})
		requireCode(t, err, civicflow.EINVALID)
		require.Equal(t, before, count(t, db, `SELECT count(*) FROM cases`), name)
	}
	last := educationApplication("610113001", civicflow.FamilyDibao, civicflow.SchoolUndergraduate)
	last.Education.AdmissionYear = thisYear() - 1
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: last})
	require.NoError(t, err, "last year's freshmen may still apply")
	missing := educationApplication("610113001", civicflow.FamilyDibao, civicflow.SchoolUndergraduate)
	missing.Education = nil
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: missing})
	requireCode(t, err, civicflow.EINVALID)
}

func TestRecordAwardIsIdempotent(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	a := educationApplication("610113001", civicflow.FamilyDibao, civicflow.SchoolUndergraduate)
	a.ApplicantEmail = "parent@example.com"
	cr, err := db.CreateApplication(ctx, postgres.NewCase{Application: a})
	require.NoError(t, err)
	toDistrictReview(t, db, cr.CaseID, civicflow.FamilyDibao, civicflow.SchoolUndergraduate)
	w := approval(cr.CaseID, 5000, civicflow.FamilyDibao, civicflow.SchoolUndergraduate)

	// Attempts at once and again later: one award, one step, one notice.
	runConcurrently(4, func(int) { require.NoError(t, db.RecordAward(ctx, w)) })
	require.NoError(t, db.RecordAward(ctx, w))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM education_awards WHERE case_id = $1`, cr.CaseID))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM case_events WHERE case_id = $1 AND event_key = $2`, cr.CaseID, w.Transition.Key))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM notifications WHERE case_id = $1 AND template = 'decision_approved'`, cr.CaseID))
	require.Equal(t, 5000, count(t, db, `SELECT (data ->> 'amount')::int FROM notifications WHERE case_id = $1 AND template = 'decision_approved'`, cr.CaseID),
		"the approval mail states the amount")

	c := getCase(t, db, cr.CaseID)
	require.Equal(t, civicflow.StageCompleted, c.Stage)
	require.Equal(t, 4, c.Seq)
	aw, err := db.AwardOf(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Equal(t, civicflow.EducationAward{ID: aw.ID, CaseID: cr.CaseID, PersonID: c.PersonID, AdmissionYear: thisYear(),
		Amount: 5000, FamilyStatus: civicflow.FamilyDibao, SchoolKind: civicflow.SchoolUndergraduate, DistrictCode: "610113",
		State: civicflow.AwardAwaitingPayment, AwardedAt: aw.AwardedAt}, *aw)
	requireSameTime(t, w.Transition.At, aw.AwardedAt)
	d, err := db.EducationDetails(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Equal(t, aw, d.Award)

	held, err := db.HoldsAward(ctx, a.Person.IDNumber, thisYear())
	require.NoError(t, err)
	require.True(t, held)
	held, err = db.HoldsAward(ctx, a.Person.IDNumber, thisYear()-1)
	require.NoError(t, err)
	require.False(t, held)
	none, err := db.AwardOf(ctx, createCase(t, db, "610113001").CaseID)
	require.NoError(t, err)
	require.Nil(t, none)

	// An award is a financial record: only its state may change.
	_, err = db.Pool().Exec(ctx, `UPDATE education_awards SET amount = 7000 WHERE case_id = $1`, cr.CaseID)
	require.Error(t, err)
	_, err = db.Pool().Exec(ctx, `DELETE FROM education_awards WHERE case_id = $1`, cr.CaseID)
	require.Error(t, err)
	_, err = db.Pool().Exec(ctx, `UPDATE education_awards SET state = 'paid' WHERE case_id = $1`, cr.CaseID)
	requirePgCode(t, err, "23514")
}

func TestRecordAwardWrongAmountWritesNothing(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	cr, err := db.CreateApplication(ctx, postgres.NewCase{
		Application: educationApplication("610113001", civicflow.FamilyDibao, civicflow.SchoolUndergraduate)})
	require.NoError(t, err)
	toDistrictReview(t, db, cr.CaseID, civicflow.FamilyDibao, civicflow.SchoolUndergraduate)
	events := count(t, db, `SELECT count(*) FROM case_events WHERE case_id = $1`, cr.CaseID)
	unchanged := func() {
		t.Helper()
		require.Equal(t, civicflow.StageDistrictReview, getCase(t, db, cr.CaseID).Stage)
		require.Equal(t, events, count(t, db, `SELECT count(*) FROM case_events WHERE case_id = $1`, cr.CaseID))
		require.Zero(t, count(t, db, `SELECT count(*) FROM education_awards`))
		require.Zero(t, count(t, db, `SELECT count(*) FROM notifications WHERE case_id = $1 AND template = 'decision_approved'`, cr.CaseID))
	}

	err = db.RecordAward(ctx, approval(cr.CaseID, 7000, civicflow.FamilyDibao, civicflow.SchoolUndergraduate))
	requireCode(t, err, civicflow.EINVALID)
	require.Equal(t, []civicflow.FieldError{{Field: "tier_amount", Reason: "the rules of 雁塔区 give 5000 for dibao/undergraduate"}},
		fieldErrors(t, err))
	unchanged()

	// A status the workflow should never send, and a status and kind no
	// rule gives a grant: refused the same way.
	err = db.RecordAward(ctx, approval(cr.CaseID, 5000, "rich", civicflow.SchoolUndergraduate))
	requireCode(t, err, civicflow.EINVALID)
	unchanged()
	_, err = db.Pool().Exec(ctx, `DELETE FROM education_tier_rules WHERE family_status = 'dibao' AND school_kind = 'undergraduate'`)
	require.NoError(t, err)
	err = db.RecordAward(ctx, approval(cr.CaseID, 5000, civicflow.FamilyDibao, civicflow.SchoolUndergraduate))
	requireCode(t, err, civicflow.EINVALID)
	require.Equal(t, []civicflow.FieldError{{Field: "tier_amount", Reason: "the rules of 雁塔区 give no grant for dibao/undergraduate"}},
		fieldErrors(t, err))
	unchanged()
	_, err = db.ResolveTier(ctx, "610113", civicflow.FamilyDibao, civicflow.SchoolUndergraduate)
	requireCode(t, err, civicflow.ENOTFOUND)

	// Not an education-grant case at all.
	other := createCase(t, db, "610113001")
	requireCode(t, db.RecordAward(ctx, approval(other.CaseID, 5000, civicflow.FamilyDibao, civicflow.SchoolVocational)), civicflow.ENOTFOUND)
}

func TestSecondAwardForStudentAndYearRefusedByConstraint(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	a := educationApplication("610113001", civicflow.FamilyExtremelyPoor, civicflow.SchoolUndergraduate)
	first, err := db.CreateApplication(ctx, postgres.NewCase{Application: a, IdempotencyKey: "edu-1", RequestHash: []byte("h1")})
	require.NoError(t, err)
	toDistrictReview(t, db, first.CaseID, civicflow.FamilyExtremelyPoor, civicflow.SchoolUndergraduate)
	require.NoError(t, db.RecordAward(ctx, approval(first.CaseID, 7000, civicflow.FamilyExtremelyPoor, civicflow.SchoolUndergraduate)))

	// A new application for the same student and year is refused, naming
	// no case; the first request sent again still gets its case back.
	cases := count(t, db, `SELECT count(*) FROM cases`)
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: a})
	requireCode(t, err, civicflow.ECONFLICT)
	require.ErrorIs(t, err, postgres.ErrAwardHeld)
	var de *civicflow.Error
	require.True(t, errors.As(err, &de))
	require.Empty(t, de.Reference)
	require.NotContains(t, de.Message, first.Reference)
	require.Equal(t, cases, count(t, db, `SELECT count(*) FROM cases`))
	again, err := db.CreateApplication(ctx, postgres.NewCase{Application: a, IdempotencyKey: "edu-1", RequestHash: []byte("h1")})
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, first.CaseID, again.CaseID)

	// A case for the student and year that got past that check (a row
	// changed by hand, a later rule letting cases overlap) cannot get the
	// award: the constraint refuses it, naming the case that holds it.
	lastYear := a
	edu := *a.Education
	edu.AdmissionYear = thisYear() - 1
	lastYear.Education = &edu
	second, err := db.CreateApplication(ctx, postgres.NewCase{Application: lastYear})
	require.NoError(t, err, "the completed case does not block another admission year")
	_, err = db.Pool().Exec(ctx, `UPDATE education_applications SET admission_year = $2 WHERE case_id = $1`, second.CaseID, thisYear())
	require.NoError(t, err)
	toDistrictReview(t, db, second.CaseID, civicflow.FamilyExtremelyPoor, civicflow.SchoolUndergraduate)
	events := count(t, db, `SELECT count(*) FROM case_events WHERE case_id = $1`, second.CaseID)
	err = db.RecordAward(ctx, approval(second.CaseID, 7000, civicflow.FamilyExtremelyPoor, civicflow.SchoolUndergraduate))
	requireCode(t, err, civicflow.ECONFLICT)
	require.True(t, errors.As(err, &de))
	require.Equal(t, first.Reference, de.Reference)
	require.Contains(t, de.Message, first.Reference)
	require.Equal(t, civicflow.StageDistrictReview, getCase(t, db, second.CaseID).Stage, "nothing written")
	require.Equal(t, events, count(t, db, `SELECT count(*) FROM case_events WHERE case_id = $1`, second.CaseID))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM education_awards`))

	// It is the constraint that decides, whatever writes the row.
	_, err = db.Pool().Exec(ctx, `INSERT INTO education_awards (case_id, person_id, admission_year, amount, family_status,
			school_kind, district_code, rule_jurisdiction, event_key, awarded_at)
		SELECT $1, person_id, admission_year, amount, family_status, school_kind, district_code, rule_jurisdiction, 'x', now()
		FROM education_awards`, second.CaseID)
	pgErr := requirePgCode(t, err, "23505")
	require.Equal(t, "education_awards_one_per_student_year", pgErr.ConstraintName)

	// Another admission year is another award.
	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: second.CaseID, Key: "withdraw", Seq: 4,
		Action: civicflow.ActionWithdraw, From: civicflow.StageDistrictReview, To: civicflow.StageWithdrawn,
		Actor: civicflow.Actor{Role: civicflow.RoleApplicant, CaseID: second.CaseID}, At: now()}))
	third, err := db.CreateApplication(ctx, postgres.NewCase{Application: lastYear})
	require.NoError(t, err)
	toDistrictReview(t, db, third.CaseID, civicflow.FamilyExtremelyPoor, civicflow.SchoolVocational)
	require.NoError(t, db.RecordAward(ctx, approval(third.CaseID, 7000, civicflow.FamilyExtremelyPoor, civicflow.SchoolVocational)))
	require.Equal(t, 2, count(t, db, `SELECT count(*) FROM education_awards`))
}

func TestTierRulesDistrictOverridesCity(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	resolve := func(district string) civicflow.TierRule {
		t.Helper()
		r, err := db.ResolveTier(ctx, district, civicflow.FamilyDibao, civicflow.SchoolVocational)
		require.NoError(t, err)
		return r
	}
	city, err := db.TierRules(ctx, "")
	require.NoError(t, err)
	require.Len(t, city, 6, "the city's defaults: every status and kind")
	require.Equal(t, 3000, resolve("610113").Amount)
	require.Equal(t, civicflow.CityCode, resolve("610113").Jurisdiction)

	saved, err := db.PutTierRule(ctx, civicflow.TierRule{Jurisdiction: "610113", FamilyStatus: civicflow.FamilyDibao,
		SchoolKind: civicflow.SchoolVocational, Amount: 5000}, 0)
	require.NoError(t, err)
	require.Equal(t, saved, resolve("610113"))
	require.Equal(t, 5000, saved.Amount)
	require.False(t, saved.UpdatedAt.IsZero())
	require.Equal(t, 3000, resolve("610102").Amount, "another district keeps the city's default")
	rules, err := db.TierRules(ctx, "610113")
	require.NoError(t, err)
	require.Len(t, rules, 7)
	rules, err = db.TierRules(ctx, "610102")
	require.NoError(t, err)
	require.Len(t, rules, 6)

	// An award takes the district's rule.
	cr, err := db.CreateApplication(ctx, postgres.NewCase{
		Application: educationApplication("610113001", civicflow.FamilyDibao, civicflow.SchoolVocational)})
	require.NoError(t, err)
	toDistrictReview(t, db, cr.CaseID, civicflow.FamilyDibao, civicflow.SchoolVocational)
	d, err := db.EducationDetails(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Equal(t, &saved, d.Tier)
	err = db.RecordAward(ctx, approval(cr.CaseID, 3000, civicflow.FamilyDibao, civicflow.SchoolVocational))
	requireCode(t, err, civicflow.EINVALID)
	require.Equal(t, "the rules of 雁塔区 give 5000 for dibao/vocational", fieldErrors(t, err)[0].Reason)
	// The API's check before the workflow gives the same answer.
	check := db.CheckAwardAmount(ctx, cr.CaseID, 3000)
	requireCode(t, check, civicflow.EINVALID)
	require.Equal(t, fieldErrors(t, err), fieldErrors(t, check))
	require.NoError(t, db.CheckAwardAmount(ctx, cr.CaseID, 5000))
	require.NoError(t, db.RecordAward(ctx, approval(cr.CaseID, 5000, civicflow.FamilyDibao, civicflow.SchoolVocational)))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM education_awards WHERE rule_jurisdiction = '610113'`))

	// Bad rules are refused with their fields, and by the schema too.
	_, err = db.PutTierRule(ctx, civicflow.TierRule{Jurisdiction: "610113001", FamilyStatus: "rich", SchoolKind: "doctoral", Amount: 4000}, 0)
	requireCode(t, err, civicflow.EINVALID)
	require.Len(t, fieldErrors(t, err), 4)
	_, err = db.PutTierRule(ctx, civicflow.TierRule{Jurisdiction: "999999", FamilyStatus: civicflow.FamilyDibao,
		SchoolKind: civicflow.SchoolVocational, Amount: 5000}, 0)
	requireCode(t, err, civicflow.EINVALID)
	_, err = db.Pool().Exec(ctx, `UPDATE education_tier_rules SET amount = 4000 WHERE jurisdiction_code = '610113'`)
	requirePgCode(t, err, "23514")

	// Removing the district's rule brings the city's back; the city's own
	// rules can only be changed.
	requireCode(t, db.DeleteTierRule(ctx, civicflow.CityCode, civicflow.FamilyDibao, civicflow.SchoolVocational), civicflow.ECONFLICT)
	require.NoError(t, db.DeleteTierRule(ctx, "610113", civicflow.FamilyDibao, civicflow.SchoolVocational))
	requireCode(t, db.DeleteTierRule(ctx, "610113", civicflow.FamilyDibao, civicflow.SchoolVocational), civicflow.ENOTFOUND)
	require.Equal(t, 3000, resolve("610113").Amount)
	// The award made under the old rule keeps its amount.
	aw, err := db.AwardOf(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Equal(t, 5000, aw.Amount)
}

func TestEducationDeadlineRules(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	for stage, days := range map[string]int{"intake": 5, "verification": 15, "district_review": 20, "refusal_notice": 3} {
		r, err := db.ResolveDeadline(ctx, civicflow.CaseTypeEducationGrant, stage, "610113")
		require.NoError(t, err)
		require.Equal(t, days, r.Days, stage)
		require.Equal(t, civicflow.WorkingDays, r.Unit, stage)
	}
	// The verification stage has no time limit in other processes.
	r, err := db.ResolveDeadline(ctx, civicflow.CaseTypeCentralisedCare, "verification", "610113")
	require.NoError(t, err)
	require.Zero(t, r.Days)
}
