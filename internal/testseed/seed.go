// Package testseed gives randomised tests a seed that a failure can be
// replayed from: fresh each run (time-based), or the one in
// LONGTAIL_TEST_SEED, and printed with the command that replays it whenever
// the test fails.
package testseed

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// EnvVar names the variable that fixes the seed of every test using New.
const EnvVar = "LONGTAIL_TEST_SEED"

// New returns the test's seed: LONGTAIL_TEST_SEED when set (an unsigned
// integer; anything else fails the test), else one from the clock. If the
// test fails, its log ends with the seed and how to rerun with it.
func New(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(EnvVar); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", EnvVar, v)
		}
		seed = s
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("random inputs from seed %d; replay: %s=%d go test -run '^%s$'", seed, EnvVar, seed, t.Name())
		}
	})
	return seed
}
