package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bridgeErr is what ONNX Runtime 1.29's provider bridge returns on a
// machine without CUDA, as appendCUDA wraps it.
const bridgeErr = "runtime: cuda provider options map[cudnn_conv_algo_search:HEURISTIC device_id:0 use_tf32:0]: " +
	"/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1988 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() " +
	"[ONNXRuntimeError] : 1 : FAIL : Failed to load library /x/libonnxruntime_providers_cuda.so with error: " +
	"libcublasLt.so.13: cannot open shared object file: No such file or directory"

// TestProviderErrorMessage checks what a ProviderError says for each way the
// CUDA provider fails: a missing driver is no GPU, not a library to put on
// LD_LIBRARY_PATH; missing CUDA libraries are named; ONNX Runtime's source
// paths and the option dump are left out.
func TestProviderErrorMessage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, CUDAProvider), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(dir, "libonnxruntime.so.1")
	gone := "cannot open shared object file: No such file or directory"
	libs := func(missing ...string) []Lib {
		var out []Lib
		for _, n := range []string{"libcublasLt.so.13", "libcudart.so.13", DriverLibrary, "libcudnn.so.9"} {
			l := Lib{Name: n}
			for _, m := range missing {
				if m == n {
					l.Err = n + ": " + gone
				}
			}
			out = append(out, l)
		}
		return out
	}
	for _, tc := range []struct {
		name      string
		libs      []Lib
		bridge    string
		want, not []string
	}{
		{"no driver, no CUDA", libs("libcublasLt.so.13", "libcudart.so.13", DriverLibrary, "libcudnn.so.9"), bridgeErr,
			[]string{"no NVIDIA driver here (libcuda.so.1", "no usable GPU", "CUDA 13 and cuDNN 9 are missing too (3 libraries from libcublasLt.so.13 on"},
			[]string{"LD_LIBRARY_PATH", "onnxruntime_src", "map["}},
		{"no driver", libs(DriverLibrary), "Failed to load library: libcuda.so.1: " + gone,
			[]string{"no NVIDIA driver here", "nvidia-smi"}, []string{"LD_LIBRARY_PATH", "missing too"}},
		{"no CUDA", libs("libcublasLt.so.13", "libcudnn.so.9"), bridgeErr,
			[]string{"the CUDA provider's libraries are missing: libcublasLt.so.13, libcudnn.so.9; put CUDA 13 and cuDNN 9 on LD_LIBRARY_PATH"},
			[]string{"driver", "onnxruntime_src"}},
		{"all load, the bridge fails", libs(), bridgeErr,
			[]string{"runtime: cuda provider options Failed to load library /x/libonnxruntime_providers_cuda.so with error: libcublasLt.so.13"},
			[]string{"onnxruntime_src", "ONNXRuntimeError", "HEURISTIC"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := &ProviderError{Provider: "cuda", Library: lib, Libs: tc.libs, Err: errors.New(tc.bridge)}
			msg := err.Error()
			for _, w := range append(tc.want, "runtime.fallback: cpu") {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(msg, w) {
					t.Errorf("error has %q:\n%s", w, msg)
				}
			}
			if len(msg) > 400 {
				t.Errorf("error is %d characters; want a line to read:\n%s", len(msg), msg)
			}
		})
	}
}
