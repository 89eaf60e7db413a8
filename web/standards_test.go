package web

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/wire"
)

// serveStandards is the fake API's support standards: one in force since
// 2026-01-01, one from 2099-01-01; an amount of 0 is refused as the API
// refuses it.
func serveStandards(w http.ResponseWriter, r *http.Request, raw []byte) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, wire.SupportStandards{Standards: []civicflow.SupportStandard{
			{DistrictCode: "610113", District: "雁塔区", EffectiveFrom: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), MonthlyAmount: 1300, SetBy: "admin"},
			{DistrictCode: "610113", District: "雁塔区", EffectiveFrom: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), MonthlyAmount: 1180, SetBy: "demo"},
		}})
	case http.MethodPut:
		var req wire.SupportStandardRequest
		if !bind(w, raw, &req) {
			return
		}
		if req.MonthlyAmount <= 0 {
			apiError(w, 422, civicflow.EINVALID, civicflow.FieldError{Field: "monthly_amount", Reason: "must be at least 1"})
			return
		}
		writeJSON(w, 200, civicflow.SupportStandard{DistrictCode: "610113", MonthlyAmount: req.MonthlyAmount})
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	}
}

func TestAdministratorSetsSupportStandards(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.login("admin")
	status, body, _ := h.get("/console/admin/standards")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "1,180")
	require.Contains(t, body, `name="effective_from" value="2099-01-01"`, "a standard not yet in force may be removed")
	require.NotContains(t, body, `name="effective_from" value="2026-01-01"`, "one in force may not")
	csrf := h.csrf("/console/admin/standards")
	status, body, _ = h.post("/console/admin/standards", url.Values{"csrf": {csrf}, "district": {"610113"},
		"effective_from": {"2099-02-01"}, "monthly_amount": {"0"}})
	require.Equal(t, http.StatusUnprocessableEntity, status, body)
	status, _, resp := h.post("/console/admin/standards", url.Values{"csrf": {csrf}, "district": {"610113"},
		"effective_from": {"2099-02-01"}, "monthly_amount": {"1350"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/admin/standards?done=saved", resp.Header.Get("Location"))
	require.Equal(t, wire.SupportStandardRequest{MonthlyAmount: 1350},
		sentAs[wire.SupportStandardRequest](t, h.api, "PUT /api/v1/admin/support-standards/610113/2099-02-01"))
	status, _, resp = h.post("/console/admin/standards/delete", url.Values{"csrf": {csrf}, "district": {"610113"}, "effective_from": {"2099-01-01"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/console/admin/standards?done=deleted", resp.Header.Get("Location"))

	h2 := newHarness(t)
	h2.login("sv.city")
	status, _, _ = h2.get("/console/admin/standards")
	require.Equal(t, http.StatusForbidden, status)
}
