package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"civicflow"
	"civicflow/postgres"
)

// Limits are the throttles against guessing. Counters are kept in
// PostgreSQL, so they hold across API instances.
type Limits struct {
	Login           postgres.Limit // failed logins per username: then the account is locked for a while
	LoginPerIP      postgres.Limit // failed logins per client address
	AccessCode      postgres.Limit // wrong access codes per case reference
	AccessCodePerIP postgres.Limit // wrong access codes (any reference) per client address
	DuplicatePerIP  postgres.Limit // duplicate-application answers per client address (ID-number probing)
}

// DefaultLimits are used for every zero field of Config.Limits.
var DefaultLimits = Limits{
	Login:           postgres.Limit{Max: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute},
	LoginPerIP:      postgres.Limit{Max: 50, Window: 15 * time.Minute, Lockout: 15 * time.Minute},
	AccessCode:      postgres.Limit{Max: 10, Window: 15 * time.Minute, Lockout: 15 * time.Minute},
	AccessCodePerIP: postgres.Limit{Max: 30, Window: 15 * time.Minute, Lockout: 15 * time.Minute},
	DuplicatePerIP:  postgres.Limit{Max: 20, Window: time.Hour, Lockout: time.Hour},
}

func (l Limits) withDefaults() Limits {
	fill := func(v *postgres.Limit, d postgres.Limit) {
		if v.Max <= 0 {
			*v = d
		}
	}
	fill(&l.Login, DefaultLimits.Login)
	fill(&l.LoginPerIP, DefaultLimits.LoginPerIP)
	fill(&l.AccessCode, DefaultLimits.AccessCode)
	fill(&l.AccessCodePerIP, DefaultLimits.AccessCodePerIP)
	fill(&l.DuplicatePerIP, DefaultLimits.DuplicatePerIP)
	return l
}

// useSecurity installs what every answer gets: the client-address policy,
// security headers, no caching of personal data, and the cross-origin policy.
func (s *Server) useSecurity(e *echo.Echo) {
	// The client address is the TCP peer unless the peer is a configured
	// proxy; X-Forwarded-For from anyone else is ignored, so throttles and
	// the audit trail cannot be fooled by a forged header.
	if len(s.cfg.TrustedProxies) > 0 {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range s.cfg.TrustedProxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection:         "0", // the legacy filter is itself a risk; CSP replaces it
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		HSTSMaxAge:            31536000, // sent on TLS requests (directly or via a trusted proxy)
		ContentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
		ReferrerPolicy:        "no-referrer",
	}))
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Cache-Control", "no-store")
			h.Set("Cross-Origin-Resource-Policy", "same-origin")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			return next(c)
		}
	})
	e.Use(s.originPolicy)
	if len(s.cfg.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  s.cfg.CORSOrigins,
			AllowMethods:  []string{http.MethodGet, http.MethodPost},
			AllowHeaders:  []string{echo.HeaderAuthorization, echo.HeaderContentType, "Idempotency-Key", HeaderAccessCode},
			ExposeHeaders: []string{"Retry-After", "X-Content-SHA256"},
			MaxAge:        600,
		}))
	}
}

// originPolicy refuses browser requests from origins that are neither this
// server nor on the configured allow-list. (Requests without an Origin
// header, from programs, are not browser cross-origin requests.)
func (s *Server) originPolicy(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		origin := c.Request().Header.Get(echo.HeaderOrigin)
		if origin == "" || origin == c.Scheme()+"://"+c.Request().Host {
			return next(c)
		}
		for _, o := range s.cfg.CORSOrigins {
			if o == origin {
				return next(c)
			}
		}
		return civicflow.Errorf(civicflow.EFORBIDDEN, "cross-origin requests from this origin are not allowed")
	}
}

// rateLimited answers a locked key: 429 with Retry-After.
func rateLimited(c echo.Context, until time.Time, what string) error {
	secs := int(time.Until(until).Seconds()) + 1
	if secs < 1 {
		secs = 1
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return civicflow.Errorf(civicflow.ETOOMANY, "%s; try again in %d minute(s)", what, (secs+59)/60)
}

// auditRoute says how a route is audited: the action recorded, the kind of
// target its path names, and whether the handler records success itself
// (before showing data: fail closed) so the wrapper records the rest only.
type auditRoute struct {
	action      string // "" + :action param appended for case actions
	target      string
	param       string
	selfSuccess bool
}

// auditedRoutes lists every route that changes something or shows personal
// data unmasked. Logins are audited by their handler (they need the
// username), reads of masked data are not audited.
var auditedRoutes = map[string]auditRoute{
	"POST /api/v1/applications":                  {"application.submit", "case", "", false},
	"POST /api/v1/applications/:ref/papers":      {"case.upload", "case", "ref", false},
	"POST /api/v1/applications/:ref/supplements": {"case.provide_supplements", "case", "ref", false},
	"POST /api/v1/applications/:ref/withdraw":    {"case.withdraw", "case", "ref", false},
	"POST /api/v1/auth/logout":                   {"auth.logout", "session", "", false},
	"POST /api/v1/cases/:ref/actions/:action":    {"case.", "case", "ref", false},
	"POST /api/v1/cases/:ref/papers":             {"case.upload", "case", "ref", false},
	"GET /api/v1/cases/:ref/papers/:id":          {"case.paper_download", "case", "ref", true},
	"POST /api/v1/cases/:ref/reveal":             {"case.reveal", "case", "ref", true},
	"POST /api/v1/allocations/:id/departure":     {"allocation.departure", "allocation", "id", false},
	// Community rehab (issue 5): the clinical read records its own entry.
	"POST /api/v1/rehab/applications":        {"application.submit", "case", "", false},
	"GET /api/v1/cases/:ref/rehab":           {"case.clinical_read", "case", "ref", true},
	"POST /api/v1/cases/:ref/rehab/sessions": {"case.record_session", "case", "ref", false},
	"POST /api/v1/admin/users":               {"user.create", "user", "", false},
	"POST /api/v1/admin/users/:id/disable":   {"user.disable", "user", "id", false},
	"POST /api/v1/admin/users/:id/enable":    {"user.enable", "user", "id", false},
	"POST /api/v1/admin/users/:id/password":  {"user.reset_password", "user", "id", false},
	"POST /api/v1/admin/users/:id/role":      {"user.assign_role", "user", "id", false},
	// Bed operations (issue 18): institutions and beds.
	"POST /api/v1/admin/institutions":                      {"institution.create", "institution", "", false},
	"POST /api/v1/admin/institutions/:id":                  {"institution.update", "institution", "id", false},
	"POST /api/v1/admin/institutions/:id/beds":             {"bed.add", "bed", "", false},
	"POST /api/v1/admin/institutions/:id/beds/:bed/retire": {"bed.retire", "bed", "bed", false},
	// Deadlines and supervision (issue 4): settings and supervisors' actions.
	"PUT /api/v1/admin/calendar/:date":                    {"calendar.put", "config", "date", false},
	"DELETE /api/v1/admin/calendar/:date":                 {"calendar.delete", "config", "date", false},
	"PUT /api/v1/admin/deadlines/:jurisdiction/:stage":    {"deadline.put", "config", "jurisdiction", false},
	"DELETE /api/v1/admin/deadlines/:jurisdiction/:stage": {"deadline.delete", "config", "jurisdiction", false},
	"GET /api/v1/supervision/cases/:ref/assignees":        {"case.assignees_read", "case", "ref", false},
	"POST /api/v1/supervision/cases/:ref/reassign":        {"case.reassign", "case", "ref", false},
	"POST /api/v1/supervision/cases/:ref/notes":           {"case.supervisory_note", "case", "ref", false},
	"POST /api/v1/supervision/cases/:ref/remind":          {"case.remind", "case", "ref", false},
	// Campaigns (issue 18 item 5): supervisors' creates and closes, and the
	// township officials' visits, ledger items and found persons.
	"POST /api/v1/campaigns":                        {"campaign.create", "campaign", "", false},
	"POST /api/v1/campaigns/:id/close":              {"campaign.close", "campaign", "id", false},
	"POST /api/v1/campaigns/:id/tasks/:task/visit":  {"campaign_task.visit", "campaign_task", "task", false},
	"POST /api/v1/campaigns/:id/tasks/:task/ledger": {"campaign_task.ledger_open", "campaign_task", "task", false},
	"POST /api/v1/campaigns/:id/ledger/:item/close": {"campaign_ledger.close", "campaign_ledger_item", "item", false},
	"POST /api/v1/campaigns/:id/found-persons":      {"campaign.found_person", "case", "", false},
	// The education grant (issue 15): applications and the tier rules.
	"POST /api/v1/education/applications":                                            {"application.submit", "case", "", false},
	"PUT /api/v1/admin/education/tiers/:jurisdiction/:family_status/:school_kind":    {"education_tier.put", "config", "jurisdiction", false},
	"DELETE /api/v1/admin/education/tiers/:jurisdiction/:family_status/:school_kind": {"education_tier.delete", "config", "jurisdiction", false},
	// The register (issue 18): searches and reveals record their own entry.
	"GET /api/v1/register":                                             {"register.search", "person", "", true},
	"POST /api/v1/register/:id/reveal":                                 {"register.reveal", "person", "id", true},
	"POST /api/v1/register/:id/terminations":                           {"register.terminate", "person", "id", false},
	"POST /api/v1/transfer/applications":                               {"application.submit", "case", "", false},
	"PUT /api/v1/admin/support-standards/:district/:effective_from":    {"support_standard.put", "config", "district", false},
	"DELETE /api/v1/admin/support-standards/:district/:effective_from": {"support_standard.delete", "config", "district", false},
}

// Context keys a handler sets to enrich its audit entry.
const (
	ctxAuditTarget  = "civicflow.audit.target"  // string: target id when the path has none (a new case, a new user)
	ctxAuditDetails = "civicflow.audit.details" // map[string]any
	ctxAudited      = "civicflow.audit.done"    // bool: the handler recorded the entry itself
)

func auditDetail(c echo.Context, key string, v any) {
	d, _ := c.Get(ctxAuditDetails).(map[string]any)
	if d == nil {
		d = map[string]any{}
		c.Set(ctxAuditDetails, d)
	}
	d[key] = v
}

// audited wraps a route's handler (outside authentication, so refusals of
// credentials are recorded too) and records the request and its outcome.
func (s *Server) audited(method, path string, next echo.HandlerFunc) echo.HandlerFunc {
	ar, ok := auditedRoutes[method+" "+path]
	if !ok {
		return next
	}
	return func(c echo.Context) error {
		err := next(c)
		if done, _ := c.Get(ctxAudited).(bool); done {
			return err
		}
		if err == nil && ar.selfSuccess {
			return nil
		}
		action := ar.action
		if strings.HasSuffix(action, ".") {
			act := civicflow.Action(c.Param("action"))
			if officialActions[act] {
				action += string(act)
			} else {
				action += "unknown_action"
			}
		}
		target := ""
		if ar.param != "" {
			target = c.Param(ar.param)
		}
		if t, ok := c.Get(ctxAuditTarget).(string); ok && t != "" {
			target = t
		}
		status := c.Response().Status
		if err != nil {
			status = statusOf[civicflow.ErrorCode(err)]
			if he := (*echo.HTTPError)(nil); errors.As(err, &he) {
				status = he.Code
			}
		}
		auditDetail(c, "status", status)
		if err != nil {
			auditDetail(c, "error", errorCodeOf(err))
		}
		_ = s.audit(c, postgres.AuditEntry{Action: action, TargetType: ar.target, TargetID: target, Outcome: outcomeOf(err)})
		return err
	}
}

func errorCodeOf(err error) string {
	if he := (*echo.HTTPError)(nil); errors.As(err, &he) {
		if code, ok := codeOfStatus[he.Code]; ok {
			return code
		}
	}
	return civicflow.ErrorCode(err)
}

// outcomeOf classifies a handler's result for the audit trail.
func outcomeOf(err error) string {
	if he := (*echo.HTTPError)(nil); errors.As(err, &he) {
		if he.Code == http.StatusUnauthorized || he.Code == http.StatusForbidden {
			return postgres.OutcomeDenied
		}
		return postgres.OutcomeFailed
	}
	switch civicflow.ErrorCode(err) {
	case "":
		return postgres.OutcomeSuccess
	case civicflow.EUNAUTHORIZED, civicflow.EFORBIDDEN, civicflow.ETOOMANY:
		return postgres.OutcomeDenied
	case civicflow.EINVALID, civicflow.ECONFLICT, civicflow.ENOTFOUND, civicflow.ETOOLARGE:
		return postgres.OutcomeFailed
	}
	return postgres.OutcomeError
}

// audit appends an entry for this request: the actor (the authenticated
// official or applicant unless e names one), client address, user agent and
// request id are filled in. An append that fails is logged and returned;
// callers that must not show data unless the read is recorded check it.
func (s *Server) audit(c echo.Context, e postgres.AuditEntry) error {
	if e.Actor.Role == "" {
		e.Actor = actorOf(c)
	}
	if e.Actor.Role == "" {
		e.Actor.Role = "anonymous"
	}
	e.RemoteAddr = c.RealIP()
	e.UserAgent = c.Request().UserAgent()
	e.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	if d, ok := c.Get(ctxAuditDetails).(map[string]any); ok && e.Details == nil {
		e.Details = d
	}
	// Record even when the client has gone away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), 10*time.Second)
	defer cancel()
	if _, err := s.store.AppendAudit(ctx, e); err != nil {
		s.log.Error("audit entry not recorded", "action", e.Action, "target", e.TargetID, "err", err)
		return err
	}
	c.Set(ctxAudited, true)
	return nil
}

// clientKey is the throttle key of the client address.
func clientKey(prefix string, c echo.Context) string {
	ip := c.RealIP()
	if parsed := net.ParseIP(ip); parsed != nil {
		ip = parsed.String()
	}
	return prefix + ip
}

// maskReference keeps the district and the last two digits of a case
// reference: TK-610113-000042 becomes TK-610113-****42.
func maskReference(ref string) string {
	i := strings.LastIndexByte(ref, '-')
	if i < 0 || len(ref)-i-1 < 4 {
		return strings.Repeat("*", len(ref))
	}
	num := ref[i+1:]
	return ref[:i+1] + strings.Repeat("*", len(num)-2) + num[len(num)-2:]
}

// clip cuts s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
