// Command image builds civicflow's container image without Docker: a
// multi-arch (linux/amd64, linux/arm64) OCI image layout, written as one
// tar file (`make image`), from Go modules only.
//
// ko would be the usual tool, but it takes its base image from a registry
// or a Docker daemon, and neither is reachable where civicflow is built;
// distroless cannot be fetched either. So the base is built here from
// scratch layers holding what distroless/static:nonroot holds for a static
// Go binary: /etc/passwd and /etc/group with the non-root user 65532
// (nonroot), its home, /tmp, and the CA certificates of Debian's
// ca-certificates package. No time-zone data: civicflow uses a fixed CST
// zone (civicflow.ChinaZone). The binary is built with CGO_ENABLED=0,
// -trimpath and the version, commit and build date stamped in by -ldflags.
// Layers carry a fixed modification time (the build date), so the same
// inputs give the same layer digests.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where things are in the image.
const (
	binaryPath = "/usr/local/bin/civicflow" // as on a VM (deploy/systemd)
	caPath     = "/etc/ssl/certs/ca-certificates.crt"
	nonrootUID = 65532 // distroless's nonroot
)

type options struct {
	src, out, binDir, ca             string
	repo, version, commit, buildDate string
	platforms                        []string
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o options
	var platforms string
	fs.StringVar(&o.src, "src", "../..", "civicflow's module root")
	fs.StringVar(&o.out, "out", "../../bin/civicflow-image.tar", "the OCI image layout, as a tar file")
	fs.StringVar(&o.binDir, "bin-dir", "../../bin/image", "where the per-platform binaries are left")
	fs.StringVar(&o.ca, "ca", "/etc/ssl/certs/ca-certificates.crt", "CA bundle of Debian's ca-certificates package")
	fs.StringVar(&o.repo, "repo", "registry.example.gov.cn/civicflow", "image repository (annotations only: nothing is pushed)")
	fs.StringVar(&o.version, "version", "dev", "version stamped into the binary and the image")
	fs.StringVar(&o.commit, "commit", "", "commit stamped into the binary and the image")
	fs.StringVar(&o.buildDate, "date", "", "build date, RFC 3339 (default: now); also every file's mtime")
	fs.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated os/arch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.platforms = strings.Split(platforms, ",")
	if o.buildDate == "" {
		o.buildDate = time.Now().UTC().Format(time.RFC3339)
	}
	created, err := time.Parse(time.RFC3339, o.buildDate)
	if err != nil {
		return fmt.Errorf("-date %q: %w", o.buildDate, err)
	}
	ca, err := os.ReadFile(o.ca)
	if err != nil {
		return fmt.Errorf("CA certificates (apt-get install ca-certificates): %w", err)
	}
	if !bytes.Contains(ca, []byte("BEGIN CERTIFICATE")) {
		return fmt.Errorf("%s holds no PEM certificate", o.ca)
	}
	base, err := layer(created, baseFiles(ca))
	if err != nil {
		return fmt.Errorf("base layer: %w", err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.platforms {
		goos, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			return fmt.Errorf("platform %q: want os/arch", p)
		}
		bin, err := o.build(goos, arch)
		if err != nil {
			return err
		}
		img, err := o.image(created, base, goos, arch, bin)
		if err != nil {
			return fmt.Errorf("image for %s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: goos, Architecture: arch}}})
		fmt.Fprintf(stdout, "image: %s/%s binary %s\n", goos, arch, bin)
	}
	tag := o.repo + ":" + o.version
	if err := writeLayoutTar(o.out, idx, tag, created); err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "image: %s (%s, index %s) in %s\n", tag, strings.Join(o.platforms, ", "), d, o.out)
	return nil
}

// build cross-compiles a static civicflow binary for goos/arch.
func (o options) build(goos, arch string) (string, error) {
	out, err := filepath.Abs(filepath.Join(o.binDir, "civicflow-"+goos+"-"+arch))
	if err != nil {
		return "", err
	}
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s -X main.buildDate=%s", o.version, o.commit, o.buildDate)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/civicflow")
	cmd.Dir = o.src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build for %s/%s: %w", goos, arch, err)
	}
	return out, nil
}

// image is one platform's image: the base layer, the binary's layer and a
// config that runs it as nonroot.
func (o options) image(created time.Time, base v1.Layer, goos, arch, bin string) (v1.Image, error) {
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	app, err := layer(created, []file{{name: binaryPath, mode: 0o755, data: b}})
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "civicflow tools/image: base (passwd, group, CA certificates)", Comment: "scratch"}},
		mutate.Addendum{Layer: app, History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "civicflow tools/image: " + binaryPath}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = goos, arch, v1.Time{Time: created}
	cf.Author = "civicflow"
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", nonrootUID, nonrootUID),
		Entrypoint: []string{binaryPath},
		Cmd:        []string{"version"},
		WorkingDir: "/home/nonroot",
		Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=" + caPath,
			"HOME=/home/nonroot", "CIVICFLOW_DATA_DIR=/tmp/civicflow"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "9090/tcp": {}, "9091/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":    "civicflow",
			"org.opencontainers.image.version":  o.version,
			"org.opencontainers.image.revision": o.commit,
			"org.opencontainers.image.created":  o.buildDate,
			"org.opencontainers.image.ref.name": o.repo + ":" + o.version,
		},
	}
	return mutate.ConfigFile(img, cf)
}

// file is one entry of a layer; a nil data with a directory mode is a
// directory.
type file struct {
	name     string
	mode     fs.FileMode
	uid, gid int
	data     []byte
}

// baseFiles are what distroless/static:nonroot provides a static binary.
func baseFiles(ca []byte) []file {
	return []file{
		{name: "/etc", mode: fs.ModeDir | 0o755},
		{name: "/etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
			"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "/etc/group", mode: 0o644, data: []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")},
		{name: "/etc/ssl", mode: fs.ModeDir | 0o755},
		{name: "/etc/ssl/certs", mode: fs.ModeDir | 0o755},
		{name: caPath, mode: 0o644, data: ca},
		{name: "/home", mode: fs.ModeDir | 0o755},
		{name: "/home/nonroot", mode: fs.ModeDir | 0o700, uid: nonrootUID, gid: nonrootUID},
		{name: "/tmp", mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{name: "/usr", mode: fs.ModeDir | 0o755},
		{name: "/usr/local", mode: fs.ModeDir | 0o755},
		{name: "/usr/local/bin", mode: fs.ModeDir | 0o755},
	}
}

// layer is a gzipped tar layer of files, every entry dated mtime.
func layer(mtime time.Time, files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: strings.TrimPrefix(f.name, "/"), Mode: int64(f.mode.Perm()), Uid: f.uid, Gid: f.gid,
			ModTime: mtime, Format: tar.FormatPAX}
		if f.mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if f.mode.IsDir() {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// writeLayoutTar writes idx as an OCI image layout whose index.json names
// it tag, and tars the layout into out (entries sorted, dated mtime).
func writeLayoutTar(out string, idx v1.ImageIndex, tag string, mtime time.Time) error {
	dir, err := os.MkdirTemp("", "civicflow-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write image layout: %w", err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		return fmt.Errorf("write image layout: %w", err)
	}
	var names []string
	if err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		names = append(names, rel)
		return err
	}); err != nil {
		return err
	}
	sort.Strings(names)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	werr := func() error {
		for _, name := range names {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			h := &tar.Header{Name: filepath.ToSlash(name), ModTime: mtime, Mode: 0o644, Format: tar.FormatPAX}
			if st.IsDir() {
				h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
				if err := tw.WriteHeader(h); err != nil {
					return err
				}
				continue
			}
			h.Typeflag, h.Size = tar.TypeReg, st.Size()
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			if _, err := tw.Write(b); err != nil {
				return err
			}
		}
		return tw.Close()
	}()
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", out, err)
	}
	return os.Rename(tmp, out)
}
