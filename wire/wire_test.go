package wire

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"civicflow"
)

// The contract is the JSON: these tests pin the answers' JSON names (and
// which are left out when empty), so that a rename shows here and in
// review, not in a client.

// at is the instant of every sample.
func at() time.Time { return time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC) }

func golden(t *testing.T, v any, want string) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %T: %v", v, err)
	}
	if string(b) != want {
		t.Errorf("%T encodes as\n%s\nwant\n%s", v, b, want)
	}
}

func TestApplicantAnswers(t *testing.T) {
	golden(t, Submitted{CaseID: 1, Reference: "TK-610113-000001", AccessCode: "ABCD-2345", Stage: civicflow.StageSubmitted,
		TrackURL: "/api/v1/applications/TK-610113-000001"},
		`{"case_id":1,"reference":"TK-610113-000001","access_code":"ABCD-2345","stage":"submitted","replayed":false,"track_url":"/api/v1/applications/TK-610113-000001"}`)
	golden(t, ApplicantCase{Reference: "TK-610113-000001", Type: civicflow.CaseTypeCentralisedCare, Stage: civicflow.StageAwaitingSupplements, StageSince: at(),
		WaitingFor: []string{"户口簿复印件"}, PersonName: "张桂兰", IDNumberMasked: "6101**********1015", CanWithdraw: true,
		Papers: []civicflow.Document{}, History: []HistoryEntry{{At: at(), Action: "request_supplements", Stage: civicflow.StageAwaitingSupplements, By: ByTownship}}},
		`{"reference":"TK-610113-000001","case_type":"centralised_care","stage":"awaiting_supplements","stage_since":"2026-11-27T03:00:00Z","waiting_for":["户口簿复印件"],`+
			`"person_name":"张桂兰","id_number_masked":"6101**********1015","can_withdraw":true,"papers":[],`+
			`"history":[{"at":"2026-11-27T03:00:00Z","action":"request_supplements","stage":"awaiting_supplements","by":"street office / town"}]}`)
	golden(t, Placement{Institution: "雁塔区社会福利院", Bed: "A-101", CareLevel: civicflow.CareDependent},
		`{"institution":"雁塔区社会福利院","bed":"A-101","care_level":"dependent"}`)
}

func TestOfficialAnswers(t *testing.T) {
	item := CaseListItem{ID: 2, Reference: "TK-610113-000002", Stage: civicflow.StageIntake, PersonName: "张桂兰",
		IDNumberMasked: "6101**********1015", DistrictCode: "610113", TownshipCode: "610113001", StageEnteredAt: at(), CreatedAt: at()}
	row := `{"reference":"TK-610113-000002","stage":"intake","person_name":"张桂兰","id_number_masked":"6101**********1015",` +
		`"district_code":"610113","township_code":"610113001","stage_entered_at":"2026-11-27T03:00:00Z","created_at":"2026-11-27T03:00:00Z","id":2}`
	golden(t, CaseList{Cases: []CaseListItem{item}}, `{"cases":[`+row+`]}`)
	next := int64(2)
	golden(t, CaseList{Cases: []CaseListItem{}, NextAfter: &next}, `{"cases":[],"next_after":2}`)

	cs := &civicflow.Case{ID: 2, Reference: "TK-610113-000002", Stage: civicflow.StageIntake}
	d := CaseDetail{Case: cs, AllowedActions: []civicflow.Action{civicflow.ActionAccept}, Timeline: []civicflow.Event{},
		Papers: []civicflow.Document{}, Checks: []civicflow.CheckResult{}}
	b := mustJSON(t, d)
	caseJSON := mustJSON(t, cs)
	want := string(caseJSON[:len(caseJSON)-1]) + `,"allowed_actions":["accept"],"timeline":[],"papers":[],"economic_checks":[]}`
	if string(b) != want {
		t.Errorf("CaseDetail encodes as\n%s\nwant the case's fields then\n%s", b, want)
	}
	if !d.Allows(civicflow.ActionAccept) || d.Allows(civicflow.ActionApprove) {
		t.Error("Allows does not follow AllowedActions")
	}

	golden(t, Session{Token: "t", ExpiresAt: at(), User: &civicflow.User{ID: 1, Username: "ts.xiaozhai", Role: civicflow.RoleTownshipOfficial}},
		`{"token":"t","expires_at":"2026-11-27T03:00:00Z","user":{"id":1,"username":"ts.xiaozhai","display_name":"","role":"township_official","jurisdiction":""}}`)
	golden(t, Revealed{Reference: "TK-610113-000002", Phone: "13912345678"}, `{"reference":"TK-610113-000002","phone":"13912345678"}`)
}

func TestRehabAnswers(t *testing.T) {
	golden(t, SessionRecorded{Recorded: true, Reference: "RH-610113-000013"}, `{"recorded":true,"reference":"RH-610113-000013"}`)
	golden(t, RehabCentres{Centres: []civicflow.RehabCentre{{ID: 5, Name: "雁塔区精神障碍社区康复服务中心", DistrictCode: "610113"}}},
		`{"centres":[{"id":5,"name":"雁塔区精神障碍社区康复服务中心","district_code":"610113","address":""}]}`)
	golden(t, ClinicalView{Reference: "RH-610113-000011", Stage: civicflow.StagePlanning, Records: []ClinicalRecord{{ID: 1,
		Kind: "registration", CentreID: 5, Actor: civicflow.Actor{Role: civicflow.RoleRehabAssessor}, Content: json.RawMessage(`{"kind":"registration"}`), RecordedAt: at()}}},
		`{"reference":"RH-610113-000011","stage":"planning","summary":null,"application":null,"records":[{"id":1,"kind":"registration","centre_id":5,`+
			`"actor":`+string(mustJSON(t, civicflow.Actor{Role: civicflow.RoleRehabAssessor}))+`,"content":{"kind":"registration"},"recorded_at":"2026-11-27T03:00:00Z"}]}`)
}

// TestClinicalContentIsSealedAsBefore: the sealed record of a rehab step
// kept the shape it had as a map (keys in this order, every field of the
// input present), so old and new records read alike.
func TestClinicalContentIsSealedAsBefore(t *testing.T) {
	golden(t, ClinicalContent{Case: "RH-610113-000010", Input: RehabInput{Physician: "陈医生", RiskLevel: new(2)}, Kind: "assessment"},
		`{"case":"RH-610113-000010","input":{"file_number":"","diagnosis":"","suitable":null,"risk_level":2,"services":null,"physician":"陈医生",`+
			`"findings":"","referral_suggestion":"","plan":null,"agreed_by":"","agreed_by_name":"","review_interval_days":0,"progress":null,`+
			`"closure":"","refer_to":"","centre_id":0,"hospital":"","notes":""},"kind":"assessment"}`)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestErrorAnswer(t *testing.T) {
	e := civicflow.Invalid(civicflow.FieldError{Field: "person.id_number", Reason: "the check character is wrong"})
	golden(t, ErrorOf(e), `{"error":{"code":"invalid","message":"the request has invalid fields","fields":[{"field":"person.id_number","reason":"the check character is wrong"}]}}`)
	golden(t, ErrorOf(civicflow.Errorf(civicflow.ECONFLICT, "open")), `{"error":{"code":"conflict","message":"open"}}`)
	back := ErrorOf(&civicflow.Error{Code: civicflow.ECONFLICT, Message: "m", Reference: "TK-610113-****42"}).Domain()
	if back.Code != civicflow.ECONFLICT || back.Reference != "TK-610113-****42" || back.Message != "m" {
		t.Errorf("Domain lost a field: %+v", back)
	}
}

// TestSidesMeetOnlyHere: the console is a client of the API on purpose,
// so neither package imports the other; they share this one.
func TestSidesMeetOnlyHere(t *testing.T) {
	for dir, banned := range map[string]string{"../api": "civicflow/web", "../web": "civicflow/api"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, name := range files {
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); p == banned || strings.HasPrefix(p, banned+"/") {
					t.Errorf("%s imports %s", name, p)
				}
			}
		}
	}
}

// TestImportsOnlyTheDomain keeps the contract free of either side's
// machinery: the root package and the standard library only.
func TestImportsOnlyTheDomain(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p != "civicflow" && strings.Contains(strings.Split(p, "/")[0], ".") || strings.HasPrefix(p, "civicflow/") {
				t.Errorf("%s imports %s: wire may import civicflow and the standard library only", name, p)
			}
		}
	}
}
