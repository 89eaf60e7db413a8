package activities

import (
	"context"

	"civicflow"
)

// RehabStepInput is the input of RecordRehabStep.
type RehabStepInput struct {
	Step civicflow.RehabStep
	// Clock, when set, asks for the clock of the stage the step enters, as
	// for RecordTransition.
	Clock *StageClockInput
}

// RecordRehabStep writes one step of a community-rehab case: the timeline
// event, the case's rehab summary and the sealed clinical record, in one
// transaction (idempotent through the step's key), with the entered
// stage's clock when asked. A step that sets its own due date (the next
// review) keeps it unless the stage's clock is timed.
func (a *Activities) RecordRehabStep(ctx context.Context, in RehabStepInput) (RecordResult, error) {
	var res RecordResult
	if in.Clock != nil {
		req := *in.Clock
		req.CaseID, req.At = in.Step.Transition.CaseID, in.Step.Transition.At
		clk, err := a.StageClock(ctx, req)
		if err != nil {
			return res, err
		}
		res.Clock = &clk
		if clk.Timed() {
			due := clk.Due
			in.Step.Transition.StageDueAt = &due
		}
	}
	return res, retryable(a.Store.RecordRehabStep(ctx, in.Step))
}
