// Package activities holds civicflow's Temporal activities: every side
// effect of a workflow (writes to the read model, calls to other systems)
// happens here, idempotently, so that a retried activity never writes twice.
package activities

import (
	"context"
	"fmt"
	"time"

	"civicflow/temporalerr"

	"civicflow"
)

// Platform is the household economic verification platform.
type Platform interface {
	Check(ctx context.Context, idNumber string) (*civicflow.CheckResult, error)
}

// Activities holds the dependencies of all activities. Register a pointer
// to it with the worker; workflows call its methods through a nil pointer
// of the same type.
type Activities struct {
	Store    Store
	Platform Platform
	// Notifier sends notifications from the outbox; nil in a worker
	// without mail configured (see notifications.go).
	Notifier *Notifier
}

// retryable is temporalerr.Activity: a domain error no retry can fix
// fails the activity at once.
func retryable(err error) error { return temporalerr.Activity(err) }

// RecordInput is the input of RecordTransition.
type RecordInput struct {
	Transition civicflow.Transition
	// Clock, when set, asks for the clock of the stage the step enters
	// (start, pause or resume; see StageClock) to be computed and written
	// with the step: one activity instead of two per stage change
	// (workflows: versionStageDeadlines 2). Its CaseID and At are taken from
	// the transition.
	Clock *StageClockInput `json:",omitzero"`
}

// RecordResult is what RecordTransition answers: the entered stage's clock
// when the input asked for one, and the public notice's end when the clock
// decided it.
type RecordResult struct {
	Clock        *civicflow.StageClock `json:",omitzero"`
	NoticeEndsAt *time.Time            `json:",omitzero"`
}

// RecordTransition writes one step of a case to the read model and its
// timeline, with the entered stage's clock when asked. It is idempotent
// through the step's key.
func (a *Activities) RecordTransition(ctx context.Context, in RecordInput) (RecordResult, error) {
	var res RecordResult
	if in.Clock != nil {
		req := *in.Clock
		req.CaseID, req.At = in.Transition.CaseID, in.Transition.At
		clk, err := a.StageClock(ctx, req)
		if err != nil {
			return res, err
		}
		clk, ends := FinishClock(req, clk)
		res.Clock, res.NoticeEndsAt = &clk, ends
		in.Transition.StageDueAt = nil
		if clk.Timed() {
			due := clk.Due
			in.Transition.StageDueAt = &due
		}
		if ends != nil {
			in.Transition.NoticeEndsAt = ends
			if m, ok := in.Transition.Details.(map[string]any); ok {
				m["ends_at"] = *ends
			}
		}
	}
	// A retry recomputes the clock; the read model keeps the first
	// attempt's due date. They differ only if an administrator changed the
	// rule between two attempts of the same write.
	return res, retryable(a.Store.RecordTransition(ctx, in.Transition))
}

// CheckInput is the input of CheckHousehold.
type CheckInput struct {
	CaseID int64
	Round  int // investigation round: 1, then one more after each objection or return
}

// CheckHousehold runs the household economic check (家庭经济状况核对) on the
// city's verification platform and stores the answer for the round. The ID
// number is read from the store here so that it never enters workflow
// history.
func (a *Activities) CheckHousehold(ctx context.Context, in CheckInput) (*civicflow.CheckResult, error) {
	id, err := a.Store.PersonIDNumber(ctx, in.CaseID)
	if err != nil {
		return nil, retryable(err)
	}
	res, err := a.Platform.Check(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("household check for case %d: %w", in.CaseID, err)
	}
	if err := a.Store.SaveCheckResult(ctx, in.CaseID, in.Round, *res); err != nil {
		return nil, retryable(err)
	}
	return res, nil
}

// AllocateInput is the input of AllocateBed.
type AllocateInput struct {
	CaseID       int64
	CareLevel    civicflow.CareLevel
	DistrictCode string
}

// AllocateBed finds a bed or a wait-list place for the case (idempotent).
func (a *Activities) AllocateBed(ctx context.Context, in AllocateInput) (*civicflow.Placement, error) {
	p, err := a.Store.AllocateBed(ctx, in.CaseID, in.CareLevel, in.DistrictCode)
	return p, retryable(err)
}

// AdmissionInput is the input of ConfirmAdmission.
type AdmissionInput struct {
	AllocationID int64
	Transition   civicflow.Transition
}

// ConfirmAdmission marks the bed occupied and completes the case in the
// read model (idempotent).
func (a *Activities) ConfirmAdmission(ctx context.Context, in AdmissionInput) error {
	return retryable(a.Store.ConfirmAdmission(ctx, in.AllocationID, in.Transition))
}

// ReleaseInput is the input of ReleaseBed.
type ReleaseInput struct {
	AllocationID int64
	Transition   civicflow.Transition
}

// ReleaseBed records a resident leaving and gives the bed to the first
// wait-listed case (idempotent).
func (a *Activities) ReleaseBed(ctx context.Context, in ReleaseInput) (*civicflow.Departure, error) {
	d, err := a.Store.ReleaseBed(ctx, in.AllocationID, in.Transition)
	return d, retryable(err)
}

// ReleaseAllocationInput is the input of ReleaseAllocation.
type ReleaseAllocationInput struct {
	Release civicflow.Release
}

// ReleaseAllocation gives up a bed before admission (release_allocation),
// ends the case and gives the bed to the next waiting case, in one
// transaction (idempotent through the step's key; a retry answers the
// same next case). An admitted allocation is refused (ECONFLICT).
func (a *Activities) ReleaseAllocation(ctx context.Context, in ReleaseAllocationInput) (*civicflow.Departure, error) {
	d, err := a.Store.ReleaseAllocation(ctx, in.Release)
	return d, retryable(err)
}

// AwardInput is the input of RecordAward.
type AwardInput struct {
	Award civicflow.AwardWrite
	// Clock, when set, asks for the clock of the stage the step enters, as
	// for RecordTransition.
	Clock *StageClockInput `json:",omitzero"`
}

// RecordAward completes an approved education-grant case and records its
// award for payment, in one transaction (idempotent through the step's
// key). A second award for the student and year is refused (ECONFLICT),
// as is an amount the tier rules do not give (EINVALID).
func (a *Activities) RecordAward(ctx context.Context, in AwardInput) (RecordResult, error) {
	return RecordResult{}, retryable(a.Store.RecordAward(ctx, in.Award))
}
