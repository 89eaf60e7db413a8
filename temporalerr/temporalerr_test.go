package temporalerr_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"civicflow"
	"civicflow/temporalerr"
)

func known(code string) bool { return code != "unknown_code" }

func TestUpdateRoundTripKeepsCodeMessageAndFields(t *testing.T) {
	in := civicflow.Invalid(civicflow.FieldError{Field: "tier_amount", Reason: "the rules give 5000"})
	out := temporalerr.Update(fmt.Errorf("approve: %w", in))
	var ae *temporal.ApplicationError
	require.ErrorAs(t, out, &ae)
	require.True(t, ae.NonRetryable())
	back := temporalerr.Domain(fmt.Errorf("update failed: %w", out), known)
	var de *civicflow.Error
	require.ErrorAs(t, back, &de)
	require.Equal(t, civicflow.EINVALID, de.Code)
	require.Equal(t, in.Fields, de.Fields)
}

func TestActivityRetriesWhatARetryCanFix(t *testing.T) {
	plain := errors.New("connection reset")
	require.Same(t, plain, temporalerr.Activity(plain), "a plain error is retried as it is")
	require.Nil(t, temporalerr.Activity(nil))
	unavailable := civicflow.Errorf(civicflow.EUNAVAILABLE, "store down")
	require.Same(t, unavailable, temporalerr.Activity(unavailable))
	for _, code := range temporalerr.NonRetryable() {
		var ae *temporal.ApplicationError
		require.ErrorAs(t, temporalerr.Activity(civicflow.Errorf(code, "no")), &ae, code)
		require.True(t, ae.NonRetryable(), code)
		require.Equal(t, code, ae.Type())
	}
}

func TestDomainLeavesUnknownCodesAlone(t *testing.T) {
	ae := temporal.NewApplicationError("boom", "unknown_code")
	require.Same(t, ae, temporalerr.Domain(ae, known))
	plain := errors.New("x")
	require.Same(t, plain, temporalerr.Domain(plain, known))
}
