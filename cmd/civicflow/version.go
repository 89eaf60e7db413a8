package main

import (
	"fmt"
	"io"
	goruntime "runtime"
	"runtime/debug"
)

// Set at link time by `make build` and `make image`:
//
//	-ldflags "-X main.version=1.2.0 -X main.commit=<sha> -X main.buildDate=<RFC 3339>"
//
// -X can only set package-level string variables, the one reason these are
// variables; nothing assigns them at run time.
var (
	version   = "dev"
	commit    = ""
	buildDate = ""
)

// buildInfo is what `civicflow version` prints and the start-up log line
// carries.
type buildInfo struct {
	Version, Commit, BuildDate, GoVersion, Platform string
}

// currentBuild reads the stamped values; a binary built without them (go
// build, go test) falls back to the VCS revision the Go toolchain records.
func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, BuildDate: buildDate,
		GoVersion: goruntime.Version(), Platform: goruntime.GOOS + "/" + goruntime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.BuildDate == "" {
					b.BuildDate = s.Value
				}
			}
		}
	}
	return b
}

func (b buildInfo) String() string {
	or := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	return fmt.Sprintf("civicflow %s (commit %s, built %s, %s %s)", b.Version, or(b.Commit), or(b.BuildDate), b.GoVersion, b.Platform)
}

func runVersion(out io.Writer) error {
	_, err := fmt.Fprintln(out, currentBuild())
	return err
}
