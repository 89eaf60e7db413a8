package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"civicflow/api"
)

// The end-to-end suite checks every exchange it has with the API against
// the OpenAPI document the API serves, so the document cannot drift from
// what is served:
//
//   - every answer, error answers included, must be one the document
//     describes for that operation: its status, content type and body shape;
//   - every request the API accepted (an answer below 400) must be one the
//     document allows: parameters and body. Requests the API refused are
//     the bad-input tests' own business and are not checked here;
//   - a path under /api/ the document does not name must be answered 404
//     or 405.
var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIDocument())
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	return gorillamux.NewRouter(doc)
})

func init() {
	// Paper downloads and scans are files: their bodies are bytes, and
	// the document says so with format: binary.
	for _, ct := range []string{"application/pdf", "image/jpeg", "image/png"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
}

// checkContract fails t when the exchange is not one the OpenAPI
// document describes (see openAPIRouter's comment).
func checkContract(t *testing.T, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	t.Helper()
	router, err := openAPIRouter()
	require.NoError(t, err, "api/openapi.json does not load")
	// The router matches on the request as the API saw it.
	probe := req.Clone(context.Background())
	probe.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := router.FindRoute(probe)
	if err != nil {
		if strings.HasPrefix(req.URL.Path, "/api/") && resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("openapi: %s %s answered %d but the document has no such operation", req.Method, req.URL.Path, resp.StatusCode)
		}
		return
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route, Options: opts}
	ctx := context.Background()
	if resp.StatusCode < 400 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("openapi: the API accepted %s %s (%d), which the document does not allow: %v", req.Method, req.URL.Path, resp.StatusCode, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: opts}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("openapi: %s %s answered %d with something the document does not describe: %v\nbody: %.600s", req.Method, req.URL.Path, resp.StatusCode, err, respBody)
	}
}
