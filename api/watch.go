package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"civicflow"
)

// A page that shows a case can ask for its next change instead of
// reloading: GET /api/v1/cases/{ref}?after_version=N&wait=20s answers as
// soon as the case's version is above N, or after wait with the case
// unchanged. The API waits on PostgreSQL notifications of recorded steps
// (postgres/changes.go), so a waiting page costs nothing while it waits
// and one audited read when it answers.

// maxChangeWait bounds a waiting read; it stays below the HTTP shutdown
// timeout (25 s) so that a stopping API still answers its waiting pages.
const maxChangeWait = 20 * time.Second

// changeWait reads after_version and wait. ok is false when the request
// does not ask to wait.
func changeWait(c echo.Context) (after int, wait time.Duration, ok bool, err error) {
	av := strings.TrimSpace(c.QueryParam("after_version"))
	ws := strings.TrimSpace(c.QueryParam("wait"))
	if av == "" {
		if ws != "" {
			return 0, 0, false, civicflow.Invalid(civicflow.FieldError{Field: "wait", Reason: "needs after_version: the version the page shows"})
		}
		return 0, 0, false, nil
	}
	after, err = strconv.Atoi(av)
	if err != nil || after < 0 {
		return 0, 0, false, civicflow.Invalid(civicflow.FieldError{Field: "after_version", Reason: "must be a whole number, 0 or more: the version the page shows"})
	}
	wait = maxChangeWait
	if ws != "" {
		if n, err := strconv.Atoi(ws); err == nil {
			wait = time.Duration(n) * time.Second
		} else if wait, err = time.ParseDuration(ws); err != nil {
			return 0, 0, false, civicflow.Invalid(civicflow.FieldError{Field: "wait", Reason: "must be a duration such as 20s (or a number of seconds)"})
		}
		if wait <= 0 || wait > maxChangeWait {
			return 0, 0, false, civicflow.Invalid(civicflow.FieldError{Field: "wait", Reason: "must be more than 0 and at most " + maxChangeWait.String()})
		}
	}
	return after, wait, true, nil
}

// awaitChange waits, when the request asks it to, until the case's version
// is above the one the page shows, and says whether it waited (then the
// case must be read again). The caller has authorised the read.
func (s *Server) awaitChange(c echo.Context, cs *civicflow.Case) (bool, error) {
	after, wait, ok, err := changeWait(c)
	if err != nil || !ok || cs.Seq > after {
		return false, err
	}
	ctx := c.Request().Context()
	if _, err = s.store.WaitCaseChange(ctx, cs.ID, after, wait); err != nil && ctx.Err() != nil {
		// The page went away while it waited: nobody reads the answer.
		return true, echo.NewHTTPError(http.StatusRequestTimeout, "the request ended while it waited")
	}
	return true, err
}
