package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"civicflow/postgres"
)

// Settings of the security block of config (issue 3): data-at-rest keys,
// the browser origins allowed, the proxies believed. See docs/security.md.

// validateSecurity checks the security block.
func (c config) validateSecurity() []error {
	var errs []error
	if c.DataKeys != "" || c.LookupKey != "" {
		if _, err := c.keyring(); err != nil {
			errs = append(errs, fmt.Errorf("CIVICFLOW_DATA_KEYS / CIVICFLOW_DATA_KEY_ID / CIVICFLOW_LOOKUP_KEY: %w", err))
		}
	}
	if _, err := parseCIDRs(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("CIVICFLOW_TRUSTED_PROXIES=%q: %w", c.TrustedProxies, err))
	}
	for _, v := range [][2]string{{"CIVICFLOW_CORS_ORIGINS", c.CORSOrigins}, {"CIVICFLOW_CODEC_CORS_ORIGINS", c.CodecOrigins}} {
		name := v[0]
		for _, o := range splitList(v[1]) {
			if !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://") || strings.Count(o, "/") != 2 {
				errs = append(errs, fmt.Errorf("%s: %q is not an origin such as https://civicflow.example.cn", name, o))
			}
		}
	}
	return errs
}

// keyring builds the data-at-rest keyring; nil when no keys are configured.
func (c config) keyring() (*postgres.Keyring, error) {
	if c.DataKeys == "" && c.LookupKey == "" {
		return nil, nil
	}
	if c.DataKeys == "" || c.LookupKey == "" {
		return nil, errors.New("set both CIVICFLOW_DATA_KEYS and CIVICFLOW_LOOKUP_KEY")
	}
	return postgres.ParseKeyring(c.DataKeys, c.DataKeyID, c.LookupKey)
}

// withKeys is the store option carrying the keyring. Without keys the store
// still opens (migrate on an empty database, seed), and fails clearly the
// first time personal data must be sealed or opened.
func (c config) withKeys() postgres.Option {
	k, err := c.keyring()
	if err != nil || k == nil {
		return func(*postgres.DB) {}
	}
	return postgres.WithKeyring(k)
}

func (c config) corsOrigins() []string { return splitList(c.CORSOrigins) }

// codecOrigins are the browser origins (the Temporal UI's) that may call
// the codec server.
func (c config) codecOrigins() []string { return splitList(c.CodecOrigins) }

func (c config) trustedProxies() []*net.IPNet {
	nets, _ := parseCIDRs(c.TrustedProxies) // validated by loadConfig
	return nets
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseCIDRs(s string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, p := range splitList(s) {
		if !strings.Contains(p, "/") {
			if ip := net.ParseIP(p); ip != nil && ip.To4() != nil {
				p += "/32"
			} else {
				p += "/128"
			}
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// devKeysFile is where `civicflow dev` keeps the keys it generated.
const devKeysFile = "keys.env"

// ensureDevKeys gives dev a keyring when none is configured: the keys in
// dataDir/keys.env, generated there (mode 0600) on the first run. Losing
// that file loses the personal data of the dev database.
func ensureDevKeys(cfg *config, dataDir string, out io.Writer) error {
	if cfg.DataKeys != "" || cfg.LookupKey != "" {
		return nil
	}
	path := filepath.Join(dataDir, devKeysFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		content := fmt.Sprintf("# civicflow dev keys, generated %s. Keep them with the dev database.\n"+
			"CIVICFLOW_DATA_KEYS=k1:%s\nCIVICFLOW_DATA_KEY_ID=k1\nCIVICFLOW_LOOKUP_KEY=%s\n",
			"by `civicflow dev`", postgres.NewKey(), postgres.NewKey())
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return fmt.Errorf("write dev keys: %w", err)
		}
		fmt.Fprintf(out, "generated data-at-rest keys in %s\n", path)
		f, err = os.Open(path)
	}
	if err != nil {
		return fmt.Errorf("read dev keys: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		switch k {
		case "CIVICFLOW_DATA_KEYS":
			cfg.DataKeys = v
		case "CIVICFLOW_DATA_KEY_ID":
			cfg.DataKeyID = v
		case "CIVICFLOW_LOOKUP_KEY":
			cfg.LookupKey = v
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read dev keys: %w", err)
	}
	if _, err := cfg.keyring(); err != nil {
		return fmt.Errorf("dev keys in %s: %w", path, err)
	}
	return nil
}
