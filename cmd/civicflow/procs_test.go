package main

// Running `civicflow api` and `civicflow worker` as real child processes in
// tests. The test binary is package main, so it runs them itself: with
// CIVICFLOW_TEST_EXEC=<command> set, TestMain calls run(<command>) instead
// of the tests. No separate build is needed and the code is the code under
// test.

import (
	"fmt"
	"os"
	"strings"

	"civicflow/devenv"
)

const execEnv = "CIVICFLOW_TEST_EXEC"

// execMain is main() for a child started by startProc.
func execMain(cmd string) int {
	if err := run(strings.Fields(cmd), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "civicflow:", err)
		return 1
	}
	return 0
}

// startProc runs `civicflow <command>` with env added to this process's
// environment. Its output is kept for failure messages (Tail, Output); it
// dies with the test (parent-death SIGKILL).
func startProc(name, command string, env []string) (*devenv.Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return devenv.StartProcess(name, []string{self}, append(append(os.Environ(), execEnv+"="+command), env...), nil)
}
