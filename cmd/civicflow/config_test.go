package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"go/ast"
	"go/parser"
	"go/token"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// setting is one CIVICFLOW_* variable as config.go reads it.
type setting struct {
	Default string
	Secret  bool
}

var envName = regexp.MustCompile(`^CIVICFLOW_[A-Z0-9_]+$`)

// configSettings parses config.go and returns every variable it reads,
// with its default (the literal after the name) and whether it is read as
// a secret.
func configSettings(t *testing.T) map[string]setting {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, 0)
	require.NoError(t, err)
	out := map[string]setting{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		name, _ := strconv.Unquote(lit.Value)
		if !envName.MatchString(name) {
			return true
		}
		s := setting{}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "secret" {
			s.Secret = true
		}
		if len(call.Args) > 1 {
			switch d := call.Args[1].(type) {
			case *ast.BasicLit:
				s.Default = d.Value
				if d.Kind == token.STRING {
					s.Default, _ = strconv.Unquote(d.Value)
				}
			case *ast.Ident:
				s.Default = d.Name // true, false
			}
			if s.Default == "0" || s.Default == "false" {
				s.Default = "" // "off" / "SDK default": documented in words
			}
		}
		out[name] = s
		return true
	})
	require.NotEmpty(t, out)
	return out
}

// docsRow is one row of the table in docs/operations.md.
type docsRow struct{ Default, Secret string }

func docsSettings(t *testing.T) map[string]docsRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	require.NoError(t, err)
	out := map[string]docsRow{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `CIVICFLOW_") {
			continue
		}
		cells := strings.Split(line, "|")
		require.GreaterOrEqual(t, len(cells), 5, "row %q: want | variable | default | secret | ...", line)
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		out[name] = docsRow{Default: strings.TrimSpace(cells[2]), Secret: strings.TrimSpace(cells[3])}
	}
	return out
}

// TestConfigTableMatchesDocs keeps docs/operations.md and config.go in
// step: the same variables, defaults and secrets.
func TestConfigTableMatchesDocs(t *testing.T) {
	code, docs := configSettings(t), docsSettings(t)
	for name, s := range code {
		row, ok := docs[name]
		require.True(t, ok, "%s is read in config.go but missing from the table in docs/operations.md", name)
		if s.Default == "" {
			require.False(t, strings.HasPrefix(row.Default, "`"), "%s has no default in config.go, the docs say %s", name, row.Default)
		} else {
			require.Equal(t, "`"+s.Default+"`", row.Default, "%s: default in docs/operations.md", name)
		}
		want := "no"
		if s.Secret {
			want = "yes"
		}
		require.Equal(t, want, row.Secret, "%s: secret column in docs/operations.md (config.go reads secrets with r.secret)", name)
	}
	// Variables documented but not read in config.go must be read
	// somewhere else (devenv's binary paths, for instance).
	var src strings.Builder
	require.NoError(t, filepath.WalkDir(filepath.Join("..", ".."), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin" || d.Name() == ".data" || d.Name() == "tools") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			src.Write(b)
		}
		return nil
	}))
	for name := range docs {
		if _, ok := code[name]; !ok {
			require.Contains(t, src.String(), `"`+name+`"`, "%s is documented but no code reads it", name)
		}
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	for name := range configSettings(t) {
		t.Setenv(name, "")
		t.Setenv(name+"_FILE", "")
	}
	c, err := loadConfig()
	require.NoError(t, err)
	require.Equal(t, "civicflow", c.TemporalNamespace)
	require.Equal(t, 30*time.Second, c.WorkerStopTimeout)
	require.Equal(t, 25*time.Second, c.HTTPShutdownTimeout)
	require.Equal(t, "json", c.LogFormat)
	require.Equal(t, "none", c.TracingExporter)
	tlsCfg, err := c.temporalTLS()
	require.NoError(t, err)
	require.Nil(t, tlsCfg, "plaintext to Temporal unless configured")
	require.Equal(t, "", c.poolURL())
}

func TestLoadConfigReportsEveryBadSetting(t *testing.T) {
	bad := map[string]string{
		"CIVICFLOW_DATABASE_POOL_SIZE":    "many",
		"CIVICFLOW_WORKER_STOP_TIMEOUT":   "-3s",
		"CIVICFLOW_HTTP_SHUTDOWN_TIMEOUT": "soon",
		"CIVICFLOW_LOG_FORMAT":            "xml",
		"CIVICFLOW_TRACING_EXPORTER":      "jaeger",
		"CIVICFLOW_TRACING_SAMPLE_RATIO":  "2",
		"CIVICFLOW_TEMPORAL_TLS":          "maybe",
		"CIVICFLOW_PG_PORT":               "70000",
	}
	for k, v := range bad {
		t.Setenv(k, v)
	}
	t.Setenv("CIVICFLOW_TEMPORAL_TLS_CERT", "/nonexistent/cert.pem")
	t.Setenv("CIVICFLOW_TEMPORAL_TLS_KEY", "")
	_, err := loadConfig()
	require.Error(t, err)
	for k, v := range bad {
		require.ErrorContains(t, err, k+"="+strconv.Quote(v))
	}
	require.ErrorContains(t, err, "CIVICFLOW_TEMPORAL_TLS_CERT and CIVICFLOW_TEMPORAL_TLS_KEY")
}

func TestLoadConfigCrossChecks(t *testing.T) {
	t.Setenv("CIVICFLOW_TRACING_EXPORTER", "otlp")
	t.Setenv("CIVICFLOW_ACTION_TIMEOUT", "3m")
	_, err := loadConfig()
	require.ErrorContains(t, err, "CIVICFLOW_TRACING_ENDPOINT: required")
	require.ErrorContains(t, err, "CIVICFLOW_ACTION_TIMEOUT=3m0s must be shorter than CIVICFLOW_HTTP_WRITE_TIMEOUT=2m0s")
}

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "db")
	require.NoError(t, os.WriteFile(file, []byte("postgres://u:p@db/civicflow\n"), 0o600))
	t.Setenv("CIVICFLOW_DATABASE_URL", "")
	t.Setenv("CIVICFLOW_DATABASE_URL_FILE", file)
	t.Setenv("CIVICFLOW_DATABASE_POOL_SIZE", "12")
	c, err := loadConfig()
	require.NoError(t, err)
	require.Equal(t, "postgres://u:p@db/civicflow", c.DatabaseURL)
	require.Equal(t, "postgres://u:p@db/civicflow?pool_max_conns=12", c.poolURL())
	require.NotContains(t, c.logValue().String(), "u:p", "secrets never reach the logs")

	t.Setenv("CIVICFLOW_DATABASE_URL", "postgres://other")
	_, err = loadConfig()
	require.ErrorContains(t, err, "CIVICFLOW_DATABASE_URL and CIVICFLOW_DATABASE_URL_FILE are both set")
}

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "civicflow-worker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

func TestTemporalMTLSAndAPIKey(t *testing.T) {
	cert, key := writeCert(t, t.TempDir())
	t.Setenv("CIVICFLOW_TEMPORAL_TLS_CA", cert)
	t.Setenv("CIVICFLOW_TEMPORAL_TLS_CERT", cert)
	t.Setenv("CIVICFLOW_TEMPORAL_TLS_KEY", key)
	t.Setenv("CIVICFLOW_TEMPORAL_TLS_SERVER_NAME", "temporal.internal")
	c, err := loadConfig()
	require.NoError(t, err)
	tc, err := c.temporalTLS()
	require.NoError(t, err)
	require.Len(t, tc.Certificates, 1)
	require.NotNil(t, tc.RootCAs)
	require.Equal(t, "temporal.internal", tc.ServerName)

	t.Setenv("CIVICFLOW_TEMPORAL_TLS_KEY", cert) // a certificate is not a key
	_, err = loadConfig()
	require.ErrorContains(t, err, "CIVICFLOW_TEMPORAL_TLS_KEY")

	// An API key alone means TLS with the system roots (Temporal Cloud).
	for _, k := range []string{"CIVICFLOW_TEMPORAL_TLS_CA", "CIVICFLOW_TEMPORAL_TLS_CERT", "CIVICFLOW_TEMPORAL_TLS_KEY"} {
		t.Setenv(k, "")
	}
	t.Setenv("CIVICFLOW_TEMPORAL_API_KEY", "cloud-key")
	c, err = loadConfig()
	require.NoError(t, err)
	tc, err = c.temporalTLS()
	require.NoError(t, err)
	require.NotNil(t, tc)
	require.Nil(t, tc.RootCAs)
}
