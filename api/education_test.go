package api

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/wire"
	"civicflow/workflows"
)

// fieldsOf binds body into dst and returns the fields of the 422.
func fieldsOf(t *testing.T, body string, dst any) map[string]string {
	t.Helper()
	err, status := bindBody(testServer(), "application/json", []byte(body), dst)
	require.Equal(t, http.StatusUnprocessableEntity, status, "%v", err)
	var de *civicflow.Error
	require.True(t, errors.As(err, &de))
	out := map[string]string{}
	for _, f := range de.Fields {
		out[f.Field] = f.Reason
	}
	return out
}

// seedOf is the accepted body of the request type named name.
func seedOf(t *testing.T, name string) string {
	t.Helper()
	for _, rt := range requestTypes {
		if rt.name == name {
			return rt.seed
		}
	}
	t.Fatalf("no request type %s in requestTypes", name)
	return ""
}

// TestEducationRequestsNameTheirFields checks the 422 answers of the
// education grant's bodies: each field at fault, with a reason.
func TestEducationRequestsNameTheirFields(t *testing.T) {
	t.Parallel()
	seed := seedOf(t, "wire.EducationApplicationRequest")
	require.Contains(t, seed, `"education"`)
	bad := strings.NewReplacer(`"dibao"`, `"rich"`, `"undergraduate"`, `"doctoral"`, `"2026610113000123"`, `"2026 0001"`,
		`"西北大学"`, `"  "`).Replace(seed)
	fields := fieldsOf(t, bad, new(wire.EducationApplicationRequest))
	require.Equal(t, map[string]string{
		"education.family_status": "must be one of: dibao, dibao_margin, extremely_poor",
		"education.school_kind":   "must be one of: undergraduate, vocational",
		"education.notice_number": "must contain only letters and digits",
		"education.school":        "is required",
	}, fields)
	fields = fieldsOf(t, `{"person":{"phone":"13800001234"},"applicant":{"relation":"self"},"education":{"major":"法学"}}`,
		new(wire.EducationApplicationRequest))
	for _, f := range []string{"person.name", "person.id_number", "person.hukou_township_code", "person.address",
		"education.family_status", "education.school", "education.school_kind", "education.admission_year", "education.notice_number"} {
		require.Contains(t, fields, f)
	}

	// The action's education fields.
	fields = fieldsOf(t, `{"verification":{"opinion":"eligible","findings":" "},"tier_amount":4000}`, new(wire.ActionRequest))
	require.Equal(t, map[string]string{
		"verification.family_status":       "is required",
		"verification.school_kind":         "is required",
		"verification.enrolment_confirmed": "is required",
		"verification.findings":            "is required",
		"tier_amount":                      "must be one of: 3000, 5000, 7000",
	}, fields)
	// An ineligible opinion need not name a status the family does not have.
	var req wire.ActionRequest
	err, _ := bindBody(testServer(), "application/json",
		[]byte(`{"verification":{"opinion":"ineligible","enrolment_confirmed":false,"findings":"未纳入低保"},"reasons":"家庭不属于低保、低保边缘或特困"}`), &req)
	require.NoError(t, err)
	var wreq workflows.ActionRequest
	require.NoError(t, verificationFields(req, &wreq))
	require.Equal(t, &civicflow.EducationVerification{Findings: "未纳入低保", Opinion: civicflow.OpinionIneligible}, wreq.Verification)
}

func TestVerificationFieldsNeedWhatTheOpinionNeeds(t *testing.T) {
	t.Parallel()
	no, yes := false, true
	v := func(opinion string, confirmed *bool) *wire.VerificationInput {
		return &wire.VerificationInput{FamilyStatus: "dibao", SchoolKind: "vocational", EnrolmentConfirmed: confirmed,
			Findings: "  低保证有效，学校已确认报到  ", Opinion: opinion}
	}
	check := func(req wire.ActionRequest, field string) {
		t.Helper()
		err := verificationFields(req, &workflows.ActionRequest{})
		require.Equal(t, civicflow.EINVALID, civicflow.ErrorCode(err))
		var de *civicflow.Error
		require.True(t, errors.As(err, &de))
		require.Equal(t, field, de.Fields[0].Field)
	}
	check(wire.ActionRequest{}, "verification")
	check(wire.ActionRequest{Verification: v(civicflow.OpinionEligible, &no)}, "verification.enrolment_confirmed")
	check(wire.ActionRequest{Verification: v(civicflow.OpinionIneligible, &no), Reasons: " "}, "reasons")

	var wreq workflows.ActionRequest
	require.NoError(t, verificationFields(wire.ActionRequest{Verification: v(civicflow.OpinionEligible, &yes)}, &wreq))
	require.Equal(t, &civicflow.EducationVerification{FamilyStatus: civicflow.FamilyDibao, SchoolKind: civicflow.SchoolVocational,
		EnrolmentConfirmed: true, Findings: "低保证有效，学校已确认报到", Opinion: civicflow.OpinionEligible}, wreq.Verification)
}
