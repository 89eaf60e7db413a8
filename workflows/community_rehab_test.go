package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"civicflow"
	"civicflow/activities"
)

const (
	yantaCentre    = 6 // 雁塔区精神障碍社区康复服务中心 in the tests
	xinchengCentre = 1
)

var (
	assessor      = civicflow.Actor{UserID: 5, Username: "ra", Role: civicflow.RoleRehabAssessor, Jurisdiction: "610113", RehabCentreID: yantaCentre}
	otherAssessor = civicflow.Actor{UserID: 6, Username: "ra2", Role: civicflow.RoleRehabAssessor, Jurisdiction: "610102", RehabCentreID: xinchengCentre}
	rehabStart    = time.Date(2026, 3, 2, 9, 0, 0, 0, civicflow.ChinaZone())
)

// rehabRecorder keeps what CommunityRehab asked the activities to write.
type rehabRecorder struct {
	mu        sync.Mutex
	steps     []civicflow.RehabStep // every step; Summary and Record only for rehab steps
	deadlines deadlineStandIn
	refuse    refusals
}

func (r *rehabRecorder) add(s civicflow.RehabStep) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, old := range r.steps {
		if old.Transition.Key == s.Transition.Key {
			return
		}
	}
	r.steps = append(r.steps, s)
}

func (r *rehabRecorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.steps {
		out = append(out, string(s.Transition.Action))
	}
	return out
}

func (r *rehabRecorder) records() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.steps {
		if s.Record != nil {
			out = append(out, s.Record.Kind)
		}
	}
	return out
}

// last returns the last step with the action.
func (r *rehabRecorder) last(action string) civicflow.RehabStep {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.steps) - 1; i >= 0; i-- {
		if r.steps[i].Transition.Action == civicflow.Action(action) {
			return r.steps[i]
		}
	}
	return civicflow.RehabStep{}
}

type rehabHarness struct {
	harness
	rrec *rehabRecorder
}

// rehabSetup builds a test environment whose clock starts at rehabStart.
// reviewWrite delays the write of each review (the update handler is then
// still running when the run decides to continue as new).
func rehabSetup(t *testing.T, reviewWrite time.Duration) *rehabHarness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(rehabStart)
	rec := &rehabRecorder{}
	env.RegisterWorkflowWithOptions(CommunityRehab, workflowOptions(CommunityRehabWorkflow))
	env.RegisterActivity(&activities.Activities{})
	// As the activities: the clock the step asks for is computed with it.
	clock := func(ctx context.Context, req *activities.StageClockInput, t *civicflow.Transition) (activities.RecordResult, error) {
		var res activities.RecordResult
		if req == nil {
			return res, nil
		}
		in := *req
		in.CaseID, in.At = t.CaseID, t.At
		clk, err := rec.deadlines.compute(ctx, in)
		if err != nil {
			return res, err
		}
		res.Clock = &clk
		if clk.Timed() {
			t.StageDueAt = &clk.Due
		}
		return res, nil
	}
	env.OnActivity(a.RecordTransition, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.RecordInput) (activities.RecordResult, error) {
			res, err := clock(ctx, in.Clock, &in.Transition)
			rec.add(civicflow.RehabStep{Transition: in.Transition})
			return res, err
		})
	write := func(ctx context.Context, in activities.RehabStepInput) (activities.RecordResult, error) {
		res, err := clock(ctx, in.Clock, &in.Step.Transition)
		if err == nil {
			err = rec.refuse.take(in.Step.Transition.Action)
		}
		if err != nil {
			return res, err
		}
		rec.add(in.Step)
		return res, err
	}
	env.OnActivity(a.RecordRehabStep, mock.Anything, mock.MatchedBy(func(in activities.RehabStepInput) bool {
		return in.Step.Transition.Action == civicflow.ActionRecordReview
	})).After(reviewWrite).Return(write)
	env.OnActivity(a.RecordRehabStep, mock.Anything, mock.Anything).Return(write)
	rec.deadlines.mock(env)
	for _, st := range []civicflow.Stage{civicflow.StageRegistration, civicflow.StageAssessment, civicflow.StagePlanning} {
		r := cityRule(st, 10, civicflow.WorkingDays)
		r.CaseType = civicflow.CaseTypeCommunityRehab
		rec.deadlines.setRule(r)
	}
	return &rehabHarness{harness: harness{t: t, env: env}, rrec: rec}
}

func (h *rehabHarness) start(reviewsPerRun int) {
	h.env.ExecuteWorkflow(CommunityRehabWorkflow, CommunityRehabInput{
		CaseID: 42, Reference: "TK-610113-000042", DistrictCode: "610113", TownshipCode: "610113001",
		BirthDate: time.Date(1988, 5, 1, 0, 0, 0, 0, time.UTC), ReviewsPerRun: reviewsPerRun,
	})
}

func sealed(what string) string { return "k1:" + what + "AAAA" }

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func rehabReq(actor civicflow.Actor, r RehabRequest) ActionRequest {
	if r.Sealed == "" {
		r.Sealed = sealed("rec")
	}
	return ActionRequest{Actor: actor, Rehab: &r}
}

var testPlan = []PlanItem{
	{Service: civicflow.ServiceMedication, Frequency: "每周1次", StartDate: "2026-03-10"},
	{Service: civicflow.ServiceSocialSkills, Frequency: "每周2次", StartDate: "2026-03-09"},
}

func planServices() []civicflow.RehabService {
	return []civicflow.RehabService{civicflow.ServiceMedication, civicflow.ServiceSocialSkills}
}

// toRehab schedules intake, district approval, registration, a suitable
// assessment and the plan (30-day reviews from 2026-03-09), by day 4.
func (h *rehabHarness) toRehab() {
	h.act(time.Hour, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(24*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, RehabCentreID: yantaCentre}, "")
	h.act(2*24*time.Hour, civicflow.ActionRegister, rehabReq(assessor, RehabRequest{FileNumber: "YT-2026-0007"}), "")
	h.act(3*24*time.Hour, civicflow.ActionAssess, rehabReq(assessor, RehabRequest{Suitable: yes(),
		Services: []civicflow.RehabService{civicflow.ServiceMedication, civicflow.ServiceSocialSkills, civicflow.ServiceFamilySupport}}), "")
	h.act(4*24*time.Hour, civicflow.ActionAgreePlan, rehabReq(assessor, RehabRequest{Plan: testPlan,
		AgreedBy: civicflow.ApplicantGuardian, ReviewIntervalDays: 30}), "")
}

func (h *rehabHarness) result() CaseState {
	h.t.Helper()
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var st CaseState
	require.NoError(h.t, h.env.GetWorkflowResult(&st))
	return st
}

// details reads a step's timeline details as the read model stores them.
func details(t *testing.T, s civicflow.RehabStep) map[string]any {
	t.Helper()
	b, err := json.Marshal(s.Transition.Details)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func sameDay(t *testing.T, want string, got *time.Time) {
	t.Helper()
	require.NotNil(t, got)
	require.Equal(t, want, got.In(civicflow.ChinaZone()).Format(time.DateOnly))
	require.True(t, day(want).Equal(*got), "%s: midnight in China, got %s", want, got)
}

func day(s string) time.Time {
	d, err := time.ParseInLocation(time.DateOnly, s, civicflow.ChinaZone())
	if err != nil {
		panic(err)
	}
	return d
}

func TestRehabRejectedAtIntake(t *testing.T) {
	h := rehabSetup(t, 0)
	h.act(time.Minute, civicflow.ActionAccept, ActionRequest{Actor: otherTS}, civicflow.EFORBIDDEN)
	h.act(2*time.Minute, civicflow.ActionRegister, rehabReq(assessor, RehabRequest{FileNumber: "x"}), civicflow.EFORBIDDEN)
	h.act(3*time.Minute, civicflow.ActionRequestSupplements, ActionRequest{Actor: township, Items: []string{"诊断证明", "监护人身份证"}}, "")
	h.act(time.Hour, civicflow.ActionProvideSupplements, ActionRequest{Actor: applicant, DocumentIDs: []int64{3}}, "")
	h.act(2*time.Hour, civicflow.ActionReject, ActionRequest{Actor: township}, civicflow.EINVALID)
	h.act(3*time.Hour, civicflow.ActionReject, ActionRequest{Actor: township, Reasons: "户籍不在本街道"}, "")
	h.start(0)
	st := h.result()
	require.Equal(t, civicflow.StageRejected, st.Stage)
	require.Equal(t, []string{"submitted", "request_supplements", "provide_supplements", "reject"}, h.rrec.actions())
	require.Equal(t, []string{"诊断证明", "监护人身份证"}, h.rrec.steps[1].Transition.WaitingFor)
	require.Empty(t, h.rrec.records(), "no clinical record before the centre")
	// The intake clock ran for the rehab process and stopped while waiting.
	h.rrec.deadlines.mu.Lock()
	defer h.rrec.deadlines.mu.Unlock()
	require.NotEmpty(t, h.rrec.deadlines.clocks)
	require.Equal(t, civicflow.StageIntake, h.rrec.deadlines.clocks[0].Stage)
}

func TestRehabNotSuitableCloses(t *testing.T) {
	h := rehabSetup(t, 0)
	h.act(time.Hour, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(2*time.Hour, civicflow.ActionReturn, ActionRequest{Actor: reviewer, Reasons: "缺少诊断证明"}, "")
	h.act(3*time.Hour, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(4*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer}, civicflow.EINVALID)
	h.act(5*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, RehabCentreID: yantaCentre}, "")
	h.act(6*time.Hour, civicflow.ActionRegister, rehabReq(otherAssessor, RehabRequest{FileNumber: "x"}), civicflow.EFORBIDDEN)
	h.act(7*time.Hour, civicflow.ActionRegister, rehabReq(assessor, RehabRequest{}), civicflow.EINVALID)
	h.act(8*time.Hour, civicflow.ActionRegister, ActionRequest{Actor: assessor}, civicflow.EINVALID)
	h.act(9*time.Hour, civicflow.ActionRegister, rehabReq(assessor, RehabRequest{FileNumber: "YT-2026-0001"}), "")
	h.act(10*time.Hour, civicflow.ActionAssess, rehabReq(assessor, RehabRequest{}), civicflow.EINVALID)
	h.act(11*time.Hour, civicflow.ActionAssess, rehabReq(assessor, RehabRequest{Suitable: yes(),
		Services: []civicflow.RehabService{"karaoke"}}), civicflow.EINVALID)
	h.act(12*time.Hour, civicflow.ActionAssess, rehabReq(assessor, RehabRequest{Suitable: no()}), "")
	h.start(0)
	st := h.result()
	require.Equal(t, civicflow.StageClosed, st.Stage)
	require.Equal(t, []string{"submitted", "accept", "return", "accept", "approve", "register", "assess"}, h.rrec.actions())
	require.Equal(t, []civicflow.Stage{civicflow.StageDistrictReview, civicflow.StageIntake, civicflow.StageDistrictReview},
		[]civicflow.Stage{h.rrec.steps[1].Transition.To, h.rrec.steps[2].Transition.To, h.rrec.steps[3].Transition.To},
		"rehab skips investigation and public notice; a return goes back to the township")
	require.Equal(t, []string{"registration", "assessment"}, h.rrec.records())
	approve := h.rrec.last("approve")
	require.Equal(t, int64(yantaCentre), approve.Summary.CentreID)
	closing := h.rrec.last("assess")
	require.NotNil(t, closing.Summary.ClosedAt)
	require.Equal(t, map[string]any{"suitable": false, "closure": "not_suitable"}, details(t, closing))
	require.Equal(t, sealed("rec"), closing.Record.Sealed, "the clinical record is passed on sealed")
}

func TestRehabPlanReviewsAndClosure(t *testing.T) {
	h := rehabSetup(t, 0)
	h.toRehab()
	// Reviews are due 2026-04-08, 05-08, 06-07 (30 days from the plan's
	// first start, 2026-03-09). The first is recorded late (after the
	// overdue mark), the second early with a changed plan, then closure.
	h.act(40*24*time.Hour, civicflow.ActionRecordReview, rehabReq(assessor, RehabRequest{
		Reviewed: []civicflow.RehabService{civicflow.ServiceMedication}}), civicflow.EINVALID) // a plan service missing
	h.act(41*24*time.Hour, civicflow.ActionRecordReview, rehabReq(otherAssessor, RehabRequest{Reviewed: planServices()}), civicflow.EFORBIDDEN)
	h.act(42*24*time.Hour, civicflow.ActionRecordReview, rehabReq(assessor, RehabRequest{Reviewed: planServices()}), "")
	h.act(50*24*time.Hour, civicflow.ActionRecordReview, rehabReq(assessor, RehabRequest{Reviewed: planServices(),
		Plan: []PlanItem{{Service: civicflow.ServiceFamilySupport, Frequency: "每月2次", StartDate: "2026-04-25"}}}), "")
	h.act(55*24*time.Hour, civicflow.ActionRecordReview, rehabReq(assessor, RehabRequest{Reviewed: planServices()}), civicflow.EINVALID) // the plan changed
	h.act(56*24*time.Hour, civicflow.ActionRecordReview, rehabReq(assessor, RehabRequest{
		Reviewed: []civicflow.RehabService{civicflow.ServiceFamilySupport}, ReviewIntervalDays: 60}), "")
	h.act(57*24*time.Hour, civicflow.ActionClose, rehabReq(assessor, RehabRequest{Closure: "cured"}), civicflow.EINVALID)
	forged := rehabReq(assessor, RehabRequest{Closure: civicflow.ClosureGoalsMet})
	forged.Reasons = "病情稳定" // clinical text on the timeline: refused
	h.act(57*24*time.Hour+time.Hour, civicflow.ActionClose, forged, civicflow.EINVALID)
	h.act(58*24*time.Hour, civicflow.ActionClose, rehabReq(assessor, RehabRequest{Closure: civicflow.ClosureGoalsMet}), "")
	h.start(10)
	st := h.result()
	require.Equal(t, civicflow.StageClosed, st.Stage)
	require.Equal(t, []string{"submitted", "accept", "approve", "register", "assess", "agree_plan", "review_overdue",
		"record_review", "record_review", "record_review", "close"}, h.rrec.actions())
	require.Equal(t, []string{"registration", "assessment", "plan", "review", "review", "review", "closure"}, h.rrec.records())
	plan := h.rrec.last("agree_plan")
	sameDay(t, "2026-03-09", plan.Summary.PlanStart)
	sameDay(t, "2026-04-08", plan.Transition.StageDueAt)
	var dues []string
	h.rrec.mu.Lock()
	for _, s := range h.rrec.steps {
		if s.Transition.Action == "record_review" {
			dues = append(dues, s.Transition.StageDueAt.In(civicflow.ChinaZone()).Format(time.DateOnly))
			require.Equal(t, s.Transition.StageDueAt, s.Summary.NextReviewDue)
		}
	}
	h.rrec.mu.Unlock()
	// 04-08 → 05-08 → 06-07, then every 60 days: 08-06. No gap, no drift.
	require.Equal(t, []string{"2026-05-08", "2026-06-07", "2026-08-06"}, dues)
	overdue := h.rrec.last("review_overdue")
	require.Equal(t, float64(1), details(t, overdue)["review"])
	due, err := time.Parse(time.RFC3339, details(t, overdue)["due"].(string))
	require.NoError(t, err)
	sameDay(t, "2026-04-08", &due)
	require.Equal(t, 3, st.Rehab.ReviewsDone)
	require.Nil(t, st.Rehab.NextReviewDue)
	require.Equal(t, civicflow.ServiceFamilySupport, st.Rehab.Plan[0].Service)
	// The timeline (read by supervisors) holds no clinical content: no
	// sealed record, no service.
	for _, s := range h.rrec.steps {
		b, err := json.Marshal(s.Transition.Details)
		require.NoError(t, err)
		require.NotContains(t, string(b), "k1:", s.Transition.Action)
		require.NotContains(t, string(b), string(civicflow.ServiceMedication), s.Transition.Action)
		require.NotContains(t, string(b), string(civicflow.ServiceFamilySupport), s.Transition.Action)
	}
}

func TestRehabReferralTransferAndHospital(t *testing.T) {
	h := rehabSetup(t, 0)
	h.toRehab()
	h.act(5*24*time.Hour, civicflow.ActionRefer, rehabReq(assessor, RehabRequest{ReferTo: civicflow.ReferToCentre, CentreID: yantaCentre}), civicflow.EINVALID)
	h.act(6*24*time.Hour, civicflow.ActionRefer, rehabReq(assessor, RehabRequest{ReferTo: civicflow.ReferToCentre, CentreID: xinchengCentre}), "")
	// The case now belongs to the other centre: scope changed.
	h.act(7*24*time.Hour, civicflow.ActionRegister, rehabReq(assessor, RehabRequest{FileNumber: "YT-2"}), civicflow.EFORBIDDEN)
	h.act(8*24*time.Hour, civicflow.ActionRegister, rehabReq(otherAssessor, RehabRequest{FileNumber: "XC-2026-0042"}), "")
	h.act(9*24*time.Hour, civicflow.ActionAssess, rehabReq(otherAssessor, RehabRequest{Suitable: yes(),
		Services: []civicflow.RehabService{civicflow.ServiceMedication}}), "")
	h.act(10*24*time.Hour, civicflow.ActionRefer, rehabReq(otherAssessor, RehabRequest{ReferTo: "clinic"}), civicflow.EINVALID)
	h.act(11*24*time.Hour, civicflow.ActionRefer, rehabReq(otherAssessor, RehabRequest{ReferTo: civicflow.ReferToHospital}), "")
	h.start(0)
	st := h.result()
	require.Equal(t, civicflow.StageReferred, st.Stage)
	require.Equal(t, int64(xinchengCentre), st.Rehab.CentreID)
	require.Equal(t, 1, st.Rehab.Transfers)
	require.Equal(t, []string{"submitted", "accept", "approve", "register", "assess", "agree_plan", "refer",
		"register", "assess", "refer"}, h.rrec.actions())
	transfer := h.rrec.steps[6]
	require.Equal(t, civicflow.StageRegistration, transfer.Transition.To)
	require.Equal(t, int64(xinchengCentre), transfer.Summary.CentreID)
	require.Nil(t, transfer.Summary.NextReviewDue, "the new centre plans again")
	require.Equal(t, map[string]any{"refer_to": "centre", "from_centre_id": float64(yantaCentre),
		"to_centre_id": float64(xinchengCentre)}, details(t, transfer))
	require.NotNil(t, h.rrec.last("refer").Summary.ClosedAt)
}

func TestRehabWithdrawal(t *testing.T) {
	h := rehabSetup(t, 0)
	h.act(time.Hour, civicflow.ActionAccept, ActionRequest{Actor: township}, "")
	h.act(24*time.Hour, civicflow.ActionApprove, ActionRequest{Actor: reviewer, RehabCentreID: yantaCentre}, "")
	h.act(2*24*time.Hour, civicflow.ActionRegister, rehabReq(assessor, RehabRequest{FileNumber: "YT-9"}), "")
	h.act(3*24*time.Hour, civicflow.ActionWithdraw, ActionRequest{Actor: civicflow.Actor{Role: civicflow.RoleApplicant, CaseID: 41}}, civicflow.EFORBIDDEN)
	h.act(4*24*time.Hour, civicflow.ActionWithdraw, ActionRequest{Actor: applicant, Reasons: "家属决定居家照护"}, "")
	h.start(0)
	st := h.result()
	require.Equal(t, civicflow.StageWithdrawn, st.Stage)
	require.Equal(t, []string{"submitted", "accept", "approve", "register", "withdraw"}, h.rrec.actions())
}

// TestRehabContinueAsNew runs a case across the continue-as-new boundary:
// the second review ends the run (ReviewsPerRun 2) while its write is
// still in flight and an attendance signal arrives; the run waits for the
// handler, counts the signal and carries the schedule. The next run goes on
// with review 3, due one interval after review 2 was.
func TestRehabContinueAsNew(t *testing.T) {
	h := rehabSetup(t, 10*time.Minute)
	h.toRehab()
	session := func(at time.Duration, service civicflow.RehabService, n int) {
		h.env.RegisterDelayedCallback(func() {
			h.env.SignalWorkflow(SignalRehabSession, RehabSession{Actor: assessor, Service: service, Sessions: n, On: "2026-03-20"})
		}, at)
	}
	session(10*24*time.Hour, civicflow.ServiceMedication, 2)
	session(11*24*time.Hour, civicflow.ServiceFamilySupport, 1) // not in the plan: dropped
	session(12*24*time.Hour, civicflow.ServiceSocialSkills, 3)
	h.act(20*24*time.Hour, civicflow.ActionRecordReview, rehabReq(assessor, RehabRequest{Reviewed: planServices()}), "")
	session(21*24*time.Hour, civicflow.ServiceMedication, 1)
	h.act(25*24*time.Hour, civicflow.ActionRecordReview, rehabReq(assessor, RehabRequest{Reviewed: planServices()}), "")
	// While review 2 is being written (10 minutes), a session arrives.
	session(25*24*time.Hour+time.Minute, civicflow.ServiceSocialSkills, 4)
	h.start(2)

	require.True(t, h.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	require.Equal(t, CommunityRehabWorkflow, can.WorkflowType.Name)
	var next CommunityRehabInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Carry)
	r := next.Carry.State.Rehab
	require.Equal(t, civicflow.StageInRehab, next.Carry.State.Stage)
	require.Equal(t, 2, r.ReviewsDone)
	sameDay(t, "2026-06-07", r.NextReviewDue) // review 3: 90 days after the plan's start
	require.Equal(t, []SessionCount{{Service: civicflow.ServiceSocialSkills, Sessions: 4}}, r.Sessions,
		"the session that arrived during the handler is carried over")
	require.Equal(t, 4, r.SessionSignals, "three before and one at the boundary; the unplanned one dropped")
	require.Equal(t, "record_review", h.rrec.actions()[len(h.rrec.actions())-1], "the handler finished before the run ended")
	require.Equal(t, float64(2), details(t, h.rrec.last("record_review"))["review"])
	require.Equal(t, float64(1), details(t, h.rrec.last("record_review"))["sessions"], "review 2 counted the session since review 1")
	seqBefore := next.Carry.State.Seq

	// The next run: no new submission step, the same schedule, review 3.
	h2 := rehabSetup(t, 0)
	h2.env.SetStartTime(rehabStart.Add(26 * 24 * time.Hour))
	h2.act(time.Hour, civicflow.ActionRecordReview, rehabReq(assessor, RehabRequest{Reviewed: planServices()}), "")
	h2.act(2*time.Hour, civicflow.ActionClose, rehabReq(assessor, RehabRequest{Closure: civicflow.ClosureMovedAway}), "")
	h2.env.ExecuteWorkflow(CommunityRehabWorkflow, next)
	st := h2.result()
	require.Equal(t, civicflow.StageClosed, st.Stage)
	require.Equal(t, []string{"record_review", "close"}, h2.rrec.actions())
	review := h2.rrec.steps[0]
	require.Equal(t, seqBefore+1, review.Transition.Seq, "step numbers go on: no key is reused")
	require.Equal(t, float64(3), details(t, review)["review"])
	require.Equal(t, float64(4), details(t, review)["sessions"], "the carried sessions go into review 3")
	sameDay(t, "2026-07-07", review.Summary.NextReviewDue)
	require.Equal(t, 1, st.Rehab.Runs)
}

// TestRehabUnknownActionType proves an application error from the
// validator carries the domain code.
func TestRehabValidatorCodes(t *testing.T) {
	err := domainError(civicflow.Invalid(civicflow.FieldError{Field: "rehab", Reason: "is required"}))
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae))
	require.Equal(t, civicflow.EINVALID, ae.Type())
}

// TestReplayRehabDetectsIncompatibleChange proves the replay of the saved
// rehab histories can fail: a workflow issuing other commands is refused.
func TestReplayRehabDetectsIncompatibleChange(t *testing.T) {
	changed := func(ctx workflow.Context, in CommunityRehabInput) (CaseState, error) {
		return CaseState{}, workflow.Sleep(ctx, time.Hour)
	}
	for _, f := range []string{"community_rehab_continued.json", "community_rehab_closed.json"} {
		r := worker.NewWorkflowReplayer()
		r.RegisterWorkflowWithOptions(changed, workflowOptions(CommunityRehabWorkflow))
		require.Error(t, r.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join("testdata", "histories", f)), f)
	}
}

// Attendance sent twice with the same key (a double click, a retried
// request) is counted once; without a key every signal counts; the keys
// travel with the state across continue-as-new.
func TestRehabAttendanceCountedOncePerKey(t *testing.T) {
	h := rehabSetup(t, 0)
	h.toRehab()
	session := func(at time.Duration, key string, n int) {
		h.env.RegisterDelayedCallback(func() {
			h.env.SignalWorkflow(SignalRehabSession, RehabSession{Actor: assessor, Service: civicflow.ServiceMedication,
				Sessions: n, On: "2026-03-20", Key: key})
		}, at)
	}
	session(10*24*time.Hour, "console-a", 2)
	session(10*24*time.Hour+time.Second, "console-a", 2) // the same form, sent again
	session(11*24*time.Hour, "console-b", 3)
	session(12*24*time.Hour, "", 1)
	session(12*24*time.Hour+time.Second, "", 1)
	h.act(20*24*time.Hour, civicflow.ActionRecordReview, rehabReq(assessor, RehabRequest{Reviewed: planServices()}), "")
	h.start(1)

	require.Equal(t, float64(2+3+1+1), details(t, h.rrec.last("record_review"))["sessions"])
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var next CommunityRehabInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	r := next.Carry.State.Rehab
	require.Equal(t, 4, r.SessionSignals)
	require.Equal(t, []string{"console-a", "console-b"}, r.SessionKeys)
}

// The case remembers the last sessionKeysKept keys, not every key ever.
func TestRehabAttendanceKeysAreBounded(t *testing.T) {
	h := rehabSetup(t, 0)
	h.toRehab()
	n := sessionKeysKept + 6
	for i := range n {
		h.env.RegisterDelayedCallback(func() {
			h.env.SignalWorkflow(SignalRehabSession, RehabSession{Actor: assessor, Service: civicflow.ServiceMedication,
				Sessions: 1, On: "2026-03-20", Key: fmt.Sprintf("k%d", i)})
		}, 10*24*time.Hour+time.Duration(i)*time.Minute)
	}
	h.act(20*24*time.Hour, civicflow.ActionRecordReview, rehabReq(assessor, RehabRequest{Reviewed: planServices()}), "")
	h.start(1)
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var next CommunityRehabInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	r := next.Carry.State.Rehab
	require.Equal(t, n, r.SessionSignals, "every distinct key counted")
	require.Len(t, r.SessionKeys, sessionKeysKept)
	require.Equal(t, "k6", r.SessionKeys[0], "the oldest forgotten first")
	require.Equal(t, fmt.Sprintf("k%d", n-1), r.SessionKeys[sessionKeysKept-1])
}
