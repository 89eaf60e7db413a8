package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"civicflow"
	"civicflow/wire"
)

// requestTypes are the bodies the API binds, by the Go name of their type
// (qualified when it is not this package's: "wire.ApplicationRequest").
// FuzzBind decodes every one of them; TestBindCoversEveryRequestType fails
// when a handler binds a type missing here.
var requestTypes = []struct {
	name string
	new  func() any
	seed string // a body the API accepts
}{
	{"wire.ApplicationRequest", func() any { return new(wire.ApplicationRequest) },
		`{"person":{"name":"买买提·艾力","id_number":"11010519491231002X","phone":"13800001234","hukou_township_code":"610113001",` +
			`"address":"小寨东路12号","self_care":"dependent"},"applicant":{"relation":"relative","name":"𠀀明","phone":"13912345678"},"statement":"独居"}`},
	{"wire.SupplementsRequest", func() any { return new(wire.SupplementsRequest) }, `{"document_ids":[1,2],"note":"户口簿"}`},
	{"wire.WithdrawRequest", func() any { return new(wire.WithdrawRequest) }, `{"reasons":"已由女儿照料"}`},
	{"wire.LoginRequest", func() any { return new(wire.LoginRequest) }, `{"username":"ts.xiaozhai","password":"secret"}`},
	{"wire.ActionRequest", func() any { return new(wire.ActionRequest) },
		`{"reasons":"x","items":["a"],"home_visit":{"visited_on":"2026-01-15","visitors":["王芳"],"findings":"独居","care_level":"dependent","opinion":"eligible"},"care_level":"self_care"}`},
	{"departureRequest", func() any { return new(departureRequest) }, `{"reasons":"转往子女所在城市"}`},
	{"wire.CalendarDayRequest", func() any { return new(wire.CalendarDayRequest) }, `{"kind":"holiday","name":"春节"}`},
	{"wire.DeadlineRuleRequest", func() any { return new(wire.DeadlineRuleRequest) }, `{"case_type":"centralised_care","days":15,"unit":"working_days","reminder_share":0.8}`},
	{"wire.ReassignRequest", func() any { return new(wire.ReassignRequest) }, `{"user_id":3,"reasons":"休假"}`},
	{"wire.RemindRequest", func() any { return new(wire.RemindRequest) }, `{"note":"请尽快入户调查"}`},
	{"wire.SupervisorNoteRequest", func() any { return new(wire.SupervisorNoteRequest) }, `{"note":"已逾期"}`},
	{"wire.RevealRequest", func() any { return new(wire.RevealRequest) }, `{"fields":["id_number","phone"],"reason":"核实身份"}`},
	// The register (issue 18).
	{"wire.RegisterRevealRequest", func() any { return new(wire.RegisterRevealRequest) }, `{"reason":"核实照料人"}`},
	{"wire.SupportStandardRequest", func() any { return new(wire.SupportStandardRequest) }, `{"monthly_amount":1450}`},
	{"wire.TerminationRequest", func() any { return new(wire.TerminationRequest) },
		`{"reason":"died","effective_on":"2026-11-30","raised_by":"committee","reporter":"小寨路社区居委会","statement":"11月30日病故"}`},
	{"wire.TransferApplicationRequest", func() any { return new(wire.TransferApplicationRequest) },
		`{"person":{"id_number":"11010519491231002X","name":"张秀英"},"applicant":{"relation":"relative","name":"李娜","phone":"13912345678"},"reason":"carer_unable"}`},
	{"wire.CreateUserRequest", func() any { return new(wire.CreateUserRequest) },
		`{"username":"wang.fang","display_name":"王芳","password":"a long enough password","role":"township_official","jurisdiction":"610113001"}`},
	{"wire.CreateInstitutionRequest", func() any { return new(wire.CreateInstitutionRequest) },
		`{"name":"雁塔区第二敬老院","district_code":"610113","designated":true,"address":"长安南路100号"}`},
	{"wire.UpdateInstitutionRequest", func() any { return new(wire.UpdateInstitutionRequest) }, `{"name":"雁塔区第二社会福利院","designated":false}`},
	{"wire.AddBedRequest", func() any { return new(wire.AddBedRequest) }, `{"label":"A-101","care_level":"semi_dependent"}`},
	{"wire.PasswordRequest", func() any { return new(wire.PasswordRequest) }, `{"password":"a long enough password"}`},
	{"wire.RoleRequest", func() any { return new(wire.RoleRequest) }, `{"role":"district_reviewer","jurisdiction":"610113","institution_id":0}`},
	{"wire.RehabApplicationRequest", func() any { return new(wire.RehabApplicationRequest) },
		`{"person":{"name":"李𠀋华","id_number":"11010519491231002X","hukou_township_code":"610113001","address":"小寨西路8号","without_capacity":true},` +
			`"applicant":{"applied_by":"guardian","name":"李建国","phone":"13912340000","guardian_consent":true,"consent_on":"2025-12-20"}}`},
	{"wire.SessionRequest", func() any { return new(wire.SessionRequest) }, `{"service":"peer_support","sessions":2,"on":"2026-01-08"}`},
	{"wire.EducationApplicationRequest", func() any { return new(wire.EducationApplicationRequest) },
		`{"person":{"name":"买买提·艾力","id_number":"110105200709150022","phone":"13800001234","hukou_township_code":"610113001",` +
			`"address":"小寨东路12号"},"applicant":{"relation":"relative","name":"艾力","phone":"13912345678"},` +
			`"education":{"family_status":"dibao","school":"西北大学","school_kind":"undergraduate","major":"汉语言文学",` +
			`"admission_year":2026,"notice_number":"2026610113000123"}}`},
	{"tierRuleRequest", func() any { return new(tierRuleRequest) }, `{"amount":5000}`},
	{"wire.CreateCampaignRequest", func() any { return new(wire.CreateCampaignRequest) },
		`{"kind":"annual_review","scope":"610113","title":"2026 年审","as_of":"2026-03-01"}`},
	{"wire.CloseCampaignRequest", func() any { return new(wire.CloseCampaignRequest) }, `{"note":"年审结束"}`},
	{"wire.VisitRequest", func() any { return new(wire.VisitRequest) },
		`{"visited_on":"2026-03-02","findings":"照料协议已过期","outcome":"problem","problems":["照料协议需续签"]}`},
	{"wire.LedgerItemRequest", func() any { return new(wire.LedgerItemRequest) }, `{"description":"房屋漏雨"}`},
	{"wire.CloseLedgerItemRequest", func() any { return new(wire.CloseLedgerItemRequest) }, `{"action_taken":"已维修"}`},
	{"wire.FoundPersonRequest", func() any { return new(wire.FoundPersonRequest) },
		`{"person":{"name":"李秀兰","id_number":"11010519491231002X","hukou_township_code":"610113001",` +
			`"address":"小寨东路12号","self_care":"semi_dependent"},"contact":{"name":"张社工","phone":"13700001111"}}`},
}

func testServer() *Server {
	return New(nil, nil, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// bindBody runs Server.bind on body as a JSON request and returns the
// error and the HTTP status the error handler would answer.
func bindBody(s *Server, contentType string, body []byte, dst any) (error, int) { //nolint:staticcheck // ST1008: reads as "the error, and its status"
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set(echo.HeaderContentType, contentType)
	rec := httptest.NewRecorder()
	c := s.echo.NewContext(req, rec)
	err := s.bind(c, dst)
	if err == nil {
		return nil, http.StatusOK
	}
	s.handleError(err, c)
	return err, rec.Code
}

// checkBindError fails unless err is a refusal a client can act on: 400,
// 413 or 415 from the protocol layer, or 422 naming fields.
func checkBindError(t *testing.T, err error, status int) {
	t.Helper()
	var he *echo.HTTPError
	var de *civicflow.Error
	switch {
	case errors.As(err, &he):
		require.Contains(t, []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType}, he.Code, "%v", err)
		msg, _ := he.Message.(string)
		require.NotEmpty(t, msg, "a refusal says why")
	case errors.As(err, &de):
		require.Equal(t, civicflow.EINVALID, de.Code, "%v", err)
		require.NotEmpty(t, de.Fields, "a 422 names the fields")
		for _, f := range de.Fields {
			require.NotEmpty(t, f.Field)
			require.NotEmpty(t, f.Reason)
		}
	default:
		t.Fatalf("bind answered an unexpected error %T: %v", err, err)
	}
	require.Less(t, status, 500, "%v", err)
	require.GreaterOrEqual(t, status, 400, "%v", err)
}

// FuzzBind decodes arbitrary bodies into every request type. bind must
// never panic or answer 5xx; whatever it accepts must survive a round trip
// (encode, bind again, same value), so that what was validated is what the
// handler uses.
func FuzzBind(f *testing.F) {
	for i, rt := range requestTypes {
		k := byte(i)
		f.Add(k, []byte(rt.seed))
		f.Add(k, []byte(`{}`))
		f.Add(k, []byte(`null`))
		f.Add(k, []byte(rt.seed[:len(rt.seed)/2]))
		f.Add(k, []byte(strings.Replace(rt.seed, `{`, `{"x":1,`, 1)))
		f.Add(k, []byte(strings.Replace(rt.seed, `{`, `{"reasons":"a","reasons":"b",`, 1)))
		f.Add(k, []byte(strings.Repeat("[", 64)+strings.Repeat("]", 64)))
		f.Add(k, []byte("{\"reasons\":\"\xff\"}"))
		f.Add(k, []byte(`{"document_ids":[1e400],"person":{"disability":{"grade":99999999999999999999}}}`))
		f.Add(k, []byte(`{"reasons":"\ud800","note":"\u0000"}`))
	}
	s := testServer()
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		rt := requestTypes[int(kind)%len(requestTypes)]
		dst := rt.new()
		err, status := bindBody(s, "application/json", body, dst)
		if err != nil {
			checkBindError(t, err, status)
			return
		}
		again := rt.new()
		encoded, merr := json.Marshal(dst)
		require.NoError(t, merr)
		err, _ = bindBody(s, "application/json", encoded, again)
		require.NoError(t, err, "accepted %s but not its re-encoding %s", body, encoded)
		require.True(t, reflect.DeepEqual(dst, again), "round trip changed the value: %#v vs %#v", dst, again)
	})
}

// TestBindRefusals pins the answers to the hostile bodies the fuzz seeds
// start from.
func TestBindRefusals(t *testing.T) {
	t.Parallel()
	s := testServer()
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		says              string
	}{
		{"duplicate key", "application/json", `{"reasons":"a","reasons":"b"}`, 400, `duplicate key \"reasons\"`},
		{"nested duplicate key", "application/json", `{"home_visit":{"opinion":"eligible","visitors":["a"],"opinion":"ineligible"}}`, 400, `duplicate key \"home_visit.opinion\"`},
		{"same key in sibling objects is fine", "application/json", `{"home_visit":{"visited_on":"2026-01-01","visitors":["a"],"findings":"x","care_level":"dependent","opinion":"eligible"},"reasons":"r"}`, 200, ""},
		{"deeply nested", "application/json", `{"items":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, 400, "nested more than"},
		{"very deeply nested", "application/json", strings.Repeat(`{"a":`, 100000), 400, "nested more than"},
		{"truncated", "application/json", `{"reasons":"ab`, 400, "malformed JSON"},
		{"wrong content type", "text/plain", `{}`, 415, "application/json"},
		{"form", "application/x-www-form-urlencoded", `reasons=x`, 415, "application/json"},
		{"invalid utf-8", "application/json", "{\"reasons\":\"\xc3\x28\"}", 400, "UTF-8"},
		{"number out of range", "application/json", `{"document_ids":[99999999999999999999]}`, 422, `"document_ids`},
		{"unknown field", "application/json", `{"admin":true}`, 422, `"field":"admin"`},
		{"huge string", "application/json", `{"reasons":"` + strings.Repeat("长", 5000) + `"}`, 422, "at most 4000"},
		{"wrong type in an embedded struct", "application/json", `{"person":{"name":5}}`, 422, `"field":"person.name"`},
		{"invalid in an embedded struct", "application/json", `{"person":{"name":"李"},"applicant":{},"education":{}}`, 422, `"field":"person.id_number"`},
		{"over 1 MiB", "application/json", `{"reasons":"` + strings.Repeat("a", 1<<20) + `"}`, 413, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dst any = new(wire.ActionRequest)
			if strings.Contains(tc.body, "document_ids") {
				dst = new(wire.SupplementsRequest)
			}
			if strings.Contains(tc.body, "person") {
				dst = new(wire.EducationApplicationRequest) // its person embeds wire.PersonIdentity
			}
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			req.Header.Set(echo.HeaderContentType, tc.ctype)
			rec := httptest.NewRecorder()
			c := s.echo.NewContext(req, rec)
			err := s.bind(c, dst)
			if tc.status == 200 {
				require.NoError(t, err)
				return
			}
			s.handleError(err, c)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), tc.says)
		})
	}
}

// TestBindCoversEveryRequestType reads the package's handlers and fails
// when one binds a body type that FuzzBind does not decode.
func TestBindCoversEveryRequestType(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	bound := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			fn, ok := n.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				return true
			}
			vars := map[string]string{} // variable -> type name, from `var x T`
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ValueSpec:
					name := ""
					switch tn := n.Type.(type) {
					case *ast.Ident:
						name = tn.Name
					case *ast.SelectorExpr: // wire.ApplicationRequest
						if pkg, ok := tn.X.(*ast.Ident); ok {
							name = pkg.Name + "." + tn.Sel.Name
						}
					}
					if name != "" {
						for _, v := range n.Names {
							vars[v.Name] = name
						}
					}
				case *ast.CallExpr:
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok || sel.Sel.Name != "bind" || len(n.Args) != 2 {
						return true
					}
					u, ok := n.Args[1].(*ast.UnaryExpr)
					if !ok {
						t.Errorf("%s: bind's target is not &variable; list its type in requestTypes by hand", fset.Position(n.Pos()))
						return true
					}
					id, _ := u.X.(*ast.Ident)
					if id == nil || vars[id.Name] == "" {
						t.Errorf("%s: cannot tell the type bound here; declare it as `var x T`", fset.Position(n.Pos()))
						return true
					}
					bound[vars[id.Name]] = true
				}
				return true
			})
			return true
		})
	}
	covered := map[string]bool{}
	for _, rt := range requestTypes {
		covered[rt.name] = true
		typ := reflect.TypeOf(rt.new()).Elem()
		name := typ.Name()
		if typ.PkgPath() != reflect.TypeOf(Server{}).PkgPath() {
			name = path.Base(typ.PkgPath()) + "." + name
		}
		require.Equal(t, rt.name, name)
	}
	var missing []string
	for name := range bound {
		if !covered[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "request types bound by handlers but not fuzzed: add them to requestTypes in bind_test.go")
	require.NotEmpty(t, bound)
}

// TestRequestSeedsAreAccepted keeps the fuzz seeds meaningful: each one is
// a body the API accepts.
func TestRequestSeedsAreAccepted(t *testing.T) {
	t.Parallel()
	s := testServer()
	for _, rt := range requestTypes {
		err, _ := bindBody(s, "application/json", []byte(rt.seed), rt.new())
		require.NoError(t, err, rt.name)
	}
}
