package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/postgres"
	"civicflow/wire"
	"civicflow/workflows"
)

// Institutions and beds, administered (issue 18, docs/beds.md). Every
// write is audited by the route wrapper (auditedRoutes). A bed added or
// an institution made designated serves the wait-list in the store; the
// cases that got a bed are woken here, as the Departure workflow wakes
// them after a departure.

// administers reports whether the administrator may change institutions
// of district: the city's administrators every district, another only
// its own.
func administers(actor civicflow.Actor, district string) bool {
	return actor.Jurisdiction == civicflow.CityCode || actor.Jurisdiction == district
}

// adminInstitution checks the caller administers institution :id and
// returns it.
func (s *Server) adminInstitution(c echo.Context) (*civicflow.InstitutionRecord, error) {
	if err := s.requireAdministrator(c); err != nil {
		return nil, err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, civicflow.Errorf(civicflow.ENOTFOUND, "unknown institution %q", c.Param("id"))
	}
	in, err := s.store.InstitutionRecord(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	if !administers(actorOf(c), in.DistrictCode) {
		return nil, civicflow.Errorf(civicflow.EFORBIDDEN, "this institution is outside your jurisdiction")
	}
	return in, nil
}

func (s *Server) listInstitutionRecords(c echo.Context) error {
	if err := s.requireAdministrator(c); err != nil {
		return err
	}
	district := ""
	if a := actorOf(c); a.Jurisdiction != civicflow.CityCode {
		district = a.Jurisdiction
	}
	is, err := s.store.InstitutionRecords(c.Request().Context(), district)
	if err != nil {
		return err
	}
	if is == nil {
		is = []civicflow.InstitutionRecord{}
	}
	return c.JSON(http.StatusOK, wire.InstitutionRecords{Institutions: is})
}

// checkInstitutionName trims a name and refuses one that is blank.
func checkInstitutionName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", civicflow.Invalid(civicflow.FieldError{Field: "name", Reason: "is required"})
	}
	return name, nil
}

func (s *Server) createInstitution(c echo.Context) error {
	if err := s.requireAdministrator(c); err != nil {
		return err
	}
	var req wire.CreateInstitutionRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	name, err := checkInstitutionName(req.Name)
	if err != nil {
		return err
	}
	j, err := s.store.Jurisdiction(ctx, req.DistrictCode)
	if civicflow.ErrorCode(err) == civicflow.ENOTFOUND || (err == nil && j.Level != civicflow.LevelDistrict) {
		return civicflow.Invalid(civicflow.FieldError{Field: "district_code", Reason: "must be a district or county of Xi'an"})
	}
	if err != nil {
		return err
	}
	if !administers(actorOf(c), req.DistrictCode) {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "this district is outside your jurisdiction")
	}
	designated := req.Designated == nil || *req.Designated
	in, err := s.store.CreateInstitution(ctx, postgres.InstitutionInput{Name: name, DistrictCode: req.DistrictCode,
		Designated: designated, Address: strings.TrimSpace(req.Address)})
	if err != nil {
		return err
	}
	c.Set(ctxAuditTarget, strconv.FormatInt(in.ID, 10))
	auditDetail(c, "name", in.Name)
	auditDetail(c, "district_code", in.DistrictCode)
	auditDetail(c, "designated", in.Designated)
	return c.JSON(http.StatusCreated, in)
}

func (s *Server) updateInstitution(c echo.Context) error {
	in, err := s.adminInstitution(c)
	if err != nil {
		return err
	}
	var req wire.UpdateInstitutionRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	ch := postgres.InstitutionChange{Designated: req.Designated}
	if req.Name != nil {
		name, err := checkInstitutionName(*req.Name)
		if err != nil {
			return err
		}
		ch.Name = &name
		auditDetail(c, "name", name)
	}
	if req.Designated != nil {
		auditDetail(c, "designated", *req.Designated)
	}
	up, offers, err := s.store.UpdateInstitution(c.Request().Context(), in.ID, ch)
	if err != nil {
		return err
	}
	s.offerBeds(c, offers...)
	return c.JSON(http.StatusOK, up)
}

func (s *Server) listBeds(c echo.Context) error {
	in, err := s.adminInstitution(c)
	if err != nil {
		return err
	}
	beds, err := s.store.InstitutionBeds(c.Request().Context(), in.ID)
	if err != nil {
		return err
	}
	if beds == nil {
		beds = []civicflow.Bed{}
	}
	return c.JSON(http.StatusOK, wire.InstitutionBeds{Institution: *in, Beds: beds})
}

func (s *Server) addBed(c echo.Context) error {
	in, err := s.adminInstitution(c)
	if err != nil {
		return err
	}
	var req wire.AddBedRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	label := strings.TrimSpace(req.Label)
	b, offer, err := s.store.AddBed(c.Request().Context(), in.ID, label, civicflow.CareLevel(req.CareLevel))
	if err != nil {
		return err
	}
	c.Set(ctxAuditTarget, strconv.FormatInt(b.ID, 10))
	auditDetail(c, "institution_id", in.ID)
	auditDetail(c, "label", b.Label)
	auditDetail(c, "care_level", b.CareLevel)
	if offer != nil {
		s.offerBeds(c, *offer)
	}
	return c.JSON(http.StatusCreated, b)
}

func (s *Server) retireBed(c echo.Context) error {
	in, err := s.adminInstitution(c)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("bed"), 10, 64)
	if err != nil || id <= 0 {
		return civicflow.Errorf(civicflow.ENOTFOUND, "unknown bed %q", c.Param("bed"))
	}
	auditDetail(c, "institution_id", in.ID)
	b, err := s.store.RetireBed(c.Request().Context(), in.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, b)
}

// offerBeds wakes the cases an administrator's change gave a bed to. The
// allocation is committed already; a signal that fails is logged (the
// case's workflow finds its bed the next time it asks, and the stuck
// scan shows it waiting meanwhile).
func (s *Server) offerBeds(c echo.Context, offers ...postgres.Offer) {
	ctx := context.WithoutCancel(c.Request().Context())
	for _, o := range offers {
		auditDetail(c, "bed_offered_to_case", o.CaseID)
		if err := s.temporal.SignalWorkflow(ctx, civicflow.CaseWorkflowID(o.CaseID), "", workflows.SignalBedOffered,
			workflows.BedOffer{AllocationID: o.AllocationID}); err != nil {
			s.log.Error("bed not offered", "case_id", o.CaseID, "allocation_id", o.AllocationID, "err", err)
		}
	}
}

// waitlist shows the wait-list in the order it is served: the city's
// supervisors all of it, a district's supervisors and reviewers their
// district's cases (with their places in the city's order too).
func (s *Server) waitlist(c echo.Context) error {
	a := actorOf(c)
	district := c.QueryParam("district")
	switch {
	case a.Role == civicflow.RoleSupervisor && a.Jurisdiction == civicflow.CityCode:
	case a.Role == civicflow.RoleSupervisor || a.Role == civicflow.RoleDistrictReviewer:
		if district != "" && district != a.Jurisdiction {
			return civicflow.Errorf(civicflow.EFORBIDDEN, "that district is outside your jurisdiction")
		}
		district = a.Jurisdiction
	default:
		return civicflow.Errorf(civicflow.EFORBIDDEN, "only supervisors and district reviewers see the wait-list")
	}
	level := civicflow.CareLevel(c.QueryParam("care_level"))
	if level != "" && !level.Valid() {
		return civicflow.Invalid(civicflow.FieldError{Field: "care_level", Reason: "must be one of: self_care, semi_dependent, dependent"})
	}
	if district != "" && (len(district) != 6 || strings.Trim(district, "0123456789") != "") {
		return civicflow.Invalid(civicflow.FieldError{Field: "district", Reason: "must be a 6-digit district code"})
	}
	es, err := s.store.WaitlistEntries(c.Request().Context(), level, district)
	if err != nil {
		return err
	}
	if es == nil {
		es = []civicflow.WaitlistEntry{}
	}
	return c.JSON(http.StatusOK, wire.Waitlist{Waitlist: es})
}
