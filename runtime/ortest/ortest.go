// Package ortest opens ONNX Runtime for tests. Where the library is missing a
// test skips, unless LONGTAIL_REQUIRE_ORT is set (.ci/run sets it), so that CI
// cannot pass by skipping.
//
// LONGTAIL_THREADS, LONGTAIL_OPT_LEVEL, LONGTAIL_PROVIDER, LONGTAIL_TF32
// (1 or 0) and LONGTAIL_CUSTOM_OPS (auto, on or off), when set, override the
// threads, graph optimisation level, execution provider, the cuda provider's
// TensorFloat-32 and the choice of longtail's custom kernels, so that one
// suite runs under every setting (.ci/run runs it again with custom ops off).
package ortest

import (
	"os"
	"strconv"
	"testing"

	"github.com/longtail-ml/longtail/runtime"
)

// Open opens ONNX Runtime with o and the environment's overrides, and closes
// it when the test ends.
func Open(t testing.TB, o runtime.Options) *runtime.Env {
	t.Helper()
	if v := os.Getenv("LONGTAIL_THREADS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("LONGTAIL_THREADS=%q: want a number", v)
		}
		o.Threads = n
	}
	if v := os.Getenv("LONGTAIL_OPT_LEVEL"); v != "" {
		o.OptLevel = v
	}
	if v := os.Getenv("LONGTAIL_PROVIDER"); v != "" {
		o.Provider = v
	}
	if v := os.Getenv("LONGTAIL_TF32"); v != "" {
		tf32, err := strconv.ParseBool(v)
		if err != nil {
			t.Fatalf("LONGTAIL_TF32=%q: want 1 or 0", v)
		}
		o.TF32 = tf32
	}
	if v := os.Getenv("LONGTAIL_CUSTOM_OPS"); v != "" {
		o.CustomOps = v
	}
	env := open(t, o)
	t.Cleanup(func() { env.Close() })
	return env
}

// Require skips (or, under LONGTAIL_REQUIRE_ORT, fails) the test when ONNX
// Runtime cannot be opened, for tests that open it themselves. It leaves the
// library unloaded, free for a test to load another.
func Require(t testing.TB) {
	t.Helper()
	open(t, runtime.Options{}).Close()
}

func open(t testing.TB, o runtime.Options) *runtime.Env {
	t.Helper()
	env, err := runtime.Open(o)
	if err != nil {
		if os.Getenv("LONGTAIL_REQUIRE_ORT") != "" {
			t.Fatalf("ONNX Runtime required: %v", err)
		}
		t.Skipf("ONNX Runtime not available: %v", err)
	}
	return env
}
