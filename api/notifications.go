package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"civicflow"
	"civicflow/postgres"
)

type notificationQuery struct {
	State string `query:"state" validate:"max=200"` // comma-separated states
	Case  string `query:"case" validate:"max=64"`   // a case reference
	After int64  `query:"after" validate:"min=0"`
	Limit int    `query:"limit" validate:"min=0,max=500"`
}

// notificationScope returns the district a supervisor or administrator may
// see notifications of ("" for the whole city).
func notificationScope(actor civicflow.Actor) (string, error) {
	if actor.Role != civicflow.RoleSupervisor && actor.Role != civicflow.RoleAdministrator {
		return "", civicflow.Errorf(civicflow.EFORBIDDEN, "only supervisors and administrators see notifications")
	}
	if actor.Jurisdiction == civicflow.CityCode {
		return "", nil
	}
	if len(actor.Jurisdiction) != 6 {
		return "", civicflow.Errorf(civicflow.EFORBIDDEN, "your jurisdiction does not cover notifications")
	}
	return actor.Jurisdiction, nil
}

// listNotifications shows the outbox to supervisors, scoped by
// jurisdiction: ?state=failed,unconfirmed finds what did not get through.
func (s *Server) listNotifications(c echo.Context) error {
	district, err := notificationScope(actorOf(c))
	if err != nil {
		return err
	}
	var q notificationQuery
	if err := (&echo.DefaultBinder{}).BindQueryParams(c, &q); err != nil {
		return civicflow.Invalid(civicflow.FieldError{Field: "query", Reason: "after and limit must be whole numbers"})
	}
	if err := s.validate(q); err != nil {
		return err
	}
	f := postgres.NotificationFilter{DistrictCode: district, AfterID: q.After, Limit: q.Limit}
	if q.State != "" {
		for _, st := range strings.Split(q.State, ",") {
			state := civicflow.NotificationState(strings.TrimSpace(st))
			if !state.Valid() {
				return civicflow.Invalid(civicflow.FieldError{Field: "state",
					Reason: "use pending, sending, sent, failed, unconfirmed or no_channel, separated by commas"})
			}
			f.States = append(f.States, state)
		}
	}
	if q.Case != "" {
		cs, err := s.store.CaseByReference(c.Request().Context(), q.Case)
		if err != nil {
			return err
		}
		if district != "" && cs.DistrictCode != district {
			return civicflow.Errorf(civicflow.ENOTFOUND, "case %s: not found", q.Case)
		}
		f.CaseID = cs.ID
	}
	ns, err := s.store.Notifications(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if ns == nil {
		ns = []*civicflow.Notification{}
	}
	resp := map[string]any{"notifications": ns}
	limit := f.Limit
	if limit == 0 {
		limit = 100
	}
	if len(ns) == limit {
		resp["next_after"] = ns[len(ns)-1].ID
	}
	return c.JSON(http.StatusOK, resp)
}

// retryNotification puts a failed or unconfirmed notification back in the
// queue (after the mail settings were fixed, or when an unconfirmed notice
// must certainly reach the recipient). It keeps its Message-ID.
func (s *Server) retryNotification(c echo.Context) error {
	district, err := notificationScope(actorOf(c))
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return civicflow.Invalid(civicflow.FieldError{Field: "id", Reason: "must be a positive whole number"})
	}
	ctx := c.Request().Context()
	n, err := s.store.Notification(ctx, id)
	if err != nil {
		return err
	}
	if district != "" && n.DistrictCode != district {
		return civicflow.Errorf(civicflow.ENOTFOUND, "notification %d: not found", id)
	}
	if n, err = s.store.RetryNotification(ctx, id); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, n)
}
