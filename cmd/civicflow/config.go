package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is everything the binary reads from its environment. Every
// setting has a default that works for `civicflow dev` on one machine;
// docs/operations.md lists them all (TestConfigTableMatchesDocs keeps that
// table and this file in step: every CIVICFLOW_* name read here, with its
// default and whether it is a secret).
//
// Settings are grouped by concern. Each group is a block of fields here and
// a block of reads in loadConfig; add a setting to its group in both.
type config struct {
	// PostgreSQL.
	DatabaseURL      string // CIVICFLOW_DATABASE_URL (secret); dev starts a private cluster when empty
	DatabasePoolSize int    // CIVICFLOW_DATABASE_POOL_SIZE: max connections per process; 0 = pgx default

	// Temporal.
	TemporalAddress       string // CIVICFLOW_TEMPORAL_ADDRESS: frontend host:port; dev starts a dev server when empty
	TemporalNamespace     string // CIVICFLOW_TEMPORAL_NAMESPACE
	TemporalCompression   string // CIVICFLOW_TEMPORAL_GRPC_COMPRESSION: gzip or none
	TemporalStageAttrs    bool   // CIVICFLOW_TEMPORAL_STAGE_SEARCH_ATTRIBUTES: new cases keep CivicflowStage/StageDue current in Temporal
	TemporalTLS           bool   // CIVICFLOW_TEMPORAL_TLS: TLS with the system roots (implied by the settings below)
	TemporalTLSCA         string // CIVICFLOW_TEMPORAL_TLS_CA: PEM file of the CA that signed the frontend's certificate
	TemporalTLSCert       string // CIVICFLOW_TEMPORAL_TLS_CERT: PEM client certificate for mTLS
	TemporalTLSKey        string // CIVICFLOW_TEMPORAL_TLS_KEY: PEM client key for mTLS (secret)
	TemporalTLSServerName string // CIVICFLOW_TEMPORAL_TLS_SERVER_NAME: expected name in the frontend's certificate
	TemporalAPIKey        string // CIVICFLOW_TEMPORAL_API_KEY (secret): Temporal Cloud API key
	TaskQueue             string // CIVICFLOW_TASK_QUEUE

	// Worker.
	WorkerMaxConcurrentActivities    int           // CIVICFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES; 0 = SDK default (1000)
	WorkerMaxConcurrentWorkflowTasks int           // CIVICFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS; 0 = SDK default (1000)
	WorkerStopTimeout                time.Duration // CIVICFLOW_WORKER_STOP_TIMEOUT: how long Stop waits for running activities
	WorkerMetricsAddr                string        // CIVICFLOW_WORKER_METRICS_ADDR: worker's /metrics, /healthz, /readyz
	VerificationURL                  string        // CIVICFLOW_VERIFICATION_URL; dev runs the stand-in when empty
	VerificationTimeout              time.Duration // CIVICFLOW_VERIFICATION_TIMEOUT: bound on one call to the platform (retries are Temporal's)

	// HTTP API.
	HTTPAddr              string        // CIVICFLOW_HTTP_ADDR
	MetricsAddr           string        // CIVICFLOW_METRICS_ADDR: the API's /metrics, on a listener of its own
	HTTPReadHeaderTimeout time.Duration // CIVICFLOW_HTTP_READ_HEADER_TIMEOUT
	HTTPReadTimeout       time.Duration // CIVICFLOW_HTTP_READ_TIMEOUT
	HTTPWriteTimeout      time.Duration // CIVICFLOW_HTTP_WRITE_TIMEOUT
	HTTPIdleTimeout       time.Duration // CIVICFLOW_HTTP_IDLE_TIMEOUT
	HTTPShutdownTimeout   time.Duration // CIVICFLOW_HTTP_SHUTDOWN_TIMEOUT: how long SIGTERM waits for in-flight requests
	ActionTimeout         time.Duration // CIVICFLOW_ACTION_TIMEOUT: how long an action waits for its workflow
	NoticePeriod          time.Duration // CIVICFLOW_NOTICE_PERIOD: length of 公示 for demos and tests; 0 = the deadline rules (7 days)

	// Stuck-case scan (issue 4), run by the API processes, one at a time:
	// see docs/deadlines.md.
	StuckScanInterval  time.Duration // CIVICFLOW_STUCK_SCAN_INTERVAL: how often; "off" = this process does not scan
	StuckScanQuietFor  time.Duration // CIVICFLOW_STUCK_SCAN_QUIET_FOR: look at open cases unchanged for this long; 0 = all
	StuckScanBatch     int           // CIVICFLOW_STUCK_SCAN_BATCH: cases one scan asks Temporal about
	StuckPollerSilence time.Duration // CIVICFLOW_STUCK_POLLER_SILENCE: a task queue unpolled this long has no worker

	// Logs, metrics, traces.
	LogLevel           string  // CIVICFLOW_LOG_LEVEL: debug, info, warn, error
	LogFormat          string  // CIVICFLOW_LOG_FORMAT: json or text
	TracingExporter    string  // CIVICFLOW_TRACING_EXPORTER: none or otlp
	TracingEndpoint    string  // CIVICFLOW_TRACING_ENDPOINT: OTLP/HTTP collector URL
	TracingSampleRatio float64 // CIVICFLOW_TRACING_SAMPLE_RATIO: share of new traces kept
	PprofAddr          string  // CIVICFLOW_PPROF_ADDR: serve net/http/pprof there (api, worker); "" = off

	// SMTP (notifications): settings for outgoing mail belong in this block.
	// See docs/notifications.md.
	SMTPHost               string        // CIVICFLOW_SMTP_HOST: submission server; "" = no mail is sent (dev runs the mail sink)
	SMTPPort               int           // CIVICFLOW_SMTP_PORT: 587 for starttls, 465 for implicit
	SMTPUsername           string        // CIVICFLOW_SMTP_USERNAME: SASL user
	SMTPPassword           string        // CIVICFLOW_SMTP_PASSWORD (secret)
	SMTPFrom               string        // CIVICFLOW_SMTP_FROM: sender, "Name <addr>"; its domain names Message-IDs
	SMTPTLS                string        // CIVICFLOW_SMTP_TLS: starttls, implicit or none (loopback only)
	SMTPAuth               string        // CIVICFLOW_SMTP_AUTH: plain, login or auto
	SMTPCAFile             string        // CIVICFLOW_SMTP_CA_FILE: PEM CA trusted besides the system roots
	SMTPInsecureSkipVerify bool          // CIVICFLOW_SMTP_INSECURE_SKIP_VERIFY: accept any certificate (development only)
	SMSProvider            string        // CIVICFLOW_SMS_PROVIDER: none (no SMS provider is implemented yet)
	NotifyPollInterval     time.Duration // CIVICFLOW_NOTIFY_POLL_INTERVAL: how often the worker looks for new notifications
	NotifyLease            time.Duration // CIVICFLOW_NOTIFY_LEASE: how long one sending attempt holds a notification
	MailSinkSMTPAddr       string        // CIVICFLOW_MAILSINK_SMTP_ADDR: the mail sink's SMTP (STARTTLS) listener
	MailSinkSMTPSAddr      string        // CIVICFLOW_MAILSINK_SMTPS_ADDR: its implicit-TLS listener; "" = none
	MailSinkHTTPAddr       string        // CIVICFLOW_MAILSINK_HTTP_ADDR: where the sink shows received mail
	MailSinkUsername       string        // CIVICFLOW_MAILSINK_USERNAME: the AUTH user the sink demands
	MailSinkPassword       string        // CIVICFLOW_MAILSINK_PASSWORD (secret outside demos)

	// Encryption keys (security): settings for data-at-rest keys belong in this block.
	// See docs/security.md and security_config.go.
	DataKeys       string // CIVICFLOW_DATA_KEYS (secret): AES-256 data keys "k1:<base64>,k2:<base64>"; dev generates them in CIVICFLOW_DATA_DIR/keys.env
	DataKeyID      string // CIVICFLOW_DATA_KEY_ID: id of the key new values are sealed with; "" = the last listed
	LookupKey      string // CIVICFLOW_LOOKUP_KEY (secret): HMAC-SHA256 key (base64, 32 bytes) for finding persons by ID number
	CORSOrigins    string // CIVICFLOW_CORS_ORIGINS: comma-separated browser origins allowed besides the API's own; "" = none
	TrustedProxies string // CIVICFLOW_TRUSTED_PROXIES: comma-separated addresses/CIDRs whose X-Forwarded-For is believed; "" = none
	CodecOrigins   string // CIVICFLOW_CODEC_CORS_ORIGINS: browser origins (the Temporal UI's) that may call the codec server; "" = none

	// dev, seed and the verification stand-in.
	VerifierAddr   string // CIVICFLOW_VERIFIER_ADDR: where `verifier` and dev serve the stand-in
	DataDir        string // CIVICFLOW_DATA_DIR: dev's Postgres cluster and Temporal store
	PostgresPort   int    // CIVICFLOW_PG_PORT (dev)
	TemporalPort   int    // CIVICFLOW_TEMPORAL_PORT (dev)
	TemporalUIPort int    // CIVICFLOW_TEMPORAL_UI_PORT (dev)
	DemoPassword   string // CIVICFLOW_DEMO_PASSWORD (secret outside demos)
}

// loadConfig reads and validates the environment. It reports every bad
// setting at once, each naming its variable, the value and what is wanted.
func loadConfig() (config, error) {
	var r envReader
	c := config{
		DatabaseURL:      r.secret("CIVICFLOW_DATABASE_URL"),
		DatabasePoolSize: r.count("CIVICFLOW_DATABASE_POOL_SIZE", 0),

		TemporalAddress:       r.str("CIVICFLOW_TEMPORAL_ADDRESS", ""),
		TemporalNamespace:     r.str("CIVICFLOW_TEMPORAL_NAMESPACE", "civicflow"),
		TemporalCompression:   r.oneOf("CIVICFLOW_TEMPORAL_GRPC_COMPRESSION", "gzip", "gzip", "none"),
		TemporalStageAttrs:    r.boolean("CIVICFLOW_TEMPORAL_STAGE_SEARCH_ATTRIBUTES", false),
		TemporalTLS:           r.boolean("CIVICFLOW_TEMPORAL_TLS", false),
		TemporalTLSCA:         r.str("CIVICFLOW_TEMPORAL_TLS_CA", ""),
		TemporalTLSCert:       r.str("CIVICFLOW_TEMPORAL_TLS_CERT", ""),
		TemporalTLSKey:        r.str("CIVICFLOW_TEMPORAL_TLS_KEY", ""),
		TemporalTLSServerName: r.str("CIVICFLOW_TEMPORAL_TLS_SERVER_NAME", ""),
		TemporalAPIKey:        r.secret("CIVICFLOW_TEMPORAL_API_KEY"),
		TaskQueue:             r.str("CIVICFLOW_TASK_QUEUE", "civicflow"),

		WorkerMaxConcurrentActivities:    r.count("CIVICFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES", 0),
		WorkerMaxConcurrentWorkflowTasks: r.count("CIVICFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", 0),
		WorkerStopTimeout:                r.duration("CIVICFLOW_WORKER_STOP_TIMEOUT", "30s"),
		WorkerMetricsAddr:                r.str("CIVICFLOW_WORKER_METRICS_ADDR", "127.0.0.1:9090"),
		VerificationURL:                  r.str("CIVICFLOW_VERIFICATION_URL", ""),
		VerificationTimeout:              r.duration("CIVICFLOW_VERIFICATION_TIMEOUT", "20s"),

		HTTPAddr:              r.str("CIVICFLOW_HTTP_ADDR", "127.0.0.1:8080"),
		MetricsAddr:           r.str("CIVICFLOW_METRICS_ADDR", "127.0.0.1:9091"),
		HTTPReadHeaderTimeout: r.duration("CIVICFLOW_HTTP_READ_HEADER_TIMEOUT", "10s"),
		HTTPReadTimeout:       r.duration("CIVICFLOW_HTTP_READ_TIMEOUT", "1m"),
		HTTPWriteTimeout:      r.duration("CIVICFLOW_HTTP_WRITE_TIMEOUT", "2m"),
		HTTPIdleTimeout:       r.duration("CIVICFLOW_HTTP_IDLE_TIMEOUT", "2m"),
		HTTPShutdownTimeout:   r.duration("CIVICFLOW_HTTP_SHUTDOWN_TIMEOUT", "25s"),
		ActionTimeout:         r.duration("CIVICFLOW_ACTION_TIMEOUT", "30s"),
		NoticePeriod:          r.optionalDuration("CIVICFLOW_NOTICE_PERIOD"),

		StuckScanInterval:  r.durationOrOff("CIVICFLOW_STUCK_SCAN_INTERVAL", "1m"),
		StuckScanQuietFor:  r.durationOrOff("CIVICFLOW_STUCK_SCAN_QUIET_FOR", "10m"),
		StuckScanBatch:     r.count("CIVICFLOW_STUCK_SCAN_BATCH", 5000),
		StuckPollerSilence: r.duration("CIVICFLOW_STUCK_POLLER_SILENCE", "2m"),

		LogLevel:           r.oneOf("CIVICFLOW_LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		LogFormat:          r.oneOf("CIVICFLOW_LOG_FORMAT", "json", "json", "text"),
		TracingExporter:    r.oneOf("CIVICFLOW_TRACING_EXPORTER", "none", "none", "otlp"),
		TracingEndpoint:    r.str("CIVICFLOW_TRACING_ENDPOINT", ""),
		TracingSampleRatio: r.ratio("CIVICFLOW_TRACING_SAMPLE_RATIO", "1"),
		PprofAddr:          r.str("CIVICFLOW_PPROF_ADDR", ""),

		SMTPHost:               r.str("CIVICFLOW_SMTP_HOST", ""),
		SMTPPort:               r.port("CIVICFLOW_SMTP_PORT", 587),
		SMTPUsername:           r.str("CIVICFLOW_SMTP_USERNAME", ""),
		SMTPPassword:           r.secret("CIVICFLOW_SMTP_PASSWORD"),
		SMTPFrom:               r.str("CIVICFLOW_SMTP_FROM", "西安市民政局 civicflow <noreply@civicflow.localhost>"),
		SMTPTLS:                r.oneOf("CIVICFLOW_SMTP_TLS", "starttls", "starttls", "implicit", "none"),
		SMTPAuth:               r.oneOf("CIVICFLOW_SMTP_AUTH", "auto", "auto", "plain", "login"),
		SMTPCAFile:             r.str("CIVICFLOW_SMTP_CA_FILE", ""),
		SMTPInsecureSkipVerify: r.boolean("CIVICFLOW_SMTP_INSECURE_SKIP_VERIFY", false),
		SMSProvider:            r.oneOf("CIVICFLOW_SMS_PROVIDER", "none", "none"),
		NotifyPollInterval:     r.duration("CIVICFLOW_NOTIFY_POLL_INTERVAL", "1s"),
		NotifyLease:            r.duration("CIVICFLOW_NOTIFY_LEASE", "3m"),
		MailSinkSMTPAddr:       r.str("CIVICFLOW_MAILSINK_SMTP_ADDR", "127.0.0.1:2525"),
		MailSinkSMTPSAddr:      r.str("CIVICFLOW_MAILSINK_SMTPS_ADDR", ""),
		MailSinkHTTPAddr:       r.str("CIVICFLOW_MAILSINK_HTTP_ADDR", "127.0.0.1:8025"),
		MailSinkUsername:       r.str("CIVICFLOW_MAILSINK_USERNAME", "civicflow"),
		MailSinkPassword:       r.secret("CIVICFLOW_MAILSINK_PASSWORD"),

		DataKeys:       r.secret("CIVICFLOW_DATA_KEYS"),
		DataKeyID:      r.str("CIVICFLOW_DATA_KEY_ID", ""),
		LookupKey:      r.secret("CIVICFLOW_LOOKUP_KEY"),
		CORSOrigins:    r.str("CIVICFLOW_CORS_ORIGINS", ""),
		TrustedProxies: r.str("CIVICFLOW_TRUSTED_PROXIES", ""),
		CodecOrigins:   r.str("CIVICFLOW_CODEC_CORS_ORIGINS", ""),

		VerifierAddr:   r.str("CIVICFLOW_VERIFIER_ADDR", "127.0.0.1:8091"),
		DataDir:        r.str("CIVICFLOW_DATA_DIR", ".data"),
		PostgresPort:   r.port("CIVICFLOW_PG_PORT", 54329),
		TemporalPort:   r.port("CIVICFLOW_TEMPORAL_PORT", 17233),
		TemporalUIPort: r.port("CIVICFLOW_TEMPORAL_UI_PORT", 18233),
		DemoPassword:   r.secret("CIVICFLOW_DEMO_PASSWORD"),
	}
	r.errs = append(r.errs, c.validate()...)
	return c, errors.Join(r.errs...)
}

// validate checks the rules that tie settings together.
func (c config) validate() []error {
	var errs []error
	if (c.TemporalTLSCert == "") != (c.TemporalTLSKey == "") {
		errs = append(errs, errors.New("CIVICFLOW_TEMPORAL_TLS_CERT and CIVICFLOW_TEMPORAL_TLS_KEY: set both for mTLS, or neither"))
	}
	if _, err := c.temporalTLS(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateSMTP()...)
	errs = append(errs, c.validateSecurity()...)
	if c.TracingExporter == "otlp" && c.TracingEndpoint == "" {
		errs = append(errs, errors.New("CIVICFLOW_TRACING_ENDPOINT: required when CIVICFLOW_TRACING_EXPORTER=otlp (e.g. http://otel-collector:4318)"))
	}
	if c.TracingExporter == "none" && c.TracingEndpoint != "" {
		errs = append(errs, errors.New("CIVICFLOW_TRACING_ENDPOINT is set but CIVICFLOW_TRACING_EXPORTER=none: set CIVICFLOW_TRACING_EXPORTER=otlp to send traces"))
	}
	if c.HTTPWriteTimeout > 0 && c.ActionTimeout >= c.HTTPWriteTimeout {
		errs = append(errs, fmt.Errorf("CIVICFLOW_ACTION_TIMEOUT=%s must be shorter than CIVICFLOW_HTTP_WRITE_TIMEOUT=%s, or answers to slow actions are cut off",
			c.ActionTimeout, c.HTTPWriteTimeout))
	}
	return errs
}

// temporalTLS returns the TLS configuration for the Temporal client, or nil
// for plaintext. TLS is on when CIVICFLOW_TEMPORAL_TLS is true, when a CA or
// client certificate is given, or with an API key (Temporal Cloud accepts
// API keys over TLS only).
func (c config) temporalTLS() (*tls.Config, error) {
	if !c.TemporalTLS && c.TemporalTLSCA == "" && c.TemporalTLSCert == "" && c.TemporalAPIKey == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TemporalTLSServerName}
	if c.TemporalTLSCA != "" {
		pem, err := os.ReadFile(c.TemporalTLSCA)
		if err != nil {
			return nil, fmt.Errorf("CIVICFLOW_TEMPORAL_TLS_CA=%q: %w", c.TemporalTLSCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CIVICFLOW_TEMPORAL_TLS_CA=%q: no PEM certificate in the file", c.TemporalTLSCA)
		}
		tc.RootCAs = pool
	}
	if c.TemporalTLSCert != "" && c.TemporalTLSKey != "" {
		pair, err := tls.LoadX509KeyPair(c.TemporalTLSCert, c.TemporalTLSKey)
		if err != nil {
			return nil, fmt.Errorf("CIVICFLOW_TEMPORAL_TLS_CERT=%q, CIVICFLOW_TEMPORAL_TLS_KEY=%q: %w", c.TemporalTLSCert, c.TemporalTLSKey, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// logValue lists the settings for the start-up log line, secrets redacted.
func (c config) logValue() slog.Value {
	redact := func(s string) string {
		if s == "" {
			return ""
		}
		return "(set)"
	}
	return slog.GroupValue(
		slog.String("database_url", redact(c.DatabaseURL)),
		slog.Int("database_pool_size", c.DatabasePoolSize),
		slog.String("temporal_address", c.TemporalAddress),
		slog.String("temporal_namespace", c.TemporalNamespace),
		slog.Bool("temporal_tls", c.TemporalTLS || c.TemporalTLSCA != "" || c.TemporalTLSCert != "" || c.TemporalAPIKey != ""),
		slog.String("temporal_api_key", redact(c.TemporalAPIKey)),
		slog.String("task_queue", c.TaskQueue),
		slog.String("tracing_exporter", c.TracingExporter),
	)
}

// envReader reads CIVICFLOW_* variables and collects every problem, so
// that one start shows all of them.
type envReader struct{ errs []error }

func (r *envReader) fail(key, val, want string) {
	r.errs = append(r.errs, fmt.Errorf("%s=%q: want %s", key, val, want))
}

// str returns the variable, or def when it is unset or empty.
func (r *envReader) str(key, def string) string { return env(key, def) }

// secret returns the variable, or the trimmed content of the file named by
// key_FILE (for Kubernetes secret volumes and systemd credentials). It has
// no default.
func (r *envReader) secret(key string) string {
	v := os.Getenv(key)
	file := os.Getenv(key + "_FILE")
	switch {
	case v != "" && file != "":
		r.errs = append(r.errs, fmt.Errorf("%s and %s_FILE are both set: use one", key, key))
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s_FILE=%q: %w", key, file, err))
			return ""
		}
		v = strings.TrimRight(string(b), "\r\n")
	}
	return v
}

func (r *envReader) count(key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		r.fail(key, v, "a whole number, 0 or more (0 = default)")
		return def
	}
	return n
}

func (r *envReader) port(key string, def int) int {
	n, err := envInt(key, def)
	if err != nil {
		r.errs = append(r.errs, err)
		return def
	}
	return n
}

func (r *envReader) duration(key, def string) time.Duration {
	v := env(key, def)
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(key, v, "a positive duration such as 30s, 2m or 168h")
		d, _ = time.ParseDuration(def)
	}
	return d
}

// optionalDuration reads a positive duration; unset means 0 ("not set").
func (r *envReader) optionalDuration(key string) time.Duration {
	v := os.Getenv(key)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(key, v, "a positive duration such as 30s, 2m or 168h")
		return 0
	}
	return d
}

// durationOrOff reads a duration of 0 or more; "off" and "0" mean 0.
func (r *envReader) durationOrOff(key, def string) time.Duration {
	v := env(key, def)
	if v == "off" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(key, v, `a duration such as 30s or 10m, or "off"`)
		d, _ = time.ParseDuration(def)
	}
	return d
}

func (r *envReader) boolean(key string, def bool) bool {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.fail(key, v, "true or false")
		return def
	}
	return b
}

func (r *envReader) ratio(key, def string) float64 {
	v := env(key, def)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1 {
		r.fail(key, v, "a number from 0 to 1")
		f, _ = strconv.ParseFloat(def, 64)
	}
	return f
}

func (r *envReader) oneOf(key, def string, allowed ...string) string {
	v := strings.ToLower(env(key, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(key, v, "one of "+strings.Join(allowed, ", "))
	return def
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

// poolURL is DatabaseURL with the pool size (pgx's pool_max_conns) set
// when CIVICFLOW_DATABASE_POOL_SIZE is given.
func (c config) poolURL() string {
	if c.DatabaseURL == "" || c.DatabasePoolSize == 0 {
		return c.DatabaseURL
	}
	sep := "?"
	if strings.Contains(c.DatabaseURL, "?") {
		sep = "&"
	}
	if !strings.Contains(c.DatabaseURL, "://") {
		sep = " " // a key=value connection string
	}
	return c.DatabaseURL + sep + "pool_max_conns=" + strconv.Itoa(c.DatabasePoolSize)
}
