package api

import (
	"errors"
	"strings"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/postgres"
)

// duplicateError shapes the answer to a second open application for the
// same person: 409 naming the open case. An official whose jurisdiction
// covers that case (intake at the counter, with a bearer token) sees the
// full reference; anyone else, who may be anybody who knows an ID number,
// sees it masked (TK-610113-****42): enough for the real applicant to
// recognise their case, too little to open it. Such answers are counted
// per client address, which throttles probing ID numbers this way; so are
// refusals of a student who already holds the education grant for the
// year (409 naming no case).
func (s *Server) duplicateError(c echo.Context, err error) error {
	var de *civicflow.Error
	held := errors.Is(err, postgres.ErrAwardHeld)
	if !errors.As(err, &de) || de.Code != civicflow.ECONFLICT || (de.Reference == "" && !held) {
		return err
	}
	ctx := c.Request().Context()
	ipKey := clientKey("dup-ip:", c)
	if until, lerr := s.store.LockedUntil(ctx, ipKey); lerr != nil {
		return lerr
	} else if !until.IsZero() {
		return rateLimited(c, until, "too many duplicate applications from this address")
	}
	if _, ferr := s.store.RecordFailure(ctx, ipKey, s.cfg.Limits.DuplicatePerIP); ferr != nil {
		return ferr
	}
	if held {
		return de
	}
	shown := maskReference(de.Reference)
	if token, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer "); ok {
		if u, uerr := s.store.UserByToken(ctx, strings.TrimSpace(token)); uerr == nil {
			if cs, cerr := s.store.CaseByReference(ctx, de.Reference); cerr == nil &&
				civicflow.CanReadCases(u.Role) && civicflow.InJurisdiction(u.Actor(), cs.Scope()) {
				shown = de.Reference
			}
		}
	}
	c.Set(ctxAuditTarget, de.Reference)
	return &civicflow.Error{Code: civicflow.ECONFLICT, Reference: shown,
		Message: "an open application for this person already exists: " + shown}
}
