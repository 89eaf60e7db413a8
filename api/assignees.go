package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// assignees lists the officials a supervisor may make responsible for a
// case (GET /api/v1/supervision/cases/:ref/assignees): active officials of
// the role that acts in the case's stage and of the case's township or
// district, with username, display name and role only. The supervisor must
// supervise the case's district (supervisedCase); the read is audited
// because it names officials.
func (s *Server) assignees(c echo.Context) error {
	cs, err := s.supervisedCase(c)
	if err != nil {
		return err
	}
	list, stage, ok, err := s.store.Assignees(c.Request().Context(), cs.ID)
	if err != nil {
		return err
	}
	auditDetail(c, "count", len(list))
	return c.JSON(http.StatusOK, map[string]any{"reference": cs.Reference, "stage": stage, "reassignable": ok, "assignees": list})
}
