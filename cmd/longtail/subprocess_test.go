package main

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// subprocessTimeout bounds every process a test starts (go build, the built
// binary). Each takes seconds; the bound turns a hang, such as a signal
// handler that never returns, into a failure within minutes rather than a
// go test stalled until its own 20-minute limit.
const subprocessTimeout = 3 * time.Minute

// command is exec.Command under subprocessTimeout. At the deadline, or when
// the test ends first, the process gets SIGQUIT, so that a Go process
// writes its goroutine stacks into its stderr, which the test's failure
// message shows; 10 s later it is killed, and its pipes are closed.
func command(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), subprocessTimeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}
