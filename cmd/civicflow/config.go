package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// config is everything the binary reads from its environment. Every
// setting has a default that works for `civicflow dev` on one machine.
type config struct {
	DatabaseURL       string        // CIVICFLOW_DATABASE_URL; dev starts a private cluster when empty
	TemporalAddress   string        // CIVICFLOW_TEMPORAL_ADDRESS; dev starts a dev server when empty
	TemporalNamespace string        // CIVICFLOW_TEMPORAL_NAMESPACE
	TaskQueue         string        // CIVICFLOW_TASK_QUEUE
	HTTPAddr          string        // CIVICFLOW_HTTP_ADDR
	VerificationURL   string        // CIVICFLOW_VERIFICATION_URL; dev runs the stand-in when empty
	VerifierAddr      string        // CIVICFLOW_VERIFIER_ADDR: where `verifier` and dev serve the stand-in
	DataDir           string        // CIVICFLOW_DATA_DIR: dev's Postgres cluster and Temporal store
	PostgresPort      int           // CIVICFLOW_PG_PORT (dev)
	TemporalPort      int           // CIVICFLOW_TEMPORAL_PORT (dev)
	TemporalUIPort    int           // CIVICFLOW_TEMPORAL_UI_PORT (dev)
	NoticePeriod      time.Duration // CIVICFLOW_NOTICE_PERIOD: length of 公示
	DemoPassword      string        // CIVICFLOW_DEMO_PASSWORD
	LogLevel          string        // CIVICFLOW_LOG_LEVEL: debug, info, warn, error
}

func loadConfig() (config, error) {
	c := config{
		DatabaseURL:       os.Getenv("CIVICFLOW_DATABASE_URL"),
		TemporalAddress:   os.Getenv("CIVICFLOW_TEMPORAL_ADDRESS"),
		TemporalNamespace: env("CIVICFLOW_TEMPORAL_NAMESPACE", "default"),
		TaskQueue:         env("CIVICFLOW_TASK_QUEUE", "civicflow"),
		HTTPAddr:          env("CIVICFLOW_HTTP_ADDR", "127.0.0.1:8080"),
		VerificationURL:   os.Getenv("CIVICFLOW_VERIFICATION_URL"),
		VerifierAddr:      env("CIVICFLOW_VERIFIER_ADDR", "127.0.0.1:8091"),
		DataDir:           env("CIVICFLOW_DATA_DIR", ".data"),
		DemoPassword:      env("CIVICFLOW_DEMO_PASSWORD", ""),
		LogLevel:          env("CIVICFLOW_LOG_LEVEL", "info"),
	}
	var err error
	if c.PostgresPort, err = envInt("CIVICFLOW_PG_PORT", 54329); err != nil {
		return c, err
	}
	if c.TemporalPort, err = envInt("CIVICFLOW_TEMPORAL_PORT", 17233); err != nil {
		return c, err
	}
	if c.TemporalUIPort, err = envInt("CIVICFLOW_TEMPORAL_UI_PORT", 18233); err != nil {
		return c, err
	}
	notice := env("CIVICFLOW_NOTICE_PERIOD", "168h")
	if c.NoticePeriod, err = time.ParseDuration(notice); err != nil || c.NoticePeriod <= 0 {
		return c, fmt.Errorf("CIVICFLOW_NOTICE_PERIOD=%q: want a positive duration such as 168h or 2m", notice)
	}
	return c, nil
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) (int, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > 65535 {
		return 0, fmt.Errorf("%s=%q: want a port number", key, v)
	}
	return n, nil
}
