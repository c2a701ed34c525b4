package runtime

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindLibraryOrder(t *testing.T) {
	dir := t.TempDir()
	explicit := filepath.Join(dir, "explicit.so")
	fromEnv := filepath.Join(dir, "env.so")
	for _, p := range []string{explicit, fromEnv} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(EnvVar, fromEnv)
	if got, err := FindLibrary(explicit); err != nil || got != explicit {
		t.Errorf("explicit: got %q, %v; want %q", got, err, explicit)
	}
	if got, err := FindLibrary(""); err != nil || got != fromEnv {
		t.Errorf("env: got %q, %v; want %q", got, err, fromEnv)
	}
	// The project-local copy, found from a working directory below the checkout.
	t.Setenv(EnvVar, "")
	local := filepath.Join(dir, LocalLibrary)
	os.MkdirAll(filepath.Dir(local), 0o755)
	os.WriteFile(local, nil, 0o644)
	sub := filepath.Join(dir, "a", "b")
	os.MkdirAll(sub, 0o755)
	t.Chdir(sub)
	if got, err := FindLibrary(""); err != nil || got != local {
		t.Errorf("local: got %q, %v; want %q", got, err, local)
	}
}

func TestOpenErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.so")
	cases := []struct {
		name, lib, want string
	}{
		{"missing file", missing, "nope.so"},
		{"not ONNX Runtime", "/lib/x86_64-linux-gnu/libm.so.6", "OrtGetApiBase"},
	}
	if cc, err := exec.LookPath("cc"); err == nil {
		old := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
		if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", old, "testdata/oldort.c").CombinedOutput(); err != nil {
			t.Fatalf("build stand-in library: %v\n%s", err, out)
		}
		cases = append(cases, struct{ name, lib, want string }{"too old", old, "older than 1.24"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(c.lib); err != nil && c.lib != missing {
				t.Skipf("%s absent", c.lib)
			}
			env, err := Open(Options{Library: c.lib})
			if err == nil {
				env.Close()
				t.Fatal("no error")
			}
			msg := err.Error()
			if !errors.Is(err, ErrNoLibrary) {
				t.Errorf("error %q: want ErrNoLibrary", msg)
			}
			for _, want := range []string{c.want, "scripts/setup.sh"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q: want it to name %q", msg, want)
				}
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q: want one line (a CLI prints it as its last line)", msg)
			}
		})
	}
}

func TestOpenReal(t *testing.T) {
	env, err := Open(Options{})
	if err != nil {
		if os.Getenv("LONGTAIL_REQUIRE_ORT") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	defer env.Close()
	if v := env.Version(); !strings.HasPrefix(v, "1.") {
		t.Errorf("version %q", v)
	}
	if p := env.Providers(); len(p) == 0 || p[0] != "cpu" {
		t.Errorf("providers %v", p)
	}
	// A second handle shares the environment.
	e2, err := Open(Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if e2.Options().Threads != 1 {
		t.Errorf("threads %d", e2.Options().Threads)
	}
	e2.Close()
	if _, err := Open(Options{Provider: "tpu"}); err == nil {
		t.Error("unknown provider accepted")
	}
	// runtime.custom_ops: on registers the kernels on the CPU; auto too,
	// where their AVX-512 code runs (KernelBuild); off
	// does not.
	_, fast := KernelBuild()
	for _, c := range []struct {
		mode string
		want bool
	}{{"on", true}, {"", fast}, {"auto", fast}, {"off", false}} {
		e, err := Open(Options{CustomOps: c.mode})
		if err != nil {
			t.Fatalf("custom_ops %q: %v", c.mode, err)
		}
		if e.CustomOps() != c.want {
			t.Errorf("custom_ops %q: CustomOps() = %v; want %v", c.mode, e.CustomOps(), c.want)
		}
		e.Close()
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		o          Options
		key, value string // the error names the config key and the bad value
	}{
		{Options{Threads: -1}, "runtime.threads", "-1"},
		{Options{OptLevel: "max"}, "runtime.opt_level", `"max"`},
		{Options{Provider: "tpu"}, "runtime.provider", `"tpu"`},
		{Options{Fallback: "gpu"}, "runtime.fallback", `"gpu"`},
		{Options{ConvAlgoSearch: "fast"}, "runtime.conv_algo_search", `"fast"`},
		{Options{GPUMemLimit: -1}, "runtime.gpu_mem_limit", "-1"},
		{Options{CustomOps: "yes"}, "runtime.custom_ops", `"yes"`},
		{Options{CustomOps: "on", Provider: "cuda"}, "runtime.custom_ops", "provider cpu"},
	}
	for _, tc := range tests {
		err := tc.o.Validate()
		if err == nil {
			t.Errorf("%+v accepted", tc.o)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, tc.key+": ") || !strings.Contains(msg, tc.value) {
			t.Errorf("%+v: error %q; want it to start with %q and name %s", tc.o, msg, tc.key+":", tc.value)
		}
	}
	for _, o := range []Options{{}, {Threads: 2, OptLevel: "all", Provider: "cuda", Fallback: "cpu", ConvAlgoSearch: "heuristic", GPUMemLimit: 1 << 30}} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// The CPU library from npm has no CUDA provider: asking for it fails with one
// clear error, or falls back to the CPU when told to.
func TestCUDAProviderUnavailable(t *testing.T) {
	env, err := Open(Options{})
	if err != nil {
		t.Skip(err)
	}
	has := false
	for _, p := range env.Providers() {
		has = has || p == "cuda"
	}
	lib := env.Library()
	env.Close()
	if has {
		t.Skip("this ONNX Runtime has a usable CUDA provider")
	}
	// Named explicitly: with the cuda provider, Open would otherwise prefer the GPU build.
	_, err = Open(Options{Provider: "cuda", Library: lib})
	if !errors.Is(err, ErrNoProvider) || !strings.Contains(err.Error(), "runtime.fallback") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("provider cuda: got %v; want ErrNoProvider, one line naming runtime.fallback", err)
	}
	env, err = Open(Options{Provider: "cuda", Fallback: "cpu", Library: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if p := env.Options().Provider; p != "cpu" {
		t.Fatalf("fell back to %q, want cpu", p)
	}
}

func TestCUDALibraries(t *testing.T) {
	lib, err := FindLibrary("")
	if err != nil {
		t.Skip(err)
	}
	gpu := findGPULibrary()
	if gpu == "" {
		t.Skip("no GPU build installed (./scripts/setup.sh --gpu)")
	}
	libs, err := CUDALibraries(gpu)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, l := range libs {
		names[l.Name] = true
	}
	for _, want := range []string{"libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcudnn.so.9", "libcudnn_cnn.so.9"} {
		if !names[want] {
			t.Errorf("%s not listed in %v", want, libs)
		}
	}
	if none, err := CUDALibraries(lib); err != nil || none != nil {
		t.Errorf("CPU build: got %v, %v; want nothing", none, err)
	}
}

// runtime.custom_ops auto leaves out kernels that run no AVX-512 code here
// (built by clang, musl, GCC before 12 or with -DLT_NO_CLONES, or on a CPU
// without AVX-512), which are slower than the standard ops; on still uses
// them. Check both builds:
//
//	go test -run TestCustomOpsAutoSkipsBaselineKernels ./runtime/
//	CC=clang go test -run TestCustomOpsAutoSkipsBaselineKernels ./runtime/
func TestCustomOpsAutoSkipsBaselineKernels(t *testing.T) {
	what, fast := KernelBuild()
	t.Logf("kernels: %s (fast %v)", what, fast)
	for _, c := range []struct {
		mode string
		want bool
	}{{"auto", fast}, {"on", true}} {
		e, err := Open(Options{CustomOps: c.mode})
		if err != nil {
			if os.Getenv("LONGTAIL_REQUIRE_ORT") != "" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
		if e.CustomOps() != c.want {
			t.Errorf("custom_ops %s with kernels built as %s: CustomOps() = %v; want %v", c.mode, what, e.CustomOps(), c.want)
		}
		e.Close()
	}
}
