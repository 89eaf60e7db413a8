package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"civicflow"
	"civicflow/activities"
	"civicflow/temporalerr"
)

// checkOptions bound one call to the verification platform; the platform
// may be down for a while, so retries go on with back-off up to 10 minutes
// apart until it answers.
var checkOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        2 * time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        10 * time.Minute,
		NonRetryableErrorTypes: temporalerr.RetryPolicyTypes(),
	},
}

// careCase is the state of one running CentralisedCare workflow: the
// application pipeline (pipeline.go) and the centralised-care ending —
// investigation, public notice, placement.
type careCase struct {
	*pipeline
	in CentralisedCareInput
	// noticeOverride: the input fixed the notice period (demos, tests).
	noticeOverride bool
}

// versionStageDeadlines marks runs that keep stage clocks. Version 1: a
// StageClock activity when a stage starts, the due date on the case and in
// the CivicflowStageDue search attribute, and the reminder and breach
// timers. Version 2 (clockInStep): the clock is computed by the
// RecordTransition activity that records the step, one activity per stage
// change instead of two (issue 8, docs/performance.md). Runs started before
// version 1 replay without any of that. One change ID for both keeps new
// histories to one version marker (each marker also upserts the
// TemporalChangeVersion search attribute).
const versionStageDeadlines = "stage-deadlines"

// versionDispersedSupport marks an approval in dispersed support (issue
// 18): the case completes with the carer's agreement instead of going to
// placement. Asked only on that path, so other histories do not change.
const versionDispersedSupport = "dispersed-support"

// versionReleaseAllocation marks the release_allocation path (issue 18): a
// bed given up before admission ends the case withdrawn and wakes the next
// waiting case. The marker is written only when a release happens, inside
// its update, so every other path of every run — old or new — issues the
// same commands as before. Version 1 is the only one: a run can reach the
// update only with code that has the handler, so DefaultVersion there means
// a history this code did not write.
const versionReleaseAllocation = "release-allocation"

// CentralisedCare runs one application for centralised support for an
// extremely poor person (特困人员集中供养) from intake to admission.
func CentralisedCare(ctx workflow.Context, in CentralisedCareInput) (CaseState, error) {
	noticeOverride := in.NoticePeriod > 0
	if in.NoticePeriod <= 0 {
		in.NoticePeriod = civicflow.PublicNoticePeriod
	}
	p := &pipeline{caseID: in.CaseID, caseType: civicflow.CaseTypeCentralisedCare, district: in.DistrictCode,
		township: in.TownshipCode, rec: tracked{state: CaseState{CaseID: in.CaseID, Stage: civicflow.StageSubmitted, WaitingFor: []string{}}},
		mu: workflow.NewMutex(ctx), noticeFromRule: !noticeOverride, stageAttrs: StageAttributes(in.StageSearchAttributes)}
	c := &careCase{pipeline: p, in: in, noticeOverride: noticeOverride}
	p.end = c
	ctx = workflow.WithActivityOptions(ctx, recordOptions)
	if err := p.register(ctx); err != nil {
		return c.rec.state, err
	}

	if v := workflow.GetVersion(ctx, versionStageDeadlines, workflow.DefaultVersion, 2); v >= 1 {
		c.deadlines = true
		c.clockInStep = v >= 2
		workflow.Go(ctx, c.watchDeadline)
	}
	if err := c.step(ctx, step{action: civicflow.StepSubmitted, to: civicflow.StageIntake, actor: civicflow.SystemActor}); err != nil {
		return c.rec.state, err
	}
	for !c.over() {
		var err error
		switch c.state().Stage {
		case civicflow.StageInvestigation:
			err = c.investigate(ctx)
		case civicflow.StagePublicNotice:
			err = c.publicNotice(ctx)
		case civicflow.StagePlacement, civicflow.StageWaitlisted:
			err = c.place(ctx)
		default: // stages where only people move the case on
			stage := c.state().Stage
			err = workflow.Await(ctx, func() bool { return c.state().Stage != stage || c.over() })
		}
		if err != nil {
			return c.rec.state, err
		}
	}
	// Let update handlers that are still running finish before completing.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return c.rec.state, err
	}
	return c.rec.state, nil
}

func (c *careCase) actions() []civicflow.Action {
	return []civicflow.Action{civicflow.ActionRecordInvestigation, civicflow.ActionLodgeObjection, civicflow.ActionConfirmAdmission,
		civicflow.ActionReleaseAllocation}
}

// check validates the fields of the centralised-care actions and of the
// care level an approval confirms.
func (c *careCase) check(act civicflow.Action, req ActionRequest) []civicflow.FieldError {
	var bad []civicflow.FieldError
	need := func(field, value string) {
		if strings.TrimSpace(value) == "" {
			bad = append(bad, civicflow.FieldError{Field: field, Reason: "is required"})
		}
	}
	switch act {
	case civicflow.ActionRecordInvestigation:
		v := req.HomeVisit
		if v == nil {
			bad = append(bad, civicflow.FieldError{Field: "home_visit", Reason: "is required"})
			break
		}
		need("home_visit.visited_on", v.VisitedOn)
		need("home_visit.findings", v.Findings)
		if !v.CareLevel.Valid() {
			bad = append(bad, civicflow.FieldError{Field: "home_visit.care_level", Reason: "must be self_care, semi_dependent or dependent"})
		}
		switch v.Opinion {
		case civicflow.OpinionEligible:
		case civicflow.OpinionIneligible:
			need("reasons", req.Reasons)
		default:
			bad = append(bad, civicflow.FieldError{Field: "home_visit.opinion", Reason: "must be eligible or ineligible"})
		}
	case civicflow.ActionReleaseAllocation:
		if !req.ReleaseReason.Valid() {
			bad = append(bad, civicflow.FieldError{Field: "release_reason", Reason: "must be declined, died or no_show"})
		}
	case civicflow.ActionApprove:
		if req.CareLevel != "" && !req.CareLevel.Valid() {
			bad = append(bad, civicflow.FieldError{Field: "care_level", Reason: "must be self_care, semi_dependent or dependent"})
		}
		switch req.SupportForm {
		case "", civicflow.SupportCentralised:
			if req.Carer != nil {
				bad = append(bad, civicflow.FieldError{Field: "carer", Reason: "is only for dispersed support"})
			}
		case civicflow.SupportDispersed:
			if req.Carer == nil {
				bad = append(bad, civicflow.FieldError{Field: "carer", Reason: "is required for dispersed support"})
			} else {
				bad = append(bad, req.Carer.Check("carer.")...)
			}
			if req.CareLevel == "" && c.state().CareLevel == "" {
				bad = append(bad, civicflow.FieldError{Field: "care_level", Reason: "is required: the investigation recorded none"})
			}
		default:
			bad = append(bad, civicflow.FieldError{Field: "support_form", Reason: "must be centralised or dispersed"})
		}
	}
	return bad
}

// next gives the step of an action: an accepted or returned case is
// investigated, an approved one placed. The home visit is kept with the
// step that records it.
func (c *careCase) next(ctx workflow.Context, act civicflow.Action, req ActionRequest) (step, error) {
	s := step{action: act, actor: req.Actor, reasons: req.Reasons}
	switch act {
	case civicflow.ActionAccept:
		s.to, s.edit = civicflow.StageInvestigation, startRound
	case civicflow.ActionRecordInvestigation:
		v := *req.HomeVisit
		s.details, s.careLevel = v, v.CareLevel
		s.to = civicflow.StageInvestigation
		s.edit = func(st *CaseState) { st.HomeVisit = req.HomeVisit }
		if v.Opinion == civicflow.OpinionIneligible {
			s.to = civicflow.StageRejected
		}
	case civicflow.ActionLodgeObjection:
		s.to = civicflow.StageInvestigation
		s.details = map[string]any{"objector": req.Objector}
		s.edit = startRound
	case civicflow.ActionApprove:
		s.to, s.careLevel = civicflow.StagePlacement, req.CareLevel
		if s.careLevel == "" {
			s.careLevel = c.state().CareLevel
		}
		// Dispersed support (issue 18) completes the case at once and
		// enters the register; runs begun before it never take the path.
		if req.SupportForm == civicflow.SupportDispersed &&
			workflow.GetVersion(ctx, versionDispersedSupport, workflow.DefaultVersion, 1) >= 1 {
			start := civicflow.SupportStart(workflow.Now(ctx))
			s.to, s.supportStart = civicflow.StageCompleted, &start
			s.dispersed = &civicflow.DispersedWrite{CareLevel: s.careLevel, Carer: *req.Carer, StartsOn: start}
			s.details = map[string]any{"support_form": civicflow.SupportDispersed, "support_start": start.Format("2006-01-02"),
				"carer": civicflow.MaskName(req.Carer.Name)}
		}
	case civicflow.ActionReturn:
		s.to, s.edit = civicflow.StageInvestigation, startRound
	case civicflow.ActionConfirmAdmission:
		s.to, s.admit = civicflow.StageCompleted, c.state().AllocationID
		start := civicflow.SupportStart(workflow.Now(ctx))
		s.supportStart = &start
		s.details = map[string]any{"support_start": start.Format("2006-01-02")}
	case civicflow.ActionReleaseAllocation:
		if workflow.GetVersion(ctx, versionReleaseAllocation, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			return s, civicflow.Errorf(civicflow.ECONFLICT, "this case's workflow cannot release its bed")
		}
		id := c.state().AllocationID
		s.to, s.waitingFor = civicflow.StageWithdrawn, []string{}
		s.release = &civicflow.Release{AllocationID: id, Reason: req.ReleaseReason}
		s.details = map[string]any{"release_reason": req.ReleaseReason, "allocation_id": id}
	default:
		return s, fmt.Errorf("no handler for action %s", act)
	}
	return s, nil
}

// startRound begins an investigation (or verification) round: a new home
// visit or verification and a new household check are needed. It is the
// edit of the step that enters the stage, so the main loop never sees the
// stage without it.
func startRound(st *CaseState) {
	st.Round++
	st.HomeVisit = nil
	st.Check = nil
	if st.Education != nil {
		st.Education.Verification = nil
	}
}

// investigate runs the household check of the current round while the
// township official visits, and opens the public notice once both are done.
func (c *careCase) investigate(ctx workflow.Context) error {
	round := c.state().Round
	inRound := func() bool { st := c.state(); return st.Stage == civicflow.StageInvestigation && st.Round == round }
	if done, err := c.checkHousehold(ctx, round, civicflow.StageInvestigation, inRound); err != nil || !done {
		return err
	}

	// The home visit counts once it is recorded (the recorded case, not a
	// proposal): the notice must not start on a visit whose write fails.
	if err := workflow.Await(ctx, func() bool { return c.rec.state.HomeVisit != nil || !inRound() }); err != nil {
		return err
	}
	if !inRound() {
		return nil
	}
	now := workflow.Now(ctx)
	ends := now.Add(c.in.NoticePeriod)
	var clock *civicflow.StageClock
	if c.deadlines && !c.clockInStep {
		// The notice lasts as long as the jurisdiction's rule says, unless
		// the input fixed it; the clock's due date is the notice's end.
		clk, err := c.readClock(ctx, activities.StageClockInput{Op: activities.ClockStart,
			Stage: civicflow.StagePublicNotice, At: now, Seq: c.state().Seq + 1})
		if err != nil {
			return fmt.Errorf("stage clock for %s: %w", civicflow.StagePublicNotice, err)
		}
		if !c.noticeOverride && clk.Timed() {
			ends = clk.Due
		}
		clk.Due, clk.RemindAt = ends, time.Time{}
		clock = &clk
	}
	minor := civicflow.IsMinor(civicflow.AgeOn(c.in.BirthDate, now.In(civicflow.ChinaZone())))
	return c.step(ctx, step{action: civicflow.StepPublicNoticeStarted, to: civicflow.StagePublicNotice,
		actor: civicflow.SystemActor, noticeEndsAt: &ends, clock: clock,
		edit:    func(st *CaseState) { st.Listed = !minor },
		details: map[string]any{"ends_at": ends, "listed": !minor, "round": round}})
}

// publicNotice waits out 公示 on a durable timer; an objection moves the
// case back to investigation before it ends.
func (c *careCase) publicNotice(ctx workflow.Context) error {
	round := c.state().Round
	inNotice := func() bool { st := c.state(); return st.Stage == civicflow.StagePublicNotice && st.Round == round }
	return c.awaitNotice(ctx, c.in.NoticePeriod, inNotice, step{action: civicflow.StepPublicNoticeEnded,
		to: civicflow.StageDistrictReview, actor: civicflow.SystemActor, details: map[string]any{"objections": 0}})
}
