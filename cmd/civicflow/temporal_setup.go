package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.temporal.io/sdk/client"

	"civicflow/worker"
)

// runTemporal is `civicflow temporal setup`: the namespace set-up that
// needs operator rights, done once per namespace (and again after an
// upgrade that adds search attributes) rather than by every API and worker
// at start, so that their identity needs none.
func runTemporal(ctx context.Context, cfg config, log *slog.Logger, args []string, out io.Writer) error {
	if len(args) != 1 || args[0] != "setup" {
		return errors.New("usage: civicflow temporal setup")
	}
	added, err := temporalSetup(ctx, cfg, log)
	if err != nil {
		return err
	}
	if len(added) == 0 {
		fmt.Fprintf(out, "namespace %s has every civicflow search attribute\n", cfg.TemporalNamespace)
		return nil
	}
	fmt.Fprintf(out, "namespace %s: added search attributes %s\n", cfg.TemporalNamespace, strings.Join(added, ", "))
	return nil
}

// temporalSetup adds civicflow's search attributes missing in the
// namespace and returns their names. It touches no payload, so it needs no
// keys.
func temporalSetup(ctx context.Context, cfg config, log *slog.Logger) ([]string, error) {
	opts, err := temporalOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s: %w", cfg.TemporalAddress, err)
	}
	defer tc.Close()
	return worker.RegisterSearchAttributes(ctx, tc, cfg.TemporalNamespace)
}
