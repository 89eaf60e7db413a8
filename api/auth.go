package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"civicflow"
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
		cs, err := s.store.CaseByAccessCode(c.Request().Context(), c.Param("ref"), code)
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

type loginRequest struct {
	Username string `json:"username" validate:"required,max=64"`
	Password string `json:"password" validate:"required,max=256"`
}

func (s *Server) login(c echo.Context) error {
	var req loginRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	sess, err := s.store.Login(c.Request().Context(), req.Username, req.Password)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sess)
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
