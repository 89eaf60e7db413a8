package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"civicflow/api"
	"civicflow/web"
)

// withConsole mounts the web console (package web, docs/console.md) on the
// API's Echo server and returns the handler serving both. The console calls
// the API in process, so it needs nothing of its own.
func withConsole(srv *api.Server, log *slog.Logger) (http.Handler, error) {
	if err := web.Mount(srv.Echo(), log); err != nil {
		return nil, fmt.Errorf("mount the web console: %w", err)
	}
	return srv.Handler(), nil
}
