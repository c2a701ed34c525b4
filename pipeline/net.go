package pipeline

import (
	"fmt"
	"maps"
	"slices"

	"github.com/longtail-ml/longtail/graphs"
	"github.com/longtail-ml/longtail/runtime"
)

// Net is the ONNX-backed ResNet: a forward session, a backward-and-update
// session and an evaluation session over Go-owned buffers.
//
// Parameters, momentum and running statistics are double-buffered: a run
// reads one set and writes the other, then the sets swap, so no step copies
// state. Saved activations pass from the forward run to the backward run
// through shared buffers. A Net is not safe for concurrent use.
type Net struct {
	tr    *graphs.Training
	env   *runtime.Env
	fwd   *runtime.Session
	bwd   *runtime.Session
	eval  *runtime.Session
	fused *runtime.Session // built on the first FusedStep
	spec  graphs.Spec
	optim graphs.Optim
	batch int

	// cur[name] is the live tensor of each state entry; next[name] its twin.
	cur, next map[string]*runtime.Tensor
	// fixed holds tensors that do not swap: x, logits, dlogits, lr, saved.
	fixed map[string]*runtime.Tensor
	// state names in order, and which of them swap at each run.
	order      []string
	fwdSwaps   []string // running statistics
	bwdSwaps   []string // parameters and momentum
	logits     []float32
	x, dlogits []float32
	lr         []float32
}

var _ Network = (*Net)(nil)

// NewNetwork builds the graphs for the given model and batch, opens the
// sessions and initialises the state from seed (PyTorch's initialisation).
func NewNetwork(env *runtime.Env, m ModelConfig, o OptimConfig, classes, batch, channels, height, width int, seed int64) (*Net, error) {
	// ORT's CUDA provider has no training-mode BatchNormalization kernel.
	primitive := env.Options().Provider == "cuda"
	spec := graphs.Spec{Depth: m.Depth, Width: m.Width, Classes: classes, Channels: channels, Height: height, ImageWidth: width, PrimitiveNorm: primitive, CustomOps: env.CustomOps()}
	opt := graphs.Optim{Momentum: o.Momentum, WeightDecay: o.WeightDecay, SkipNormAndBias: !o.DecayNormAndBias}
	tr, err := graphs.BuildTraining(spec, batch, opt)
	if err != nil {
		return nil, err
	}
	ev, err := graphs.BuildEval(spec)
	if err != nil {
		return nil, err
	}
	n := &Net{tr: tr, env: env, spec: spec, optim: opt, batch: batch, cur: map[string]*runtime.Tensor{}, next: map[string]*runtime.Tensor{}, fixed: map[string]*runtime.Tensor{}}
	if err := n.alloc(); err != nil {
		n.Close()
		return nil, err
	}
	init := graphs.Init(tr.Params, uint64(seed))
	for _, p := range tr.Params {
		copy(n.cur[p.Name].GetData(), init[p.Name])
	}
	for name, g := range map[**runtime.Session]*graphs.Graph{&n.fwd: tr.Forward, &n.bwd: tr.Backward, &n.eval: ev} {
		model, err := g.Marshal()
		if err == nil {
			*name, err = env.NewSession(model, g.Inputs(), g.Outputs(), nil)
		}
		if err != nil {
			n.Close()
			return nil, fmt.Errorf("pipeline: %s: %w", g.Outputs()[0], err)
		}
	}
	return n, nil
}

func (n *Net) alloc() error {
	newT := func(shape []int64) (*runtime.Tensor, error) {
		size := int64(1)
		for _, d := range shape {
			size *= d
		}
		return runtime.NewTensor(make([]float32, size), shape...)
	}
	pair := func(name string, shape []int64) error {
		a, err := newT(shape)
		if err != nil {
			return err
		}
		n.cur[name] = a
		b, err := newT(shape)
		if err != nil {
			return err
		}
		n.next[name] = b
		n.order = append(n.order, name)
		return nil
	}
	for _, p := range n.tr.Params {
		if err := pair(p.Name, p.Shape); err != nil {
			return err
		}
		if p.Kind.Trainable() {
			if err := pair(p.Name+".momentum", p.Shape); err != nil {
				return err
			}
			n.bwdSwaps = append(n.bwdSwaps, p.Name, p.Name+".momentum")
		} else {
			n.fwdSwaps = append(n.fwdSwaps, p.Name)
		}
	}
	fixed := append([]string{"x", "logits", "dlogits", "lr", "onehot", "offset", "weight", "scale"}, n.tr.Saved...)
	for _, name := range fixed {
		var shape []int64
		switch name {
		case "lr", "scale":
			shape = []int64{1}
		case "weight":
			shape = []int64{int64(n.batch), 1}
		case "dlogits", "onehot", "offset":
			shape = n.tr.Forward.Shape("logits")
		default:
			shape = n.tr.Forward.Shape(name)
		}
		t, err := newT(shape)
		if err != nil {
			return err
		}
		n.fixed[name] = t
	}
	n.x = n.fixed["x"].GetData()
	n.logits = n.fixed["logits"].GetData()
	n.dlogits = n.fixed["dlogits"].GetData()
	n.lr = n.fixed["lr"].GetData()
	return nil
}

// values resolves graph value names to tensors: fixed buffers, the live
// state, or (for outputs named "<state>.next") the state's other buffer.
func (n *Net) values(names []string) ([]runtime.Value, error) {
	out := make([]runtime.Value, len(names))
	for i, name := range names {
		switch {
		case n.fixed[name] != nil:
			out[i] = n.fixed[name]
		case n.cur[name] != nil:
			out[i] = n.cur[name]
		case len(name) > 5 && name[len(name)-5:] == ".next" && n.next[name[:len(name)-5]] != nil:
			out[i] = n.next[name[:len(name)-5]]
		default:
			return nil, fmt.Errorf("pipeline: no buffer for graph value %q", name)
		}
	}
	return out, nil
}

func (n *Net) swap(names []string) {
	for _, name := range names {
		n.cur[name], n.next[name] = n.next[name], n.cur[name]
	}
}

// Classes is the number of logits per image.
func (n *Net) Classes() int { return n.tr.Spec.Classes }

// Batch is the training batch size.
func (n *Net) Batch() int { return n.batch }

// Forward runs the training-mode forward pass (batch statistics; running
// statistics updated) and returns the logits, valid until the next call.
func (n *Net) Forward(x []float32) ([]float32, error) {
	if len(x) != len(n.x) {
		return nil, fmt.Errorf("pipeline: forward with %d values; want %d (batch %d)", len(x), len(n.x), n.batch)
	}
	copy(n.x, x)
	in, err := n.values(n.fwd.Inputs())
	if err != nil {
		return nil, err
	}
	out, err := n.values(n.fwd.Outputs())
	if err != nil {
		return nil, err
	}
	if err := n.fwd.Run(in, out); err != nil {
		return nil, fmt.Errorf("pipeline: forward: %w", err)
	}
	n.swap(n.fwdSwaps)
	return n.logits, nil
}

// Backward injects dL/dlogits and applies one SGD step with learning rate lr.
func (n *Net) Backward(dlogits []float32, lr float32) error {
	if len(dlogits) != len(n.dlogits) {
		return fmt.Errorf("pipeline: backward with %d gradients; want %d", len(dlogits), len(n.dlogits))
	}
	copy(n.dlogits, dlogits)
	n.lr[0] = lr
	in, err := n.values(n.bwd.Inputs())
	if err != nil {
		return err
	}
	out, err := n.values(n.bwd.Outputs())
	if err != nil {
		return err
	}
	if err := n.bwd.Run(in, out); err != nil {
		return fmt.Errorf("pipeline: backward: %w", err)
	}
	n.swap(n.bwdSwaps)
	return nil
}

// FusedStep runs a whole SGD step in one ORT run for a loss of the softmax
// cross-entropy family, given per sample (see graphs.BuildFused):
// dL/dlogits_j = weight_j·scale·(softmax(scale·logits_j + offset_j) − onehot(labels_j)).
// It returns the logits before the update, valid until the next call.
func (n *Net) FusedStep(x []float32, labels []int32, weight []float32, scale float32, offset []float32, lr float32) ([]float32, error) {
	c := n.spec.Classes
	if len(x) != len(n.x) || len(labels) != n.batch || len(weight) != n.batch || len(offset) != n.batch*c {
		return nil, fmt.Errorf("pipeline: fused step with %d inputs, %d labels, %d weights, %d offsets; want %d, %d, %d, %d",
			len(x), len(labels), len(weight), len(offset), len(n.x), n.batch, n.batch, n.batch*c)
	}
	if n.fused == nil {
		g, err := graphs.BuildFused(n.spec, n.batch, n.optim)
		if err != nil {
			return nil, err
		}
		model, err := g.Marshal()
		if err != nil {
			return nil, err
		}
		if n.fused, err = n.env.NewSession(model, g.Inputs(), g.Outputs(), nil); err != nil {
			return nil, fmt.Errorf("pipeline: fused step: %w", err)
		}
	}
	copy(n.x, x)
	onehot := n.fixed["onehot"].GetData()
	clear(onehot)
	w := n.fixed["weight"].GetData()
	for j, y := range labels {
		if y < 0 || int(y) >= c {
			return nil, fmt.Errorf("pipeline: label %d of sample %d is not in [0, %d)", y, j, c)
		}
		onehot[j*c+int(y)] = 1
		w[j] = weight[j] * scale
	}
	copy(n.fixed["offset"].GetData(), offset)
	n.fixed["scale"].GetData()[0] = scale
	n.lr[0] = lr
	in, err := n.values(n.fused.Inputs())
	if err != nil {
		return nil, err
	}
	out, err := n.values(n.fused.Outputs())
	if err != nil {
		return nil, err
	}
	if err := n.fused.Run(in, out); err != nil {
		return nil, fmt.Errorf("pipeline: fused step: %w", err)
	}
	n.swap(n.fwdSwaps)
	n.swap(n.bwdSwaps)
	return n.logits, nil
}

// Predict runs the evaluation-mode network on n images.
func (n *Net) Predict(x []float32, count int) ([]float32, error) {
	s := n.tr.Spec
	per := s.Channels * s.Height * s.ImageWidth
	if count < 1 || len(x) != count*per {
		return nil, fmt.Errorf("pipeline: predict %d images from %d values; want %d per image", count, len(x), per)
	}
	xt, err := runtime.NewTensor(x, int64(count), int64(s.Channels), int64(s.Height), int64(s.ImageWidth))
	if err != nil {
		return nil, err
	}
	defer xt.Destroy()
	logits := make([]float32, count*s.Classes)
	lt, err := runtime.NewTensor(logits, int64(count), int64(s.Classes))
	if err != nil {
		return nil, err
	}
	defer lt.Destroy()
	in := make([]runtime.Value, len(n.eval.Inputs()))
	for i, name := range n.eval.Inputs() {
		if name == "x" {
			in[i] = xt
			continue
		}
		in[i] = n.cur[name]
	}
	if err := n.eval.Run(in, []runtime.Value{lt}); err != nil {
		return nil, fmt.Errorf("pipeline: predict: %w", err)
	}
	return logits, nil
}

// State returns copies of parameters, "<param>.momentum" buffers and running statistics.
func (n *Net) State() map[string][]float32 {
	out := make(map[string][]float32, len(n.order))
	for _, name := range n.order {
		out[name] = slices.Clone(n.cur[name].GetData())
	}
	return out
}

// SetState loads state; every name must be present with the right length.
func (n *Net) SetState(s map[string][]float32) error {
	for _, name := range n.order {
		v, ok := s[name]
		if !ok {
			return fmt.Errorf("pipeline: state lacks %s", name)
		}
		if dst := n.cur[name].GetData(); len(v) != len(dst) {
			return fmt.Errorf("pipeline: state %s has %d values; the network has %d", name, len(v), len(dst))
		}
	}
	if len(s) != len(n.order) {
		extra := slices.Sorted(maps.Keys(s))
		extra = slices.DeleteFunc(extra, func(k string) bool { return n.cur[k] != nil })
		return fmt.Errorf("pipeline: state has entries the network lacks: %v", extra)
	}
	for _, name := range n.order {
		copy(n.cur[name].GetData(), s[name])
	}
	return nil
}

// Params describes the network's state tensors.
func (n *Net) Params() []graphs.Param { return n.tr.Params }

// Close frees the sessions and tensors.
func (n *Net) Close() error {
	for _, s := range []*runtime.Session{n.fwd, n.bwd, n.eval, n.fused} {
		s.Destroy()
	}
	for _, m := range []map[string]*runtime.Tensor{n.cur, n.next, n.fixed} {
		for _, t := range m {
			t.Destroy()
		}
	}
	n.cur, n.next, n.fixed = nil, nil, nil
	return nil
}
