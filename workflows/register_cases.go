package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"civicflow"
)

// The register's processes (issue 18, docs/register.md), each the shared
// pipeline (pipeline.go) with an ending of its own:
//
//   - SupportTransfer: a person in dispersed support moves to an
//     institution. Intake, the township's visit (why, and the care level
//     now) instead of an eligibility investigation, the district's
//     approval, then placement and the wait-list as for a new case
//     (pipeline.place). The admission ends the dispersed period and opens
//     the centralised one that day, in the store's one transaction.
//   - SupportTermination: support ends (社会救助暂行办法 art. 18). Intake
//     is the township's review, the district confirms, a public notice
//     runs on a durable timer, and its end writes the termination: the
//     period ends on the declared date and a bed the person held goes to
//     the first waiting case, whose workflow is then woken.

// newRegisterPipeline is the pipeline of a register case: stage clocks
// from the step's write, as in every process begun after issue 8.
func newRegisterPipeline(ctx workflow.Context, caseID int64, caseType civicflow.CaseType, district, township string,
	stageAttrs *bool) *pipeline {
	return &pipeline{caseID: caseID, caseType: caseType, district: district, township: township,
		mu: workflow.NewMutex(ctx), deadlines: true, clockInStep: true, noticeFromRule: true,
		stageAttrs: StageAttributes(stageAttrs),
		rec:        tracked{state: CaseState{CaseID: caseID, Stage: civicflow.StageSubmitted, WaitingFor: []string{}}}}
}

// runRegisterCase starts the pipeline and runs its main loop: moves is
// what the workflow does by itself in a stage (false: only people move
// the case on there).
func runRegisterCase(ctx workflow.Context, p *pipeline, moves func(workflow.Context, civicflow.Stage) (bool, error)) (CaseState, error) {
	ctx = workflow.WithActivityOptions(ctx, recordOptions)
	if err := p.register(ctx); err != nil {
		return p.rec.state, err
	}
	workflow.Go(ctx, p.watchDeadline)
	if err := p.step(ctx, step{action: civicflow.StepSubmitted, to: civicflow.StageIntake, actor: civicflow.SystemActor}); err != nil {
		return p.rec.state, err
	}
	for !p.over() {
		stage := p.state().Stage
		moved, err := moves(ctx, stage)
		if err != nil {
			return p.rec.state, err
		}
		if moved {
			continue
		}
		if err := workflow.Await(ctx, func() bool { return p.state().Stage != stage || p.over() }); err != nil {
			return p.rec.state, err
		}
	}
	if err := p.awaitHandlers(ctx); err != nil {
		return p.rec.state, err
	}
	return p.rec.state, nil
}

// SupportTransfer runs one transfer of a registered person from dispersed
// to centralised support.
func SupportTransfer(ctx workflow.Context, in SupportTransferInput) (CaseState, error) {
	p := newRegisterPipeline(ctx, in.CaseID, civicflow.CaseTypeSupportTransfer, in.DistrictCode, in.TownshipCode,
		in.StageSearchAttributes)
	p.end = &transferCase{pipeline: p}
	return runRegisterCase(ctx, p, func(ctx workflow.Context, stage civicflow.Stage) (bool, error) {
		if stage == civicflow.StagePlacement || stage == civicflow.StageWaitlisted {
			return true, p.place(ctx)
		}
		return false, nil
	})
}

// transferCase is the transfer's ending of the pipeline.
type transferCase struct {
	*pipeline
}

func (c *transferCase) actions() []civicflow.Action {
	return []civicflow.Action{civicflow.ActionRecordTransferVisit, civicflow.ActionConfirmAdmission}
}

func (c *transferCase) check(act civicflow.Action, req ActionRequest) []civicflow.FieldError {
	var bad []civicflow.FieldError
	switch act {
	case civicflow.ActionRecordTransferVisit:
		v := req.TransferVisit
		if v == nil {
			return []civicflow.FieldError{{Field: "transfer_visit", Reason: "is required"}}
		}
		if !validDate(v.VisitedOn) {
			bad = append(bad, civicflow.FieldError{Field: "transfer_visit.visited_on", Reason: "must be a date (YYYY-MM-DD)"})
		}
		if strings.TrimSpace(v.Findings) == "" {
			bad = append(bad, civicflow.FieldError{Field: "transfer_visit.findings", Reason: "is required"})
		}
		if !v.Reason.Valid() {
			bad = append(bad, civicflow.FieldError{Field: "transfer_visit.reason", Reason: "must be carer_unable, care_level_changed or persons_own_request"})
		}
		if !v.CareLevel.Valid() {
			bad = append(bad, civicflow.FieldError{Field: "transfer_visit.care_level", Reason: "must be self_care, semi_dependent or dependent"})
		}
	case civicflow.ActionApprove:
		if req.CareLevel != "" && !req.CareLevel.Valid() {
			bad = append(bad, civicflow.FieldError{Field: "care_level", Reason: "must be self_care, semi_dependent or dependent"})
		}
		if req.SupportForm == civicflow.SupportDispersed || req.Carer != nil {
			bad = append(bad, civicflow.FieldError{Field: "support_form", Reason: "a transfer is to centralised support"})
		}
	}
	return bad
}

func (c *transferCase) next(ctx workflow.Context, act civicflow.Action, req ActionRequest) (step, error) {
	s := step{action: act, actor: req.Actor, reasons: req.Reasons}
	switch act {
	case civicflow.ActionAccept, civicflow.ActionReturn:
		s.to = civicflow.StageInvestigation
	case civicflow.ActionRecordTransferVisit:
		v := *req.TransferVisit
		s.to, s.careLevel, s.details = civicflow.StageDistrictReview, v.CareLevel, v
	case civicflow.ActionApprove:
		s.to, s.careLevel = civicflow.StagePlacement, req.CareLevel
		if s.careLevel == "" {
			s.careLevel = c.state().CareLevel
		}
	case civicflow.ActionConfirmAdmission:
		// Support goes on without a gap: the dispersed period ends and
		// the centralised one begins on the day of admission.
		day := civicflow.StartOfDay(workflow.Now(ctx))
		s.to, s.admit, s.supportStart = civicflow.StageCompleted, c.state().AllocationID, &day
		s.details = map[string]any{"support_start": day.Format("2006-01-02")}
	default:
		return s, fmt.Errorf("no handler for action %s", act)
	}
	return s, nil
}

// SupportTermination runs one termination of support.
func SupportTermination(ctx workflow.Context, in SupportTerminationInput) (CaseState, error) {
	p := newRegisterPipeline(ctx, in.CaseID, civicflow.CaseTypeSupportTermination, in.DistrictCode, in.TownshipCode,
		in.StageSearchAttributes)
	c := &terminationCase{pipeline: p, in: in}
	if in.NoticePeriod > 0 {
		p.noticeFromRule = false
	} else {
		c.in.NoticePeriod = civicflow.PublicNoticePeriod
	}
	p.end = c
	return runRegisterCase(ctx, p, func(ctx workflow.Context, stage civicflow.Stage) (bool, error) {
		if stage == civicflow.StagePublicNotice {
			return true, c.publicNotice(ctx)
		}
		return false, nil
	})
}

// terminationCase is the termination's ending of the pipeline.
type terminationCase struct {
	*pipeline
	in SupportTerminationInput
}

func (c *terminationCase) actions() []civicflow.Action {
	return []civicflow.Action{civicflow.ActionLodgeObjection}
}

func (c *terminationCase) check(act civicflow.Action, req ActionRequest) []civicflow.FieldError {
	if act == civicflow.ActionApprove && (req.SupportForm != "" || req.Carer != nil || req.CareLevel != "") {
		return []civicflow.FieldError{{Field: "support_form", Reason: "a termination confirms the end of support only"}}
	}
	return nil
}

func (c *terminationCase) next(ctx workflow.Context, act civicflow.Action, req ActionRequest) (step, error) {
	s := step{action: act, actor: req.Actor, reasons: req.Reasons}
	switch act {
	case civicflow.ActionAccept:
		s.to = civicflow.StageDistrictReview
	case civicflow.ActionReturn, civicflow.ActionLodgeObjection:
		// Back to the township's review.
		s.to = civicflow.StageIntake
		if act == civicflow.ActionLodgeObjection {
			s.details = map[string]any{"objector": req.Objector}
		}
	case civicflow.ActionApprove:
		ends := workflow.Now(ctx).Add(c.in.NoticePeriod)
		s.to, s.noticeEndsAt = civicflow.StagePublicNotice, &ends
		s.edit = func(st *CaseState) { st.Listed = true }
		s.details = map[string]any{"reason": c.in.Reason, "effective_on": c.in.EffectiveOn.Format("2006-01-02")}
	default:
		return s, fmt.Errorf("no handler for action %s", act)
	}
	return s, nil
}

// publicNotice waits out the notice on a durable timer; an objection
// moves the case back to the township first. At its end the termination
// is written and a bed it freed is offered to the waiting case.
func (c *terminationCase) publicNotice(ctx workflow.Context) error {
	seq := c.state().Seq
	inNotice := func() bool { st := c.state(); return st.Stage == civicflow.StagePublicNotice && st.Seq == seq }
	return c.awaitNotice(ctx, c.in.NoticePeriod, inNotice, step{action: civicflow.StepPublicNoticeEnded, to: civicflow.StageCompleted,
		actor:       civicflow.SystemActor,
		termination: &civicflow.TerminationWrite{Reason: c.in.Reason, EffectiveOn: c.in.EffectiveOn},
		details:     map[string]any{"objections": 0, "reason": c.in.Reason, "effective_on": c.in.EffectiveOn.Format("2006-01-02")}})
}

// validDate reports whether s is a date (YYYY-MM-DD).
func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}
