package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFindLibraryCache checks the last places of the lookup order: the
// checkout's .ort/ comes before the copy in the user's cache directory, which
// is found from any directory; with neither, the error names both.
func TestFindLibraryCache(t *testing.T) {
	root := t.TempDir()
	cache := filepath.Join(root, "cache")
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv(EnvVar, "")
	elsewhere := filepath.Join(root, "elsewhere")
	checkout := filepath.Join(root, "checkout")
	for _, d := range []string{elsewhere, filepath.Join(checkout, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cached := filepath.Join(cache, CachedLibrary)
	if got := CachedLibraryPath(); got != cached {
		t.Fatalf("CachedLibraryPath() = %q; want %q", got, cached)
	}
	touch := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Chdir(elsewhere)
	_, err := FindLibrary("")
	if !errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), LocalLibrary) || !strings.Contains(err.Error(), cached) {
		t.Errorf("no library anywhere: %v; want ErrNoLibrary naming %s and %s", err, LocalLibrary, cached)
	}
	touch(cached)
	if got, err := FindLibrary(""); err != nil || got != cached {
		t.Errorf("from another directory: %q, %v; want the cached %q", got, err, cached)
	}
	local := filepath.Join(checkout, LocalLibrary)
	touch(local)
	t.Chdir(filepath.Join(checkout, "sub"))
	if got, err := FindLibrary(""); err != nil || got != local {
		t.Errorf("inside the checkout: %q, %v; want the checkout's %q before the cache", got, err, local)
	}
}
