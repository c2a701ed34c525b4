package posthoc

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestFeatureCache: a cache file reads back what was written under the same
// key and is refused as stale under any other key, or when damaged.
func TestFeatureCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "features-val.bin")
	key := cacheKey{Split: "val", Checkpoint: "ab", Data: "cd", Images: 3, Dim: 2}
	x := []float32{1, -2.5, 3e-8, 0, 7, 1e30}
	if err := writeCache(path, key, x); err != nil {
		t.Fatal(err)
	}
	got, err := readCache(path, key)
	if err != nil || !slices.Equal(got, x) {
		t.Fatalf("read back %v, %v; want %v", got, err, x)
	}
	for name, k := range map[string]cacheKey{
		"another checkpoint": {Split: "val", Checkpoint: "ac", Data: "cd", Images: 3, Dim: 2},
		"other data":         {Split: "val", Checkpoint: "ab", Data: "ce", Images: 3, Dim: 2},
		"another split":      {Split: "test", Checkpoint: "ab", Data: "cd", Images: 3, Dim: 2},
	} {
		if _, err := readCache(path, k); !errors.Is(err, errStale) {
			t.Errorf("%s: %v; want errStale", name, err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-40] ^= 1 // a feature byte
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readCache(path, key); !errors.Is(err, errStale) {
		t.Errorf("damaged file: %v; want errStale", err)
	}
}
