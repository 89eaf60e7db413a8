package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"civicflow"
	"civicflow/codec"
	"civicflow/postgres"
)

// Paths of the codec server on the API's listener. /codec/ takes the API's
// bearer tokens (the Temporal CLI's --codec-auth, tools); /console/codec/
// also takes the web console's session cookie, which the browser sends
// there (its path is /console) when the Temporal UI calls with
// credentials, so that an official logged in to the console can read
// histories in the Temporal UI.
const (
	codecPath        = "/codec/"
	consoleCodecPath = "/console/codec/"
	// consoleSessionCookie is the console's session cookie (web/session.go):
	// it holds an API session token.
	consoleSessionCookie = "cf_session"
)

// mayUseCodec reports whether u may decode Temporal payloads. A decoded
// history shows a case's personal text whatever the case's district, and
// the codec cannot tell which case a payload belongs to, so only those
// who may see every case's data in the clear anyway are let in: city-wide
// supervisors and administrators (who run the Temporal UI).
func mayUseCodec(u *civicflow.User) bool {
	switch u.Role {
	case civicflow.RoleAdministrator:
		return true
	case civicflow.RoleSupervisor:
		return u.Jurisdiction == civicflow.CityCode
	}
	return false
}

// withCodec serves the codec server (Temporal's remote codec protocol)
// beside h. Every request is authenticated with an official's session and
// recorded in the audit trail before anything is decoded (fail closed, as
// for /reveal); encodes are recorded too.
func withCodec(h http.Handler, cfg config, db *postgres.DB, log *slog.Logger) (http.Handler, error) {
	keys, err := cfg.keyring()
	if err != nil {
		return nil, err
	}
	cdc, err := codec.New(keys)
	if err != nil {
		return nil, err
	}
	proxies := cfg.trustedProxies()
	authorize := func(cookieOK bool) func(r *http.Request, op string, n int) error {
		return func(r *http.Request, op string, n int) error {
			token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok && cookieOK {
				if c, err := r.Cookie(consoleSessionCookie); err == nil {
					token, ok = c.Value, true
				}
			}
			token = strings.TrimSpace(token)
			if !ok || token == "" {
				return codec.ErrUnauthenticated
			}
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			defer cancel()
			u, err := db.UserByToken(ctx, token)
			if civicflow.ErrorCode(err) == civicflow.EUNAUTHORIZED {
				return codec.ErrUnauthenticated
			}
			if err != nil {
				log.Warn("codec: look up session", "err", err)
				return fmt.Errorf("look up session: %w", err)
			}
			ns := r.Header.Get("X-Namespace") // what the UI says it shows; the codec itself has no namespace
			if ns == "" {
				ns = cfg.TemporalNamespace
			}
			// The audit trail's target types are fixed by migration 003;
			// Temporal payloads are none of them, so the target is named
			// in target_id alone.
			entry := postgres.AuditEntry{Actor: u.Actor(), Action: "temporal.codec_" + op,
				TargetID: "temporal:" + clipHeader(ns, 200), Outcome: postgres.OutcomeSuccess,
				RemoteAddr: clientAddr(r, proxies), UserAgent: clipHeader(r.UserAgent(), 512),
				Details: map[string]any{"payloads": n}}
			allowed := mayUseCodec(u)
			if !allowed {
				entry.Outcome = postgres.OutcomeDenied
			}
			if _, err := db.AppendAudit(ctx, entry); err != nil {
				log.Error("codec: audit", "err", err)
				return fmt.Errorf("audit codec request: %w", err)
			}
			if !allowed {
				return codec.ErrForbidden
			}
			return nil
		}
	}
	origins := cfg.codecOrigins()
	bearer := codec.NewServer(cdc, codec.ServerOptions{Authorize: authorize(false), Origins: origins})
	console := codec.NewServer(cdc, codec.ServerOptions{Authorize: authorize(true), Origins: origins})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, codecPath):
			bearer.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, consoleCodecPath):
			console.ServeHTTP(w, r)
		default:
			h.ServeHTTP(w, r)
		}
	}), nil
}

// clientAddr is the client's address: the TCP peer, or the last address in
// X-Forwarded-For that no trusted proxy added (as the API does).
func clientAddr(r *http.Request, proxies []*net.IPNet) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	trusted := func(s string) bool {
		ip := net.ParseIP(strings.TrimSpace(s))
		for _, n := range proxies {
			if ip != nil && n.Contains(ip) {
				return true
			}
		}
		return false
	}
	if !trusted(host) {
		return host
	}
	hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		if h := strings.TrimSpace(hops[i]); h != "" && !trusted(h) {
			return h
		}
	}
	return host
}

func clipHeader(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
