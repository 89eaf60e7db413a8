package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"civicflow/api"
)

// TestDeployManifests checks everything in deploy/ against the binary:
// YAML parses, probes hit paths the API and the worker serve on declared
// ports, every CIVICFLOW_* variable named exists in config.go, the required
// ones are set, the binary's own validation accepts the configuration, and
// grace periods exceed the shutdown bounds.
func TestDeployManifests(t *testing.T) {
	root := filepath.Join("..", "..", "deploy")
	known := configSettings(t)
	checkVar := func(where, name string) {
		t.Helper()
		base := strings.TrimSuffix(name, "_FILE")
		s, ok := known[base]
		require.True(t, ok, "%s names %s, which civicflow does not read", where, name)
		if base != name {
			require.True(t, s.Secret, "%s: %s: only secrets can be given as files", where, name)
		}
	}

	// Kubernetes.
	docs := map[string][]map[string]any{} // kind -> objects
	files, err := filepath.Glob(filepath.Join(root, "kubernetes", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for i, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			var obj map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(part), &obj), "%s document %d", f, i)
			if kind, _ := obj["kind"].(string); kind != "" {
				docs[kind] = append(docs[kind], obj)
			}
		}
	}
	env := map[string]string{} // ConfigMap and Secret civicflow
	for _, kind := range []string{"ConfigMap", "Secret"} {
		for _, o := range docs[kind] {
			if dig(o, "metadata", "name") != "civicflow" {
				continue
			}
			for _, field := range []string{"data", "stringData"} {
				m, _ := o[field].(map[string]any)
				for k, v := range m {
					checkVar(kind+" civicflow", k)
					env[k], _ = v.(string)
				}
			}
		}
	}
	require.NotEmpty(t, env["CIVICFLOW_DATABASE_URL"], "the Secret sets the database URL")
	require.NotEmpty(t, env["CIVICFLOW_TEMPORAL_ADDRESS"])
	require.NotEmpty(t, env["CIVICFLOW_VERIFICATION_URL"], "the worker needs the verification platform")

	// The configuration the manifests give passes the binary's validation
	// (the TLS files exist only in the pod: checked for pairing only).
	for k := range known {
		t.Setenv(k, "")
		t.Setenv(k+"_FILE", "")
	}
	for k, v := range env {
		if !strings.HasPrefix(k, "CIVICFLOW_TEMPORAL_TLS_") {
			t.Setenv(k, v)
		}
	}
	t.Setenv("CIVICFLOW_DATA_KEYS", "")
	t.Setenv("CIVICFLOW_LOOKUP_KEY", "")
	cfg, err := loadConfig()
	require.NoError(t, err, "the ConfigMap and Secret")
	require.True(t, (env["CIVICFLOW_TEMPORAL_TLS_CERT"] == "") == (env["CIVICFLOW_TEMPORAL_TLS_KEY"] == ""))

	apiPaths := servedAPIPaths(t)
	workerPaths := servedWorkerPaths(t)
	hpas, pdbs := map[string]bool{}, 0
	for _, h := range docs["HorizontalPodAutoscaler"] {
		hpas[dig(h, "spec", "scaleTargetRef", "name").(string)] = true
	}
	require.NotEmpty(t, docs["Deployment"])
	for _, d := range docs["Deployment"] {
		name := dig(d, "metadata", "name").(string)
		require.True(t, hpas[name], "%s has a HorizontalPodAutoscaler", name)
		labels := dig(d, "spec", "selector", "matchLabels").(map[string]any)
		for _, p := range docs["PodDisruptionBudget"] {
			if equalLabels(dig(p, "spec", "selector", "matchLabels").(map[string]any), labels) {
				pdbs++
			}
		}
		spec := dig(d, "spec", "template", "spec").(map[string]any)
		grace := toFloat(spec["terminationGracePeriodSeconds"])
		containers := spec["containers"].([]any)
		require.Len(t, containers, 1, name)
		c := containers[0].(map[string]any)
		args := c["args"].([]any)
		ports := map[string]float64{}
		for _, p := range c["ports"].([]any) {
			pm := p.(map[string]any)
			ports[pm["name"].(string)] = toFloat(pm["containerPort"])
		}
		var served map[string]bool
		var listen, metricsListen string
		switch args[0] {
		case "api":
			served, listen, metricsListen = apiPaths, env["CIVICFLOW_HTTP_ADDR"], env["CIVICFLOW_METRICS_ADDR"]
			preStop := toFloat(dig(c, "lifecycle", "preStop", "sleep", "seconds"))
			require.Greater(t, grace, cfg.HTTPShutdownTimeout.Seconds()+preStop, "%s: grace period covers preStop and the drain", name)
		case "worker":
			served, listen = workerPaths, env["CIVICFLOW_WORKER_METRICS_ADDR"]
			metricsListen = listen
			require.Greater(t, grace, cfg.WorkerStopTimeout.Seconds(), "%s: grace period covers the worker's stop timeout", name)
		default:
			t.Fatalf("%s runs %v: want api or worker", name, args)
		}
		_, listenPort, err := net.SplitHostPort(listen)
		require.NoError(t, err)
		require.NotContains(t, listen, "127.0.0.1", "%s: a pod must listen beyond loopback", name)
		for _, probe := range []string{"readinessProbe", "livenessProbe"} {
			get, ok := dig(c, probe, "httpGet").(map[string]any)
			require.True(t, ok, "%s has an HTTP %s", name, probe)
			require.True(t, served[get["path"].(string)], "%s: %s path %s is served", name, probe, get["path"])
			port, ok := ports[get["port"].(string)]
			require.True(t, ok, "%s: %s port %v is declared", name, probe, get["port"])
			require.Equal(t, listenPort, strconv.Itoa(int(port)), "%s: the probed port is where the process listens", name)
		}
		// Prometheus scrapes a declared port where the process serves
		// /metrics; for the API that is not the port the Ingress reaches.
		_, metricsPort, err := net.SplitHostPort(metricsListen)
		require.NoError(t, err, "%s: metrics address", name)
		require.Equal(t, metricsPort, dig(d, "spec", "template", "metadata", "annotations", "prometheus.io/port"), "%s: scraped port", name)
		require.Equal(t, metricsPort, strconv.Itoa(int(ports["metrics"])), "%s: the metrics port is declared", name)
		res := c["resources"].(map[string]any)
		require.NotNil(t, dig(res, "requests", "cpu"), name)
		require.NotNil(t, dig(res, "requests", "memory"), name)
		require.NotNil(t, dig(res, "limits", "memory"), name)
		for _, ef := range c["envFrom"].([]any) {
			efm := ef.(map[string]any)
			for _, k := range []string{"configMapRef", "secretRef"} {
				if ref, ok := efm[k].(map[string]any); ok {
					require.Equal(t, "civicflow", ref["name"], "%s reads the civicflow %s", name, k)
				}
			}
		}
	}
	require.Equal(t, len(docs["Deployment"]), pdbs, "one PodDisruptionBudget per Deployment")

	// One image everywhere, the repository `make image` names.
	images := map[string]bool{}
	var setupJob bool
	for _, kind := range []string{"Deployment", "Job"} {
		for _, d := range docs[kind] {
			spec := dig(d, "spec", "template", "spec").(map[string]any)
			for _, list := range []string{"initContainers", "containers"} {
				cs, _ := spec[list].([]any)
				for _, c := range cs {
					cm := c.(map[string]any)
					images[cm["image"].(string)] = true
					if args, _ := cm["args"].([]any); kind == "Job" && len(args) == 2 && args[0] == "temporal" && args[1] == "setup" {
						setupJob = true
					}
				}
			}
		}
	}
	require.Len(t, images, 1, "every manifest runs the same image: %v", images)
	var image string
	for image = range images {
	}
	repo, _, _ := strings.Cut(image, ":")
	require.Equal(t, makeVar(t, "IMAGE_REPO"), repo, "the manifests run the image `make image` builds")
	require.True(t, setupJob, "a Job runs `civicflow temporal setup`")

	// systemd.
	units, err := filepath.Glob(filepath.Join(root, "systemd", "civicflow-*.service"))
	require.NoError(t, err)
	require.Len(t, units, 2)
	envFile := readEnvFile(t, filepath.Join(root, "systemd", "civicflow.env.example"))
	for k := range envFile {
		checkVar("civicflow.env.example", k)
	}
	for _, u := range units {
		unit, err := os.ReadFile(u)
		require.NoError(t, err)
		if strings.HasSuffix(u, "civicflow-api.service") {
			require.Contains(t, string(unit), image, "%s names the image its binary comes from", u)
		}
		kv := readUnit(t, u)
		require.Regexp(t, `^/usr/local/bin/civicflow (api|worker)$`, kv["ExecStart"], u)
		require.Equal(t, "/etc/civicflow/civicflow.env", kv["EnvironmentFile"], u)
		for _, m := range regexp.MustCompile(`CIVICFLOW_[A-Z0-9_]+`).FindAllString(kv["Environment"], -1) {
			checkVar(u, m)
		}
		stop, err := time.ParseDuration(kv["TimeoutStopSec"] + "s")
		require.NoError(t, err, u)
		bound := envFile["CIVICFLOW_HTTP_SHUTDOWN_TIMEOUT"]
		if strings.HasSuffix(kv["ExecStart"], "worker") {
			bound = envFile["CIVICFLOW_WORKER_STOP_TIMEOUT"]
		}
		d, err := time.ParseDuration(bound)
		require.NoError(t, err, "%s: shutdown bound in the env file", u)
		require.Greater(t, stop, d, "%s: TimeoutStopSec exceeds the shutdown bound", u)
	}
	require.NotEmpty(t, envFile["CIVICFLOW_TEMPORAL_ADDRESS"])

	// Temporal: the config renders (as the server renders it) to PostgreSQL
	// persistence and visibility. make cluster-test runs the server on it.
	b, err := os.ReadFile(filepath.Join(root, "temporal", "config.yaml"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), "# enable-template"))
	tpl, err := template.New("config").Funcs(template.FuncMap{
		"env": os.Getenv,
		"default": func(def string, v ...string) string {
			if len(v) > 0 && v[0] != "" {
				return v[0]
			}
			return def
		},
	}).Parse(string(b))
	require.NoError(t, err)
	var rendered strings.Builder
	require.NoError(t, tpl.Execute(&rendered, nil))
	var tc map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(rendered.String()), &tc))
	for _, store := range []string{"default", "visibility"} {
		require.Equal(t, "postgres12_pgx", dig(tc, "persistence", "datastores", store, "sql", "pluginName"), store)
	}
	require.Equal(t, "visibility", dig(tc, "persistence", "visibilityStore"))
	var dc map[string]any
	b, err = os.ReadFile(filepath.Join(root, "temporal", "dynamicconfig.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &dc))
	var hv map[string]any
	b, err = os.ReadFile(filepath.Join(root, "kubernetes", "temporal-values.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &hv))
	require.Equal(t, "postgres12_pgx", dig(hv, "server", "config", "persistence", "default", "sql", "driver"))
	require.Equal(t, "postgres12_pgx", dig(hv, "server", "config", "persistence", "visibility", "sql", "driver"))
}

// servedAPIPaths are the GET paths the API answers without parameters.
func servedAPIPaths(t *testing.T) map[string]bool {
	t.Helper()
	srv := api.New(nil, nil, api.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	out := map[string]bool{}
	for _, r := range srv.Echo().Routes() {
		if r.Method == http.MethodGet && !strings.Contains(r.Path, ":") {
			out[r.Path] = true
		}
	}
	tel, err := newTelemetry(context.Background(), config{}, "api", nil)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	tel.wrapHTTP(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusNotFound, rec.Code, "the API's listener does not serve /metrics")
	rec = httptest.NewRecorder()
	tel.metricsOnly().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code, "the metrics listener does")
	require.True(t, out["/healthz"] && out["/readyz"], "%v", out)
	return out
}

// makeVar reads a variable's value as the Makefile assigns it (NAME ?= or
// NAME :=).
func makeVar(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^` + name + `\s*[:?]?=\s*(\S+)\s*$`).FindSubmatch(b)
	require.NotNil(t, m, "Makefile sets %s", name)
	return string(m[1])
}

// servedWorkerPaths are the paths the worker's ops listener answers.
func servedWorkerPaths(t *testing.T) map[string]bool {
	t.Helper()
	tel, err := newTelemetry(context.Background(), config{}, "worker", nil)
	require.NoError(t, err)
	h := opsHandler(tel, func(context.Context) error { return nil })
	out := map[string]bool{}
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/nothing"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		out[p] = rec.Code == http.StatusOK
	}
	require.False(t, out["/nothing"], "an unknown path is not served")
	return out
}

func dig(m any, keys ...string) any {
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}

func toFloat(v any) float64 { f, _ := v.(float64); return f }

func equalLabels(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q", path, line)
		out[k] = v
	}
	return out
}

// readUnit returns a systemd unit's settings (the last value of each key;
// Environment lines joined).
func readUnit(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q", path, line)
		if k == "Environment" {
			v = out[k] + " " + v
		}
		out[k] = v
	}
	return out
}
