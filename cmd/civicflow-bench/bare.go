package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// The bare workflow is the engine's floor: the same shape as a
// centralised-care case driven to admission — 11 activities, 4 updates and
// 1 timer — with no-op activities, no database, no HTTP and no search
// attributes. Its updates wait inside the workflow for the stage they need,
// so its driver never polls; civicflow's officials must poll the read model,
// and that cost is part of what the ratio measures.

const (
	bareTaskQueue    = "civicflow-bench-bare"
	bareWorkflowName = "BenchBareCase"
	bareActivityName = "BenchBareStep"
	// envRole makes the bench binary (or its test binary) run as the bare
	// worker process instead of the bench.
	envRole        = "CIVICFLOW_BENCH_ROLE"
	roleBareWorker = "bare-worker"
	envBareAddress = "CIVICFLOW_BENCH_TEMPORAL_ADDRESS"
	// envBareCompression gives the bare worker the same gRPC compression
	// as civicflow's processes (-grpc-compression).
	envBareCompression = "CIVICFLOW_BENCH_GRPC_COMPRESSION"
	// bareCoreActivities is the activity count of the bare case without
	// extras: the core flow of a centralised-care case.
	bareCoreActivities = 11
)

// BareInput starts a bare case.
type BareInput struct {
	NoticePeriod time.Duration
	// ExtraActivities are added, one after each step, so the bare case
	// matches civicflow's activity count when civicflow has more than the
	// 11 of its core flow (notifications, audit, deadlines).
	ExtraActivities int
	// ExtraTimers are started beyond the notice timer, one on each stage
	// change and cancelled by the next, as civicflow's deadline timers
	// are, so both run as many timers.
	ExtraTimers int
}

// BareStepInput is the input of the no-op activity; it carries about as
// much as a civicflow transition so payload sizes are comparable.
type BareStepInput struct {
	Seq    int
	Action string
	To     string
}

// bareStep is the no-op activity.
func bareStep(_ context.Context, in BareStepInput) (string, error) { return in.To, nil }

// bareCase is the bare workflow.
func bareCase(ctx workflow.Context, in BareInput) (string, error) {
	ao := workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	}
	stage, seq, extra := "submitted", 0, in.ExtraActivities
	visited := false
	root, timers := ctx, in.ExtraTimers
	var cancelTimer workflow.CancelFunc
	rearm := func() {
		if cancelTimer != nil {
			cancelTimer()
			cancelTimer = nil
		}
		if timers > 0 {
			timers--
			var tctx workflow.Context
			tctx, cancelTimer = workflow.WithCancel(root)
			workflow.NewTimer(tctx, 30*24*time.Hour)
		}
	}
	step := func(ctx workflow.Context, action, to string) error {
		seq++
		var out string
		// Update handlers get a context without the workflow's options.
		ctx = workflow.WithActivityOptions(ctx, ao)
		if err := workflow.ExecuteActivity(ctx, bareActivityName, BareStepInput{Seq: seq, Action: action, To: to}).Get(ctx, &out); err != nil {
			return err
		}
		if out != stage {
			rearm()
		}
		stage = out
		if extra > 0 {
			extra--
			seq++
			return workflow.ExecuteActivity(ctx, bareActivityName, BareStepInput{Seq: seq, Action: "extra", To: out}).Get(ctx, nil)
		}
		return nil
	}
	handler := func(need, to string, then func()) func(workflow.Context) (string, error) {
		return func(ctx workflow.Context) (string, error) {
			if err := workflow.Await(ctx, func() bool { return stage == need }); err != nil {
				return "", err
			}
			if err := step(ctx, "update", to); err != nil {
				return "", err
			}
			if then != nil {
				then()
			}
			return stage, nil
		}
	}
	for _, u := range []struct {
		name string
		h    func(workflow.Context) (string, error)
	}{
		{"accept", handler("intake", "investigation", nil)},
		{"record_investigation", handler("investigation", "investigation", func() { visited = true })},
		{"approve", handler("district_review", "placement", nil)},
		{"confirm_admission", handler("awaiting_admission", "completed", nil)},
	} {
		if err := workflow.SetUpdateHandler(ctx, u.name, u.h); err != nil {
			return "", fmt.Errorf("set update handler %s: %w", u.name, err)
		}
	}
	if err := step(ctx, "submitted", "intake"); err != nil {
		return "", err
	}
	// investigation: household check and its record, while the official visits
	if err := workflow.Await(ctx, func() bool { return stage == "investigation" }); err != nil {
		return "", err
	}
	if err := step(ctx, "check", "investigation"); err != nil {
		return "", err
	}
	if err := step(ctx, "check_completed", "investigation"); err != nil {
		return "", err
	}
	if err := workflow.Await(ctx, func() bool { return visited }); err != nil {
		return "", err
	}
	if err := step(ctx, "public_notice_started", "public_notice"); err != nil {
		return "", err
	}
	if err := workflow.Sleep(ctx, in.NoticePeriod); err != nil {
		return "", err
	}
	if err := step(ctx, "public_notice_ended", "district_review"); err != nil {
		return "", err
	}
	if err := workflow.Await(ctx, func() bool { return stage == "placement" }); err != nil {
		return "", err
	}
	if err := step(ctx, "allocate", "placement"); err != nil {
		return "", err
	}
	if err := step(ctx, "bed_allocated", "awaiting_admission"); err != nil {
		return "", err
	}
	if err := workflow.Await(ctx, func() bool { return stage == "completed" }); err != nil {
		return "", err
	}
	if cancelTimer != nil {
		cancelTimer()
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return "", err
	}
	return stage, nil
}

// runBareWorker is the body of the bare worker process: it polls the bare
// task queue with the SDK's default options, as civicflow's worker does,
// until it is told to stop.
func runBareWorker() error {
	tc, err := client.Dial(client.Options{HostPort: os.Getenv(envBareAddress),
		ConnectionOptions: client.ConnectionOptions{GrpcCompression: grpcCompression(os.Getenv(envBareCompression))},
		Logger:            tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))})
	if err != nil {
		return fmt.Errorf("bare worker: dial temporal: %w", err)
	}
	defer tc.Close()
	w := sdkworker.New(tc, bareTaskQueue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(bareCase, workflow.RegisterOptions{Name: bareWorkflowName})
	w.RegisterActivityWithOptions(bareStep, activity.RegisterOptions{Name: bareActivityName})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := w.Start(); err != nil {
		return fmt.Errorf("bare worker: start: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

// driveBare runs one bare case from start to completion.
func driveBare(ctx context.Context, tc client.Client, id string, in BareInput) error {
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: bareTaskQueue},
		bareWorkflowName, in)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	for _, name := range []string{"accept", "record_investigation", "approve", "confirm_admission"} {
		h, err := tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, RunID: run.GetRunID(),
			UpdateName: name, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err == nil {
			err = h.Get(ctx, nil)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", id, name, err)
		}
	}
	var out string
	if err := run.Get(ctx, &out); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if out != "completed" {
		return fmt.Errorf("%s ended in %q", id, out)
	}
	return nil
}

// grpcCompression is the SDK setting for -grpc-compression: "none" turns
// gzip off; anything else keeps the SDK's default (gzip).
func grpcCompression(name string) client.GrpcCompression {
	if name == "none" {
		return &client.GrpcCompressionNone{}
	}
	return nil
}
