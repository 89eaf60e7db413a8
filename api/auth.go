package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/postgres"
	"civicflow/wire"
)

const (
	ctxUser  = "civicflow.user"
	ctxCase  = "civicflow.case"
	ctxActor = "civicflow.actor"
	// HeaderAccessCode carries the applicant's access code.
	HeaderAccessCode = "X-Access-Code"
)

// requireOfficial admits requests with a live bearer token.
func (s *Server) requireOfficial(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
		if !ok || strings.TrimSpace(token) == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="civicflow"`)
			return civicflow.Errorf(civicflow.EUNAUTHORIZED, "log in and send the token as Authorization: Bearer <token>")
		}
		u, err := s.store.UserByToken(c.Request().Context(), strings.TrimSpace(token))
		if err != nil {
			return err
		}
		c.Set(ctxUser, u)
		c.Set(ctxActor, u.Actor())
		return next(c)
	}
}

// requireApplicant admits requests carrying the reference in the path and
// the matching access code in X-Access-Code.
func (s *Server) requireApplicant(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		code := c.Request().Header.Get(HeaderAccessCode)
		if code == "" {
			return civicflow.Errorf(civicflow.EUNAUTHORIZED, "send the case's access code in the "+HeaderAccessCode+" header")
		}
		ctx := c.Request().Context()
		ref := c.Param("ref")
		// Guessing is throttled per reference and per client address, with
		// counters in PostgreSQL (see docs/security.md).
		refKey, ipKey := "ref:"+clip(ref, 64), clientKey("code-ip:", c)
		if until, err := s.store.LockedUntil(ctx, refKey, ipKey); err != nil {
			return err
		} else if !until.IsZero() {
			_ = s.audit(c, postgres.AuditEntry{Action: "applicant.access", TargetType: "case", TargetID: ref,
				Outcome: postgres.OutcomeDenied, Details: map[string]any{"reason": "throttled"}})
			return rateLimited(c, until, "too many wrong access codes")
		}
		cs, err := s.store.CaseByAccessCode(ctx, ref, code)
		if civicflow.ErrorCode(err) == civicflow.EUNAUTHORIZED {
			if _, ferr := s.store.RecordFailure(ctx, refKey, s.cfg.Limits.AccessCode); ferr != nil {
				return ferr
			}
			if _, ferr := s.store.RecordFailure(ctx, ipKey, s.cfg.Limits.AccessCodePerIP); ferr != nil {
				return ferr
			}
			_ = s.audit(c, postgres.AuditEntry{Action: "applicant.access", TargetType: "case", TargetID: ref,
				Outcome: postgres.OutcomeDenied, Details: map[string]any{"reason": "wrong_code"}})
			return err
		}
		if err != nil {
			return err
		}
		c.Set(ctxCase, cs)
		c.Set(ctxActor, civicflow.Actor{Role: civicflow.RoleApplicant, CaseID: cs.ID})
		return next(c)
	}
}

func userOf(c echo.Context) *civicflow.User { u, _ := c.Get(ctxUser).(*civicflow.User); return u }

func actorOf(c echo.Context) civicflow.Actor { a, _ := c.Get(ctxActor).(civicflow.Actor); return a }

func (s *Server) login(c echo.Context) error {
	var req wire.LoginRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	// Failed logins lock the username (whether it exists or not, so that
	// the lock tells nothing) and throttle the client address.
	userKey, ipKey := "user:"+strings.ToLower(req.Username), clientKey("login-ip:", c)
	who := civicflow.Actor{Role: "anonymous", Username: clip(req.Username, 64)}
	if until, err := s.store.LockedUntil(ctx, userKey, ipKey); err != nil {
		return err
	} else if !until.IsZero() {
		_ = s.audit(c, postgres.AuditEntry{Actor: who, Action: "auth.login", TargetType: "user", TargetID: who.Username,
			Outcome: postgres.OutcomeDenied, Details: map[string]any{"reason": "locked"}})
		return rateLimited(c, until, "too many failed logins for this account or from this address")
	}
	sess, err := s.store.Login(ctx, req.Username, req.Password)
	if civicflow.ErrorCode(err) == civicflow.EUNAUTHORIZED {
		until, ferr := s.store.RecordFailure(ctx, userKey, s.cfg.Limits.Login)
		if ferr != nil {
			return ferr
		}
		if _, ferr := s.store.RecordFailure(ctx, ipKey, s.cfg.Limits.LoginPerIP); ferr != nil {
			return ferr
		}
		_ = s.audit(c, postgres.AuditEntry{Actor: who, Action: "auth.login", TargetType: "user", TargetID: who.Username,
			Outcome: postgres.OutcomeDenied, Details: map[string]any{"reason": "wrong_credentials", "locked": !until.IsZero()}})
		return err
	}
	if err != nil {
		return err
	}
	if err := s.store.ClearFailures(ctx, userKey); err != nil {
		return err
	}
	_ = s.audit(c, postgres.AuditEntry{Actor: sess.User.Actor(), Action: "auth.login", TargetType: "user",
		TargetID: strconv.FormatInt(sess.User.ID, 10), Outcome: postgres.OutcomeSuccess})
	return c.JSON(http.StatusOK, wire.Session{Token: sess.Token, ExpiresAt: sess.ExpiresAt, User: sess.User})
}

func (s *Server) logout(c echo.Context) error {
	token, _ := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	if err := s.store.Logout(c.Request().Context(), strings.TrimSpace(token)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) me(c echo.Context) error {
	return c.JSON(http.StatusOK, userOf(c))
}
