package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"civicflow"
)

// EducationGrant runs one application for the education grant for a
// low-income college freshman (教育资助): the shared pipeline (pipeline.go:
// intake, district review) and the grant's ending — the township verifies
// the family status (the household economic check, as for centralised
// care) and the enrolment, the district approves the tier the rules give,
// and the award is written with the step that completes the case. The
// process's rules are in the domain (civicflow.ProcessOf); the store
// refuses a second award for the same student and year by a constraint.
func EducationGrant(ctx workflow.Context, in EducationGrantInput) (CaseState, error) {
	p := &pipeline{caseID: in.CaseID, caseType: civicflow.CaseTypeEducationGrant, district: in.DistrictCode,
		township: in.TownshipCode, mu: workflow.NewMutex(ctx), deadlines: true, clockInStep: true,
		stageAttrs: StageAttributes(in.StageSearchAttributes),
		rec: tracked{state: CaseState{CaseID: in.CaseID, Stage: civicflow.StageSubmitted, WaitingFor: []string{},
			Education: &EducationState{}}}}
	c := &grantCase{pipeline: p}
	p.end = c
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
		if stage == civicflow.StageVerification {
			round := p.state().Round
			inRound := func() bool { st := p.state(); return st.Stage == civicflow.StageVerification && st.Round == round }
			if _, err := p.checkHousehold(ctx, round, civicflow.StageVerification, inRound); err != nil {
				return p.rec.state, err
			}
			if err := workflow.Await(ctx, func() bool { return !inRound() }); err != nil {
				return p.rec.state, err
			}
			continue
		}
		// Only people move the case on from here.
		if err := workflow.Await(ctx, func() bool { return p.state().Stage != stage || p.over() }); err != nil {
			return p.rec.state, err
		}
	}
	if err := p.awaitHandlers(ctx); err != nil {
		return p.rec.state, err
	}
	return p.rec.state, nil
}

// grantCase is the education grant's ending of the pipeline.
type grantCase struct {
	*pipeline
}

func (c *grantCase) actions() []civicflow.Action {
	return []civicflow.Action{civicflow.ActionRecordVerification}
}

// check validates the township's verification and the tier a district
// approves. Whether the tier is the one the rules give is the store's to
// say (RecordAward): the rules are data and may change.
func (c *grantCase) check(act civicflow.Action, req ActionRequest) []civicflow.FieldError {
	var bad []civicflow.FieldError
	add := func(field, reason string) { bad = append(bad, civicflow.FieldError{Field: field, Reason: reason}) }
	switch act {
	case civicflow.ActionRecordVerification:
		v := req.Verification
		if v == nil {
			add("verification", "is required")
			return bad
		}
		// A family found on no assistance, or a student not enrolled, is
		// recorded truthfully with the status or school left empty; an
		// eligible opinion needs both.
		eligible := v.Opinion == civicflow.OpinionEligible
		if (eligible || v.FamilyStatus != "") && !v.FamilyStatus.Valid() {
			add("verification.family_status", "must be dibao, dibao_margin or extremely_poor")
		}
		if (eligible || v.SchoolKind != "") && !v.SchoolKind.Valid() {
			add("verification.school_kind", "must be undergraduate or vocational")
		}
		if strings.TrimSpace(v.Findings) == "" {
			add("verification.findings", "is required")
		}
		switch v.Opinion {
		case civicflow.OpinionEligible:
			if !v.EnrolmentConfirmed {
				add("verification.enrolment_confirmed", "confirm the enrolment with the school before finding the student eligible")
			}
			if c.state().Check == nil {
				add("verification.opinion", "the household economic check has not answered yet")
			}
		case civicflow.OpinionIneligible:
			if strings.TrimSpace(req.Reasons) == "" {
				add("reasons", "is required")
			}
		default:
			add("verification.opinion", "must be eligible or ineligible")
		}
	case civicflow.ActionApprove:
		if !civicflow.ValidGrantTier(req.TierAmount) {
			add("tier_amount", "must be 3000, 5000 or 7000")
		}
	}
	return bad
}

// next gives the step of an action: an accepted or returned case is
// verified (a new round with a new household check), a verified one
// reviewed, an approved one completed with its award.
func (c *grantCase) next(_ workflow.Context, act civicflow.Action, req ActionRequest) (step, error) {
	s := step{action: act, actor: req.Actor, reasons: req.Reasons}
	switch act {
	case civicflow.ActionAccept, civicflow.ActionReturn:
		s.to, s.edit = civicflow.StageVerification, startRound
	case civicflow.ActionRecordVerification:
		v := *req.Verification
		s.to = civicflow.StageDistrictReview
		if v.Opinion == civicflow.OpinionIneligible {
			s.to = civicflow.StageRejected
		}
		s.details = map[string]any{"family_status": v.FamilyStatus, "school_kind": v.SchoolKind,
			"enrolment_confirmed": v.EnrolmentConfirmed, "findings": v.Findings, "opinion": v.Opinion,
			"round": c.state().Round}
		s.edit = func(st *CaseState) { st.Education.Verification = &v }
	case civicflow.ActionApprove:
		v := c.state().Education.Verification
		if v == nil {
			return s, civicflow.Errorf(civicflow.ECONFLICT, "the case has no verification to approve")
		}
		amount := req.TierAmount
		s.to = civicflow.StageCompleted
		s.award = &civicflow.AwardWrite{Amount: amount, FamilyStatus: v.FamilyStatus, SchoolKind: v.SchoolKind}
		s.details = map[string]any{"amount": amount, "family_status": v.FamilyStatus, "school_kind": v.SchoolKind}
		s.edit = func(st *CaseState) { st.Education.Amount = amount }
	default:
		return s, fmt.Errorf("no handler for action %s", act)
	}
	return s, nil
}
