// Package ci decides what a test does when an optional outside tool it
// needs is missing (PyTorch, Chromium, Python's onnx checker, the
// ../shared anchors): on a developer's machine it skips with the reason;
// under CI=true (.ci/run sets it) it fails, so that CI cannot pass by
// skipping the checks that need those tools.
package ci

import (
	"os"
	"testing"
)

// Strict reports whether missing tools fail tests: the environment has
// CI=true.
func Strict() bool { return os.Getenv("CI") == "true" }

// Skip skips the test with the message, or fails it with the message under
// CI=true.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if Strict() {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}
