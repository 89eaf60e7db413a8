package activities

import (
	"context"

	"civicflow"
)

// DispersedInput is the input of RecordDispersed.
type DispersedInput struct {
	Write civicflow.DispersedWrite
}

// RecordDispersed completes a case approved in dispersed support and
// enters the person in the register, in one write that a retry repeats
// harmlessly (the step's key).
func (a *Activities) RecordDispersed(ctx context.Context, in DispersedInput) error {
	return retryable(a.Store.EnterDispersed(ctx, in.Write))
}

// TerminationInput is the input of EndSupport.
type TerminationInput struct {
	Write civicflow.TerminationWrite
}

// EndSupport completes a confirmed termination: the period of support
// ends on the effective date and a bed the person held goes to the first
// waiting case, which the answer names for the workflow to wake.
func (a *Activities) EndSupport(ctx context.Context, in TerminationInput) (*civicflow.Departure, error) {
	d, err := a.Store.EndSupport(ctx, in.Write)
	return d, retryable(err)
}
