package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/postgres"
)

func rehabApplication(township string) civicflow.Application {
	a := newApplication(township)
	a.Type, a.SelfCare = civicflow.CaseTypeCommunityRehab, ""
	a.Rehab = &civicflow.RehabApplication{AppliedBy: civicflow.ApplicantFamily}
	return a
}

func centreOf(t *testing.T, db *postgres.DB, district string) civicflow.RehabCentre {
	t.Helper()
	cs, err := db.RehabCentres(context.Background(), district)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	return cs[0]
}

func TestRehabCentresSeeded(t *testing.T) {
	t.Parallel()
	db := setup(t)
	cs, err := db.RehabCentres(context.Background(), "")
	require.NoError(t, err)
	require.Len(t, cs, 8, "the city is building 8 centres")
	seen := map[string]bool{}
	for _, c := range cs {
		require.False(t, seen[c.DistrictCode], "one centre per district")
		seen[c.DistrictCode] = true
		require.Contains(t, c.Name, "精神障碍社区康复服务中心")
	}
	none, err := db.RehabCentres(context.Background(), "610124")
	require.NoError(t, err)
	require.Empty(t, none, "周至县 has no centre yet")
}

func TestRehabApplicationAndGuardianConsent(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	a := rehabApplication("610113001")
	cr, err := db.CreateApplication(ctx, postgres.NewCase{Application: a})
	require.NoError(t, err)
	c := getCase(t, db, cr.CaseID)
	require.Equal(t, civicflow.CaseTypeCommunityRehab, c.Type)
	require.Equal(t, civicflow.CareLevel(""), c.SelfCare)
	// The same person may hold a rehab case and a centralised-care one, but
	// not two open rehab cases.
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: a})
	requireCode(t, err, civicflow.ECONFLICT)
	cc := a
	cc.Type, cc.Rehab, cc.SelfCare = "", nil, civicflow.CareDependent
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: cc})
	require.NoError(t, err)

	// Without capacity and without the guardian's consent: refused by the
	// schema, nothing written.
	bad := rehabApplication("610113001")
	bad.Rehab = &civicflow.RehabApplication{AppliedBy: civicflow.ApplicantGuardian, WithoutCapacity: true, GuardianName: "李建国"}
	_, err = db.CreateApplication(ctx, postgres.NewCase{Application: bad})
	requireCode(t, err, civicflow.EINVALID)
	good := bad
	good.Rehab = &civicflow.RehabApplication{AppliedBy: civicflow.ApplicantGuardian, WithoutCapacity: true, GuardianName: "李建国",
		GuardianConsent: true, ConsentOn: "2025-12-20"}
	g, err := db.CreateApplication(ctx, postgres.NewCase{Application: good})
	require.NoError(t, err)
	got, err := db.RehabApplication(ctx, g.CaseID)
	require.NoError(t, err)
	require.Equal(t, good.Rehab, got)
	var sealed string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT guardian_name_enc FROM rehab_applications WHERE case_id = $1`, g.CaseID).Scan(&sealed))
	require.NotContains(t, sealed, "李建国")
}

func TestRecordRehabStep(t *testing.T) {
	t.Parallel()
	db := setup(t)
	ctx := context.Background()
	cr, err := db.CreateApplication(ctx, postgres.NewCase{Application: rehabApplication("610113001")})
	require.NoError(t, err)
	yanta, xincheng := centreOf(t, db, "610113"), centreOf(t, db, "610102")
	actor := civicflow.Actor{UserID: 1, Username: "ra", Role: civicflow.RoleRehabAssessor, RehabCentreID: yanta.ID}
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, civicflow.ChinaZone())
	approve := civicflow.RehabStep{
		Transition: civicflow.Transition{CaseID: cr.CaseID, Key: "step-1", Seq: 1, Action: "approve",
			From: civicflow.StageSubmitted, To: civicflow.StageRegistration, Actor: actor, At: at},
		Summary: &civicflow.RehabSummary{CentreID: yanta.ID},
	}
	before, err := db.CaseRecords(ctx, getCase(t, db, cr.CaseID))
	require.NoError(t, err)
	require.Nil(t, before.Rehab, "no centre named yet")
	require.NoError(t, db.RecordRehabStep(ctx, approve))
	require.Equal(t, yanta.ID, getCase(t, db, cr.CaseID).RehabCentreID)

	content, err := db.SealRehabRecord(map[string]any{"diagnosis": "F20.0 偏执型精神分裂症"})
	require.NoError(t, err)
	plan := at.AddDate(0, 0, 2)
	due := plan.AddDate(0, 0, 90)
	register := civicflow.RehabStep{
		Transition: civicflow.Transition{CaseID: cr.CaseID, Key: "step-2", Seq: 2, Action: "register",
			From: civicflow.StageRegistration, To: civicflow.StageAssessment, Actor: actor, At: at.Add(time.Hour), StageDueAt: &due},
		Summary: &civicflow.RehabSummary{CentreID: yanta.ID, RegisteredAt: &at, PlanStart: &plan, ReviewIntervalDays: 90,
			ReviewsDone: 1, NextReviewDue: &due},
		Record: &civicflow.RehabRecord{Kind: "registration", Sealed: content},
	}
	require.NoError(t, db.RecordRehabStep(ctx, register))
	require.NoError(t, db.RecordRehabStep(ctx, register), "a retried activity writes nothing twice")
	recs, err := db.ClinicalRecords(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Contains(t, string(recs[0].Content), "F20.0")
	require.Equal(t, yanta.ID, recs[0].CentreID)
	sum, err := db.RehabSummary(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Equal(t, yanta.Name, sum.Centre)
	require.Equal(t, 1, sum.ReviewsDone)
	require.Equal(t, "2026-01-07", sum.PlanStart.In(civicflow.ChinaZone()).Format(time.DateOnly))
	require.True(t, due.Equal(*sum.NextReviewDue))
	page, err := db.CaseRecords(ctx, getCase(t, db, cr.CaseID))
	require.NoError(t, err)
	require.Equal(t, sum, page.Rehab, "the case page's batch reads the same summary")
	evs, err := db.Events(ctx, cr.CaseID)
	require.NoError(t, err)
	var steps []string
	for _, e := range evs {
		if !strings.Contains(e.Key, "/") { // not a notice
			steps = append(steps, e.Key)
		}
	}
	require.Equal(t, []string{"step-1", "step-2"}, steps)

	// At rest: sealed, and the records are append-only.
	var sealed string
	require.NoError(t, db.Pool().QueryRow(ctx, `SELECT content_enc FROM rehab_records WHERE case_id = $1`, cr.CaseID).Scan(&sealed))
	require.True(t, strings.HasPrefix(sealed, "k1:"))
	require.NotContains(t, sealed, "F20")
	_, err = db.Pool().Exec(ctx, `UPDATE rehab_records SET kind = 'review' WHERE case_id = $1`, cr.CaseID)
	require.ErrorContains(t, err, "append-only")
	_, err = db.Pool().Exec(ctx, `DELETE FROM rehab_records WHERE case_id = $1`, cr.CaseID)
	require.ErrorContains(t, err, "append-only")

	// A transfer moves the case; the referral record stays with the centre
	// that wrote it.
	refer, err := db.SealRehabRecord(map[string]any{"notes": "搬迁"})
	require.NoError(t, err)
	require.NoError(t, db.RecordRehabStep(ctx, civicflow.RehabStep{
		Transition: civicflow.Transition{CaseID: cr.CaseID, Key: "step-3", Seq: 3, Action: "refer",
			From: civicflow.StageAssessment, To: civicflow.StageRegistration, Actor: actor, At: at.Add(2 * time.Hour)},
		Summary: &civicflow.RehabSummary{CentreID: xincheng.ID, ReviewsDone: 1},
		Record:  &civicflow.RehabRecord{Kind: "referral", Sealed: refer},
	}))
	recs, err = db.ClinicalRecords(ctx, cr.CaseID)
	require.NoError(t, err)
	require.Equal(t, yanta.ID, recs[1].CentreID)
	require.Equal(t, xincheng.ID, getCase(t, db, cr.CaseID).RehabCentreID)
	mine, err := db.CentreCases(ctx, xincheng.ID, "", 0, 10)
	require.NoError(t, err)
	require.Len(t, mine, 1)
	old, err := db.CentreCases(ctx, yanta.ID, "", 0, 10)
	require.NoError(t, err)
	require.Empty(t, old)

	// A record that is not sealed is refused.
	err = db.RecordRehabStep(ctx, civicflow.RehabStep{
		Transition: civicflow.Transition{CaseID: cr.CaseID, Key: "step-4", Seq: 4, Action: "register",
			From: civicflow.StageRegistration, To: civicflow.StageAssessment, Actor: actor, At: at.Add(3 * time.Hour)},
		Record: &civicflow.RehabRecord{Kind: "registration", Sealed: "F20.0 in the clear"},
	})
	requireCode(t, err, civicflow.EINVALID)
	require.Equal(t, civicflow.StageRegistration, getCase(t, db, cr.CaseID).Stage, "nothing written")
}
