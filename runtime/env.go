package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// EnvVar names the environment variable that points at the ORT shared library.
const EnvVar = "LONGTAIL_ORT_LIBRARY"

// LocalLibrary is where scripts/setup.sh installs ORT, relative to the repository root.
const LocalLibrary = ".ort/libonnxruntime.so.1"

// CachedLibrary is where scripts/setup.sh also installs ORT, relative to the
// user's cache directory (os.UserCacheDir: $XDG_CACHE_HOME or ~/.cache on
// Linux), so that a binary built or installed elsewhere finds it from any
// directory.
const CachedLibrary = "longtail/ort/libonnxruntime.so.1"

// CachedLibraryPath is CachedLibrary in this user's cache directory; "" when
// the user has none.
func CachedLibraryPath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, CachedLibrary)
}

// SetupHint is the command that installs the library.
const SetupHint = "run ./scripts/setup.sh in the longtail checkout, or set " + EnvVar + " (or runtime.library) to an ONNX Runtime >= 1.24 libonnxruntime.so"

// ErrNoLibrary reports that no ORT shared library could be found or loaded.
var ErrNoLibrary = errors.New("runtime: ONNX Runtime library not available")

// Options configures sessions. The zero value means: library found by the
// lookup order, all cores, optimisation level "extended", the CPU provider.
type Options struct {
	// Library is the path of libonnxruntime.so; empty means $LONGTAIL_ORT_LIBRARY,
	// then .ort/ in the checkout.
	Library string `mapstructure:"library"`
	// Threads is ORT's intra-op thread count; 0 means every core.
	Threads int `mapstructure:"threads"`
	// OptLevel is the graph optimisation level: disable, basic, extended or all.
	// Empty means extended.
	OptLevel string `mapstructure:"opt_level"`
	// Provider is the execution provider: cpu (default) or cuda.
	Provider string `mapstructure:"provider"`
	// DeviceID selects the GPU for the cuda provider.
	DeviceID int `mapstructure:"device_id"`
	// Profile, when set, makes every session write ORT's JSON profile to
	// files starting with this path prefix.
	Profile string `mapstructure:"profile"`
	// Fallback is what to do when the provider cannot be used: "" fails,
	// "cpu" warns and runs on the CPU provider.
	Fallback string `mapstructure:"fallback"`
	// ConvAlgoSearch is cuDNN's convolution algorithm search for the cuda
	// provider: exhaustive, heuristic or default. Empty means heuristic.
	ConvAlgoSearch string `mapstructure:"conv_algo_search"`
	// GPUMemLimit caps the cuda provider's memory arena in bytes; 0 means no cap.
	GPUMemLimit int64 `mapstructure:"gpu_mem_limit"`
	// TF32 lets the cuda provider compute float32 convolutions and matrix
	// products in TensorFloat-32 (10-bit mantissa, as PyTorch's cuDNN
	// convolutions do by default). False, the default, keeps full float32,
	// so that GPU and CPU gradients agree to float32 rounding.
	TF32 bool `mapstructure:"tf32"`
	// CustomOps chooses the kernels of the training graphs: "on" uses
	// longtail's own (3×3 convolutions and their gradients, BatchNorm + ReLU,
	// SGD), run by ORT as custom operators of domain "longtail" on the CPU
	// provider only; "off" uses standard ONNX operators only; "auto", the
	// default, uses the kernels on the CPU provider when they register and
	// were built fast (KernelBuild: GCC's per-CPU clones, not the baseline
	// SSE2 code that clang or musl builds), and logs once when it does not.
	CustomOps string `mapstructure:"custom_ops"`
}

// Validate checks the options without touching the library.
func (o *Options) Validate() error {
	if o.Threads < 0 {
		return fmt.Errorf("runtime.threads: %d is negative; want 0 (all cores) or more", o.Threads)
	}
	if _, err := optLevel(o.OptLevel); err != nil {
		return err
	}
	switch o.Provider {
	case "", "cpu", "cuda":
	default:
		return fmt.Errorf("runtime.provider: %q is not a provider; want cpu or cuda", o.Provider)
	}
	switch o.Fallback {
	case "", "cpu":
	default:
		return fmt.Errorf("runtime.fallback: %q; want cpu, or empty to fail when the provider is unusable", o.Fallback)
	}
	switch strings.ToLower(o.ConvAlgoSearch) {
	case "", "exhaustive", "heuristic", "default":
	default:
		return fmt.Errorf("runtime.conv_algo_search: %q; want exhaustive, heuristic or default", o.ConvAlgoSearch)
	}
	switch o.CustomOps {
	case "", "auto", "on", "off":
	default:
		return fmt.Errorf("runtime.custom_ops: %q; want auto, on or off", o.CustomOps)
	}
	if o.CustomOps == "on" && o.Provider == "cuda" {
		return errors.New("runtime.custom_ops: on needs runtime.provider cpu; longtail's kernels run on the CPU provider only")
	}
	if o.GPUMemLimit < 0 {
		return fmt.Errorf("runtime.gpu_mem_limit: %d is negative; want bytes, or 0 for no cap", o.GPUMemLimit)
	}
	return nil
}

// ErrNoProvider reports an execution provider that this library or machine cannot use.
var ErrNoProvider = errors.New("runtime: execution provider not usable")

func optLevel(s string) (ort.GraphOptimizationLevel, error) {
	switch strings.ToLower(s) {
	case "disable", "none":
		return ort.GraphOptimizationLevelDisableAll, nil
	case "basic":
		return ort.GraphOptimizationLevelEnableBasic, nil
	case "", "extended":
		return ort.GraphOptimizationLevelEnableExtended, nil
	case "all":
		return ort.GraphOptimizationLevelEnableAll, nil
	}
	return 0, fmt.Errorf("runtime.opt_level: %q is not a level; want disable, basic, extended or all", s)
}

// FindLibrary resolves the ORT shared library by the lookup order: the
// explicit path, $LONGTAIL_ORT_LIBRARY, .ort/ in the checkout (searched
// upwards from the working directory and from the executable's directory),
// then the copy in the user's cache directory (CachedLibrary).
func FindLibrary(explicit string) (string, error) {
	check := func(p, from string) (string, error) {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: %s %s: %v; %s", ErrNoLibrary, from, p, err, SetupHint)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("runtime: %s: %w", p, err)
		}
		return abs, nil
	}
	if explicit != "" {
		return check(explicit, "runtime.library")
	}
	if p := os.Getenv(EnvVar); p != "" {
		return check(p, EnvVar)
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, LocalLibrary)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	cached := CachedLibraryPath()
	if cached != "" {
		if _, err := os.Stat(cached); err == nil {
			return cached, nil
		}
	} else {
		cached = "$XDG_CACHE_HOME/" + CachedLibrary
	}
	return "", fmt.Errorf("%w: not in runtime.library, $%s, %s (upwards from here and from the executable) or %s; %s",
		ErrNoLibrary, EnvVar, LocalLibrary, cached, SetupHint)
}

// global is the process-wide ORT environment; ORT allows only one.
var global struct {
	mu    sync.Mutex
	users int
	lib   string
}

// Env is a handle on the process-wide ORT environment.
type Env struct {
	opts     Options
	lib      string
	custom   bool // custom ops registered in every session
	shim     bool // the C API shim works with this library
	closed   bool
	sessions int // sessions opened, for distinct profile names
}

// Open loads the ORT library (once per process) and returns a handle. Every
// Env must be closed; the environment is destroyed with the last one.
func Open(o Options) (*Env, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Threads == 0 {
		o.Threads = goruntime.NumCPU()
	}
	if o.Provider == "" {
		o.Provider = "cpu"
	}
	global.mu.Lock()
	defer global.mu.Unlock()
	if global.users > 0 {
		if o.Library != "" && o.Library != global.lib {
			if abs, _ := filepath.Abs(o.Library); abs != global.lib {
				return nil, fmt.Errorf("runtime: ORT already loaded from %s; cannot also load %s", global.lib, o.Library)
			}
		}
		e := &Env{opts: o, lib: global.lib}
		if err := e.checkOps(); err != nil {
			return nil, err
		}
		global.users++
		return e, nil
	}
	lib, err := libraryFor(o)
	if err != nil {
		return nil, err
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		if strings.Contains(err.Error(), "ORT API base: 2") {
			// The library answered but has no C API 24. (Its version string
			// went with the library, which onnxruntime_go has unloaded.)
			return nil, fmt.Errorf("%w: %s is an ONNX Runtime older than 1.24 (no C API 24); %s", ErrNoLibrary, lib, SetupHint)
		}
		return nil, fmt.Errorf("%w: load %s: %s; %s", ErrNoLibrary, lib, oneLine(err.Error()), SetupHint)
	}
	global.users = 1
	global.lib = lib
	e := &Env{opts: o, lib: lib}
	err = e.checkProvider()
	if err == nil {
		err = e.checkOps()
	}
	if err != nil {
		e.closeLocked()
		return nil, err
	}
	return e, nil
}

// checkProvider makes sure the chosen provider can be appended to a session,
// or falls back to the CPU when Options.Fallback says so.
func (e *Env) checkProvider() error {
	if e.opts.Provider != "cuda" {
		return nil
	}
	err := probeCUDA(e.lib, e.opts)
	if err == nil {
		return nil
	}
	if e.opts.Fallback == "cpu" {
		slog.Warn("runtime: the cuda provider is not usable; running on the CPU", "library", e.lib, "err", err)
		e.opts.Provider = "cpu"
		return nil
	}
	return err
}

// checkOps decides whether sessions get longtail's custom ops. On the CPU
// provider it probes the C API shim (ops.c) even when they are off, since
// sessions also use it to turn off the memory pattern.
func (e *Env) checkOps() error {
	mode := e.opts.CustomOps
	if mode == "" {
		mode = "auto"
	}
	e.opts.CustomOps = mode
	e.shim, e.custom = false, false
	if e.opts.Provider != "cpu" {
		return nil
	}
	err := probeOps(e.lib)
	e.shim = err == nil
	e.custom = e.shim && mode != "off"
	switch {
	case err == nil && mode == "auto":
		if what, fast := KernelBuild(); !fast {
			e.custom = false
			warnOps.Do(func() {
				slog.Warn("runtime: longtail's custom kernels run no AVX-512 code here (build or CPU), where they are slower than the standard ops; runtime.custom_ops auto uses the standard-op graphs (runtime.custom_ops on forces the kernels)", "build", what)
			})
		}
		return nil
	case err == nil || mode == "off":
		return nil
	case mode == "on":
		return fmt.Errorf("runtime.custom_ops on: %w", err)
	}
	warnOps.Do(func() {
		slog.Warn("runtime: longtail's custom kernels are unavailable; using the standard-op graphs (slower)", "library", e.lib, "err", err)
	})
	return nil
}

// warnOps logs the fallback from custom ops once per process.
var warnOps sync.Once

// CustomOps reports whether this Env's sessions run longtail's custom ops, so
// that graphs may use them (graphs.Spec.CustomOps).
func (e *Env) CustomOps() bool { return e.custom }

// Close releases the handle; the last Close destroys the ORT environment.
func (e *Env) Close() error {
	if e == nil || e.closed {
		return nil
	}
	global.mu.Lock()
	defer global.mu.Unlock()
	return e.closeLocked()
}

func (e *Env) closeLocked() error {
	e.closed = true
	global.users--
	if global.users == 0 {
		resetOps()
		if err := ort.DestroyEnvironment(); err != nil {
			return fmt.Errorf("runtime: destroy environment: %w", err)
		}
	}
	return nil
}

// Version is the loaded ORT library's version string.
func (e *Env) Version() string { return ort.GetVersion() }

// Library is the path the ORT library was loaded from.
func (e *Env) Library() string { return e.lib }

// Options returns the resolved options (threads and provider filled in).
func (e *Env) Options() Options { return e.opts }

// Providers lists the execution providers this library can use: cpu always,
// cuda when its provider library loads.
func (e *Env) Providers() []string {
	out := []string{"cpu"}
	if err := probeCUDA(e.lib, e.opts); err == nil {
		out = append(out, "cuda")
	}
	return out
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
