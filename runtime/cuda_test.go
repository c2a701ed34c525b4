package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The cuda provider prefers the GPU build to the CPU library, but never to a
// library named by runtime.library or $LONGTAIL_ORT_LIBRARY; the CPU provider
// never picks the GPU build.
func TestLibraryForCUDA(t *testing.T) {
	dir := t.TempDir()
	explicit := filepath.Join(dir, "explicit.so")
	fromEnv := filepath.Join(dir, "env.so")
	local := filepath.Join(dir, LocalLibrary)
	gpu := filepath.Join(dir, GPULibrary)
	for _, p := range []string{explicit, fromEnv, local, gpu} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sub := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	cases := []struct {
		name string
		o    Options
		env  string
		want string
	}{
		{"cuda", Options{Provider: "cuda"}, "", gpu},
		{"cpu", Options{Provider: "cpu"}, "", local},
		{"default provider", Options{}, "", local},
		{"cuda, explicit", Options{Provider: "cuda", Library: explicit}, "", explicit},
		{"cuda, env", Options{Provider: "cuda"}, fromEnv, fromEnv},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvVar, c.env)
			got, err := libraryFor(c.o)
			if err != nil || got != c.want {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// TestCUDABridge opens the GPU build that scripts/setup.sh --gpu installs with
// the cuda provider. Where CUDA 13 and cuDNN 9 load, the provider must be
// usable; elsewhere the bridge must accept the provider library (no "not
// enabled in this build") and the error must name the CUDA libraries that are
// missing, among them the one the bridge's own load error names.
func TestCUDABridge(t *testing.T) {
	lib := findGPULibrary()
	if lib == "" {
		t.Skipf("no %s (./scripts/setup.sh --gpu installs it)", GPULibrary)
	}
	t.Setenv(EnvVar, "")
	env, err := Open(Options{Provider: "cuda", Threads: 1})
	if err == nil {
		defer env.Close()
		if p := env.Providers(); len(p) != 2 || p[1] != "cuda" {
			t.Fatalf("providers %v with the cuda provider open; want cpu, cuda", p)
		}
		t.Logf("CUDA provider usable with %s", env.Library())
		return
	}
	var pe *ProviderError
	if !errors.As(err, &pe) || !errors.Is(err, ErrNoProvider) {
		t.Fatalf("got %v (%T); want a *ProviderError matching ErrNoProvider", err, err)
	}
	msg := err.Error()
	t.Log(msg)
	if strings.Contains(msg, "not enabled in this build") {
		t.Fatalf("%s has no CUDA provider bridge: %s", lib, msg)
	}
	if abs, _ := filepath.Abs(lib); pe.Library != abs {
		t.Errorf("library %q; want %q", pe.Library, abs)
	}
	missing := pe.Missing()
	if len(missing) == 0 {
		t.Fatalf("the provider does not load, yet every CUDA library does: %s", msg)
	}
	named := false
	for _, m := range missing {
		named = named || strings.Contains(pe.Err.Error(), m)
	}
	if !named {
		t.Errorf("the bridge's error %q names none of the missing %v", pe.Err, missing)
	}
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "runtime.fallback") {
		t.Errorf("error %q: want one line saying runtime.fallback", msg)
	}
	if slices.Contains(missing, DriverLibrary) {
		// No driver, no GPU: the CUDA libraries are beside the point.
		if !strings.Contains(msg, "no NVIDIA driver here ("+DriverLibrary) || strings.Contains(msg, "LD_LIBRARY_PATH") {
			t.Errorf("error %q: want it to say there is no NVIDIA driver, and no LD_LIBRARY_PATH advice", msg)
		}
	} else {
		for _, m := range missing {
			if !strings.Contains(msg, m) {
				t.Errorf("error does not name the missing %s: %s", m, msg)
			}
		}
		if !strings.Contains(msg, "LD_LIBRARY_PATH") {
			t.Errorf("error %q: want it to say LD_LIBRARY_PATH", msg)
		}
	}

	// The same core runs on the CPU when told to fall back.
	env, err = Open(Options{Provider: "cuda", Fallback: "cpu", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if got := env.Options().Provider; got != "cpu" {
		t.Errorf("fell back to %q; want cpu", got)
	}
	if got, _ := filepath.Abs(lib); env.Library() != got {
		t.Errorf("fell back with %s; want the GPU build %s", env.Library(), got)
	}
}
