package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDoc is the API's OpenAPI 3 description. TestOpenAPICoversRoutes
// fails when a route is missing from it.
//
//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDoc)
}

// OpenAPIDocument returns the OpenAPI document the API serves, for tools
// and tests that check traffic against it.
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDoc...) }
