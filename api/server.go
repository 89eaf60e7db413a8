// Package api is civicflow's HTTP API, served by Echo. It is the only way
// into the workflows: it authenticates officials and applicants, validates
// input, checks authorisation against the read model, and starts or updates
// Temporal workflows. It never runs activities itself.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.temporal.io/sdk/client"

	"civicflow"
	"civicflow/postgres"
	"civicflow/wire"
)

// Config holds the API's settings.
type Config struct {
	// TaskQueue is where new case workflows are started.
	TaskQueue string
	// NoticePeriod overrides the public notice period of the deadline rules
	// (for demos and tests); zero keeps the rules.
	NoticePeriod time.Duration
	// ActionTimeout bounds how long an action waits for its workflow.
	ActionTimeout time.Duration
	// RehabReviewsPerRun bounds the reviews one run of a rehab case's
	// workflow records before it continues as new (0: the workflow's
	// default; tests set it low to cross the boundary).
	RehabReviewsPerRun int
	// StageSearchAttributes: new cases keep CivicflowStage and
	// CivicflowStageDue current in Temporal's visibility store
	// (workflows.StageAttributes); off, they carry only case type, district
	// and township, which never change.
	StageSearchAttributes bool
	// StuckScanInterval is how often the stuck scan runs (0: it does not);
	// the stuck list calls its findings stale after three intervals.
	StuckScanInterval time.Duration

	// Security (issue 3): see docs/security.md.
	// CORSOrigins are the browser origins allowed to call the API besides
	// its own; empty: none.
	CORSOrigins []string
	// TrustedProxies are the networks whose X-Forwarded-For is believed;
	// empty: the client address is the TCP peer.
	TrustedProxies []*net.IPNet
	// Limits throttle guessing; zero fields take DefaultLimits.
	Limits Limits
	// Middleware runs after routing, around every route (metrics, tracing);
	// c.Path() is the route template there.
	Middleware []echo.MiddlewareFunc
}

// Server is the HTTP API.
type Server struct {
	store     *postgres.DB
	temporal  client.Client
	cfg       Config
	log       *slog.Logger
	validator *validator.Validate
	echo      *echo.Echo
	calendar  calendarWatch
}

// New builds the server and its routes.
func New(store *postgres.DB, tc client.Client, cfg Config, log *slog.Logger) *Server {
	if cfg.ActionTimeout <= 0 {
		cfg.ActionTimeout = 30 * time.Second
	}
	cfg.Limits = cfg.Limits.withDefaults()
	s := &Server{store: store, temporal: tc, cfg: cfg, log: log, validator: newValidator()}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.Recover())
	e.Use(middleware.RequestID())
	s.useSecurity(e)
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		// The error handler answers first, so the log shows the status the
		// client got (a refused action is 409, not 200).
		HandleError: true,
		LogMethod:   true, LogURIPath: true, LogStatus: true, LogLatency: true, LogRequestID: true, LogError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			attrs := []any{"method", v.Method, "path", v.URIPath, "route", c.Path(), "status", v.Status,
				"latency_ms", v.Latency.Milliseconds(), "request_id", v.RequestID}
			if cs, ok := c.Get(ctxCase).(*civicflow.Case); ok && cs != nil {
				attrs = append(attrs, "case_id", cs.ID, "workflow_id", civicflow.CaseWorkflowID(cs.ID))
			}
			s.log.Info("request", attrs...)
			return nil
		},
	}))
	e.Use(cfg.Middleware...)
	for _, r := range s.routes() {
		h := r.handler
		switch r.auth {
		case authOfficial:
			h = s.requireOfficial(h)
		case authApplicant:
			h = s.requireApplicant(h)
		}
		h = s.audited(r.method, r.path, h)
		e.Add(r.method, r.path, h, middleware.BodyLimit(r.bodyLimit()))
	}
	s.echo = e
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo returns the Echo instance, for tests that inspect routes.
func (s *Server) Echo() *echo.Echo { return s.echo }

type authKind int

const (
	authNone authKind = iota
	authOfficial
	authApplicant
)

// route is one row of the route table.
type route struct {
	method  string
	path    string
	auth    authKind
	handler echo.HandlerFunc
	upload  bool // multipart file upload: larger body limit
}

func (r route) bodyLimit() string {
	if r.upload {
		return "11M"
	}
	return "1M"
}

// routes is the single table of the API. docs/api.md and openapi.json
// describe the same routes; a test keeps them in step.
func (s *Server) routes() []route {
	return []route{
		{http.MethodGet, "/healthz", authNone, s.healthz, false},
		{http.MethodGet, "/readyz", authNone, s.readyz, false},
		{http.MethodGet, "/api/v1/openapi.json", authNone, s.openAPI, false},
		{http.MethodGet, "/api/v1/jurisdictions", authNone, s.listJurisdictions, false},

		{http.MethodPost, "/api/v1/applications", authNone, s.submit, false},
		{http.MethodGet, "/api/v1/applications/:ref", authApplicant, s.applicantView, false},
		{http.MethodPost, "/api/v1/applications/:ref/papers", authApplicant, s.applicantUpload, true},
		{http.MethodPost, "/api/v1/applications/:ref/supplements", authApplicant, s.provideSupplements, false},
		{http.MethodPost, "/api/v1/applications/:ref/withdraw", authApplicant, s.withdraw, false},

		{http.MethodPost, "/api/v1/auth/login", authNone, s.login, false},
		{http.MethodPost, "/api/v1/auth/logout", authOfficial, s.logout, false},
		{http.MethodGet, "/api/v1/me", authOfficial, s.me, false},

		{http.MethodGet, "/api/v1/cases", authOfficial, s.listCases, false},
		{http.MethodGet, "/api/v1/cases/:ref", authOfficial, s.caseDetail, false},
		{http.MethodPost, "/api/v1/cases/:ref/actions/:action", authOfficial, s.act, false},
		{http.MethodPost, "/api/v1/cases/:ref/papers", authOfficial, s.officialUpload, true},
		{http.MethodGet, "/api/v1/cases/:ref/papers/:id", authOfficial, s.downloadPaper, false},

		{http.MethodGet, "/api/v1/institutions", authOfficial, s.listInstitutions, false},
		{http.MethodPost, "/api/v1/allocations/:id/departure", authOfficial, s.recordDeparture, false},

		// Bed operations (issue 18, api/institutions.go).
		{http.MethodGet, "/api/v1/admin/institutions", authOfficial, s.listInstitutionRecords, false},
		{http.MethodPost, "/api/v1/admin/institutions", authOfficial, s.createInstitution, false},
		{http.MethodPost, "/api/v1/admin/institutions/:id", authOfficial, s.updateInstitution, false},
		{http.MethodGet, "/api/v1/admin/institutions/:id/beds", authOfficial, s.listBeds, false},
		{http.MethodPost, "/api/v1/admin/institutions/:id/beds", authOfficial, s.addBed, false},
		{http.MethodPost, "/api/v1/admin/institutions/:id/beds/:bed/retire", authOfficial, s.retireBed, false},
		{http.MethodGet, "/api/v1/supervision/waitlist", authOfficial, s.waitlist, false},

		// Community rehab (issue 5, api/rehab.go).
		{http.MethodPost, "/api/v1/rehab/applications", authNone, s.submitRehab, false},
		{http.MethodGet, "/api/v1/rehab/centres", authOfficial, s.listRehabCentres, false},
		{http.MethodGet, "/api/v1/cases/:ref/rehab", authOfficial, s.clinical, false},
		{http.MethodPost, "/api/v1/cases/:ref/rehab/sessions", authOfficial, s.recordSession, false},

		// The education grant (issue 15, api/education.go).
		{http.MethodPost, "/api/v1/education/applications", authNone, s.submitEducation, false},
		{http.MethodGet, "/api/v1/admin/education/tiers", authOfficial, s.listTierRules, false},
		{http.MethodPut, "/api/v1/admin/education/tiers/:jurisdiction/:family_status/:school_kind", authOfficial, s.putTierRule, false},
		{http.MethodDelete, "/api/v1/admin/education/tiers/:jurisdiction/:family_status/:school_kind", authOfficial, s.deleteTierRule, false},

		// The register of supported persons (issue 18, api/register.go).
		{http.MethodGet, "/api/v1/register", authOfficial, s.listRegister, false},
		{http.MethodGet, "/api/v1/register/:id", authOfficial, s.registerDetail, false},
		{http.MethodPost, "/api/v1/register/:id/reveal", authOfficial, s.revealRegister, false},
		{http.MethodPost, "/api/v1/register/:id/terminations", authOfficial, s.raiseTermination, false},
		{http.MethodPost, "/api/v1/transfer/applications", authNone, s.submitTransfer, false},
		{http.MethodGet, "/api/v1/supervision/register/counts", authOfficial, s.registerCounts, false},
		{http.MethodGet, "/api/v1/admin/support-standards", authOfficial, s.listSupportStandards, false},
		{http.MethodPut, "/api/v1/admin/support-standards/:district/:effective_from", authOfficial, s.putSupportStandard, false},
		{http.MethodDelete, "/api/v1/admin/support-standards/:district/:effective_from", authOfficial, s.deleteSupportStandard, false},

		// Campaigns over the register (issue 18 item 5, api/campaign.go).
		{http.MethodGet, "/api/v1/campaigns", authOfficial, s.listCampaigns, false},
		{http.MethodPost, "/api/v1/campaigns", authOfficial, s.createCampaign, false},
		{http.MethodGet, "/api/v1/campaigns/:id", authOfficial, s.campaignDetail, false},
		{http.MethodPost, "/api/v1/campaigns/:id/close", authOfficial, s.closeCampaign, false},
		{http.MethodGet, "/api/v1/campaigns/:id/progress", authOfficial, s.campaignProgress, false},
		{http.MethodGet, "/api/v1/campaigns/:id/tasks", authOfficial, s.listCampaignTasks, false},
		{http.MethodPost, "/api/v1/campaigns/:id/tasks/:task/visit", authOfficial, s.recordVisit, false},
		{http.MethodPost, "/api/v1/campaigns/:id/tasks/:task/ledger", authOfficial, s.openLedgerItem, false},
		{http.MethodGet, "/api/v1/campaigns/:id/ledger", authOfficial, s.listLedgerItems, false},
		{http.MethodPost, "/api/v1/campaigns/:id/ledger/:item/close", authOfficial, s.closeLedgerItem, false},
		{http.MethodPost, "/api/v1/campaigns/:id/found-persons", authOfficial, s.recordFoundPerson, false},

		{http.MethodGet, "/api/v1/notifications", authOfficial, s.listNotifications, false},
		{http.MethodPost, "/api/v1/notifications/:id/retry", authOfficial, s.retryNotification, false},

		{http.MethodPost, "/api/v1/cases/:ref/reveal", authOfficial, s.reveal, false},
		{http.MethodGet, "/api/v1/admin/users", authOfficial, s.listUsers, false},
		{http.MethodPost, "/api/v1/admin/users", authOfficial, s.createUser, false},
		{http.MethodPost, "/api/v1/admin/users/:id/disable", authOfficial, s.disableUser, false},
		{http.MethodPost, "/api/v1/admin/users/:id/enable", authOfficial, s.enableUser, false},
		{http.MethodPost, "/api/v1/admin/users/:id/password", authOfficial, s.resetPassword, false},
		{http.MethodPost, "/api/v1/admin/users/:id/role", authOfficial, s.assignRole, false},

		// Deadlines and supervision (issue 4, api/deadlines.go, api/stuck.go).
		{http.MethodGet, "/api/v1/admin/calendar", authOfficial, s.listCalendar, false},
		{http.MethodPut, "/api/v1/admin/calendar/:date", authOfficial, s.putCalendarDay, false},
		{http.MethodDelete, "/api/v1/admin/calendar/:date", authOfficial, s.deleteCalendarDay, false},
		{http.MethodGet, "/api/v1/admin/deadlines", authOfficial, s.listDeadlineRules, false},
		{http.MethodPut, "/api/v1/admin/deadlines/:jurisdiction/:stage", authOfficial, s.putDeadlineRule, false},
		{http.MethodDelete, "/api/v1/admin/deadlines/:jurisdiction/:stage", authOfficial, s.deleteDeadlineRule, false},
		{http.MethodGet, "/api/v1/supervision/overdue", authOfficial, s.listOverdue, false},
		{http.MethodGet, "/api/v1/supervision/overdue/counts", authOfficial, s.overdueCounts, false},
		{http.MethodGet, "/api/v1/supervision/stage-durations", authOfficial, s.stageDurations, false},
		{http.MethodGet, "/api/v1/supervision/stuck", authOfficial, s.listStuck, false},
		{http.MethodGet, "/api/v1/supervision/calendar-gaps", authOfficial, s.listCalendarGaps, false},
		{http.MethodGet, "/api/v1/supervision/cases/:ref/assignees", authOfficial, s.assignees, false},
		{http.MethodPost, "/api/v1/supervision/cases/:ref/reassign", authOfficial, s.reassign, false},
		{http.MethodPost, "/api/v1/supervision/cases/:ref/notes", authOfficial, s.addSupervisoryNote, false},
		{http.MethodPost, "/api/v1/supervision/cases/:ref/remind", authOfficial, s.remindNow, false},
	}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz tells a load balancer whether to send this instance requests.
// PostgreSQL is required: every page and route reads it. Temporal is not:
// without it the console's pages and the API's reads still work and
// actions answer 503 (EUNAVAILABLE), so the instance stays ready and
// reports Temporal under "degraded"; taking every instance out of service
// would turn a Temporal outage into a whole outage.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "temporal": "ok"}
	ready, degraded := true, []string{}
	// Details (addresses, users) go to the log, not to the caller.
	if err := s.store.Ping(ctx); err != nil {
		checks["postgres"], ready = "unavailable", false
		s.log.Warn("readiness: postgres", "err", err)
	}
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"] = "unavailable"
		degraded = append(degraded, "temporal")
		s.log.Warn("readiness: temporal unavailable; reads still served, actions answer 503", "err", err)
	}
	// A warning, not a failure: due dates over a year whose holidays are
	// not loaded are counted on the usual week (docs/deadlines.md).
	warnings, gaps := []string{}, []civicflow.CalendarGap{}
	if ready {
		if g, err := s.calendarGaps(ctx); err == nil {
			gaps = g
			for _, y := range g {
				warnings = append(warnings, fmt.Sprintf("calendar: %d open deadline(s) run into %d, which has no holiday calendar loaded", y.OpenDeadlines, y.Year))
			}
		}
	}
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, map[string]any{"ready": ready, "checks": checks, "degraded": degraded,
		"warnings": warnings, "calendar_gaps": gaps})
}

func (s *Server) listJurisdictions(c echo.Context) error {
	js, err := s.store.Jurisdictions(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wire.Jurisdictions{Jurisdictions: js})
}
