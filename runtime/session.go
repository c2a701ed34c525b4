package runtime

import (
	"fmt"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// Value is any ORT value (tensor) that a Session reads or writes.
type Value = ort.Value

// Tensor is a float32 tensor whose data is a Go slice.
type Tensor = ort.Tensor[float32]

// customSessions serialises the creation of sessions with custom ops.
var customSessions sync.Mutex

// Session runs one ONNX model with fixed input and output names.
type Session struct {
	s       *ort.DynamicAdvancedSession
	inputs  []string
	outputs []string
	custom  bool // counted in customLive
}

// SessionOptions tune one session beyond the Env's options.
type SessionOptions struct {
	// ProfilePrefix, when set, makes ORT write a JSON profile with this prefix.
	ProfilePrefix string
	// Config holds ORT session config entries (key → value).
	Config map[string]string
}

// NewSession compiles model (a serialised ONNX ModelProto) for the Env's provider.
func (e *Env) NewSession(model []byte, inputs, outputs []string, extra *SessionOptions) (*Session, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("runtime: session options: %w", err)
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(e.opts.Threads); err != nil {
		return nil, fmt.Errorf("runtime: threads %d: %w", e.opts.Threads, err)
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("runtime: inter-op threads: %w", err)
	}
	lvl, err := optLevel(e.opts.OptLevel)
	if err != nil {
		return nil, err
	}
	if err := so.SetGraphOptimizationLevel(lvl); err != nil {
		return nil, fmt.Errorf("runtime: optimisation level: %w", err)
	}
	if e.opts.Provider == "cuda" {
		if err := appendCUDA(so, e.opts); err != nil {
			return nil, fmt.Errorf("runtime.provider cuda: %w (this library has no usable CUDA provider)", err)
		}
	}
	// ORT's memory pattern plans one block per run from the first run's
	// allocations; on the CPU the arena then holds it and the per-node
	// buffers side by side. Without it a ResNet-32 training step at batch 128
	// peaks at 442 MiB instead of 766 MiB, at the same speed (scripts/bench.sh).
	if e.shim {
		if err := setOptions(e.lib, so, e.custom, e.opts.Provider == "cpu"); err != nil {
			return nil, fmt.Errorf("runtime: session options: %w", err)
		}
	}
	if extra == nil && e.opts.Profile != "" {
		e.sessions++
		extra = &SessionOptions{ProfilePrefix: fmt.Sprintf("%s%d", e.opts.Profile, e.sessions)}
	}
	if extra != nil {
		if extra.ProfilePrefix != "" {
			if err := so.EnableProfiling(extra.ProfilePrefix); err != nil {
				return nil, fmt.Errorf("runtime: profiling: %w", err)
			}
		}
		for k, v := range extra.Config {
			if err := so.AddSessionConfigEntry(k, v); err != nil {
				return nil, fmt.Errorf("runtime: session config %s=%s: %w", k, v, err)
			}
		}
	}
	if e.custom {
		// ORT adds a custom op domain to a process-wide table on the first
		// session that uses it, with a check-then-add that two sessions
		// created at once can both pass; one then fails.
		customSessions.Lock()
		defer customSessions.Unlock()
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, inputs, outputs, so)
	if err != nil {
		return nil, fmt.Errorf("runtime: create session: %w", err)
	}
	if e.custom {
		customLive.Add(1)
	}
	return &Session{s: s, inputs: inputs, outputs: outputs, custom: e.custom}, nil
}

// Inputs and Outputs are the names the session was created with, in order.
func (s *Session) Inputs() []string  { return s.inputs }
func (s *Session) Outputs() []string { return s.outputs }

// Run executes the model. in and out follow the order of Inputs and Outputs;
// a nil output is allocated by ORT and must be destroyed by the caller.
func (s *Session) Run(in, out []Value) error {
	if len(in) != len(s.inputs) || len(out) != len(s.outputs) {
		return fmt.Errorf("runtime: run with %d inputs and %d outputs; session has %d and %d",
			len(in), len(out), len(s.inputs), len(s.outputs))
	}
	if err := s.s.Run(in, out); err != nil {
		return fmt.Errorf("runtime: run: %w", err)
	}
	return nil
}

// Destroy frees the session. The last session with custom ops to go also
// frees the kernels' scratch buffers.
func (s *Session) Destroy() error {
	if s == nil || s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	if s.custom && customLive.Add(-1) == 0 {
		releaseScratch()
	}
	return err
}

// NewTensor wraps data (not copied) as a float32 tensor of the given shape.
func NewTensor(data []float32, shape ...int64) (*Tensor, error) {
	t, err := ort.NewTensor(ort.NewShape(shape...), data)
	if err != nil {
		return nil, fmt.Errorf("runtime: tensor %v: %w", shape, err)
	}
	return t, nil
}

// NewInt64Tensor wraps data (not copied) as an int64 tensor.
func NewInt64Tensor(data []int64, shape ...int64) (*ort.Tensor[int64], error) {
	t, err := ort.NewTensor(ort.NewShape(shape...), data)
	if err != nil {
		return nil, fmt.Errorf("runtime: tensor %v: %w", shape, err)
	}
	return t, nil
}
