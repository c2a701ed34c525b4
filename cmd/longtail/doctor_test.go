package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/runtime"
)

// TestDoctorCUDA runs doctor with the cuda provider on the GPU build that
// ./scripts/setup.sh --gpu installs: with CUDA present it must use the
// provider; without, it must list the CUDA libraries and fail naming each
// missing one, never with the "not enabled in this build" of a core without
// the provider bridge.
func TestDoctorCUDA(t *testing.T) {
	lib, err := filepath.Abs(filepath.Join("..", "..", runtime.GPULibrary))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("no GPU build (./scripts/setup.sh --gpu): %v", err)
	}
	code, out, errs := cli(t, "doctor", "--set", "runtime.provider=cuda", "--set", "runtime.library="+lib)
	if code == 0 {
		if !strings.Contains(out, "using cuda") || !strings.Contains(out, "check      ok") {
			t.Errorf("doctor succeeded without using cuda:\n%s", out)
		}
		return
	}
	if strings.Contains(errs, "not enabled in this build") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("doctor: want one line from the provider bridge, got %q", errs)
	}
	missing, noDriver := 0, false
	var missingNames []string
	for _, line := range strings.Split(out, "\n") {
		name, ok := strings.CutPrefix(line, "cuda lib   ")
		if !ok || !strings.Contains(name, " missing") {
			continue
		}
		missing++
		name, _, _ = strings.Cut(name, " ")
		if name == runtime.DriverLibrary {
			// No driver: the error says so instead of listing libraries.
			noDriver = true
			if !strings.Contains(line, "no usable GPU") || !strings.Contains(errs, "no NVIDIA driver here") || strings.Contains(errs, "LD_LIBRARY_PATH") {
				t.Errorf("without %s: want doctor to say there is no driver, not LD_LIBRARY_PATH:\n%s\n%s", name, line, errs)
			}
		}
		missingNames = append(missingNames, name)
	}
	if missing == 0 {
		t.Errorf("doctor failed but lists no missing CUDA library:\n%s\n%s", out, errs)
	}
	for _, name := range missingNames {
		if !noDriver && !strings.Contains(errs, name) {
			t.Errorf("the error does not name the missing %s: %s", name, errs)
		}
	}
	if len(errs) > 400 || strings.Contains(errs, "onnxruntime_src") {
		t.Errorf("doctor's error is %d characters, or quotes ONNX Runtime's sources: %s", len(errs), errs)
	}
	if !strings.Contains(out, "library    "+lib) {
		t.Errorf("doctor does not name the library %s:\n%s", lib, out)
	}
}
