package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/runtime"
)

// TestDoctorFromAnywhere builds the binary outside the checkout and runs
// `doctor` from another directory, with the library where scripts/setup.sh
// copies it (the user's cache directory): the binary finds it there.
func TestDoctorFromAnywhere(t *testing.T) {
	needORT(t)
	lib, err := runtime.FindLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cached := filepath.Join(root, "cache", runtime.CachedLibrary)
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, data, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t, filepath.Join(root))
	elsewhere := filepath.Join(root, "elsewhere")
	if err := os.Mkdir(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + root, "XDG_CACHE_HOME=" + filepath.Join(root, "cache"), "PATH=" + os.Getenv("PATH")}
	cmd := command(t, bin, "doctor")
	cmd.Dir, cmd.Env = elsewhere, env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), cached) {
		t.Errorf("doctor from %s: %v\n%s\nwant it to use %s", elsewhere, err, out, cached)
	}
	// Without the cached copy the error names where it looked.
	if err := os.Remove(cached); err != nil {
		t.Fatal(err)
	}
	cmd = command(t, bin, "doctor")
	cmd.Dir, cmd.Env = elsewhere, env
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), cached) || !strings.Contains(string(out), "setup.sh") {
		t.Errorf("doctor without a library: %v\n%s\nwant an error naming %s and setup.sh", err, out, cached)
	}
}
