package verification

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"

	"civicflow"
)

//go:embed households.json
var householdsJSON []byte

// MinimumLivingLine is the monthly urban minimum-living standard (低保) the
// stand-in applies, in CNY. It is illustrative; the real platform applies
// each place's own line.
const MinimumLivingLine = 810.0

type household struct {
	IDNumber          string  `json:"id_number"`
	MonthlyIncome     float64 `json:"monthly_income_per_capita"`
	AssetsWithinLimit bool    `json:"assets_within_limit"`
	HasAbleSupporter  bool    `json:"has_able_supporter"`
	// AssistanceStatus is the assistance the household receives (for the
	// education grant's demo students); "" for none.
	AssistanceStatus civicflow.FamilyStatus `json:"assistance_status"`
	Note             string                 `json:"note"`
}

// DevServer is a development stand-in for the verification platform. It
// answers from the seeded households in households.json, so that the whole
// flow works offline. It speaks the same protocol as the real platform as
// far as civicflow uses it.
type DevServer struct {
	households map[string]household
	calls      atomic.Int64
	faults     faultState // injected failures, for fault tests (faults.go)
}

// NewDevServer loads the seeded households.
func NewDevServer() (*DevServer, error) {
	var hs []household
	if err := json.Unmarshal(householdsJSON, &hs); err != nil {
		return nil, fmt.Errorf("decode households.json: %w", err)
	}
	s := &DevServer{households: make(map[string]household, len(hs))}
	for _, h := range hs {
		s.households[h.IDNumber] = h
	}
	return s, nil
}

// SeededIDNumbers lists the ID numbers the stand-in knows, for demos.
func (s *DevServer) SeededIDNumbers() []string {
	var hs []household
	_ = json.Unmarshal(householdsJSON, &hs) // decoded successfully in NewDevServer
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.IDNumber
	}
	return out
}

// SeededStudents lists the seeded households that receive assistance (the
// education grant's demo students) as "ID number (status)", for demos.
func (s *DevServer) SeededStudents() []string {
	var out []string
	for _, id := range s.SeededIDNumbers() {
		if st := s.households[id].AssistanceStatus; st != "" {
			out = append(out, id+" ("+string(st)+")")
		}
	}
	return out
}

// Calls counts the checks answered, for tests.
func (s *DevServer) Calls() int64 { return s.calls.Load() }

// ServeHTTP implements POST /v1/household-checks.
func (s *DevServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == FaultsPath {
		s.serveFaults(w, r)
		return
	}
	if r.URL.Path != "/v1/household-checks" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if s.injectFault(w, r) {
		return
	}
	var req checkRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, "malformed request: "+err.Error(), http.StatusBadRequest)
		return
	}
	s.calls.Add(1)
	h, ok := s.households[req.IDNumber]
	if !ok {
		http.Error(w, "no household record", http.StatusNotFound)
		return
	}
	res := civicflow.CheckResult{
		Found:               true,
		MonthlyIncomePerCap: h.MonthlyIncome,
		AssetsWithinLimit:   h.AssetsWithinLimit,
		HasAbleSupporter:    h.HasAbleSupporter,
		MinimumLivingLine:   MinimumLivingLine,
		Eligible:            h.MonthlyIncome < MinimumLivingLine && h.AssetsWithinLimit && !h.HasAbleSupporter,
		Reference:           fmt.Sprintf("HJ-%s-%d", civicflow.MaskIDNumber(h.IDNumber), len(h.Note)),
		AssistanceStatus:    h.AssistanceStatus,
		Note:                h.Note,
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}
