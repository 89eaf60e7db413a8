package api

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/postgres"
	"civicflow/wire"
)

// Administrators manage officials' accounts. Every change is audited by
// the route wrapper (see auditedRoutes); passwords never appear in it.

func (s *Server) requireAdministrator(c echo.Context) error {
	if actorOf(c).Role != civicflow.RoleAdministrator {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "only administrators administer users, institutions and beds")
	}
	return nil
}

func (s *Server) listUsers(c echo.Context) error {
	if err := s.requireAdministrator(c); err != nil {
		return err
	}
	us, err := s.store.Users(c.Request().Context())
	if err != nil {
		return err
	}
	if us == nil {
		us = []postgres.UserAccount{}
	}
	return c.JSON(http.StatusOK, map[string]any{"users": us})
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9_.-]{3,64}$`)

// checkAssignment checks that a role fits its jurisdiction: a township for
// township officials, a district for reviewers, assessors and institution
// staff (who also need an institution of that district), the city or a
// district for supervisors, the city for administrators.
func (s *Server) checkAssignment(c echo.Context, role civicflow.Role, code string, institutionID int64) error {
	ctx := c.Request().Context()
	j, err := s.store.Jurisdiction(ctx, code)
	if civicflow.ErrorCode(err) == civicflow.ENOTFOUND {
		return civicflow.Invalid(civicflow.FieldError{Field: "jurisdiction", Reason: "is not a known jurisdiction"})
	}
	if err != nil {
		return err
	}
	var want []civicflow.JurisdictionLevel
	switch role {
	case civicflow.RoleTownshipOfficial:
		want = []civicflow.JurisdictionLevel{civicflow.LevelTownship}
	case civicflow.RoleDistrictReviewer, civicflow.RoleRehabAssessor, civicflow.RoleInstitutionStaff:
		want = []civicflow.JurisdictionLevel{civicflow.LevelDistrict}
	case civicflow.RoleSupervisor:
		want = []civicflow.JurisdictionLevel{civicflow.LevelCity, civicflow.LevelDistrict}
	case civicflow.RoleAdministrator:
		want = []civicflow.JurisdictionLevel{civicflow.LevelCity}
	}
	ok := false
	for _, l := range want {
		ok = ok || j.Level == l
	}
	if !ok {
		return civicflow.Invalid(civicflow.FieldError{Field: "jurisdiction", Reason: "a " + string(j.Level) + " does not fit role " + string(role)})
	}
	if (role == civicflow.RoleInstitutionStaff) != (institutionID != 0) {
		return civicflow.Invalid(civicflow.FieldError{Field: "institution_id", Reason: "is required for institution staff and only for them"})
	}
	if institutionID != 0 {
		is, err := s.store.Institutions(ctx, code)
		if err != nil {
			return err
		}
		found := false
		for _, in := range is {
			found = found || in.ID == institutionID
		}
		if !found {
			return civicflow.Invalid(civicflow.FieldError{Field: "institution_id", Reason: "is not an institution of this district"})
		}
	}
	return nil
}

func (s *Server) createUser(c echo.Context) error {
	if err := s.requireAdministrator(c); err != nil {
		return err
	}
	var req wire.CreateUserRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	if !usernamePattern.MatchString(req.Username) {
		return civicflow.Invalid(civicflow.FieldError{Field: "username", Reason: "use 3-64 lower-case letters, digits, dots, hyphens or underscores"})
	}
	role := civicflow.Role(req.Role)
	if err := s.checkAssignment(c, role, req.Jurisdiction, req.InstitutionID); err != nil {
		return err
	}
	u, err := s.store.CreateUser(c.Request().Context(), postgres.NewUser{Username: req.Username, DisplayName: req.DisplayName,
		Password: req.Password, Role: role, Jurisdiction: req.Jurisdiction, InstitutionID: req.InstitutionID})
	if err != nil {
		return err
	}
	c.Set(ctxAuditTarget, strconv.FormatInt(u.ID, 10))
	auditDetail(c, "username", u.Username)
	auditDetail(c, "role", u.Role)
	auditDetail(c, "jurisdiction", u.Jurisdiction)
	return c.JSON(http.StatusCreated, u)
}

// targetUser parses the :id of an admin route; an administrator may not
// disable, demote or reset themself through it (no lock-out by mistake).
func (s *Server) targetUser(c echo.Context) (int64, error) {
	if err := s.requireAdministrator(c); err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, civicflow.Errorf(civicflow.ENOTFOUND, "unknown user %q", c.Param("id"))
	}
	if id == actorOf(c).UserID {
		return 0, civicflow.Errorf(civicflow.ECONFLICT, "administrators cannot change their own account here")
	}
	return id, nil
}

func (s *Server) disableUser(c echo.Context) error { return s.setDisabled(c, true) }
func (s *Server) enableUser(c echo.Context) error  { return s.setDisabled(c, false) }

func (s *Server) setDisabled(c echo.Context, disabled bool) error {
	id, err := s.targetUser(c)
	if err != nil {
		return err
	}
	u, err := s.store.SetUserDisabled(c.Request().Context(), id, disabled)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

func (s *Server) resetPassword(c echo.Context) error {
	id, err := s.targetUser(c)
	if err != nil {
		return err
	}
	var req wire.PasswordRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	if err := s.store.SetPassword(c.Request().Context(), id, req.Password); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) assignRole(c echo.Context) error {
	id, err := s.targetUser(c)
	if err != nil {
		return err
	}
	var req wire.RoleRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	role := civicflow.Role(req.Role)
	if err := s.checkAssignment(c, role, req.Jurisdiction, req.InstitutionID); err != nil {
		return err
	}
	u, err := s.store.AssignRole(c.Request().Context(), id, role, req.Jurisdiction, req.InstitutionID)
	if err != nil {
		return err
	}
	auditDetail(c, "role", u.Role)
	auditDetail(c, "jurisdiction", u.Jurisdiction)
	auditDetail(c, "institution_id", u.InstitutionID)
	return c.JSON(http.StatusOK, u)
}
