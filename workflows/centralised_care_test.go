package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"civicflow"
	"civicflow/activities"
	"civicflow/temporalerr"
)

var (
	township  = civicflow.Actor{UserID: 1, Username: "ts", Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113001"}
	otherTS   = civicflow.Actor{UserID: 9, Username: "other", Role: civicflow.RoleTownshipOfficial, Jurisdiction: "610113002"}
	reviewer  = civicflow.Actor{UserID: 2, Username: "dr", Role: civicflow.RoleDistrictReviewer, Jurisdiction: "610113"}
	staff     = civicflow.Actor{UserID: 3, Username: "st", Role: civicflow.RoleInstitutionStaff, Jurisdiction: "610113", InstitutionID: 7}
	wrongInst = civicflow.Actor{UserID: 4, Username: "st2", Role: civicflow.RoleInstitutionStaff, Jurisdiction: "610113", InstitutionID: 8}
	applicant = civicflow.Actor{Role: civicflow.RoleApplicant, CaseID: 42}
)

// recorder stands in for the activities: it keeps the transitions the
// workflow asked to record, in order.
type recorder struct {
	mu          sync.Mutex
	transitions []civicflow.Transition
	deadlines   deadlineStandIn // StageClock and RecordDeadlineEvent (deadlines_test.go)
	checks      int
	allocations int
	waitFirst   int // number of AllocateBed calls that answer "waitlisted"
	refuse      refusals
	awards      []civicflow.AwardWrite
	dispersed   []civicflow.DispersedWrite
	ended       []civicflow.TerminationWrite
	nextCase    int64 // EndSupport answers that this waiting case got the freed bed (0: none)
	releases    []civicflow.Release
	// freedTo is the case a released bed goes to (0: nobody waits).
	freedTo int64
}

// refusals makes the next write of an action fail as a store refuses it
// (a non-retryable domain error), once per call of refuseNext.
type refusals struct {
	mu   sync.Mutex
	next map[civicflow.Action]error
}

func (r *refusals) refuseNext(act civicflow.Action, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next == nil {
		r.next = map[civicflow.Action]error{}
	}
	r.next[act] = err
}

func (r *refusals) take(act civicflow.Action) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.next[act]
	delete(r.next, act)
	return temporalerr.Activity(err)
}

func (r *recorder) stages() []civicflow.Stage {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []civicflow.Stage
	for _, t := range r.transitions {
		out = append(out, t.To)
	}
	return out
}

func (r *recorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, t := range r.transitions {
		out = append(out, string(t.Action))
	}
	return out
}

type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	rec *recorder
}

func setup(t *testing.T, birth time.Time) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	rec := &recorder{}
	env.RegisterWorkflowWithOptions(CentralisedCare, workflowOptions(CentralisedCareWorkflow))
	env.RegisterWorkflowWithOptions(EducationGrant, workflowOptions(EducationGrantWorkflow))
	env.RegisterWorkflowWithOptions(SupportTransfer, workflowOptions(SupportTransferWorkflow))
	env.RegisterWorkflowWithOptions(SupportTermination, workflowOptions(SupportTerminationWorkflow))
	env.RegisterActivity(&activities.Activities{})
	record := func(t civicflow.Transition) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, old := range rec.transitions {
			if old.Key == t.Key {
				return
			}
		}
		rec.transitions = append(rec.transitions, t)
	}
	// As the activity: the clock the step asks for is computed and written
	// with it (versionStageDeadlines 2).
	env.OnActivity(a.RecordTransition, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.RecordInput) (activities.RecordResult, error) {
			var res activities.RecordResult
			if in.Clock != nil {
				req := *in.Clock
				req.CaseID, req.At = in.Transition.CaseID, in.Transition.At
				clk, err := rec.deadlines.compute(ctx, req)
				if err != nil {
					return res, err
				}
				clk, ends := activities.FinishClock(req, clk)
				res.Clock, res.NoticeEndsAt = &clk, ends
				in.Transition.StageDueAt = nil
				if clk.Timed() {
					in.Transition.StageDueAt = &clk.Due
				}
				if ends != nil {
					in.Transition.NoticeEndsAt = ends
				}
			}
			if err := rec.refuse.take(in.Transition.Action); err != nil {
				return res, err
			}
			record(in.Transition)
			return res, nil
		})
	env.OnActivity(a.ConfirmAdmission, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AdmissionInput) error {
			if err := rec.refuse.take(in.Transition.Action); err != nil {
				return err
			}
			record(in.Transition)
			return nil
		})
	env.OnActivity(a.ReleaseAllocation, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ReleaseAllocationInput) (*civicflow.Departure, error) {
			if err := rec.refuse.take(in.Release.Transition.Action); err != nil {
				return nil, err
			}
			rec.mu.Lock()
			rec.releases = append(rec.releases, in.Release)
			next := rec.freedTo
			rec.mu.Unlock()
			record(in.Release.Transition)
			d := &civicflow.Departure{CaseID: in.Release.Transition.CaseID, Released: true, NextCaseID: next}
			if next != 0 {
				d.AllocationID = 100
			}
			return d, nil
		})
	env.OnActivity(a.RecordAward, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AwardInput) (activities.RecordResult, error) {
			if err := rec.refuse.take(in.Award.Transition.Action); err != nil {
				return activities.RecordResult{}, err
			}
			rec.mu.Lock()
			rec.awards = append(rec.awards, in.Award)
			rec.mu.Unlock()
			record(in.Award.Transition)
			return activities.RecordResult{}, nil
		})
	env.OnActivity(a.RecordDispersed, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DispersedInput) error {
			if err := rec.refuse.take(in.Write.Transition.Action); err != nil {
				return err
			}
			rec.mu.Lock()
			rec.dispersed = append(rec.dispersed, in.Write)
			rec.mu.Unlock()
			record(in.Write.Transition)
			return nil
		})
	env.OnActivity(a.EndSupport, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.TerminationInput) (*civicflow.Departure, error) {
			if err := rec.refuse.take(in.Write.Transition.Action); err != nil {
				return nil, err
			}
			rec.mu.Lock()
			rec.ended = append(rec.ended, in.Write)
			next := rec.nextCase
			rec.mu.Unlock()
			record(in.Write.Transition)
			return &civicflow.Departure{CaseID: in.Write.Transition.CaseID, Released: true, NextCaseID: next, AllocationID: 77}, nil
		})
	env.OnActivity(a.CheckHousehold, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckInput) (*civicflow.CheckResult, error) {
			rec.mu.Lock()
			rec.checks++
			rec.mu.Unlock()
			return &civicflow.CheckResult{Found: true, Eligible: true, MonthlyIncomePerCap: 400}, nil
		})
	env.OnActivity(a.AllocateBed, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AllocateInput) (*civicflow.Placement, error) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.allocations++
			if rec.allocations <= rec.waitFirst {
				return &civicflow.Placement{Waitlisted: true, Position: 1}, nil
			}
			return &civicflow.Placement{Allocation: &civicflow.Allocation{ID: 99, InstitutionID: 7, BedID: 5,
				CareLevel: in.CareLevel, Institution: "雁塔区社会福利院", BedLabel: "dependent-01"}}, nil
		})
	rec.deadlines.mock(env)
	return &harness{t: t, env: env, rec: rec}
}

func (h *harness) start() {
	h.env.ExecuteWorkflow(CentralisedCareWorkflow, CentralisedCareInput{
		CaseID: 42, Reference: "TK-610113-000042", DistrictCode: "610113", TownshipCode: "610113001",
		BirthDate: time.Date(1945, 3, 12, 0, 0, 0, 0, time.UTC), SelfCare: civicflow.CareDependent,
	})
}

// act schedules an update at delay and checks how it ends: wantErr "" means
// success, otherwise the error type (civicflow code) of the rejection.
func (h *harness) act(delay time.Duration, action civicflow.Action, req ActionRequest, wantErr string) {
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(string(action), "", &testsuite.TestUpdateCallback{
			OnAccept: func() {
				if wantErr != "" && wantErr != "late" {
					h.t.Errorf("%s by %s: accepted, want rejected with %s", action, req.Actor, wantErr)
				}
			},
			OnReject: func(err error) {
				if wantErr == "" {
					h.t.Errorf("%s by %s: rejected: %v", action, req.Actor, err)
					return
				}
				var ae *temporal.ApplicationError
				if !errors.As(err, &ae) || ae.Type() != wantErr {
					h.t.Errorf("%s: rejected with %v, want type %s", action, err, wantErr)
				}
			},
			OnComplete: func(_ any, err error) {
				if wantErr == "" && err != nil {
					h.t.Errorf("%s: failed: %v", action, err)
				}
			},
		}, req)
	}, delay)
}

func visit(opinion string) *HomeVisit {
	return &HomeVisit{VisitedOn: "2026-11-20", Visitors: []string{"王芳"}, Findings: "lives alone, bedridden",
		CareLevel: civicflow.CareDependent, Opinion: opinion}
}

func (h *harness) result() CaseState {
	h.t.Helper()
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var st CaseState
	require.NoError(h.t, h.env.GetWorkflowResult(&st))
	return st
}

func TestCentralisedCareHappyPath(t *testing.T) {
	h := setup(t, time.Time{})
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionEligible)}, "")
	// The notice lasts 7 days from about 1h; review after it.
	h.act(8*24*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer}, "")
	h.act(9*24*time.Hour, civicflow.ActionConfirmAdmission, ActionRequest{Actor: staff}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageCompleted, st.Stage)
	require.Equal(t, []civicflow.Stage{civicflow.StageIntake, civicflow.StageInvestigation, civicflow.StageInvestigation,
		civicflow.StageInvestigation, civicflow.StagePublicNotice, civicflow.StageDistrictReview, civicflow.StagePlacement,
		civicflow.StageAwaitingAdmission, civicflow.StageCompleted}, h.rec.stages())
	require.Equal(t, 1, h.rec.checks)
	require.True(t, st.Listed)
	require.Equal(t, int64(99), st.AllocationID)
	require.NotNil(t, st.SupportStart)
	require.Equal(t, 1, st.SupportStart.Day())
	require.Equal(t, civicflow.CareDependent, st.CareLevel)
	// Each stage's clock came with the step's write (versionStageDeadlines 2):
	// one activity per stage change, none of its own.
	h.env.AssertActivityNumberOfCalls(t, "StageClock", 0)
	h.rec.deadlines.mu.Lock()
	clocks := len(h.rec.deadlines.clocks)
	h.rec.deadlines.mu.Unlock()
	require.Equal(t, 6, clocks, "intake, investigation, public notice, district review, placement, awaiting admission")
	require.NotNil(t, h.transition("public_notice_started").NoticeEndsAt)
}

func TestCentralisedCareWrongActorsAndStages(t *testing.T) {
	h := setup(t, time.Time{})
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: otherTS}, civicflow.EFORBIDDEN)
	h.act(2*time.Minute, civicflow.ActionAccept, ActionRequest{Actor: reviewer}, civicflow.EFORBIDDEN)
	h.act(3*time.Minute, civicflow.ActionApprove, ActionRequest{Actor: reviewer}, civicflow.ECONFLICT)
	h.act(4*time.Minute, civicflow.ActionRequestSupplements, ActionRequest{Actor: township}, civicflow.EINVALID)
	h.act(5*time.Minute, civicflow.ActionReject, ActionRequest{Actor: township, Reasons: "  "}, civicflow.EINVALID)
	h.act(6*time.Minute, civicflow.ActionWithdraw, ActionRequest{Actor: civicflow.Actor{Role: civicflow.RoleApplicant, CaseID: 41}}, civicflow.EFORBIDDEN)
	h.act(7*time.Minute, civicflow.ActionReject, ActionRequest{Actor: township, Reasons: "not registered here"}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageRejected, st.Stage)
	require.Equal(t, []string{"submitted", "reject"}, h.rec.actions())
}

func TestCentralisedCareSupplementsLoop(t *testing.T) {
	h := setup(t, time.Time{})
	h.act(time.Minute, civicflow.ActionRequestSupplements, ActionRequest{Actor: township,
		Items: []string{"户口簿复印件", "残疾人证"}}, "")
	h.act(time.Hour, civicflow.ActionProvideSupplements, ActionRequest{Actor: applicant, DocumentIDs: []int64{3, 4}}, "")
	h.act(2*time.Hour, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(3*time.Hour, civicflow.ActionWithdraw, ActionRequest{Actor: applicant, Reasons: "moved in with daughter"}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageWithdrawn, st.Stage)
	require.Equal(t, []string{"submitted", "request_supplements", "provide_supplements", "accept", "economic_check_completed", "withdraw"}, h.rec.actions())
	require.Equal(t, []string{"户口簿复印件", "残疾人证"}, h.rec.transitions[1].WaitingFor)
	require.Empty(t, h.rec.transitions[2].WaitingFor)
}

func TestCentralisedCareObjectionAndReturn(t *testing.T) {
	h := setup(t, time.Time{})
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionEligible)}, "")
	h.act(3*24*time.Hour, civicflow.ActionLodgeObjection, ActionRequest{Actor: township, Reasons: "neighbour says a son supports him", Objector: "村民"}, "")
	h.act(4*24*time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionEligible)}, "")
	h.act(12*24*time.Hour, civicflow.ActionReturn, ActionRequest{Actor: reviewer, Reasons: "income proof missing"}, "")
	h.act(13*24*time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionEligible)}, "")
	h.act(21*24*time.Hour, civicflow.ActionReject, ActionRequest{Actor: reviewer, Reasons: "has an able supporter"}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageRejected, st.Stage)
	require.Equal(t, 3, st.Round)
	require.Equal(t, 3, h.rec.checks)
	require.Equal(t, []string{"submitted", "accept", "economic_check_completed", "record_investigation", "public_notice_started",
		"lodge_objection", "economic_check_completed", "record_investigation", "public_notice_started", "public_notice_ended",
		"return", "economic_check_completed", "record_investigation", "public_notice_started", "public_notice_ended", "reject"},
		h.rec.actions())
}

func TestCentralisedCareIneligibleOpinionRejects(t *testing.T) {
	h := setup(t, time.Time{})
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionIneligible)}, civicflow.EINVALID)
	h.act(2*time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionIneligible), Reasons: "income above the line"}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageRejected, st.Stage)
}

func TestCentralisedCareWaitlistThenPlacement(t *testing.T) {
	h := setup(t, time.Time{})
	h.rec.waitFirst = 1
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionEligible)}, "")
	h.act(8*24*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, CareLevel: civicflow.CareSemiDependent}, "")
	h.act(9*24*time.Hour, civicflow.ActionConfirmAdmission, ActionRequest{Actor: staff}, civicflow.EFORBIDDEN) // no bed yet: not their case
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalBedOffered, BedOffer{AllocationID: 99}) }, 30*24*time.Hour)
	h.act(31*24*time.Hour, civicflow.ActionConfirmAdmission, ActionRequest{Actor: wrongInst}, civicflow.EFORBIDDEN)
	h.act(32*24*time.Hour, civicflow.ActionConfirmAdmission, ActionRequest{Actor: staff}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageCompleted, st.Stage)
	require.Equal(t, civicflow.CareSemiDependent, st.CareLevel)
	acts := h.rec.actions()
	require.Equal(t, []string{"approve", "waitlisted", "bed_allocated", "confirm_admission"}, acts[len(acts)-4:])
	require.Equal(t, 2, h.rec.allocations)
}

func TestCentralisedCareMinorNotListed(t *testing.T) {
	h := setup(t, time.Time{})
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionEligible)}, "")
	h.act(2*time.Hour, civicflow.ActionWithdraw, ActionRequest{Actor: applicant}, "")
	h.env.ExecuteWorkflow(CentralisedCareWorkflow, CentralisedCareInput{
		CaseID: 42, DistrictCode: "610113", TownshipCode: "610113001",
		BirthDate: time.Now().AddDate(-10, 0, 0), SelfCare: civicflow.CareSelf,
	})
	st := h.result()
	require.False(t, st.Listed)
	require.Equal(t, civicflow.StageWithdrawn, st.Stage)
}

// Stage search attributes are upserted only when the input asks for them,
// or says nothing (cases started before the setting existed).
func TestCentralisedCareStageSearchAttributes(t *testing.T) {
	off, on := false, true
	for _, tc := range []struct {
		name string
		in   *bool
		want bool
	}{{"off", &off, false}, {"on", &on, true}, {"unset", nil, true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := setup(t, time.Time{})
			var mu sync.Mutex
			var stages []string
			h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
				mu.Lock()
				defer mu.Unlock()
				if sa, ok := args.Get(0).(temporal.SearchAttributes); ok {
					if v, ok := sa.GetKeyword(AttrStage); ok {
						stages = append(stages, v)
					}
				}
			}).Return(nil).Maybe()
			h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
			h.act(time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionEligible)}, "")
			h.act(8*24*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer}, "")
			h.act(9*24*time.Hour, civicflow.ActionConfirmAdmission, ActionRequest{Actor: staff}, "")
			h.env.ExecuteWorkflow(CentralisedCareWorkflow, CentralisedCareInput{
				CaseID: 42, Reference: "TK-610113-000042", DistrictCode: "610113", TownshipCode: "610113001",
				BirthDate: time.Date(1945, 3, 12, 0, 0, 0, 0, time.UTC), SelfCare: civicflow.CareDependent,
				StageSearchAttributes: tc.in,
			})
			require.Equal(t, civicflow.StageCompleted, h.result().Stage)
			mu.Lock()
			defer mu.Unlock()
			if !tc.want {
				require.Empty(t, stages, "no stage upserts")
				return
			}
			require.Equal(t, []string{"intake", "investigation", "public_notice", "district_review", "placement",
				"awaiting_admission", "completed"}, stages)
		})
	}
}

// toAdmission schedules the actions that bring a case to
// awaiting_admission by nine days in.
func (h *harness) toAdmission() {
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(time.Hour, civicflow.ActionRecordInvestigation, ActionRequest{Actor: township, HomeVisit: visit(civicflow.OpinionEligible)}, "")
	h.act(8*24*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer}, "")
}

func TestCentralisedCareReleaseBeforeAdmission(t *testing.T) {
	h := setup(t, time.Time{})
	h.rec.freedTo = 77
	offered := 0
	h.env.OnSignalExternalWorkflow("default-test-namespace", civicflow.CaseWorkflowID(77), "", SignalBedOffered,
		BedOffer{AllocationID: 100}).Return(func(_, _, _, _ string, _ any) error { offered++; return nil })
	h.toAdmission()
	otherDistrict := civicflow.Actor{UserID: 5, Username: "dr2", Role: civicflow.RoleDistrictReviewer, Jurisdiction: "610102"}
	day := 9 * 24 * time.Hour
	reason := ActionRequest{Actor: staff, Reasons: "家属接回家中照料", ReleaseReason: civicflow.ReleaseDeclined}
	noReasons, noKind := reason, reason
	noReasons.Reasons = " "
	noKind.ReleaseReason = "moved"
	wrong := reason
	wrong.Actor = wrongInst
	far := reason
	far.Actor = otherDistrict
	h.act(day, civicflow.ActionReleaseAllocation, noReasons, civicflow.EINVALID)
	h.act(day+time.Minute, civicflow.ActionReleaseAllocation, noKind, civicflow.EINVALID)
	h.act(day+2*time.Minute, civicflow.ActionReleaseAllocation, wrong, civicflow.EFORBIDDEN)
	h.act(day+3*time.Minute, civicflow.ActionReleaseAllocation, far, civicflow.EFORBIDDEN)
	h.act(day+4*time.Minute, civicflow.ActionReleaseAllocation, ActionRequest{Actor: township, Reasons: "x", ReleaseReason: civicflow.ReleaseDied}, civicflow.EFORBIDDEN)
	byDistrict := reason
	byDistrict.Actor, byDistrict.ReleaseReason = reviewer, civicflow.ReleaseNoShow
	h.act(day+time.Hour, civicflow.ActionReleaseAllocation, byDistrict, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageWithdrawn, st.Stage)
	acts := h.rec.actions()
	require.Equal(t, []string{"approve", "bed_allocated", "release_allocation"}, acts[len(acts)-3:])
	require.Len(t, h.rec.releases, 1)
	rel := h.rec.releases[0]
	require.Equal(t, int64(99), rel.AllocationID, "the allocation the case holds")
	require.Equal(t, civicflow.ReleaseNoShow, rel.Reason)
	require.Equal(t, civicflow.StageAwaitingAdmission, rel.Transition.From)
	require.Equal(t, civicflow.StageWithdrawn, rel.Transition.To)
	require.Equal(t, reviewer, rel.Transition.Actor)
	require.Equal(t, "家属接回家中照料", rel.Transition.Reasons)
	require.Equal(t, 1, offered, "the next waiting case is woken once")
	h.env.AssertActivityNumberOfCalls(t, "ConfirmAdmission", 0)
}

// TestCentralisedCareReleaseAndAdmissionTogether sends a release and an
// admission at the same moment: the first accepted wins and the other is
// refused before anything is written.
func TestCentralisedCareReleaseAndAdmissionTogether(t *testing.T) {
	h := setup(t, time.Time{})
	h.toAdmission()
	day := 9 * 24 * time.Hour
	h.act(day, civicflow.ActionConfirmAdmission, ActionRequest{Actor: staff}, "")
	h.act(day, civicflow.ActionReleaseAllocation, ActionRequest{Actor: reviewer, Reasons: "未报到", ReleaseReason: civicflow.ReleaseNoShow}, civicflow.ECONFLICT)
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageCompleted, st.Stage)
	require.Empty(t, h.rec.releases)
	h.env.AssertActivityNumberOfCalls(t, "ReleaseAllocation", 0)
}

// TestCentralisedCareRefusedReleaseChangesNothing: the store refuses the
// release (the person was admitted meanwhile): the case stays awaiting
// admission and may still be admitted.
func TestCentralisedCareRefusedReleaseChangesNothing(t *testing.T) {
	h := setup(t, time.Time{})
	h.rec.refuse.refuseNext(civicflow.ActionReleaseAllocation, civicflow.Errorf(civicflow.ECONFLICT, "admitted"))
	h.toAdmission()
	day := 9 * 24 * time.Hour
	h.act(day, civicflow.ActionReleaseAllocation, ActionRequest{Actor: staff, Reasons: "去世", ReleaseReason: civicflow.ReleaseDied}, "late")
	h.act(day+time.Hour, civicflow.ActionConfirmAdmission, ActionRequest{Actor: staff}, "")
	h.start()
	st := h.result()
	require.Equal(t, civicflow.StageCompleted, st.Stage)
	require.NotContains(t, h.rec.actions(), "release_allocation")
}
