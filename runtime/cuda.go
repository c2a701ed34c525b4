package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// GPULibrary is where scripts/setup.sh --gpu installs the ORT core that has the
// CUDA provider bridge (onnxruntime-node 1.29.0's libonnxruntime.so.1), with
// libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so beside
// it, relative to the repository root. With runtime.provider cuda and neither
// runtime.library nor $LONGTAIL_ORT_LIBRARY set, Open prefers it to the CPU
// library.
const GPULibrary = ".ort/gpu/libonnxruntime.so.1"

// ProviderError reports an execution provider that the loaded library or this
// machine cannot use. It matches ErrNoProvider under errors.Is.
type ProviderError struct {
	Provider string
	Library  string // the ORT core that was asked for the provider
	// Libs are the CUDA and cuDNN libraries the CUDA provider needs and
	// whether each loads here; nil when the core has no CUDA provider beside it.
	Libs []Lib
	Err  error // the bridge's own error
}

func (e *ProviderError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: runtime.provider %s with %s: ", ErrNoProvider, e.Provider, e.Library)
	msg := oneLine(e.Err.Error())
	switch {
	case strings.Contains(msg, "not enabled in this build"):
		fmt.Fprintf(&b, "this ONNX Runtime has no CUDA provider bridge (%s); run ./scripts/setup.sh --gpu and use runtime.library: %s", shortORT(msg), GPULibrary)
	case !e.hasProvider():
		fmt.Fprintf(&b, "no %s beside it (%s); run ./scripts/setup.sh --gpu", CUDAProvider, shortORT(msg))
	default:
		missing := e.Missing()
		var cuda []string
		driver := false
		for _, m := range missing {
			if m == DriverLibrary {
				driver = true
			} else {
				cuda = append(cuda, m)
			}
		}
		switch {
		case driver && len(cuda) > 0:
			fmt.Fprintf(&b, "no NVIDIA driver here (%s, the driver's own library, does not load), so no usable GPU; "+
				"CUDA 13 and cuDNN 9 are missing too (%d libraries from %s on; doctor lists them)",
				DriverLibrary, len(cuda), cuda[0])
		case driver:
			fmt.Fprintf(&b, "no NVIDIA driver here (%s, the driver's own library, does not load), so no usable GPU (nvidia-smi says more)", DriverLibrary)
		case len(cuda) > 0:
			fmt.Fprintf(&b, "the CUDA provider's libraries are missing: %s; put CUDA 13 and cuDNN 9 on LD_LIBRARY_PATH", strings.Join(cuda, ", "))
		default:
			b.WriteString(shortORT(msg))
		}
	}
	b.WriteString("; or set runtime.fallback: cpu")
	return b.String()
}

func (e *ProviderError) Unwrap() []error { return []error{ErrNoProvider, e.Err} }

// DriverLibrary is the NVIDIA driver's user-space library, which the CUDA
// runtime loads: missing, it means no driver, hence no usable GPU, rather
// than a library to put on LD_LIBRARY_PATH.
const DriverLibrary = "libcuda.so.1"

// ortSource matches the location ONNX Runtime puts before its messages:
// "/onnxruntime_src/onnxruntime/core/...cc:1988 onnxruntime::Provider&
// onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : ".
var ortSource = regexp.MustCompile(`\S*/onnxruntime[^ ]*\.(?:cc|cpp|h):\d+ .*?\[ONNXRuntimeError\] : \d+ : \w+ : `)

// shortORT drops ONNX Runtime's source locations and longtail's option
// dump from a provider error, leaving what failed.
func shortORT(msg string) string {
	msg = ortSource.ReplaceAllString(msg, "")
	if i := strings.Index(msg, "map["); i >= 0 {
		if j := strings.Index(msg[i:], "]: "); j >= 0 {
			msg = msg[:i] + msg[i+j+3:]
		}
	}
	return msg
}

func (e *ProviderError) hasProvider() bool {
	_, err := os.Stat(filepath.Join(filepath.Dir(e.Library), CUDAProvider))
	return err == nil
}

// Missing names the libraries in Libs that do not load.
func (e *ProviderError) Missing() []string {
	var out []string
	for _, l := range e.Libs {
		if l.Err != "" {
			out = append(out, l.Name)
		}
	}
	return out
}

// findGPULibrary looks for GPULibrary upwards from the working directory and
// from the executable's directory, as FindLibrary does for LocalLibrary; it
// returns "" when there is none.
func findGPULibrary() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, GPULibrary)
			if _, err := os.Stat(p); err == nil {
				return p
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

// libraryFor is the library Open loads for o: FindLibrary's order, except
// that the cuda provider prefers GPULibrary to the CPU library when neither
// runtime.library nor $LONGTAIL_ORT_LIBRARY names one.
func libraryFor(o Options) (string, error) {
	if o.Library == "" && o.Provider == "cuda" && os.Getenv(EnvVar) == "" {
		if p := findGPULibrary(); p != "" {
			return FindLibrary(p)
		}
	}
	return FindLibrary(o.Library)
}

// probeCUDA appends the CUDA provider to throw-away session options: the
// bridge then loads libonnxruntime_providers_cuda.so and the CUDA libraries
// it links, which is what fails on a machine without them.
func probeCUDA(lib string, o Options) error {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return err
	}
	defer so.Destroy()
	if err := appendCUDA(so, o); err != nil {
		pe := &ProviderError{Provider: "cuda", Library: lib, Err: err}
		if libs, lerr := CUDALibraries(lib); lerr == nil {
			pe.Libs = libs
		}
		return pe
	}
	return nil
}

// appendCUDA appends ORT's CUDA execution provider through the provider
// bridge (onnxruntime_go's NewCUDAProviderOptions and
// AppendExecutionProviderCUDA) with the device, cuDNN's convolution
// algorithm search and the memory cap of o.
func appendCUDA(so *ort.SessionOptions, o Options) error {
	co, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return fmt.Errorf("runtime: cuda provider: %w", err)
	}
	defer co.Destroy()
	opts := cudaOptions(o)
	if err := co.Update(opts); err != nil {
		return fmt.Errorf("runtime: cuda provider options %v: %w", opts, err)
	}
	if err := so.AppendExecutionProviderCUDA(co); err != nil {
		return fmt.Errorf("runtime: cuda provider: %w", err)
	}
	return nil
}

// cudaOptions are the CUDA provider's options (ORT's OrtCUDAProviderOptionsV2
// keys) for o.
func cudaOptions(o Options) map[string]string {
	search := strings.ToUpper(o.ConvAlgoSearch)
	if search == "" {
		search = "HEURISTIC"
	}
	tf32 := "0"
	if o.TF32 {
		tf32 = "1"
	}
	opts := map[string]string{"device_id": fmt.Sprint(o.DeviceID), "cudnn_conv_algo_search": search, "use_tf32": tf32}
	if o.GPUMemLimit > 0 {
		opts["gpu_mem_limit"] = fmt.Sprint(o.GPUMemLimit)
	}
	return opts
}
