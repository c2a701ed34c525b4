package graphs

import (
	"fmt"
	"os"
	"path/filepath"
)

// Optim holds SGD's constants, baked into the backward graph. The update is
// PyTorch's: d = g + wd·p; v = μ·v + d; p = p − lr·v.
type Optim struct {
	Momentum    float32
	WeightDecay float32
	// SkipNormAndBias exempts BatchNorm γ, β and the linear bias from weight decay.
	SkipNormAndBias bool
	// Grads adds every raw gradient as a backward output named "<param>.grad".
	Grads bool
}

// PaperOptim is the seed paper's optimiser: momentum 0.9, weight decay 5e-4.
var PaperOptim = Optim{Momentum: 0.9, WeightDecay: 5e-4}

// Training is the pair of graphs that make one SGD step.
//
// Forward inputs: "x" (Batch×C×H×W) and every entry of Params by name.
// Forward outputs: "logits", then "<running stat>.next" for each BatchNorm
// running statistic, then Saved.
//
// Backward inputs (in Backward.Inputs() order): "dlogits" (dL/dlogits,
// Batch×Classes), "lr" (shape [1]), forward values it reads (x, parameters,
// Saved), and "<param>.momentum" for each trainable parameter.
// Backward outputs: "<param>.next" and "<param>.momentum.next" for each
// trainable parameter, then "<param>.grad" if Optim.Grads.
type Training struct {
	Spec   Spec
	Batch  int
	Params []Param
	// Saved lists the forward intermediates the backward graph reads.
	Saved    []string
	Forward  *Graph
	Backward *Graph
}

// Running lists the BatchNorm running statistics (not trained).
func (t *Training) Running() []Param { return filter(t.Params, false) }

// Trainable lists the parameters SGD updates.
func (t *Training) Trainable() []Param { return filter(t.Params, true) }

func filter(ps []Param, trainable bool) []Param {
	var out []Param
	for _, p := range ps {
		if p.Kind.Trainable() == trainable {
			out = append(out, p)
		}
	}
	return out
}

// BuildTraining builds the forward and backward graphs of one SGD step at a
// fixed batch size.
func BuildTraining(s Spec, batch int, o Optim) (t *Training, err error) {
	if err := checkTraining(s, batch); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("graphs: build training graphs: %v", r)
		}
	}()
	fwd := NewGraph(fmt.Sprintf("resnet%d_forward", s.Depth))
	t = trainingNet(fwd, s, batch)
	b, grads, err := Backward(fwd, "logits", "dlogits", t.wrt())
	if err != nil {
		return nil, err
	}
	sgd(b, t.Trainable(), grads, o)
	t.Backward = b
	// Forward intermediates that the backward graph reads become forward outputs.
	for _, in := range b.Inputs() {
		if fwd.IsInput(in) || !fwd.Has(in) || in == "logits" {
			continue
		}
		t.Saved = append(t.Saved, in)
		fwd.Output(in)
	}
	return t, nil
}

func checkTraining(s Spec, batch int) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if batch < 2 {
		return fmt.Errorf("graphs: batch %d; training needs at least 2 images for batch statistics", batch)
	}
	return nil
}

// trainingNet appends the training-mode network to g, with the updated
// running statistics as outputs after "logits".
func trainingNet(g *Graph, s Spec, batch int) *Training {
	g.custom = s.CustomOps
	n := buildNet(g, s, batch, true)
	t := &Training{Spec: s, Batch: batch, Params: n.params, Forward: g}
	for _, p := range t.Running() {
		g.Output(n.running[p.Name])
	}
	return t
}

// wrt names the trainable parameters.
func (t *Training) wrt() []string {
	var names []string
	for _, p := range t.Trainable() {
		names = append(names, p.Name)
	}
	return names
}

// sgd appends the update of every trainable parameter to b: input "lr",
// inputs "<param>.momentum", outputs "<param>.next" and "<param>.momentum.next"
// (and "<param>.grad" with o.Grads). With custom ops each parameter's update
// is one SGD op.
func sgd(b *Graph, params []Param, grads map[string]string, o Optim) {
	lr := b.Input("lr", 1)
	var mu, wd string
	if !b.custom {
		mu, wd = b.Scalar(o.Momentum), b.Scalar(o.WeightDecay)
	}
	var gradOuts []string
	for _, p := range params {
		g := grads[p.Name]
		decay := o.WeightDecay != 0 && !(o.SkipNormAndBias && (p.Kind == NormScale || p.Kind == NormBias || p.Kind == LinearBias))
		v := b.Input(p.Name+".momentum", p.Shape...)
		next, vnext := p.Name+".next", p.Name+".momentum.next"
		if b.custom {
			var w float32
			if decay {
				w = o.WeightDecay
			}
			b.CustomNodeNamed("SGD", []string{p.Name, g, v, lr}, []string{next, vnext}, [][]int64{p.Shape, p.Shape},
				AFloat("momentum", o.Momentum), AFloat("weight_decay", w))
		} else {
			d := g
			if decay {
				d = b.Add(g, b.Mul(p.Name, wd))
			}
			nv := b.Add(b.Mul(v, mu), d)
			b.Rename(b.Sub(p.Name, b.Mul(nv, lr)), next)
			b.Rename(nv, vnext)
		}
		b.Output(next)
		b.Output(vnext)
		if o.Grads {
			gradOuts = append(gradOuts, b.Rename(g, p.Name+".grad"))
		}
	}
	for _, g := range gradOuts {
		b.Output(g)
	}
}

// BuildFused builds one graph for a whole SGD step with a loss of the
// softmax-cross-entropy family, whose gradient Go describes per sample:
//
//	dL/dlogits_j = weight_j · (softmax(scale·logits_j + offset_j) − onehot_j)
//
// (weight_j includes the loss's scale and normalisation; see loss.Affine).
// Inputs: "x", Params, "onehot" and "offset" (Batch×Classes), "weight"
// (Batch×1), "scale" and "lr" (shape [1]), "<param>.momentum". Outputs:
// "logits" (before the update), "<running stat>.next", then the SGD outputs
// as in Training. Only parameters, momentum, the batch and these
// coefficients cross between host and device.
func BuildFused(s Spec, batch int, o Optim) (g *Graph, err error) {
	if err := checkTraining(s, batch); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("graphs: build fused graph: %v", r)
		}
	}()
	g = NewGraph(fmt.Sprintf("resnet%d_step", s.Depth))
	t := trainingNet(g, s, batch)
	b, c := int64(batch), int64(s.Classes)
	onehot := g.Input("onehot", b, c)
	offset := g.Input("offset", b, c)
	weight := g.Input("weight", b, 1)
	scale := g.Input("scale", 1)
	z := g.Add(g.Mul("logits", scale), offset)
	p := g.Node("Softmax", []string{z}, [][]int64{{b, c}}, AInt("axis", 1))[0]
	dlogits := g.Mul(g.Sub(p, onehot), weight)
	grads, err := BackwardInto(g, "logits", dlogits, t.wrt())
	if err != nil {
		return nil, err
	}
	sgd(g, t.Trainable(), grads, o)
	return g, nil
}

// BuildEval builds the evaluation-mode network (BatchNorm with running
// statistics) with a dynamic batch: inputs "x" and Params, output "logits".
// With s.CustomOps its stride-1 convolutions are Conv3x3 ops.
func BuildEval(s Spec) (g *Graph, err error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("graphs: build eval graph: %v", r)
		}
	}()
	g = NewGraph(fmt.Sprintf("resnet%d_eval", s.Depth))
	buildNet(g, s, -1, false)
	return g, nil
}

// WriteAll writes forward.onnx, backward.onnx and eval.onnx for spec into dir.
func WriteAll(dir string, s Spec, batch int, o Optim) error {
	t, err := BuildTraining(s, batch, o)
	if err != nil {
		return err
	}
	e, err := BuildEval(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("graphs: %w", err)
	}
	for name, g := range map[string]*Graph{"forward.onnx": t.Forward, "backward.onnx": t.Backward, "eval.onnx": e} {
		b, err := g.Marshal()
		if err != nil {
			return err
		}
		if err := writeAtomic(filepath.Join(dir, name), b); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644) // CreateTemp makes it 0600; the graphs are for anyone to open
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
