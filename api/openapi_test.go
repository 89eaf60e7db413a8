package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"civicflow"
)

// TestOpenAPICoversRoutes fails when a route served by the API is missing
// from openapi.json, or the document names a route that is not served.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPIDoc, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	s := New(nil, nil, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	param := regexp.MustCompile(`:([a-z_]+)`)
	served := map[string]bool{}
	for _, r := range s.Echo().Routes() {
		path := param.ReplaceAllString(r.Path, "{$1}")
		key := strings.ToLower(r.Method) + " " + path
		served[key] = true
		ops, ok := doc.Paths[path]
		require.True(t, ok, "route %s %s is not in openapi.json", r.Method, r.Path)
		_, ok = ops[strings.ToLower(r.Method)]
		require.True(t, ok, "operation %s %s is not in openapi.json", r.Method, r.Path)
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			require.True(t, served[method+" "+path], "openapi.json documents %s %s, which is not served", method, path)
		}
	}
}

// TestOpenAPIOperationIDs: every operation has an operationId, and it is
// the name of the handler that serves it in the route table, so a client
// generated from the document names operations as the code does, and a
// renamed handler shows up here.
func TestOpenAPIOperationIDs(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPIDoc, &doc))
	s := New(nil, nil, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	param := regexp.MustCompile(`:([a-z_]+)`)
	seen := map[string]string{}
	for _, r := range s.routes() {
		path := param.ReplaceAllString(r.path, "{$1}")
		name := runtime.FuncForPC(reflect.ValueOf(r.handler).Pointer()).Name()
		name = strings.TrimSuffix(name[strings.LastIndex(name, ".")+1:], "-fm")
		op := doc.Paths[path][strings.ToLower(r.method)]
		require.Equal(t, name, op.OperationID, "operationId of %s %s", r.method, r.path)
		require.NotContains(t, seen, op.OperationID, "operationId %s of %s %s is used by %s too", op.OperationID, r.method, r.path, seen[op.OperationID])
		seen[op.OperationID] = r.method + " " + r.path
	}
}

// TestOpenAPIEnumsAreTheDomains: the stages, actions and processes the
// document lists are the domain's, so a new one cannot be left out.
func TestOpenAPIEnumsAreTheDomains(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Enum []string `json:"enum"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(openAPIDoc, &doc))
	var stages []string
	for _, s := range civicflow.AllStages {
		stages = append(stages, string(s))
	}
	require.ElementsMatch(t, stages, doc.Components.Schemas["Stage"].Enum, "components.schemas.Stage")
}

// loadOpenAPI reads the served document as kin-openapi does.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIDocument())
	require.NoError(t, err)
	return doc
}

// TestOpenAPIDocumentIsValid: the document is valid OpenAPI 3.0 as
// kin-openapi reads it, the same reading the end-to-end suite uses to
// check every exchange against it (cmd/civicflow/openapi_e2e_test.go).
func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	require.NoError(t, doc.Validate(context.Background()))
	_, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
}

// TestOpenAPICommonAnswers: the answers any operation can get from the
// API's shared layers are documented on every operation they apply to —
// the origin policy (403) and a fault (500) on all; the body limit (413) on
// every POST and PUT; a malformed body (400) or content type (415) where
// there is a body; a malformed or unknown path parameter (422, 404) where
// there is one; the throttles (429) on login, the public submissions and
// the applicant's routes. The end-to-end suite then checks each answer's
// shape against the document.
func TestOpenAPICommonAnswers(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	throttled := map[string]bool{"POST /api/v1/auth/login": true, "POST /api/v1/applications": true,
		"POST /api/v1/rehab/applications": true, "POST /api/v1/education/applications": true,
		"POST /api/v1/transfer/applications": true}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			want := []int{403, 500}
			if method == http.MethodPost || method == http.MethodPut {
				want = append(want, 413)
			}
			if op.RequestBody != nil {
				want = append(want, 400, 415)
			}
			if strings.Contains(path, "{") {
				want = append(want, 404, 422)
			}
			if throttled[method+" "+path] || strings.HasPrefix(path, "/api/v1/applications/{ref}") {
				want = append(want, 429)
			}
			for _, status := range want {
				require.NotNil(t, op.Responses.Status(status), "%s %s does not document %d", method, path, status)
			}
		}
	}
}

// TestOpenAPIActionsAreServed: the {action} enum of the official-action
// route is the set of actions that route serves.
func TestOpenAPIActionsAreServed(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	op := doc.Paths.Find("/api/v1/cases/{ref}/actions/{action}").Post
	var documented []string
	for _, v := range op.Parameters.GetByInAndName("path", "action").Schema.Value.Enum {
		documented = append(documented, v.(string))
	}
	var served []string
	for a := range officialActions {
		served = append(served, string(a))
	}
	require.ElementsMatch(t, served, documented)
}

// TestOpenAPIAnswersHaveShapes: every documented answer but 204 says what
// its body is, so the end-to-end suite's check of each answer has a shape
// to check it against.
func TestOpenAPIAnswersHaveShapes(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status, r := range op.Responses.Map() {
				if status == "204" {
					continue
				}
				require.NotEmpty(t, r.Value.Content, "%s %s: answer %s has no content", method, path, status)
			}
		}
	}
}
