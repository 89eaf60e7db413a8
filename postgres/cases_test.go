package postgres_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

var accessCodePattern = regexp.MustCompile(`^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{10}$`)

func TestCreateApplication(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	app := newApplication("610113002")
	app.CommunityCode = "610113002001"
	app.Relation = civicflow.RelationRelative
	app.ApplicantName = "李四"
	app.Statement = "独居，无人照料"
	app.Disability = &civicflow.Disability{Kind: civicflow.DisabilityPhysical, Grade: 2}
	cr, err := db.CreateApplication(ctx, postgres.NewCase{Application: app})
	require.NoError(t, err)

	require.False(t, cr.Replayed)
	require.Positive(t, cr.CaseID)
	require.Regexp(t, `^TK-610113-[0-9]{6}$`, cr.Reference)
	require.Equal(t, fmt.Sprintf("TK-610113-%06d", cr.CaseID), cr.Reference)
	require.Len(t, cr.AccessCode, 10)
	require.Regexp(t, accessCodePattern, cr.AccessCode)
	require.Equal(t, civicflow.CaseWorkflowID(cr.CaseID), cr.WorkflowID)

	c := getCase(t, db, cr.CaseID)
	require.Equal(t, cr.Reference, c.Reference)
	require.Equal(t, civicflow.CaseTypeCentralisedCare, c.Type)
	require.Equal(t, civicflow.StageSubmitted, c.Stage)
	require.Equal(t, cr.WorkflowID, c.WorkflowID)
	require.Equal(t, app.Person.Name, c.PersonName)
	require.Equal(t, civicflow.MaskIDNumber(app.Person.IDNumber), c.IDNumberMasked)
	require.NotContains(t, c.IDNumberMasked, app.Person.IDNumber[6:14], "birth date masked")
	require.Equal(t, "139****5678", c.PhoneMasked)
	require.Equal(t, app.Person.BirthDate.Format(time.DateOnly), c.BirthDate.Format(time.DateOnly))
	require.Equal(t, "610113", c.DistrictCode)
	require.Equal(t, "610113002", c.TownshipCode)
	require.Equal(t, "610113002001", c.CommunityCode)
	require.Equal(t, app.Address, c.Address)
	require.Equal(t, civicflow.RelationRelative, c.Relation)
	require.Equal(t, "李四", c.ApplicantName)
	require.Equal(t, civicflow.CareDependent, c.SelfCare)
	require.Empty(t, c.CareLevel)
	require.True(t, c.DisabilityRecorded)
	require.Nil(t, c.Disability, "sealed: not read into the case")
	pd, err := db.PersonalData(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Equal(t, app.Disability, pd.Disability)
	require.Equal(t, app.Person.IDNumber, pd.IDNumber)
	require.Equal(t, app.Statement, c.Statement)
	require.NotNil(t, c.WaitingFor)
	require.Empty(t, c.WaitingFor)
	require.Zero(t, c.Seq)
	require.Zero(t, c.InstitutionID)

	byRef, err := db.CaseByReference(ctx, cr.Reference)
	require.NoError(t, err)
	require.Equal(t, c, byRef)

	idn, err := db.PersonIDNumber(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Equal(t, app.Person.IDNumber, idn)

	_, err = db.Case(ctx, cr.CaseID+1000)
	requireCode(t, err, civicflow.ENOTFOUND)
	_, err = db.CaseByReference(ctx, "TK-610113-999999")
	requireCode(t, err, civicflow.ENOTFOUND)

	// The store rejects what the schema forbids: a community outside the
	// township, an unknown township.
	bad := newApplication("610113001")
	bad.CommunityCode = "610113002001"
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: bad})
	requireCode(t, err, civicflow.EINVALID)
	bad = newApplication("610113099")
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: bad})
	requireCode(t, err, civicflow.EINVALID)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM cases`))
}

func TestCreateApplicationIdempotencyKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	nc := postgres.NewCase{Application: newApplication("610113001"), IdempotencyKey: "key-1", RequestHash: []byte("hash-1")}
	first, err := db.CreateApplication(ctx, nc)
	require.NoError(t, err)
	require.False(t, first.Replayed)

	again, err := db.CreateApplication(ctx, nc)
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.Equal(t, first.CaseID, again.CaseID)
	require.Equal(t, first.Reference, again.Reference)
	require.Equal(t, first.AccessCode, again.AccessCode)
	require.Equal(t, first.WorkflowID, again.WorkflowID)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM cases`))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM idempotency_keys`))

	// The replayed access code opens the case.
	_, err = db.CaseByAccessCode(ctx, again.Reference, again.AccessCode)
	require.NoError(t, err)

	// The same key with another request is refused, even for another person.
	other := nc
	other.RequestHash = []byte("hash-2")
	_, err = db.CreateApplication(ctx, other)
	requireCode(t, err, civicflow.ECONFLICT)
	other.Application = newApplication("610113001")
	_, err = db.CreateApplication(ctx, other)
	requireCode(t, err, civicflow.ECONFLICT)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM cases`))

	// Another key for another person creates another case.
	third, err := db.CreateApplication(ctx, postgres.NewCase{Application: newApplication("610113001"),
		IdempotencyKey: "key-2", RequestHash: []byte("hash-1")})
	require.NoError(t, err)
	require.False(t, third.Replayed)
	require.NotEqual(t, first.CaseID, third.CaseID)
	require.Equal(t, 2, count(t, db, `SELECT count(*) FROM cases`))
}

func TestCreateApplicationOneOpenCasePerPerson(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	app := newApplication("610102001")
	first, err := db.CreateApplication(ctx, postgres.NewCase{Application: app})
	require.NoError(t, err)

	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: app})
	requireCode(t, err, civicflow.ECONFLICT)
	// With a (new) idempotency key it is the same conflict, and the key is
	// not kept for a request that failed.
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: app, IdempotencyKey: "k", RequestHash: []byte("h")})
	requireCode(t, err, civicflow.ECONFLICT)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM cases`))
	require.Equal(t, 0, count(t, db, `SELECT count(*) FROM idempotency_keys`))

	// Still open in a later stage.
	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: first.CaseID, Key: "intake", Seq: 1,
		Action: "start", From: civicflow.StageSubmitted, To: civicflow.StageIntake, Actor: civicflow.SystemActor, At: now()}))
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: app})
	requireCode(t, err, civicflow.ECONFLICT)

	// Once withdrawn, the person may apply again.
	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: first.CaseID, Key: "withdraw", Seq: 2,
		Action: "withdraw", From: civicflow.StageIntake, To: civicflow.StageWithdrawn,
		Actor: civicflow.Actor{Role: civicflow.RoleApplicant, CaseID: first.CaseID}, At: now()}))
	second, err := db.CreateApplication(ctx, postgres.NewCase{Application: app})
	require.NoError(t, err)
	require.NotEqual(t, first.CaseID, second.CaseID)
	require.NotEqual(t, first.Reference, second.Reference)
	require.Equal(t, getCase(t, db, first.CaseID).PersonID, getCase(t, db, second.CaseID).PersonID, "same person row")
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM persons`))

	// And the new case is open again: a third application conflicts.
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: app})
	requireCode(t, err, civicflow.ECONFLICT)
	require.Equal(t, 2, count(t, db, `SELECT count(*) FROM cases`))
}

func TestCreateApplicationConcurrentSameKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	const n = 8
	nc := postgres.NewCase{Application: newApplication("610113003"), IdempotencyKey: "double-click", RequestHash: []byte("h")}
	results := make([]*postgres.Created, n)
	errs := make([]error, n)
	runConcurrently(n, func(i int) { results[i], errs[i] = db.CreateApplication(ctx, nc) })

	fresh := 0
	for i := range n {
		require.NoError(t, errs[i], "goroutine %d", i)
		require.Equal(t, results[0].CaseID, results[i].CaseID)
		require.Equal(t, results[0].AccessCode, results[i].AccessCode)
		require.Equal(t, results[0].Reference, results[i].Reference)
		if !results[i].Replayed {
			fresh++
		}
	}
	require.Equal(t, 1, fresh, "exactly one request created the case")
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM cases`))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM idempotency_keys`))
}

func TestCreateApplicationConcurrentSamePersonWithoutKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	const n = 8
	app := newApplication("610113003")
	errs := make([]error, n)
	runConcurrently(n, func(i int) {
		_, errs[i] = db.CreateApplication(ctx, postgres.NewCase{Application: app})
	})
	ok := 0
	for i := range n {
		if errs[i] == nil {
			ok++
			continue
		}
		requireCode(t, errs[i], civicflow.ECONFLICT)
	}
	require.Equal(t, 1, ok)
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM cases`))
}

func TestCaseByAccessCode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	a := createCase(t, db, "610113001")
	b := createCase(t, db, "610113001")

	c, err := db.CaseByAccessCode(ctx, a.Reference, a.AccessCode)
	require.NoError(t, err)
	require.Equal(t, a.CaseID, c.ID)

	c, err = db.CaseByAccessCode(ctx, a.Reference, "  "+strings.ToLower(a.AccessCode)+" \n")
	require.NoError(t, err, "case-insensitive, surrounding spaces ignored")
	require.Equal(t, a.CaseID, c.ID)

	wrong := []byte(a.AccessCode)
	if wrong[0] == 'A' {
		wrong[0] = 'B'
	} else {
		wrong[0] = 'A'
	}
	for _, tc := range []struct{ name, ref, code string }{
		{"wrong code", a.Reference, string(wrong)},
		{"empty code", a.Reference, ""},
		{"another case's code", a.Reference, b.AccessCode},
		{"unknown reference", "TK-610113-999999", a.AccessCode},
	} {
		_, err := db.CaseByAccessCode(ctx, tc.ref, tc.code)
		requireCode(t, err, civicflow.EUNAUTHORIZED)
		require.NotContains(t, err.Error(), "not found", tc.name)
	}
}

func TestRecordTransition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	cr := createCase(t, db, "610113001")
	created := getCase(t, db, cr.CaseID)
	official := civicflow.Actor{UserID: 7, Username: "wang", Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"}

	t0 := now().Add(-time.Hour)
	t1 := civicflow.Transition{CaseID: cr.CaseID, Key: "start", Seq: 1, Action: "start",
		From: civicflow.StageSubmitted, To: civicflow.StageIntake, Actor: civicflow.SystemActor, At: t0,
		WaitingFor: []string{"township_official"}}
	require.NoError(t, db.RecordTransition(ctx, t1))
	c := getCase(t, db, cr.CaseID)
	require.Equal(t, civicflow.StageIntake, c.Stage)
	require.Equal(t, 1, c.Seq)
	require.Equal(t, []string{"township_official"}, c.WaitingFor)
	require.Empty(t, c.CareLevel)
	requireSameTime(t, t0, c.StageEnteredAt)
	require.False(t, c.StageEnteredAt.Equal(created.StageEnteredAt))

	// Same stage: stage_entered_at stays; care level and waiting_for change.
	t2 := civicflow.Transition{CaseID: cr.CaseID, Key: "assessed", Seq: 2, Action: "record_assessment",
		From: civicflow.StageIntake, To: civicflow.StageIntake, Actor: official, At: t0.Add(10 * time.Minute),
		WaitingFor: []string{"rehab_assessor"}, CareLevel: civicflow.CareSemiDependent,
		Reasons: "评估", Details: map[string]any{"score": 45}}
	require.NoError(t, db.RecordTransition(ctx, t2))
	c = getCase(t, db, cr.CaseID)
	require.Equal(t, civicflow.StageIntake, c.Stage)
	require.Equal(t, 2, c.Seq)
	require.Equal(t, []string{"rehab_assessor"}, c.WaitingFor)
	require.Equal(t, civicflow.CareSemiDependent, c.CareLevel)
	requireSameTime(t, t0, c.StageEnteredAt, "the stage did not change")

	// New stage; nil WaitingFor and "" CareLevel leave them.
	t3 := civicflow.Transition{CaseID: cr.CaseID, Key: "accept", Seq: 3, Action: "accept",
		From: civicflow.StageIntake, To: civicflow.StageInvestigation, Actor: official, At: t0.Add(20 * time.Minute)}
	require.NoError(t, db.RecordTransition(ctx, t3))
	c = getCase(t, db, cr.CaseID)
	require.Equal(t, civicflow.StageInvestigation, c.Stage)
	require.Equal(t, 3, c.Seq)
	require.Equal(t, []string{"rehab_assessor"}, c.WaitingFor)
	require.Equal(t, civicflow.CareSemiDependent, c.CareLevel)
	requireSameTime(t, t3.At, c.StageEnteredAt)

	// An empty WaitingFor clears it.
	t4 := civicflow.Transition{CaseID: cr.CaseID, Key: "investigated", Seq: 4, Action: "record_investigation",
		From: civicflow.StageInvestigation, To: civicflow.StageInvestigation, Actor: official, At: t0.Add(25 * time.Minute),
		WaitingFor: []string{}}
	require.NoError(t, db.RecordTransition(ctx, t4))
	c = getCase(t, db, cr.CaseID)
	require.NotNil(t, c.WaitingFor)
	require.Empty(t, c.WaitingFor)
	requireSameTime(t, t3.At, c.StageEnteredAt)
	before := c

	// Repeating a key (a retried activity), even with other content, inserts
	// no second event and changes nothing.
	retry := t1
	retry.To, retry.Seq, retry.At, retry.CareLevel = civicflow.StagePublicNotice, 9, now(), civicflow.CareDependent
	require.NoError(t, db.RecordTransition(ctx, retry))
	require.NoError(t, db.RecordTransition(ctx, t3))
	after := getCase(t, db, cr.CaseID)
	require.Equal(t, before, after)

	evs, err := db.Events(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Len(t, evs, 4)
	for i, want := range []civicflow.Transition{t1, t2, t3, t4} {
		e := evs[i]
		require.Equal(t, want.Key, e.Key)
		require.Equal(t, cr.CaseID, e.CaseID)
		require.Equal(t, want.Action, e.Action)
		require.Equal(t, want.From, e.FromStage)
		require.Equal(t, want.To, e.ToStage)
		require.Equal(t, want.Actor, e.Actor)
		require.Equal(t, want.Reasons, e.Reasons)
		requireSameTime(t, want.At, e.At)
	}
	require.JSONEq(t, `{"score": 45}`, string(evs[1].Details))
	require.Nil(t, evs[0].Details)

	// The seq never goes back.
	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: cr.CaseID, Key: "late", Seq: 2,
		Action: "note", From: civicflow.StageInvestigation, To: civicflow.StageInvestigation, Actor: official, At: now()}))
	require.Equal(t, 4, getCase(t, db, cr.CaseID).Seq)

	// An unknown case or stage is refused and leaves no event.
	requireCode(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: cr.CaseID + 1000, Key: "x", To: civicflow.StageIntake,
		Action: "x", Actor: official, At: now()}), civicflow.EINVALID)
	requireCode(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: cr.CaseID, Key: "bad-stage", To: "limbo",
		Action: "x", Actor: official, At: now()}), civicflow.EINVALID)
	require.Equal(t, 5, count(t, db, `SELECT count(*) FROM case_events`))
}

func TestRecordTransitionNoticeAndSupportStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	cr := createCase(t, db, "610113001")

	ends := now().Add(civicflow.PublicNoticePeriod)
	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: cr.CaseID, Key: "notice", Seq: 1,
		Action: "start_notice", From: civicflow.StageSubmitted, To: civicflow.StagePublicNotice,
		Actor: civicflow.SystemActor, At: now(), NoticeEndsAt: &ends}))
	c := getCase(t, db, cr.CaseID)
	require.NotNil(t, c.NoticeEndsAt)
	requireSameTime(t, ends, *c.NoticeEndsAt)

	// Leaving public notice clears the end of notice. Support starts on a
	// date in China: 2025-02-28 20:00 UTC is 2025-03-01 in Xi'an.
	support := time.Date(2025, 2, 28, 20, 0, 0, 0, time.UTC)
	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: cr.CaseID, Key: "review", Seq: 2,
		Action: "end_notice", From: civicflow.StagePublicNotice, To: civicflow.StageDistrictReview,
		Actor: civicflow.SystemActor, At: now(), SupportStart: &support}))
	c = getCase(t, db, cr.CaseID)
	require.Nil(t, c.NoticeEndsAt)
	require.NotNil(t, c.SupportStart)
	require.Equal(t, "2025-03-01", c.SupportStart.Format(time.DateOnly))
}

func TestCaseEventsAreAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	cr := createCase(t, db, "610113001")
	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: cr.CaseID, Key: "start", Seq: 1,
		Action: "start", From: civicflow.StageSubmitted, To: civicflow.StageIntake, Actor: civicflow.SystemActor,
		At: now(), Reasons: "original"}))

	_, err := db.Pool().Exec(ctx, `UPDATE case_events SET reasons = 'rewritten'`)
	pgErr := requirePgCode(t, err, "P0001")
	require.Contains(t, pgErr.Message, "append-only")
	_, err = db.Pool().Exec(ctx, `DELETE FROM case_events`)
	pgErr = requirePgCode(t, err, "P0001")
	require.Contains(t, pgErr.Message, "append-only")

	evs, err := db.Events(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, "original", evs[0].Reasons)
}

func TestCasesFilterAndPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)

	a := createCase(t, db, "610113001").CaseID
	b := createCase(t, db, "610113002").CaseID
	c := createCase(t, db, "610102001").CaseID
	d := createCase(t, db, "610113001").CaseID
	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: b, Key: "start", Seq: 1, Action: "start",
		From: civicflow.StageSubmitted, To: civicflow.StageIntake, Actor: civicflow.SystemActor, At: now()}))
	inst, err := db.EnsureInstitution(ctx, postgres.NewInstitution{Name: "雁塔区福利院", DistrictCode: "610113",
		Beds: map[civicflow.CareLevel]int{civicflow.CareDependent: 1}})
	require.NoError(t, err)
	p, err := db.AllocateBed(ctx, d, civicflow.CareDependent, "610113")
	require.NoError(t, err)
	require.NotNil(t, p.Allocation)

	ids := func(f postgres.CaseFilter) []int64 {
		t.Helper()
		cs, err := db.Cases(ctx, f)
		require.NoError(t, err)
		out := []int64{}
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	require.Equal(t, []int64{a, b, c, d}, ids(postgres.CaseFilter{}))
	require.Equal(t, []int64{b}, ids(postgres.CaseFilter{Stage: civicflow.StageIntake}))
	require.Equal(t, []int64{a, c, d}, ids(postgres.CaseFilter{Stage: civicflow.StageSubmitted}))
	require.Equal(t, []int64{}, ids(postgres.CaseFilter{Stage: civicflow.StageCompleted}))
	require.Equal(t, []int64{a, b, d}, ids(postgres.CaseFilter{DistrictCode: "610113"}))
	require.Equal(t, []int64{c}, ids(postgres.CaseFilter{DistrictCode: "610102"}))
	require.Equal(t, []int64{a, d}, ids(postgres.CaseFilter{TownshipCode: "610113001"}))
	require.Equal(t, []int64{a, d}, ids(postgres.CaseFilter{DistrictCode: "610113", Stage: civicflow.StageSubmitted}))
	require.Equal(t, []int64{d}, ids(postgres.CaseFilter{InstitutionID: inst}))
	require.Equal(t, []int64{}, ids(postgres.CaseFilter{InstitutionID: inst + 1}))

	// Keyset pagination.
	require.Equal(t, []int64{a, b}, ids(postgres.CaseFilter{Limit: 2}))
	require.Equal(t, []int64{c, d}, ids(postgres.CaseFilter{Limit: 2, AfterID: b}))
	require.Equal(t, []int64{}, ids(postgres.CaseFilter{Limit: 2, AfterID: d}))
	require.Equal(t, []int64{b, d}, ids(postgres.CaseFilter{DistrictCode: "610113", AfterID: a}))
	require.Equal(t, []int64{d}, ids(postgres.CaseFilter{DistrictCode: "610113", AfterID: a, Limit: 1, Stage: civicflow.StageSubmitted}))
	require.Equal(t, []int64{a, b, c, d}, ids(postgres.CaseFilter{Limit: -1}), "a bad limit means the default")

	// Paging through everything one at a time visits each case once, in order.
	var seen []int64
	after := int64(0)
	for {
		page := ids(postgres.CaseFilter{Limit: 1, AfterID: after})
		if len(page) == 0 {
			break
		}
		seen = append(seen, page...)
		after = page[len(page)-1]
	}
	require.Equal(t, []int64{a, b, c, d}, seen)
}

// TestCaseStage reads the stage alone and follows a recorded transition;
// an unknown case is ENOTFOUND.
func TestCaseStage(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	c := createCase(t, db, "610113001")
	st, err := db.CaseStage(ctx, c.CaseID)
	require.NoError(t, err)
	require.Equal(t, civicflow.StageSubmitted, st)
	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: c.CaseID, Key: "step-1", Seq: 1,
		Action: "submitted", From: civicflow.StageSubmitted, To: civicflow.StageIntake, Actor: civicflow.SystemActor, At: time.Now()}))
	st, err = db.CaseStage(ctx, c.CaseID)
	require.NoError(t, err)
	require.Equal(t, civicflow.StageIntake, st)
	_, err = db.CaseStage(ctx, c.CaseID+1000)
	require.Equal(t, civicflow.ENOTFOUND, civicflow.ErrorCode(err))
}

// The case page reads its records in one batch; it answers what the
// separate reads answer, for the case asked about only.
func TestCaseRecordsMatchSeparateReads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := setup(t)
	ensureInstitution(t, db, "长安区福利院", "610116", map[civicflow.CareLevel]int{civicflow.CareDependent: 1})
	id := createCase(t, db, "610116001").CaseID
	other := createCase(t, db, "610116001").CaseID

	// A case without records: empty lists, no allocation.
	r, err := db.CaseRecords(ctx, getCase(t, db, other))
	require.NoError(t, err)
	require.Empty(t, r.Timeline)
	require.Empty(t, r.Papers)
	require.Empty(t, r.Checks)
	require.Nil(t, r.Allocation)
	require.Nil(t, r.Rehab, "not a rehab case")

	require.NoError(t, db.RecordTransition(ctx, civicflow.Transition{CaseID: id, Key: "step-1", Seq: 1, Action: "submitted",
		From: civicflow.StageSubmitted, To: civicflow.StageIntake, Actor: civicflow.SystemActor, At: now()}))
	_, err = db.AddDocument(ctx, id, "id-card.pdf", "application/pdf", "applicant", []byte("%PDF-1.4 records"))
	require.NoError(t, err)
	require.NoError(t, db.SaveCheckResult(ctx, id, 1, civicflow.CheckResult{Found: true, Reference: "HD-R"}))
	p := allocate(t, db, id, civicflow.CareDependent, "610116")
	require.NotNil(t, p.Allocation)

	cs := getCase(t, db, id)
	require.Equal(t, p.Allocation.ID, cs.AllocationID)
	r, err = db.CaseRecords(ctx, cs)
	require.NoError(t, err)
	evs, err := db.Events(ctx, id)
	require.NoError(t, err)
	docs, err := db.Documents(ctx, id)
	require.NoError(t, err)
	checks, err := db.CheckResults(ctx, id)
	require.NoError(t, err)
	alloc, err := db.Allocation(ctx, p.Allocation.ID)
	require.NoError(t, err)
	require.NotEmpty(t, evs)
	require.Equal(t, evs, r.Timeline)
	require.Len(t, docs, 1)
	require.Equal(t, docs, r.Papers)
	require.Equal(t, checks, r.Checks)
	require.Equal(t, alloc, r.Allocation)

	// The other case's records are not mixed in.
	r, err = db.CaseRecords(ctx, getCase(t, db, other))
	require.NoError(t, err)
	require.Empty(t, r.Timeline)
	require.Empty(t, r.Papers)

	// An allocation that does not exist is not found, not an empty page.
	dangling := *cs
	dangling.AllocationID += 1000
	_, err = db.CaseRecords(ctx, &dangling)
	requireCode(t, err, civicflow.ENOTFOUND)
}
