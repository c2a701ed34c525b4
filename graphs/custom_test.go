package graphs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/longtail-ml/longtail/internal/ci"
	"github.com/longtail-ml/longtail/internal/testseed"
	"github.com/longtail-ml/longtail/runtime"
	"github.com/longtail-ml/longtail/runtime/ortest"
)

// randomInputs gives every input of g standard normal values.
func randomInputs(g *Graph, rng *rand.Rand) map[string][]float32 {
	in := map[string][]float32{}
	for _, name := range g.Inputs() {
		v := make([]float32, numel(g.Shape(name)))
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		in[name] = v
	}
	return in
}

// needCustom skips a test of the custom ops where the Env does not run them:
// where runtime.custom_ops is off (LONGTAIL_CUSTOM_OPS=off) or auto left out
// kernels that run no AVX-512 code here (LONGTAIL_CUSTOM_OPS=on tests them,
// as .ci/run does), and, failing under CI=true, where they did not register.
func needCustom(t *testing.T, env *runtime.Env) {
	t.Helper()
	if env.CustomOps() {
		return
	}
	mode := env.Options().CustomOps
	if mode == "off" {
		t.Skip("runtime.custom_ops is off")
	}
	if what, fast := runtime.KernelBuild(); mode == "auto" && !fast {
		// Not a failure under CI: .ci/run tests them again with LONGTAIL_CUSTOM_OPS=on.
		t.Skipf("runtime.custom_ops auto leaves out the kernels (%s); LONGTAIL_CUSTOM_OPS=on tests them", what)
	}
	ci.Skip(t, "longtail's custom ops did not register (runtime.custom_ops %q)", mode)
}

// paths runs f on the standard-op graphs and on the custom-op graphs.
func paths(t *testing.T, f func(t *testing.T, custom bool)) {
	for _, custom := range []bool{false, true} {
		t.Run(fmt.Sprintf("custom_ops=%v", custom), func(t *testing.T) { f(t, custom) })
	}
}

// onPath makes s build the graphs of one path (skipping where env cannot
// run custom ops), and returns a check that a built graph is on it.
func onPath(t *testing.T, env *runtime.Env, s *Spec, custom bool) func(*Graph) {
	t.Helper()
	if custom {
		needCustom(t, env)
	}
	s.CustomOps = custom
	return func(g *Graph) {
		t.Helper()
		if g.UsesCustomOps() != custom {
			t.Fatalf("%s uses custom ops: %v; want %v", g.name, g.UsesCustomOps(), custom)
		}
	}
}

// layerGrads builds x → Conv → BatchNorm → ReLU (or → + other → ReLU) and
// the backward graph of Σ seed·out with respect to x, other and the
// parameters; its outputs are out, the batch statistics and the gradients.
// With fusedForward the forward is one BatchNormRelu op, else standard ops;
// the convolution is ONNX Conv, whose weight gradient with custom ops is
// ConvWeightGrad (any stride).
func layerGrads(t *testing.T, n, ci, co, h, w, stride int64, relu, custom, fusedForward bool) *Graph {
	t.Helper()
	g := NewGraph("layer")
	g.custom = custom
	x := g.Input("x", n, ci, h, w)
	wt := g.Input("w", co, ci, 3, 3)
	scale, bias := g.Input("scale", co), g.Input("bias", co)
	rm, rv := g.Input("rm", co), g.Input("rv", co)
	wrt := []string{x, wt, scale, bias}
	conv := g.Conv(x, wt, stride, 1)
	other := ""
	if !relu {
		// The ReLU's masked gradient also flows to the other branch.
		other = g.Input("other", n, co, g.Shape(conv)[2], g.Shape(conv)[3])
		wrt = append(wrt, other)
	}
	var y, mean, variance string
	if fusedForward {
		y, mean, variance = g.BatchNormRelu(conv, scale, bias, other, BNEps)
	} else {
		y, mean, variance = g.BatchNormTrain(conv, scale, bias, rm, rv, BNEps)
		if other != "" {
			y = g.Add(y, other)
		}
		y = g.Unary("Relu", y)
	}
	g.Output(g.Rename(y, "out"))
	g.Output(g.Rename(mean, "mean"))
	g.Output(g.Rename(variance, "var"))
	seed := g.Input("seed", g.Shape(y)...)
	grads, err := BackwardInto(g, y, seed, wrt)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range wrt {
		g.Output(g.Rename(grads[v], v+".grad"))
	}
	if custom != g.UsesCustomOps() {
		t.Fatalf("custom ops %v, but the graph uses them: %v", custom, g.UsesCustomOps())
	}
	return g
}

// The custom kernels (ConvWeightGrad, BatchNormRelu, BatchNormReluGrad) give the standard-op graph's outputs and gradients to
// float32 accuracy, on shapes that
// exercise every tile of the dW kernel: channel counts that are not multiples
// of 16 or of 3, stride 2, rectangular images, more images than tasks.
func TestCustomOpsEqualStandard(t *testing.T) {
	env := openEnv(t)
	needCustom(t, env)
	rng := rand.New(rand.NewPCG(testseed.New(t), 7))
	cases := []struct {
		n, ci, co, h, w, stride int64
		relu                    bool
	}{
		{2, 3, 16, 8, 8, 1, true},
		{3, 5, 7, 9, 6, 1, false},
		{20, 16, 32, 8, 8, 2, true},
		{4, 17, 33, 7, 7, 2, false},
		{5, 32, 48, 6, 10, 1, true},
		{1, 2, 1, 4, 4, 1, true},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("n%d_ci%d_co%d_%dx%d_s%d_relu=%v", c.n, c.ci, c.co, c.h, c.w, c.stride, c.relu), func(t *testing.T) {
			std := layerGrads(t, c.n, c.ci, c.co, c.h, c.w, c.stride, c.relu, false, false)
			in := randomInputs(std, rng)
			for i := range in["scale"] {
				in["scale"][i] = float32(0.5 + rng.Float64())
			}
			for i := range in["x"] {
				in["x"][i] += 3 // a mean far from 0, for the variance's cancellation
			}
			want := runGraph(t, env, std, in)
			for _, fused := range []bool{false, true} {
				got := runGraph(t, env, layerGrads(t, c.n, c.ci, c.co, c.h, c.w, c.stride, c.relu, true, fused), in)
				for _, name := range std.Outputs() {
					if e := relErr(got[name], f64(want[name])); e > 1e-5 || math.IsNaN(e) {
						t.Errorf("fused forward %v: %s: custom differs from standard by %.3g", fused, name, e)
					}
				}
			}
		})
	}
}

// Conv3x3 equals ONNX Conv (stride 1, padding 1), with flip its input
// gradient, and with a third input the sum of the convolution and it, for
// row-vectorised widths (32, 16) and others.
func TestConv3x3EqualsConv(t *testing.T) {
	env := openEnv(t)
	needCustom(t, env)
	rng := rand.New(rand.NewPCG(testseed.New(t), 8))
	for _, c := range []struct{ n, ci, co, h, w int64 }{
		{3, 16, 16, 32, 32}, {2, 3, 16, 32, 32}, {17, 5, 13, 16, 16}, {2, 7, 9, 8, 8}, {3, 4, 6, 5, 7}, {2, 2, 3, 3, 32}, {1, 64, 64, 8, 8}, {20, 8, 128, 4, 4}, {2, 3, 2, 1, 1},
	} {
		t.Run(fmt.Sprintf("n%d_ci%d_co%d_%dx%d", c.n, c.ci, c.co, c.h, c.w), func(t *testing.T) {
			g := NewGraph("conv")
			x := g.Input("x", c.n, c.ci, c.h, c.w)
			w := g.Input("w", c.co, c.ci, 3, 3)
			dy := g.Input("dy", c.n, c.co, c.h, c.w)
			g.Output(g.Rename(g.Conv(x, w, 1, 1), "want"))
			g.Output(g.Rename(g.CustomNode("Conv3x3", []string{x, w}, [][]int64{{c.n, c.co, c.h, c.w}})[0], "got"))
			// The input gradient of Σ dy·conv(x, w), by the standard rule.
			g.custom = false
			dx := convGrad(g, g.Nodes()[0], []string{dy}, []bool{true, false})[0]
			g.Output(g.Rename(dx, "want_dx"))
			g.Output(g.Rename(g.CustomNode("Conv3x3", []string{dy, w}, [][]int64{{c.n, c.ci, c.h, c.w}}, AInt("flip", 1))[0], "got_dx"))
			g.Output(g.Rename(g.Add(g.Conv(x, w, 1, 1), dy), "want_add"))
			g.Output(g.Rename(g.CustomNode("Conv3x3", []string{x, w, dy}, [][]int64{{c.n, c.co, c.h, c.w}})[0], "got_add"))
			out := runGraph(t, env, g, randomInputs(g, rng))
			for _, name := range []string{"", "_dx", "_add"} {
				if e := relErr(out["got"+name], f64(out["want"+name])); e > 1e-6 || math.IsNaN(e) {
					t.Errorf("Conv3x3%s differs from the standard ops by %.3g", name, e)
				}
			}
		})
	}
}

// ShortcutA and its gradient equal the standard ops' (Slice by 2, Pad on
// channels, and their gradient rules), for even and odd sizes.
func TestShortcutAEqualsStandard(t *testing.T) {
	env := openEnv(t)
	needCustom(t, env)
	rng := rand.New(rand.NewPCG(testseed.New(t), 11))
	for _, c := range []struct{ n, c, h, w, pad int64 }{{3, 16, 32, 32, 8}, {2, 5, 7, 6, 2}, {70, 4, 4, 4, 1}, {1, 3, 1, 5, 0}} {
		t.Run(fmt.Sprintf("n%d_c%d_%dx%d_pad%d", c.n, c.c, c.h, c.w, c.pad), func(t *testing.T) {
			var outs []map[string][]float32
			var in map[string][]float32
			for _, custom := range []bool{false, true} {
				g := NewGraph("shortcut")
				g.custom = custom
				x := g.Input("x", c.n, c.c, c.h, c.w)
				var y string
				if custom {
					y = g.ShortcutA(x, c.pad)
				} else {
					sub := g.Slice(x, []int64{0, 0}, []int64{c.h, c.w}, []int64{2, 3}, []int64{2, 2})
					y = g.Pad(sub, []int64{0, c.pad, 0, 0, 0, c.pad, 0, 0})
				}
				seed := g.Input("seed", g.Shape(y)...)
				grads, err := BackwardInto(g, y, seed, []string{x})
				if err != nil {
					t.Fatal(err)
				}
				g.Output(g.Rename(y, "y"))
				g.Output(g.Rename(grads[x], "dx"))
				if in == nil {
					in = randomInputs(g, rng)
				}
				outs = append(outs, runGraph(t, env, g, in))
			}
			for _, name := range []string{"y", "dx"} {
				if !slices.Equal(outs[0][name], outs[1][name]) {
					t.Errorf("%s: ShortcutA differs from the standard ops", name)
				}
			}
		})
	}
}

// Shapes the kernel does not support fail the run with one message naming
// the op and the shapes.
func TestCustomOpsBadInput(t *testing.T) {
	env := openEnv(t)
	needCustom(t, env)
	cases := []struct {
		name  string
		build func(g *Graph)
		want  string
	}{
		{"dy size", func(g *Graph) {
			g.Output(g.CustomNode("ConvWeightGrad", []string{g.Input("x", 2, 3, 8, 8), g.Input("dy", 2, 4, 5, 5)}, [][]int64{{4, 3, 3, 3}})[0])
		}, "longtail.ConvWeightGrad: dy's spatial size does not match a 3×3, padding-1 convolution of x with this stride (x 2×3×8×8, dy 2×4×5×5, stride 1)"},
		{"batch", func(g *Graph) {
			g.Output(g.CustomNode("ConvWeightGrad", []string{g.Input("x", 2, 3, 8, 8), g.Input("dy", 3, 4, 4, 4)}, [][]int64{{4, 3, 3, 3}}, AInt("stride", 2))[0])
		}, "longtail.ConvWeightGrad: x has 2 images and dy 3"},
		{"rank", func(g *Graph) {
			g.Output(g.CustomNode("ConvWeightGrad", []string{g.Input("x", 2, 3, 8), g.Input("dy", 2, 4, 8, 8)}, [][]int64{{4, 3, 3, 3}})[0])
		}, "longtail.ConvWeightGrad: input 0 has rank 3; want 4"},
		{"bn channels", func(g *Graph) {
			x := g.Input("x", 2, 3, 4, 4)
			outs := g.CustomNode("BatchNormReluGrad", []string{x, g.Input("y", 2, 3, 4, 4), g.Input("dy", 2, 3, 4, 4), g.Input("scale", 3), g.Input("mean", 4), g.Input("var", 3)},
				[][]int64{{2, 3, 4, 4}, {3}, {3}})
			g.Output(outs[0])
		}, "longtail.BatchNormReluGrad: mean has 4 entries; x has 3 channels"},
		{"sgd sizes", func(g *Graph) {
			outs := g.CustomNode("SGD", []string{g.Input("p", 4, 3), g.Input("g", 4, 3), g.Input("v", 4, 2), g.Input("lr", 1)}, [][]int64{{4, 3}, {4, 3}})
			g.Output(outs[0])
		}, "longtail.SGD: v is 4×2; p is 4×3"},
		{"conv3x3 kernel", func(g *Graph) {
			g.Output(g.CustomNode("Conv3x3", []string{g.Input("x", 2, 3, 8, 8), g.Input("w", 4, 2, 3, 3)}, [][]int64{{2, 4, 8, 8}})[0])
		}, "longtail.Conv3x3: w 4×2×3×3 (flip 0) is not a 3×3 kernel over x's 3 channels"},
		{"shortcut grad size", func(g *Graph) {
			g.Output(g.CustomNode("ShortcutAGrad", []string{g.Input("g", 2, 8, 4, 4)}, [][]int64{{2, 4, 9, 8}}, AInt("pad", 2), AInt("height", 9), AInt("width", 8))[0])
		}, "longtail.ShortcutAGrad: g is 4×4; a 9×8 input subsampled by 2 is 5×4"},
		{"bn forward residual", func(g *Graph) {
			x := g.Input("x", 2, 3, 4, 4)
			outs := g.CustomNode("BatchNormRelu", []string{x, g.Input("scale", 3), g.Input("bias", 3), g.Input("r", 2, 3, 4, 2)},
				[][]int64{{2, 3, 4, 4}, {3}, {3}})
			g.Output(outs[0])
		}, "longtail.BatchNormRelu: r's shape differs from x's"},
		{"bn relu shape", func(g *Graph) {
			x := g.Input("x", 2, 3, 4, 4)
			outs := g.CustomNode("BatchNormReluGrad", []string{x, g.Input("y", 2, 3, 4, 5), g.Input("dy", 2, 3, 4, 4), g.Input("scale", 3), g.Input("mean", 3), g.Input("var", 3)},
				[][]int64{{2, 3, 4, 4}, {3}, {3}})
			g.Output(outs[0])
		}, "longtail.BatchNormReluGrad: y's shape differs from x's"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewGraph("bad")
			c.build(g)
			in := map[string][]float32{}
			for _, name := range g.Inputs() {
				in[name] = make([]float32, numel(g.Shape(name)))
			}
			_, err := tryGraph(t, env, g, in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run: %v\nwant an error containing %q", err, c.want)
			}
		})
	}
}

// The SGD update on each path is PyTorch's, recomputed here in float64 from
// the step's own gradients: v' = μ·v + g + wd·p (no decay for BatchNorm and
// the linear bias here), p' = p − lr·v'.
func TestSGDUpdate(t *testing.T) {
	paths(t, func(t *testing.T, custom bool) {
		env := openEnv(t)
		c := newSmallCase(t)
		check := onPath(t, env, &c.spec, custom)
		o := Optim{Momentum: 0.9, WeightDecay: 5e-4, SkipNormAndBias: true, Grads: true}
		tr, err := BuildTraining(c.spec, c.batch, o)
		if err != nil {
			t.Fatal(err)
		}
		check(tr.Backward)
		rng := rand.New(rand.NewPCG(testseed.New(t), 9))
		in := map[string][]float32{"x": c.x}
		for k, v := range c.state {
			in[k] = v
		}
		fwd := runGraph(t, env, tr.Forward, in)
		const lr = 0.1
		bin := map[string][]float32{"dlogits": c.dlog, "lr": {lr}}
		for _, name := range tr.Backward.Inputs() {
			if v, ok := in[name]; ok {
				bin[name] = v
			} else if v, ok := fwd[name]; ok {
				bin[name] = v
			}
		}
		for _, p := range tr.Trainable() {
			v := make([]float32, p.Size())
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
			bin[p.Name+".momentum"] = v
		}
		out := runGraph(t, env, tr.Backward, bin)
		for _, p := range tr.Trainable() {
			wd := float64(o.WeightDecay)
			if p.Kind == NormScale || p.Kind == NormBias || p.Kind == LinearBias {
				wd = 0
			}
			g, w, v := out[p.Name+".grad"], c.state[p.Name], bin[p.Name+".momentum"]
			wantV, wantP := make([]float64, p.Size()), make([]float64, p.Size())
			for i := range wantV {
				wantV[i] = 0.9*float64(v[i]) + float64(g[i]) + wd*float64(w[i])
				wantP[i] = float64(w[i]) - lr*wantV[i]
			}
			if e := relErr(out[p.Name+".momentum.next"], wantV); e > 1e-6 {
				t.Errorf("%s.momentum.next: relative error %.3g", p.Name, e)
			}
			if e := relErr(out[p.Name+".next"], wantP); e > 1e-6 {
				t.Errorf("%s.next: relative error %.3g", p.Name, e)
			}
		}
	})
}

// kernelStep is a graph of custom ops only: Conv3x3, BatchNormRelu and their
// gradients, with random inputs.
func kernelStep(t *testing.T, rseed uint64) (*Graph, map[string][]float32) {
	t.Helper()
	g := NewGraph("threads")
	g.custom = true
	x := g.Input("x", 20, 8, 16, 16)
	w := g.Input("w", 16, 8, 3, 3)
	scale, bias := g.Input("scale", 16), g.Input("bias", 16)
	y, _, _ := g.BatchNormRelu(g.Conv3x3(x, w), scale, bias, "", BNEps)
	seed := g.Input("seed", g.Shape(y)...)
	wrt := []string{x, w, scale, bias}
	grads, err := BackwardInto(g, y, seed, wrt)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range wrt {
		g.Output(g.Rename(grads[v], v+".grad"))
	}
	return g, randomInputs(g, rand.New(rand.NewPCG(rseed, 10)))
}

// The custom kernels split the batch into a fixed number of tasks and add
// partial sums in task order, so their results do not depend on the thread
// count: one and two threads give the same bits.
func TestCustomOpsIgnoreThreadCount(t *testing.T) {
	if os.Getenv("LONGTAIL_THREADS") != "" {
		t.Skip("LONGTAIL_THREADS fixes the thread count")
	}
	g, in := kernelStep(t, testseed.New(t))
	var outs []map[string][]float32
	for _, threads := range []int{1, 2} {
		env := ortest.Open(t, runtime.Options{Threads: threads})
		needCustom(t, env)
		outs = append(outs, runGraph(t, env, g, in))
	}
	for name, a := range outs[0] {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(outs[1][name][i]) {
				t.Errorf("%s[%d]: %v with one thread, %v with two", name, i, a[i], outs[1][name][i])
				break
			}
		}
	}
}

// The evaluation graph with Conv3x3 gives the standard graph's logits, at
// batch sizes below and above the kernels' task count (its batch is dynamic),
// and BuildExport's model uses no custom op either way.
func TestEvalGraphCustomEqualsStandard(t *testing.T) {
	env := openEnv(t)
	needCustom(t, env)
	rng := rand.New(rand.NewPCG(testseed.New(t), 12))
	for _, s := range []Spec{
		{Depth: 8, Width: 4, Classes: 5, Channels: 3, Height: 8, ImageWidth: 8},
		{Depth: 8, Width: 16, Classes: 10, Channels: 3, Height: 32, ImageWidth: 32},
	} {
		state := Init(s.Params(), rng.Uint64())
		for _, p := range s.Params() {
			if p.Kind == RunningVar {
				for i := range state[p.Name] {
					state[p.Name][i] = float32(0.5 + rng.Float64())
				}
			}
		}
		for _, batch := range []int{3, 70} {
			t.Run(fmt.Sprintf("%dpx/batch%d", s.Height, batch), func(t *testing.T) {
				in := map[string][]float32{}
				for k, v := range state {
					in[k] = v
				}
				x := make([]float32, batch*s.Channels*s.Height*s.ImageWidth)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				in["x"] = x
				var logits [][]float32
				for _, custom := range []bool{false, true} {
					spec := s
					spec.CustomOps = custom
					g, err := BuildEval(spec)
					if err != nil {
						t.Fatal(err)
					}
					if g.UsesCustomOps() != custom {
						t.Fatalf("custom ops %v: the eval graph uses them: %v", custom, g.UsesCustomOps())
					}
					g.shapes["x"] = []int64{int64(batch), int64(s.Channels), int64(s.Height), int64(s.ImageWidth)}
					logits = append(logits, runGraph(t, env, g, in)["logits"])
					names := make([]string, s.Classes)
					for i := range names {
						names[i] = fmt.Sprint("class", i)
					}
					m, err := BuildExport(spec, state, &ExportOptions{Classes: names, Mean: []float32{0, 0, 0}, Std: []float32{1, 1, 1}})
					if err != nil {
						t.Fatal(err)
					}
					for _, n := range m.GetGraph().GetNode() {
						if n.GetDomain() != "" {
							t.Fatalf("exported model has a %s node of domain %q", n.GetOpType(), n.GetDomain())
						}
					}
				}
				if e := relErr(logits[1], f64(logits[0])); e > 1e-5 || math.IsNaN(e) {
					t.Errorf("logits: custom differs from standard by %.3g", e)
				}
			})
		}
	}
}

// Sessions running at once (a sweep's parallel runs) share the kernels'
// scratch buffers safely: more concurrent runs than buffer slots, each
// giving the sequential run's bits.
func TestCustomOpsConcurrentRuns(t *testing.T) {
	env := openEnv(t)
	needCustom(t, env)
	g, in := kernelStep(t, testseed.New(t))
	want := runGraph(t, env, g, in)
	var wg sync.WaitGroup
	errs := make(chan string, 12)
	for range 12 {
		wg.Go(func() {
			for range 3 {
				got, err := tryGraph(t, env, g, in)
				if err != nil {
					errs <- err.Error()
					return
				}
				for name, w := range want {
					if !slices.Equal(got[name], w) {
						errs <- name + " differs from the sequential run"
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// Sessions with custom ops created at once as a process's first ones (a
// sweep's parallel runs starting) all succeed. ORT registers the op domain
// in a process-wide table on the first session; two doing so at once used
// to fail one of them. Each check runs in a fresh process.
func TestCustomOpsConcurrentFirstSessions(t *testing.T) {
	if os.Getenv("LONGTAIL_FIRST_SESSIONS") == "" {
		for range 30 {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCustomOpsConcurrentFirstSessions$", "-test.count=1")
			cmd.Env = append(os.Environ(), "LONGTAIL_FIRST_SESSIONS=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("fresh process: %v\n%s", err, out)
			}
		}
		return
	}
	env := openEnv(t)
	needCustom(t, env)
	g, _ := kernelStep(t, 1)
	model, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	start := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			<-start
			s, err := env.NewSession(model, g.Inputs(), g.Outputs(), nil)
			if err != nil {
				errs <- err
				return
			}
			s.Destroy()
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// inChild runs the calling top-level test again in a child process (this
// test binary, -test.run naming it) and fails with the child's output when
// the child fails, so that a kernel that crashes fails one test instead of
// killing the binary. It returns true in the parent, which then returns,
// and false in the child, which runs the test's body.
func inChild(t *testing.T) bool {
	t.Helper()
	if os.Getenv("LONGTAIL_CHILD_TEST") == t.Name() {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "LONGTAIL_CHILD_TEST="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "--- SKIP: "+t.Name()) {
		t.Skipf("child process skipped:\n%s", out)
	}
	return true
}

// BatchNormReluGrad's optional fourth output, named "" in the node, is
// skipped, and a required output named "" is an error naming the op and
// the output. The first once crashed the process (output in ops.c
// dereferenced the NULL OrtValue ORT gives for it), so the checks run in a
// child process.
func TestBatchNormReluGradAbsentOutput(t *testing.T) {
	if inChild(t) {
		return
	}
	env := openEnv(t)
	needCustom(t, env)
	build := func(outputs int, absent int) *Graph {
		g := NewGraph("bnr")
		x := g.Input("x", 2, 3, 4, 4)
		ins := []string{x, g.Input("y", 2, 3, 4, 4), g.Input("dy", 2, 3, 4, 4), g.Input("scale", 3), g.Input("mean", 3), g.Input("var", 3)}
		shapes := [][]int64{{2, 3, 4, 4}, {3}, {3}, {2, 3, 4, 4}}[:outputs]
		outs := g.CustomNode("BatchNormReluGrad", ins, shapes, AFloat("epsilon", BNEps))
		node := g.Nodes()[len(g.Nodes())-1]
		for i, o := range outs {
			if i != absent {
				g.Output(g.Rename(o, fmt.Sprint("out", i)))
			}
		}
		if absent >= 0 {
			node.Output[absent] = ""
		}
		return g
	}
	rng := rand.New(rand.NewPCG(testseed.New(t), 13))
	in := randomInputs(build(3, -1), rng)
	for i := range in["var"] {
		in["var"][i] = float32(0.5 + rng.Float64())
	}
	want := runGraph(t, env, build(3, -1), in)
	got := runGraph(t, env, build(4, 3), in)
	for name, w := range want {
		if !slices.Equal(got[name], w) {
			t.Errorf("%s with the fourth output absent differs from the three-output node's", name)
		}
	}
	// ORT itself rejects a required output named "" when it loads the
	// model; the kernel checks too (output in ops.c), in case it did not.
	model, err := build(4, 1).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if s, err := env.NewSession(model, build(4, 1).Inputs(), build(4, 1).Outputs(), nil); err == nil {
		s.Destroy()
		t.Errorf("a required output named \"\" was accepted")
	} else if !strings.Contains(err.Error(), "BatchNormReluGrad") || !strings.Contains(err.Error(), "output 1") {
		t.Errorf("a required output named \"\": %v; want an error naming the op and output 1", err)
	}
}

// Attributes of the wrong type fail session creation with an error naming
// the op and the attribute (they used to become the defaults: flip given
// as a float ran an unflipped convolution), and SGD wants g and v of p's
// shape, not merely its element count.
func TestCustomOpsBadAttributes(t *testing.T) {
	env := openEnv(t)
	needCustom(t, env)
	sgd := func(pd, gd []int64, attrs ...Attr) func(g *Graph) {
		return func(g *Graph) {
			outs := g.CustomNode("SGD", []string{g.Input("p", pd...), g.Input("g", gd...), g.Input("v", pd...), g.Input("lr", 1)}, [][]int64{pd, pd}, attrs...)
			g.Output(outs[0])
			g.Output(outs[1])
		}
	}
	conv := func(attrs ...Attr) func(g *Graph) {
		return func(g *Graph) {
			g.Output(g.CustomNode("Conv3x3", []string{g.Input("x", 2, 3, 8, 8), g.Input("w", 3, 3, 3, 3)}, [][]int64{{2, 3, 8, 8}}, attrs...)[0])
		}
	}
	cases := []struct {
		name  string
		build func(g *Graph)
		want  string
	}{
		{"flip float", conv(AFloat("flip", 1)), "longtail.Conv3x3: attribute flip is a float; want an int"},
		{"flip ints", conv(AInts("flip", 1)), "longtail.Conv3x3: attribute flip is a list of ints; want an int"},
		{"momentum int", sgd([]int64{4, 3}, []int64{4, 3}, AInt("momentum", 1)), "longtail.SGD: attribute momentum is an int; want a float"},
		{"weight decay int", sgd([]int64{4, 3}, []int64{4, 3}, AInt("weight_decay", 0)), "longtail.SGD: attribute weight_decay is an int; want a float"},
		{"stride float", func(g *Graph) {
			g.Output(g.CustomNode("ConvWeightGrad", []string{g.Input("x", 2, 3, 8, 8), g.Input("dy", 2, 4, 4, 4)}, [][]int64{{4, 3, 3, 3}}, AFloat("stride", 2))[0])
		}, "longtail.ConvWeightGrad: attribute stride is a float; want an int"},
		{"epsilon int", func(g *Graph) {
			outs := g.CustomNode("BatchNormRelu", []string{g.Input("x", 2, 3, 4, 4), g.Input("scale", 3), g.Input("bias", 3)}, [][]int64{{2, 3, 4, 4}, {3}, {3}}, AInt("epsilon", 0))
			g.Output(outs[0])
		}, "longtail.BatchNormRelu: attribute epsilon is an int; want a float"},
		{"pad float", func(g *Graph) {
			g.Output(g.CustomNode("ShortcutA", []string{g.Input("x", 2, 3, 4, 4)}, [][]int64{{2, 5, 2, 2}}, AFloat("pad", 1))[0])
		}, "longtail.ShortcutA: attribute pad is a float; want an int"},
		{"sgd transposed", sgd([]int64{4, 3}, []int64{3, 4}), "longtail.SGD: g is 3×4; p is 4×3"},
		{"sgd rank", sgd([]int64{4, 3}, []int64{12}), "longtail.SGD: g is 12; p is 4×3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := NewGraph("bad")
			c.build(g)
			model, err := g.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s, err := env.NewSession(model, g.Inputs(), g.Outputs(), nil)
			if err == nil {
				// An error may also come at the first run (SGD's shapes).
				defer s.Destroy()
				in := map[string][]float32{}
				for _, name := range g.Inputs() {
					in[name] = make([]float32, numel(g.Shape(name)))
				}
				_, err = tryGraph(t, env, g, in)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, c.want)
			}
		})
	}
}

// ShortcutA's and ShortcutAGrad's pad is bounded: an absurd pad, whose 2·pad
// overflowed int64 (pad = 2^63−1 made the output 2 channels narrower than x
// and the kernel write far past it), fails with an error naming the op and
// the attribute. The checks run in a child process, as the old kernel crashed.
func TestShortcutAHugePad(t *testing.T) {
	if inChild(t) {
		return
	}
	env := openEnv(t)
	needCustom(t, env)
	const huge = math.MaxInt64
	for _, c := range []struct {
		name  string
		build func(g *Graph)
		want  string
	}{
		{"forward", func(g *Graph) {
			g.Output(g.CustomNode("ShortcutA", []string{g.Input("x", 2, 4, 4, 4)}, [][]int64{{2, 2, 2, 2}}, AInt("pad", huge))[0])
		}, "longtail.ShortcutA: attribute pad is 9223372036854775807; want 0 to 1073741824"},
		{"backward", func(g *Graph) {
			g.Output(g.CustomNode("ShortcutAGrad", []string{g.Input("g", 2, 2, 2, 2)}, [][]int64{{2, 4, 4, 4}}, AInt("pad", huge), AInt("height", 4), AInt("width", 4))[0])
		}, "longtail.ShortcutAGrad: attribute pad is 9223372036854775807; want 0 to 1073741824"},
		{"negative", func(g *Graph) {
			g.Output(g.CustomNode("ShortcutA", []string{g.Input("x", 2, 4, 4, 4)}, [][]int64{{2, 2, 2, 2}}, AInt("pad", -1))[0])
		}, "longtail.ShortcutA: attribute pad is -1; want 0 to 1073741824"},
	} {
		g := NewGraph("pad")
		c.build(g)
		in := map[string][]float32{}
		for _, name := range g.Inputs() {
			in[name] = make([]float32, numel(g.Shape(name)))
		}
		model, err := g.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		s, err := env.NewSession(model, g.Inputs(), g.Outputs(), nil)
		if err == nil {
			s.Destroy()
			_, err = tryGraph(t, env, g, in)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant an error containing %q", c.name, err, c.want)
		}
	}
}
