package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

var township = civicflow.Actor{UserID: 1, Username: "wang", Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"}

func carerAgreement() civicflow.CarerAgreement {
	return civicflow.CarerAgreement{Name: "李娜", Relation: "侄女", Phone: "13912340077", StartsOn: "2026-12-01"}
}

// dispersedPerson approves a new case in dispersed support and returns the
// case and its period of support.
func dispersedPerson(t *testing.T, db *postgres.DB, townshipCode string) (int64, *civicflow.RegisterEntry) {
	t.Helper()
	ctx := context.Background()
	c := createCase(t, db, townshipCode)
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, civicflow.ChinaZone())
	require.NoError(t, db.EnterDispersed(ctx, civicflow.DispersedWrite{
		Transition: civicflow.Transition{CaseID: c.CaseID, Key: "step-9", Seq: 9, Action: civicflow.ActionApprove,
			From: civicflow.StageDistrictReview, To: civicflow.StageCompleted, Actor: township, At: now(), SupportStart: &start},
		CareLevel: civicflow.CareSemiDependent, Carer: carerAgreement(), StartsOn: start}))
	cs := getCase(t, db, c.CaseID)
	e, err := db.RunningPeriod(ctx, cs.PersonID)
	require.NoError(t, err)
	return c.CaseID, e
}

func TestEnterDispersedIsIdempotentAndMasked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	caseID, e := dispersedPerson(t, db, "610113001")
	require.Equal(t, civicflow.SupportDispersed, e.Form)
	require.Equal(t, civicflow.CareSemiDependent, e.CareLevel)
	require.Equal(t, "2026-12-01", e.StartsOn.Format(time.DateOnly))
	require.Nil(t, e.EndsOn)
	require.Equal(t, "139****0077", e.Carer.Phone)
	require.NotEqual(t, "李娜", e.Carer.Name)
	require.NotContains(t, e.PersonName, "测试", "the person's name is masked")
	require.Equal(t, civicflow.StageCompleted, getCase(t, db, caseID).Stage)

	// The retry of the same step writes nothing more.
	start := e.StartsOn
	require.NoError(t, db.EnterDispersed(ctx, civicflow.DispersedWrite{
		Transition: civicflow.Transition{CaseID: caseID, Key: "step-9", Seq: 9, Action: civicflow.ActionApprove,
			From: civicflow.StageDistrictReview, To: civicflow.StageCompleted, Actor: township, At: now()},
		CareLevel: civicflow.CareSemiDependent, Carer: carerAgreement(), StartsOn: start}))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM register_periods WHERE opened_by_case = $1`, caseID))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM register_changes WHERE case_id = $1`, caseID))
	pd, err := db.RegisterPersonalData(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, "13912340077", pd.CarerPhone)
	require.Equal(t, "李娜", pd.CarerName)
	var sealed string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT carer_phone_enc FROM register_periods WHERE id = $1`, e.ID).Scan(&sealed))
	require.NotContains(t, sealed, "13912340077", "the carer's phone is sealed at rest")

	// A bad carer changes nothing.
	other := createCase(t, db, "610113001")
	err = db.EnterDispersed(ctx, civicflow.DispersedWrite{Transition: civicflow.Transition{CaseID: other.CaseID, Key: "step-9",
		Action: civicflow.ActionApprove, To: civicflow.StageCompleted, Actor: township, At: now()},
		CareLevel: civicflow.CareSelf, Carer: civicflow.CarerAgreement{Name: "x", Phone: "1", StartsOn: "2026-12-01"}, StartsOn: start})
	requireCode(t, err, civicflow.EINVALID)
	require.Zero(t, count(t, db, `SELECT count(*) FROM register_periods WHERE opened_by_case = $1`, other.CaseID))
}

// The register is never rewritten: a period is closed once, its own
// columns never change, nothing is deleted; changes are append-only; two
// periods of one person never overlap.
func TestRegisterConstraints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	caseID, e := dispersedPerson(t, db, "610113001")
	_, err := db.Pool().Exec(ctx, `UPDATE register_periods SET care_level = 'dependent' WHERE id = $1`, e.ID)
	require.ErrorContains(t, err, "only its end may be set")
	_, err = db.Pool().Exec(ctx, `DELETE FROM register_periods WHERE id = $1`, e.ID)
	require.ErrorContains(t, err, "never rewritten")
	_, err = db.Pool().Exec(ctx, `UPDATE register_changes SET kind = 'ended' WHERE case_id = $1`, caseID)
	require.ErrorContains(t, err, "append-only")

	// A second period over the same dates, opened by another case of the
	// same person, is refused by the exclusion constraint.
	var personID int64
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT person_id FROM register_periods WHERE id = $1`, e.ID).Scan(&personID))
	var other int64
	require.NoError(t, db.Pool().QueryRow(ctx, `INSERT INTO cases (reference, case_type, stage, workflow_id, person_id,
			district_code, township_code, address, relation, applicant_name, reported_self_care, access_code_hash)
		SELECT 'T-OVERLAP', 'community_rehab', 'closed', 'wf-overlap', person_id, district_code, township_code, 'x',
			'self', 'x', 'self_care', '\x00' FROM register_periods WHERE id = $1 RETURNING id`, e.ID).Scan(&other))
	_, err = db.Pool().Exec(ctx, `INSERT INTO register_periods (person_id, form, care_level, district_code, township_code,
		carer_name, carer_phone_enc, agreement_starts_on, starts_on, opened_by_case)
		VALUES ($1, 'dispersed', 'self_care', '610113', '610113001', 'x', 'k:AA==', '2027-01-01', '2027-03-01', $2)`, personID, other)
	requirePgCode(t, err, "23P01")

	// Closed once: the end is set, then nothing more.
	_, err = db.Pool().Exec(ctx, `UPDATE register_periods SET ends_on = '2027-02-01', end_reason = 'moved_away', closed_at = now() WHERE id = $1`, e.ID)
	require.NoError(t, err)
	_, err = db.Pool().Exec(ctx, `UPDATE register_periods SET end_reason = 'died' WHERE id = $1`, e.ID)
	require.ErrorContains(t, err, "is closed")
	// After the end, a new period may begin.
	_, err = db.Pool().Exec(ctx, `INSERT INTO register_periods (person_id, form, care_level, district_code, township_code,
		carer_name, carer_phone_enc, agreement_starts_on, starts_on, opened_by_case)
		VALUES ($1, 'dispersed', 'self_care', '610113', '610113001', 'x', 'k:AA==', '2027-02-01', '2027-02-01', $2)`, personID, other)
	require.NoError(t, err)
}

func terminationCase(t *testing.T, db *postgres.DB, periodID int64) *postgres.Created {
	t.Helper()
	eff := time.Date(2026, 12, 20, 0, 0, 0, 0, civicflow.ChinaZone())
	c, err := db.OpenRegisterCase(context.Background(), civicflow.RegisterCase{Type: civicflow.CaseTypeSupportTermination,
		PeriodID: periodID, RaisedBy: civicflow.RaisedByCommittee, Reason: string(civicflow.EndDied), EffectiveOn: &eff,
		ApplicantName: "小寨路社区居委会"})
	require.NoError(t, err)
	return c
}

func endSupport(db *postgres.DB, caseID int64, key string, effective time.Time) (*civicflow.Departure, error) {
	return db.EndSupport(context.Background(), civicflow.TerminationWrite{
		Transition: civicflow.Transition{CaseID: caseID, Key: key, Action: civicflow.StepPublicNoticeEnded,
			From: civicflow.StagePublicNotice, To: civicflow.StageCompleted, Actor: civicflow.SystemActor, At: now()},
		Reason: civicflow.EndDied, EffectiveOn: effective})
}

// A centralised resident's support ends: the period closes on the
// effective date, the bed goes to the first waiting case; a second open
// termination of the same person is refused; a retry changes nothing.
func TestTerminationFreesTheBedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	ensureInstitution(t, db, "雁塔区福利院", "610113", map[civicflow.CareLevel]int{civicflow.CareSelf: 1})
	resident := createCase(t, db, "610113001").CaseID
	waiting := createCase(t, db, "610113002").CaseID
	p := allocate(t, db, resident, civicflow.CareSelf, "610113")
	require.NotNil(t, p.Allocation)
	require.True(t, allocate(t, db, waiting, civicflow.CareSelf, "610113").Waitlisted)
	admitted := now()
	start := civicflow.SupportStart(admitted)
	require.NoError(t, db.ConfirmAdmission(ctx, p.Allocation.ID, civicflow.Transition{CaseID: resident, Key: "admit", Seq: 5,
		Action: civicflow.ActionConfirmAdmission, From: civicflow.StageAwaitingAdmission, To: civicflow.StageCompleted,
		Actor: civicflow.SystemActor, At: admitted, SupportStart: &start}))
	e, err := db.RunningPeriod(ctx, getCase(t, db, resident).PersonID)
	require.NoError(t, err)
	require.Equal(t, civicflow.SupportCentralised, e.Form)
	require.Equal(t, p.Allocation.ID, e.AllocationID)
	require.Equal(t, start.Format(time.DateOnly), e.StartsOn.Format(time.DateOnly))
	// A transfer is refused: the person is in centralised support.
	_, err = db.OpenRegisterCase(ctx, civicflow.RegisterCase{Type: civicflow.CaseTypeSupportTransfer, PeriodID: e.ID,
		RaisedBy: civicflow.RaisedByPerson, Reason: string(civicflow.TransferCarerUnable), ApplicantName: "x"})
	requireCode(t, err, civicflow.ECONFLICT)

	// Two terminations raised together: one case.
	var created, refused int
	errs := make([]error, 4)
	runConcurrently(4, func(i int) {
		eff := time.Date(2026, 12, 20, 0, 0, 0, 0, civicflow.ChinaZone())
		_, errs[i] = db.OpenRegisterCase(ctx, civicflow.RegisterCase{Type: civicflow.CaseTypeSupportTermination, PeriodID: e.ID,
			RaisedBy: civicflow.RaisedByInstitution, Reason: string(civicflow.EndDied), EffectiveOn: &eff, ApplicantName: "院方"})
	})
	for _, err := range errs {
		if err == nil {
			created++
		} else {
			requireCode(t, err, civicflow.ECONFLICT)
			refused++
		}
	}
	require.Equal(t, 1, created)
	require.Equal(t, 3, refused)
	var term int64
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT id FROM cases WHERE case_type = 'support_termination'`).Scan(&term))

	effective := start.AddDate(0, 0, 10)
	d, err := endSupport(db, term, "step-6", effective)
	require.NoError(t, err)
	require.True(t, d.Released)
	require.Equal(t, waiting, d.NextCaseID, "the freed bed goes to the waiting case")
	ended, err := db.RegisterEntry(ctx, e.ID)
	require.NoError(t, err)
	require.Equal(t, civicflow.EndDied, ended.EndReason)
	require.Equal(t, effective.Format(time.DateOnly), ended.EndsOn.Format(time.DateOnly))
	require.Equal(t, getCase(t, db, term).Reference, ended.ClosedByCase)
	again, err := endSupport(db, term, "step-6", effective)
	require.NoError(t, err)
	require.Zero(t, again.NextCaseID, "a retry frees nothing more")
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM bed_allocations WHERE case_id = $1`, waiting))
	changes, err := db.RegisterChanges(ctx, e.PersonID)
	require.NoError(t, err)
	require.Len(t, changes, 2)
	require.Equal(t, []string{civicflow.RegisterEntered, civicflow.RegisterEnded}, []string{changes[0].Kind, changes[1].Kind})
}

// A transfer's admission and a termination arriving together: whichever
// commits second sees the first's result, and the person is never in two
// running periods nor holds a bed without one.
func TestTransferAndTerminationTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for round := range 4 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			db := setup(t)
			ensureInstitution(t, db, "雁塔区福利院", "610113", map[civicflow.CareLevel]int{civicflow.CareSemiDependent: 1})
			_, e := dispersedPerson(t, db, "610113001")
			tr, err := db.OpenRegisterCase(ctx, civicflow.RegisterCase{Type: civicflow.CaseTypeSupportTransfer, PeriodID: e.ID,
				RaisedBy: civicflow.RaisedByRelative, Reason: string(civicflow.TransferCarerUnable), ApplicantName: "李娜"})
			require.NoError(t, err)
			p := allocate(t, db, tr.CaseID, civicflow.CareSemiDependent, "610113")
			require.NotNil(t, p.Allocation)
			term := terminationCase(t, db, e.ID)
			errs := make([]error, 2)
			runConcurrently(2, func(i int) {
				if i == 0 {
					errs[0] = db.ConfirmAdmission(ctx, p.Allocation.ID, civicflow.Transition{CaseID: tr.CaseID, Key: "admit",
						Action: civicflow.ActionConfirmAdmission, From: civicflow.StageAwaitingAdmission, To: civicflow.StageCompleted,
						Actor: civicflow.SystemActor, At: now()})
					return
				}
				_, errs[1] = endSupport(db, term.CaseID, "end", time.Date(2026, 12, 20, 0, 0, 0, 0, civicflow.ChinaZone()))
			})
			require.NoError(t, errs[1], "the termination ends whichever period runs")
			running := count(t, db, `SELECT count(*) FROM register_periods WHERE person_id = $1 AND ends_on IS NULL`, e.PersonID)
			require.LessOrEqual(t, running, 1)
			if errs[0] == nil {
				// Admitted first: the termination ended the centralised
				// period and freed its bed.
				require.Zero(t, running)
				a, err := db.Allocation(ctx, p.Allocation.ID)
				require.NoError(t, err)
				require.NotNil(t, a.ReleasedAt)
			} else {
				// Terminated first: the admission is refused and changes nothing.
				requireCode(t, errs[0], civicflow.ECONFLICT)
				require.Zero(t, running)
				require.Equal(t, 0, count(t, db, `SELECT count(*) FROM register_periods WHERE opened_by_case = $1`, tr.CaseID))
				a, err := db.Allocation(ctx, p.Allocation.ID)
				require.NoError(t, err)
				require.Nil(t, a.AdmittedAt)
			}
		})
	}
}

// Once a termination has ended the support a centralised-care case
// confirmed, the person may apply again; before, the case blocks it.
func TestApplyAgainAfterSupportEnded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	caseID, e := dispersedPerson(t, db, "610113001")
	app := newApplication("610113001")
	pd, err := db.PersonalData(ctx, caseID)
	require.NoError(t, err)
	app.Person.IDNumber = pd.IDNumber
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: app})
	requireCode(t, err, civicflow.ECONFLICT)

	term := terminationCase(t, db, e.ID)
	_, err = endSupport(db, term.CaseID, "end", time.Date(2026, 12, 20, 0, 0, 0, 0, civicflow.ChinaZone()))
	require.NoError(t, err)
	again, err := db.CreateApplication(ctx, postgres.NewCase{Application: app})
	require.NoError(t, err, "support ended: a new application is taken")
	require.NotEqual(t, caseID, again.CaseID)
	require.Equal(t, civicflow.StageCompleted, getCase(t, db, caseID).Stage, "the old case is not rewritten")
}
