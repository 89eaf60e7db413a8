package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"

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
