package api

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/postgres"
	"civicflow/wire"
)

// reveal shows personal data of a case unmasked to an official whose role
// and jurisdiction need it (civicflow.MayReveal), on an explicit request
// with a reason. The read is recorded in the audit trail before anything is
// shown: when the entry cannot be written, nothing is shown.
func (s *Server) reveal(c echo.Context) error {
	cs, err := s.officialCase(c)
	if err != nil {
		return err
	}
	var req wire.RevealRequest
	if err := s.bind(c, &req); err != nil {
		return err
	}
	slices.Sort(req.Fields)
	req.Fields = slices.Compact(req.Fields)
	auditDetail(c, "fields", req.Fields)
	auditDetail(c, "reason", req.Reason)
	actor := actorOf(c)
	if !civicflow.MayReveal(actor, cs.Scope()) {
		return civicflow.Errorf(civicflow.EFORBIDDEN, "role %s does not see personal data unmasked", actor.Role)
	}
	pd, err := s.store.PersonalData(c.Request().Context(), cs.ID)
	if err != nil {
		return err
	}
	if err := s.audit(c, postgres.AuditEntry{Action: "case.reveal", TargetType: "case", TargetID: cs.Reference,
		Outcome: postgres.OutcomeSuccess}); err != nil {
		return civicflow.Errorf(civicflow.EUNAVAILABLE, "the read could not be recorded in the audit trail, so nothing is shown; try again")
	}
	out := wire.Revealed{Reference: cs.Reference}
	for _, f := range req.Fields {
		switch civicflow.RevealField(f) {
		case civicflow.RevealIDNumber:
			out.IDNumber = pd.IDNumber
		case civicflow.RevealPhone:
			out.Phone = pd.Phone
		case civicflow.RevealApplicantPhone:
			out.ApplicantPhone = pd.ApplicantPhone
		case civicflow.RevealApplicantEmail:
			out.ApplicantEmail = pd.ApplicantEmail
		case civicflow.RevealDisability:
			out.Disability = pd.Disability
		}
	}
	return c.JSON(http.StatusOK, out)
}
