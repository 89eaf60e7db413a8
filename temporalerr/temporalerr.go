// Package temporalerr is the one mapping between civicflow's domain errors
// (civicflow.Error) and Temporal's application errors. Activities and
// update handlers turn a domain error into an application error whose type
// is the domain code and whose details are the field errors; the API turns
// it back into the domain error, which its error handler maps to an HTTP
// status. Workflows, activities and the API import it; it imports only the
// domain and the Temporal SDK.
package temporalerr

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"civicflow"
)

// NonRetryable lists the domain codes no retry can fix: an activity
// failing with one of them fails at once, and retry policies name them.
func NonRetryable() []string {
	return []string{civicflow.EINVALID, civicflow.ENOTFOUND, civicflow.ECONFLICT}
}

// RetryPolicyTypes is NonRetryable as the retry policies of activities
// started before ECONFLICT joined it list it: the policy is part of each
// scheduled activity, so it keeps its old value.
func RetryPolicyTypes() []string { return []string{civicflow.EINVALID, civicflow.ENOTFOUND} }

func final(code string) bool {
	for _, c := range NonRetryable() {
		if c == code {
			return true
		}
	}
	return false
}

// Activity is what an activity returns for err: a domain error that no
// retry can fix becomes a non-retryable application error of its code
// (with its fields as details); anything else is returned as it is and
// retried.
func Activity(err error) error {
	var e *civicflow.Error
	if err == nil || !errors.As(err, &e) || !final(e.Code) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(e.Message, e.Code, err, details(e)...)
}

// Update is what an update validator or handler returns for err: any
// domain error becomes a non-retryable application error of its code,
// which the caller of the update receives.
func Update(err error) error {
	var e *civicflow.Error
	if !errors.As(err, &e) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(e.Message, e.Code, nil, details(e)...)
}

func details(e *civicflow.Error) []any {
	if len(e.Fields) == 0 {
		return nil
	}
	return []any{e.Fields}
}

// Domain turns an error from Temporal (an update's validator or handler,
// or an activity it ran) back into the domain error it carries; known is
// the set of codes the caller can answer. Other errors are returned as
// they are.
func Domain(err error, known func(code string) bool) error {
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || !known(ae.Type()) {
		return err
	}
	e := &civicflow.Error{Code: ae.Type(), Message: ae.Message()}
	if ae.HasDetails() {
		_ = ae.Details(&e.Fields) // details of another shape: no fields
	}
	return e
}
