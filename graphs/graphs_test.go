package graphs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/internal/testseed"
	"github.com/longtail-ml/longtail/runtime/ortest"

	"github.com/longtail-ml/longtail/runtime"
)

// openEnv opens ORT for a test (see runtime/ortest).
func openEnv(t testing.TB) *runtime.Env { return ortest.Open(t, runtime.Options{}) }

// runGraph executes g once with ORT-allocated outputs and returns copies of them.
func runGraph(t testing.TB, env *runtime.Env, g *Graph, in map[string][]float32) map[string][]float32 {
	t.Helper()
	res, err := tryGraph(t, env, g, in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tryGraph is runGraph returning the run's error.
func tryGraph(t testing.TB, env *runtime.Env, g *Graph, in map[string][]float32) (map[string][]float32, error) {
	t.Helper()
	model, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := env.NewSession(model, g.Inputs(), g.Outputs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	ins := make([]runtime.Value, len(g.Inputs()))
	for i, name := range g.Inputs() {
		d, ok := in[name]
		if !ok {
			t.Fatalf("no value for input %s", name)
		}
		tt, err := runtime.NewTensor(d, g.Shape(name)...)
		if err != nil {
			t.Fatal(err)
		}
		defer tt.Destroy()
		ins[i] = tt
	}
	outs := make([]runtime.Value, len(g.Outputs()))
	if err := s.Run(ins, outs); err != nil {
		return nil, err
	}
	res := map[string][]float32{}
	for i, name := range g.Outputs() {
		res[name] = append([]float32(nil), outs[i].(*runtime.Tensor).GetData()...)
		outs[i].Destroy()
	}
	return res, nil
}

func TestResNet32ParamCount(t *testing.T) {
	// He et al.'s ResNet-32 for CIFAR-10 has 0.46M parameters; LDAM-DRW's resnet32 has 464,154.
	if got := CountTrainable(ResNet32(10).Params()); got != 464154 {
		t.Fatalf("ResNet-32 has %d trainable parameters, want 464154", got)
	}
}

func TestSpecValidate(t *testing.T) {
	ok := Spec{Depth: 32, Width: 16, Classes: 10, Channels: 3, Height: 32, ImageWidth: 32}
	tests := []struct {
		edit func(*Spec)
		want string // the error starts with the key and names the bad value
	}{
		{func(s *Spec) { s.Depth = 30 }, "model.depth: 30 "},
		{func(s *Spec) { s.Depth = 2 }, "model.depth: 2 "},
		{func(s *Spec) { s.Width = 6 }, "model.width: 6;"},
		{func(s *Spec) { s.Classes = 1 }, "model: 1 classes"},
		{func(s *Spec) { s.Height = 30 }, "model: input 3×30×32"},
		{func(s *Spec) { s.Channels = 0 }, "model: input 0×32×32"},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("%+v: %v", ok, err)
	}
	for _, tc := range tests {
		s := ok
		tc.edit(&s)
		err := s.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: error %v; want one starting %q", s, err, tc.want)
		}
	}
}

// smallCase is a tiny network with random (not initial) state and inputs.
type smallCase struct {
	spec    Spec
	batch   int
	state   map[string][]float32
	x, dlog []float32
}

func newSmallCase(t *testing.T) smallCase {
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	s := Spec{Depth: 8, Width: 4, Classes: 5, Channels: 3, Height: 8, ImageWidth: 8}
	c := smallCase{spec: s, batch: 6, state: Init(s.Params(), seed)}
	for _, p := range s.Params() {
		v := c.state[p.Name]
		switch p.Kind {
		case NormScale, RunningVar:
			for i := range v {
				v[i] = float32(0.5 + rng.Float64())
			}
		case NormBias, RunningMean:
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
	}
	c.x = make([]float32, c.batch*s.Channels*s.Height*s.ImageWidth)
	for i := range c.x {
		c.x[i] = float32(rng.NormFloat64())
	}
	c.dlog = make([]float32, c.batch*s.Classes)
	for i := range c.dlog {
		c.dlog[i] = float32(rng.NormFloat64())
	}
	return c
}

// step runs the forward and backward graphs once with lr 0 and returns both outputs.
func (c smallCase) step(t *testing.T, env *runtime.Env, tr *Training) (fwd, bwd map[string][]float32) {
	in := map[string][]float32{"x": c.x}
	for k, v := range c.state {
		in[k] = v
	}
	fwd = runGraph(t, env, tr.Forward, in)
	bin := map[string][]float32{"dlogits": c.dlog, "lr": {0}}
	for _, name := range tr.Backward.Inputs() {
		if v, ok := in[name]; ok {
			bin[name] = v
		} else if v, ok := fwd[name]; ok {
			bin[name] = v
		}
	}
	for _, p := range tr.Trainable() {
		bin[p.Name+".momentum"] = make([]float32, p.Size())
	}
	return fwd, runGraph(t, env, tr.Backward, bin)
}

func relErr(got []float32, want []float64) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	return math.Sqrt(num / math.Max(den, 1e-30))
}

// Both BatchNorm forms (ONNX's operator, and primitives for the CUDA
// provider) against the float64 reference.
// Each on the standard-op path and with custom ops.
func TestGradientsMatchFloat64Reference(t *testing.T) {
	for _, primitive := range []bool{false, true} {
		t.Run(fmt.Sprintf("primitive_norm=%v", primitive), func(t *testing.T) {
			paths(t, func(t *testing.T, custom bool) { testGradientsMatchFloat64Reference(t, primitive, custom) })
		})
	}
}

func testGradientsMatchFloat64Reference(t *testing.T, primitive, custom bool) {
	env := openEnv(t)
	c := newSmallCase(t)
	c.spec.PrimitiveNorm = primitive
	check := onPath(t, env, &c.spec, custom)
	tr, err := BuildTraining(c.spec, c.batch, Optim{Momentum: 0.9, Grads: true})
	if err != nil {
		t.Fatal(err)
	}
	check(tr.Backward)
	fwd, bwd := c.step(t, env, tr)

	ref := newRefNet(c.spec, c.state)
	logits, backward := ref.forward(c.x, c.batch)
	dl := make([]float64, len(c.dlog))
	for i, v := range c.dlog {
		dl[i] = float64(v)
	}
	backward(dl)

	if e := relErr(fwd["logits"], logits); e > 1e-5 {
		t.Errorf("logits: relative error %.3g", e)
	}
	worst := 0.0
	for _, p := range tr.Trainable() {
		e := relErr(bwd[p.Name+".grad"], ref.grad[p.Name])
		worst = math.Max(worst, e)
		if e > 1e-4 {
			t.Errorf("%s: gradient relative error %.3g > 1e-4", p.Name, e)
		}
	}
	t.Logf("worst gradient relative error against float64: %.2g", worst)
	for _, p := range tr.Running() {
		if e := relErr(fwd[p.Name+".next"], ref.running[p.Name]); e > 1e-5 {
			t.Errorf("%s: running statistic relative error %.3g", p.Name, e)
		}
	}
}

// finiteDiff compares grad(name, i) with central differences of the float64
// forward's objective Σ dlogits·logits at a few random entries of every
// trainable parameter, and reports those whose relative error exceeds tol.
func finiteDiff(t *testing.T, c smallCase, seed uint64, tol float64, what string, grad func(name string, i int) float32) {
	t.Helper()
	dl := f64(c.dlog)
	objective := func(name string, i int, h float64) float64 {
		r := newRefNet(c.spec, c.state)
		r.p[name][i] += h
		logits, _ := r.forward(c.x, c.batch)
		var s float64
		for j, v := range logits {
			s += v * dl[j]
		}
		return s
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	for _, p := range c.spec.Params() {
		if !p.Kind.Trainable() {
			continue
		}
		var fd []float64
		var an []float32
		for range 4 {
			i := rng.IntN(p.Size())
			const h = 1e-6
			fd = append(fd, (objective(p.Name, i, h)-objective(p.Name, i, -h))/(2*h))
			an = append(an, grad(p.Name, i))
		}
		if e := relErr(an, fd); e > tol {
			t.Errorf("%s: %s vs finite differences: relative error %.3g (analytic %v, fd %v)", p.Name, what, e, an, fd)
		}
	}
}

// The float64 reference itself against central differences of its own forward.
func TestReferenceMatchesFiniteDifferences(t *testing.T) {
	c := newSmallCase(t)
	r := newRefNet(c.spec, c.state)
	_, backward := r.forward(c.x, c.batch)
	backward(f64(c.dlog))
	finiteDiff(t, c, 2, 1e-4, "reference gradient", func(name string, i int) float32 { return float32(r.grad[name][i]) })
}

// ORT's gradients against central differences of the float64 forward: a
// float32 forward is too noisy for differences small enough to stay clear of
// the ReLU kinks and of BatchNorm's curvature on so small a batch.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	paths(t, func(t *testing.T, custom bool) {
		env := openEnv(t)
		c := newSmallCase(t)
		check := onPath(t, env, &c.spec, custom)
		tr, err := BuildTraining(c.spec, c.batch, Optim{Grads: true})
		if err != nil {
			t.Fatal(err)
		}
		check(tr.Backward)
		_, bwd := c.step(t, env, tr)
		finiteDiff(t, c, 4, 1e-2, "ORT gradient", func(name string, i int) float32 { return bwd[name+".grad"][i] })
	})
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// The fused graph's gradients equal the split graphs' for the same
// dL/dlogits, on each path.
func TestFusedGradientsEqualSplit(t *testing.T) { paths(t, testFusedGradientsEqualSplit) }

func testFusedGradientsEqualSplit(t *testing.T, custom bool) {
	env := openEnv(t)
	c := newSmallCase(t)
	check := onPath(t, env, &c.spec, custom)
	o := Optim{Momentum: 0.9, WeightDecay: 5e-4, Grads: true}
	tr, err := BuildTraining(c.spec, c.batch, o)
	if err != nil {
		t.Fatal(err)
	}
	fg, err := BuildFused(c.spec, c.batch, o)
	if err != nil {
		t.Fatal(err)
	}
	check(tr.Backward)
	check(fg)
	k := c.spec.Classes
	in := map[string][]float32{"x": c.x, "lr": {0.1}, "scale": {1}}
	for name, v := range c.state {
		in[name] = v
	}
	for _, p := range tr.Trainable() {
		in[p.Name+".momentum"] = make([]float32, p.Size())
	}
	onehot := make([]float32, c.batch*k)
	weight := make([]float32, c.batch)
	for j := 0; j < c.batch; j++ {
		onehot[j*k+j%k] = 1
		weight[j] = float32(j+1) / 10
	}
	in["onehot"], in["weight"], in["offset"] = onehot, weight, make([]float32, c.batch*k)
	fused := runGraph(t, env, fg, in)
	// The same gradient, computed in Go from the split forward's logits.
	fwd := runGraph(t, env, tr.Forward, in)
	logits := fwd["logits"]
	dl := make([]float32, c.batch*k)
	for j := 0; j < c.batch; j++ {
		m := math.Inf(-1)
		for i := 0; i < k; i++ {
			m = math.Max(m, float64(logits[j*k+i]))
		}
		var s float64
		for i := 0; i < k; i++ {
			s += math.Exp(float64(logits[j*k+i]) - m)
		}
		for i := 0; i < k; i++ {
			dl[j*k+i] = weight[j] * (float32(math.Exp(float64(logits[j*k+i])-m)/s) - onehot[j*k+i])
		}
	}
	bin := map[string][]float32{"dlogits": dl}
	for name, v := range in {
		bin[name] = v
	}
	for name, v := range fwd {
		bin[name] = v
	}
	split := runGraph(t, env, tr.Backward, bin)
	for _, p := range tr.Trainable() {
		for _, out := range []string{p.Name + ".grad", p.Name + ".next"} {
			if e := relErr(fused[out], f64(split[out])); e > 1e-5 {
				t.Errorf("%s: fused differs from split by %.3g", out, e)
			}
		}
	}
	for _, p := range tr.Running() {
		if e := relErr(fused[p.Name+".next"], f64(fwd[p.Name+".next"])); e > 1e-6 {
			t.Errorf("%s: fused differs from split by %.3g", p.Name, e)
		}
	}
}
