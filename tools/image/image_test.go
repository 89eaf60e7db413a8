package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// ociTar is an OCI image layout read from its tar file: blobs by digest
// and index.json. It is read with the standard library alone, not with
// the library that wrote it.
type ociTar struct {
	index []byte
	blobs map[string][]byte
}

func readOCITar(t *testing.T, path string) ociTar {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o := ociTar{blobs: map[string][]byte{}}
	tr := tar.NewReader(f)
	layoutFile := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case h.Name == "index.json":
			o.index = b
		case h.Name == "oci-layout":
			layoutFile = strings.Contains(string(b), `"imageLayoutVersion"`)
		case strings.HasPrefix(h.Name, "blobs/sha256/") && h.Typeflag == tar.TypeReg:
			o.blobs["sha256:"+strings.TrimPrefix(h.Name, "blobs/sha256/")] = b
		}
	}
	if !layoutFile || o.index == nil {
		t.Fatalf("%s is not an OCI image layout (oci-layout %v, index.json %d bytes)", path, layoutFile, len(o.index))
	}
	return o
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

func (o ociTar) blob(t *testing.T, d string, v any) []byte {
	t.Helper()
	b, ok := o.blobs[d]
	if !ok {
		t.Fatalf("blob %s is missing", d)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("blob %s: %v", d, err)
		}
	}
	return b
}

// layerFiles lists a gzipped layer's entries with their contents.
func layerFiles(t *testing.T, b []byte) map[string]*tar.Header {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*tar.Header{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			h.PAXRecords = map[string]string{"content": string(data)} // for the checks below
		}
	}
}

// TestImage checks the tarball `make image` writes (CIVICFLOW_IMAGE_TAR),
// or builds one into a temporary directory when that is unset (two
// cross-compiles: minutes, hence `make image-test`, not `make test`).
func TestImage(t *testing.T) {
	path, version := os.Getenv("CIVICFLOW_IMAGE_TAR"), os.Getenv("CIVICFLOW_IMAGE_VERSION")
	if path == "" {
		if testing.Short() {
			t.Skip("builds the image: not in -short")
		}
		dir := t.TempDir()
		path, version = filepath.Join(dir, "image.tar"), "0.0.0-test"
		var out bytes.Buffer
		if err := run([]string{"-src", "../..", "-out", path, "-bin-dir", filepath.Join(dir, "bin"),
			"-version", version, "-commit", "abc123", "-date", time.Now().UTC().Format(time.RFC3339)}, &out); err != nil {
			t.Fatalf("build: %v\n%s", err, out.String())
		}
	}
	o := readOCITar(t, path)
	var top struct{ Manifests []descriptor }
	if err := json.Unmarshal(o.index, &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("index.json: want one image index, got %+v", top.Manifests)
	}
	if ref := top.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; !strings.HasSuffix(ref, ":"+version) {
		t.Errorf("the image is named %q, want the tag %s", ref, version)
	}
	var idx struct{ Manifests []descriptor }
	o.blob(t, top.Manifests[0].Digest, &idx)
	platforms := map[string]bool{}
	for _, m := range idx.Manifests {
		if m.Platform == nil {
			t.Fatalf("manifest %s has no platform", m.Digest)
		}
		plat := m.Platform.OS + "/" + m.Platform.Architecture
		platforms[plat] = true
		var man struct {
			Config descriptor
			Layers []descriptor
		}
		o.blob(t, m.Digest, &man)
		var cfg struct {
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
			Config       struct {
				User       string
				Entrypoint []string
				Env        []string
				Labels     map[string]string
			} `json:"config"`
		}
		o.blob(t, man.Config.Digest, &cfg)
		if cfg.OS+"/"+cfg.Architecture != plat {
			t.Errorf("%s: config says %s/%s", plat, cfg.OS, cfg.Architecture)
		}
		if user := cfg.Config.User; user == "" || user == "0" || user == "root" || strings.HasPrefix(user, "0:") {
			t.Errorf("%s: runs as %q, want a non-root user", plat, user)
		}
		if cfg.Config.User != "65532:65532" {
			t.Errorf("%s: user %q, want 65532:65532 (nonroot, as distroless)", plat, cfg.Config.User)
		}
		if strings.Join(cfg.Config.Entrypoint, " ") != "/usr/local/bin/civicflow" {
			t.Errorf("%s: entrypoint %q", plat, cfg.Config.Entrypoint)
		}
		if cfg.Config.Labels["org.opencontainers.image.version"] != version {
			t.Errorf("%s: version label %q, want %s", plat, cfg.Config.Labels["org.opencontainers.image.version"], version)
		}
		files := map[string]*tar.Header{}
		for _, l := range man.Layers {
			for name, h := range layerFiles(t, o.blob(t, l.Digest, nil)) {
				files[name] = h
			}
		}
		bin := files["usr/local/bin/civicflow"]
		if bin == nil || bin.Mode&0o111 == 0 {
			t.Fatalf("%s: no executable /usr/local/bin/civicflow", plat)
		}
		if p := files["etc/passwd"]; p == nil || !strings.Contains(p.PAXRecords["content"], "nonroot:x:65532:65532:") {
			t.Errorf("%s: /etc/passwd has no nonroot user", plat)
		}
		if ca := files["etc/ssl/certs/ca-certificates.crt"]; ca == nil || strings.Count(ca.PAXRecords["content"], "BEGIN CERTIFICATE") < 50 {
			t.Errorf("%s: no CA bundle", plat)
		}
		if home := files["home/nonroot/"]; home == nil || home.Uid != 65532 {
			t.Errorf("%s: nonroot's home is missing or not theirs", plat)
		}
		// The binary of this machine's platform runs and tells its version.
		if plat == runtime.GOOS+"/"+runtime.GOARCH {
			exe := filepath.Join(t.TempDir(), "civicflow")
			if err := os.WriteFile(exe, []byte(bin.PAXRecords["content"]), 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(exe, "version").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "civicflow "+version+" ") {
				t.Errorf("%s: civicflow version: %v: %s", plat, err, out)
			}
		}
	}
	for _, want := range []string{"linux/amd64", "linux/arm64"} {
		if !platforms[want] {
			t.Errorf("no %s image (have %v)", want, platforms)
		}
	}
}
