package pipeline

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/runtime/ortest"

	"github.com/longtail-ml/longtail/graphs"
	"github.com/longtail-ml/longtail/loss"
	"github.com/longtail-ml/longtail/runtime"
)

func openORT(t testing.TB) *runtime.Env { return ortest.Open(t, runtime.Options{}) }

// softmaxCE is plain mean cross-entropy and its gradient, written out here so
// that this test does not lean on package loss.
func softmaxCE(logits []float32, labels []int, classes int, grad []float32) float64 {
	var total float64
	b := len(labels)
	for i, y := range labels {
		row := logits[i*classes : (i+1)*classes]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		total += lse - float64(row[y])
		for j, v := range row {
			p := math.Exp(float64(v) - lse)
			if j == y {
				p--
			}
			grad[i*classes+j] = float32(p / float64(b))
		}
	}
	return total / float64(b)
}

// The whole step is wired right if ResNet-32 can memorise one batch.
func TestNetMemorisesOneBatch(t *testing.T) {
	env := openORT(t)
	const batch, classes = 16, 10
	net, err := NewNetwork(env, ModelConfig{Depth: 32, Width: 16}, OptimConfig{Momentum: 0.9, WeightDecay: 5e-4, DecayNormAndBias: true},
		classes, batch, 3, 32, 32, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, batch*3*32*32)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = rng.IntN(classes)
	}
	grad := make([]float32, batch*classes)
	var first, last float64
	for step := 0; step < 60; step++ {
		logits, err := net.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		last = softmaxCE(logits, labels, classes, grad)
		if step == 0 {
			first = last
		}
		if err := net.Backward(grad, 0.05); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("loss %.4f → %.6f", first, last)
	if !(last < 0.01*first) {
		t.Fatalf("loss went from %.4f to %.4f; want below 1%% of the start", first, last)
	}
}

func TestNetState(t *testing.T) {
	env := openORT(t)
	net, err := NewNetwork(env, ModelConfig{Depth: 8, Width: 4}, OptimConfig{Momentum: 0.9}, 3, 4, 3, 8, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	s := net.State()
	if len(s["conv1.weight"]) != 4*3*3*3 || len(s["conv1.weight.momentum"]) != 4*3*3*3 || len(s["bn1.running_var"]) != 4 {
		t.Fatalf("state sizes: conv1 %d, momentum %d, running_var %d", len(s["conv1.weight"]), len(s["conv1.weight.momentum"]), len(s["bn1.running_var"]))
	}
	s["conv1.weight"][0] = 42
	if err := net.SetState(s); err != nil {
		t.Fatal(err)
	}
	if got := net.State()["conv1.weight"][0]; got != 42 {
		t.Fatalf("SetState did not take: %v", got)
	}
	bad := net.State()
	bad["bn1.weight"] = bad["bn1.weight"][:2]
	if err := net.SetState(bad); err == nil {
		t.Error("short tensor accepted")
	}
	bad = net.State()
	delete(bad, "linear.bias")
	if err := net.SetState(bad); err == nil {
		t.Error("missing tensor accepted")
	}
	bad = net.State()
	bad["extra"] = []float32{1}
	if err := net.SetState(bad); err == nil {
		t.Error("extra tensor accepted")
	}
	if _, err := net.Forward(make([]float32, 5)); err == nil {
		t.Error("wrong input size accepted")
	}
	if _, err := net.Predict(make([]float32, 3*8*8*2), 2); err != nil {
		t.Errorf("predict: %v", err)
	}
}

// BenchmarkTrainStep times one full ResNet-32 SGD step at batch 128: forward,
// the loss gradient, backward and update, split (two ORT runs, the gradient
// injected from Go) and fused (one run). Compare with
// ../shared/anchors/torch_resnet32.py bench (scripts/bench.sh runs both).
func BenchmarkTrainStep(b *testing.B) {
	env := openORT(b)
	const batch, classes = 128, 10
	net, err := NewNetwork(env, ModelConfig{Depth: 32, Width: 16}, OptimConfig{Momentum: 0.9, WeightDecay: 5e-4, DecayNormAndBias: true},
		classes, batch, 3, 32, 32, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer net.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*3*32*32)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	labels := make([]int32, batch)
	for i := range labels {
		labels[i] = int32(rng.IntN(classes))
	}
	lf, err := loss.New(loss.Config{Name: "weighted_ce"}, []int{5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50})
	if err != nil {
		b.Fatal(err)
	}
	grad := make([]float32, batch*classes)
	var a loss.Affine
	steps := map[string]func(){
		"split": func() {
			logits, err := net.Forward(x)
			if err == nil {
				_, err = lf.Compute(logits, labels, classes, grad, nil)
			}
			if err == nil {
				err = net.Backward(grad, 0.1)
			}
			if err != nil {
				b.Fatal(err)
			}
		},
		"fused": func() {
			err := lf.(loss.Affiner).Affine(labels, classes, &a)
			if err == nil {
				_, err = net.FusedStep(x, labels, a.W, a.Scale, a.B, 0.1)
			}
			if err != nil {
				b.Fatal(err)
			}
		},
	}
	for _, mode := range []string{"split", "fused"} {
		b.Run(mode, func(b *testing.B) {
			step := steps[mode]
			step() // warm-up
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// The fused step (forward, loss gradient, backward, update in one run) must
// give the split step's update to float32 rounding.
func TestFusedStepEqualsSplit(t *testing.T) {
	env := openORT(t)
	const batch, classes = 8, 5
	counts := []int{50, 30, 12, 6, 3}
	cases := []loss.Config{
		{Name: "weighted_ce"},
		{Name: "cb"},
		{Name: "ldam"},
		{Name: "logit_adjust"},
	}
	for _, lc := range cases {
		t.Run(lc.Name, func(t *testing.T) {
			nets := make([]*Net, 2)
			for i := range nets {
				n, err := NewNetwork(env, ModelConfig{Depth: 8, Width: 4}, OptimConfig{Momentum: 0.9, WeightDecay: 5e-4, DecayNormAndBias: true},
					classes, batch, 3, 8, 8, 3)
				if err != nil {
					t.Fatal(err)
				}
				defer n.Close()
				nets[i] = n
			}
			split, fused := nets[0], nets[1]
			lf, err := loss.New(lc, counts)
			if err != nil {
				t.Fatal(err)
			}
			aff, ok := lf.(loss.Affiner)
			if !ok {
				t.Fatalf("%s is not of the softmax family", lc.Name)
			}
			rng := rand.New(rand.NewPCG(5, 6))
			x := make([]float32, batch*3*8*8)
			labels := make([]int32, batch)
			grad := make([]float32, batch*classes)
			var a loss.Affine
			for step := 0; step < 3; step++ {
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				for i := range labels {
					labels[i] = int32(rng.IntN(classes))
				}
				logits, err := split.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := lf.Compute(logits, labels, classes, grad, nil); err != nil {
					t.Fatal(err)
				}
				if err := split.Backward(grad, 0.1); err != nil {
					t.Fatal(err)
				}
				if err := aff.Affine(labels, classes, &a); err != nil {
					t.Fatal(err)
				}
				if _, err := fused.FusedStep(x, labels, a.W, a.Scale, a.B, 0.1); err != nil {
					t.Fatal(err)
				}
			}
			want, got := split.State(), fused.State()
			for name, w := range want {
				var diff, scale float64
				for i := range w {
					diff = math.Max(diff, math.Abs(float64(got[name][i]-w[i])))
					scale = math.Max(scale, math.Abs(float64(w[i])))
				}
				// One step agrees to ~5e-7 on either path; three steps at lr 0.1
				// (LDAM's logits are scaled by 30) grow float32 rounding in
				// dL/dlogits, computed in Go for one and in ONNX for the other,
				// to ~1.3e-5 with the custom kernels, 3e-6 without.
				if rel := diff / math.Max(scale, 1e-12); rel > 5e-5 {
					t.Errorf("%s: fused differs from split by %.3g (relative to its largest entry)", name, rel)
				}
			}
		})
	}
}

// batchStats runs the CIFAR ResNet of (depth, width) in float64 with direct
// loops, written out here from the architecture (graphs.Spec: 3×3 convs,
// option-A shortcuts) so that it shares no code with the ONNX graphs, and
// returns, for each BatchNorm layer by name, the batch mean and the unbiased
// (n−1) batch variance of its input per channel.
func batchStats(state map[string][]float32, x []float32, n, c, h, w, depth, width int) map[string][2][]float64 {
	type act struct {
		c, h, w int
		v       []float64 // n×c×h×w
	}
	stats := map[string][2][]float64{}
	conv := func(name string, a act, out, stride int) act {
		wt := state[name]
		oh, ow := (a.h+2-3)/stride+1, (a.w+2-3)/stride+1
		y := act{out, oh, ow, make([]float64, n*out*oh*ow)}
		for b := range n {
			for o := range out {
				for i := range oh {
					for j := range ow {
						var s float64
						for ci := range a.c {
							for ky := range 3 {
								for kx := range 3 {
									yy, xx := i*stride+ky-1, j*stride+kx-1
									if yy < 0 || xx < 0 || yy >= a.h || xx >= a.w {
										continue
									}
									s += a.v[((b*a.c+ci)*a.h+yy)*a.w+xx] * float64(wt[((o*a.c+ci)*3+ky)*3+kx])
								}
							}
						}
						y.v[((b*out+o)*oh+i)*ow+j] = s
					}
				}
			}
		}
		return y
	}
	bn := func(name string, a act) act {
		m := n * a.h * a.w
		mean, uvar := make([]float64, a.c), make([]float64, a.c)
		y := act{a.c, a.h, a.w, make([]float64, len(a.v))}
		gamma, beta := state[name+".weight"], state[name+".bias"]
		for ch := range a.c {
			idx := func(yield func(int) bool) {
				for b := range n {
					for k := range a.h * a.w {
						if !yield((b*a.c+ch)*a.h*a.w + k) {
							return
						}
					}
				}
			}
			for i := range idx {
				mean[ch] += a.v[i]
			}
			mean[ch] /= float64(m)
			var ss float64
			for i := range idx {
				ss += (a.v[i] - mean[ch]) * (a.v[i] - mean[ch])
			}
			uvar[ch] = ss / float64(m-1)
			inv := 1 / math.Sqrt(ss/float64(m)+1e-5)
			for i := range idx {
				y.v[i] = float64(gamma[ch])*(a.v[i]-mean[ch])*inv + float64(beta[ch])
			}
		}
		stats[name] = [2][]float64{mean, uvar}
		return y
	}
	relu := func(a act) act {
		for i, v := range a.v {
			a.v[i] = math.Max(v, 0)
		}
		return a
	}
	in := act{c, h, w, make([]float64, len(x))}
	for i, v := range x {
		in.v[i] = float64(v)
	}
	a := relu(bn("bn1", conv("conv1.weight", in, width, 1)))
	for stage, planes := range []int{width, 2 * width, 4 * width} {
		for blk := range (depth - 2) / 6 {
			stride := 1
			if stage > 0 && blk == 0 {
				stride = 2
			}
			pre := fmt.Sprintf("layer%d.%d", stage+1, blk)
			o := relu(bn(pre+".bn1", conv(pre+".conv1.weight", a, planes, stride)))
			o = bn(pre+".bn2", conv(pre+".conv2.weight", o, planes, 1))
			sc := a
			if stride != 1 || a.c != planes {
				// Option A: every second pixel, channels zero-padded on both sides.
				sc = act{planes, (a.h + 1) / 2, (a.w + 1) / 2, make([]float64, len(o.v))}
				p := (planes - a.c) / 2
				for b := range n {
					for ci := range a.c {
						for i := range sc.h {
							for j := range sc.w {
								sc.v[((b*planes+ci+p)*sc.h+i)*sc.w+j] = a.v[((b*a.c+ci)*a.h+2*i)*a.w+2*j]
							}
						}
					}
				}
			}
			for i := range o.v {
				o.v[i] += sc.v[i]
			}
			a = relu(o)
		}
	}
	return stats
}

// A training-mode forward must move every BatchNorm layer's running
// statistics as PyTorch does, from the batch's own statistics:
// mean ← 0.9·mean + 0.1·μ_B and var ← 0.9·var + 0.1·σ²_B (σ² unbiased), with
// μ_B and σ²_B computed here independently (batchStats). A second forward of
// the same batch, with no update between, must start from the first's result.
func TestNetRunningStatistics(t *testing.T) {
	env := openORT(t)
	const depth, width, batch, c, h, w = 14, 4, 4, 3, 8, 8
	net, err := NewNetwork(env, ModelConfig{Depth: depth, Width: width}, OptimConfig{Momentum: 0.9}, 3, batch, c, h, w, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	rng := rand.New(rand.NewPCG(9, 9))
	x := make([]float32, batch*c*h*w)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) + 0.5
	}
	// Start from running statistics other than 0 and 1, so that both the
	// decay of the old value and the batch's contribution are visible.
	init := net.State()
	for _, p := range net.Params() {
		for i := range init[p.Name] {
			switch {
			case strings.HasSuffix(p.Name, ".running_mean"):
				init[p.Name][i] = float32(rng.NormFloat64())
			case strings.HasSuffix(p.Name, ".running_var"):
				init[p.Name][i] = 0.5 + rng.Float32()
			}
		}
	}
	if err := net.SetState(init); err != nil {
		t.Fatal(err)
	}
	ref := batchStats(init, x, batch, c, h, w, depth, width)
	var states []map[string][]float32
	for range 2 {
		if _, err := net.Forward(x); err != nil {
			t.Fatal(err)
		}
		states = append(states, net.State())
	}
	// ORT computes in float32: a few ulps of the BN inputs' scale.
	const absTol, relTol = 1e-6, 1e-5
	layers, worst := 0, 0.0
	for _, p := range net.Params() {
		layer, ok := strings.CutSuffix(p.Name, ".running_mean")
		stat := 0
		if !ok {
			layer, ok = strings.CutSuffix(p.Name, ".running_var")
			stat = 1
		}
		if !ok {
			continue
		}
		batchStat, ok := ref[layer]
		if !ok {
			t.Fatalf("%s: the reference has no BatchNorm layer %s", p.Name, layer)
		}
		layers++
		reported := false
		for i := range init[p.Name] {
			old := float64(init[p.Name][i])
			for k, want := range []float64{
				0.9*old + 0.1*batchStat[stat][i],
				0.81*old + 0.19*batchStat[stat][i],
			} {
				got := float64(states[k][p.Name][i])
				err := math.Abs(got - want)
				worst = math.Max(worst, err/(absTol+relTol*math.Abs(want)))
				if err > absTol+relTol*math.Abs(want) && !reported {
					reported = true // one line per tensor
					t.Errorf("%s[%d] after forward %d: %.7g; want %.7g (from %.7g and the batch's %.7g)",
						p.Name, i, k+1, got, want, old, batchStat[stat][i])
				}
			}
		}
	}
	if want := 2 * len(ref); layers != want {
		t.Errorf("checked %d running statistics; want %d (2 per BatchNorm layer)", layers, want)
	}
	t.Logf("%d BatchNorm layers; worst error %.2g of the tolerance", len(ref), worst)
}

// TestNetWeightDecayPerParameter checks the optimiser the pipeline builds
// from optim.decay_norm_and_bias, parameter by parameter, on the split and
// the fused step: with a zero loss gradient one SGD step from zero momentum
// leaves p·(1 − lr·wd) where weight decay applies and p where it does not.
// Convolution and linear weights always decay; BatchNorm scales and the
// linear bias only when the key is true (BatchNorm shifts start at 0, so
// they do not tell).
func TestNetWeightDecayPerParameter(t *testing.T) {
	env := openORT(t)
	const batch, classes, lr, wd = 4, 3, 0.5, 0.01
	for _, tc := range []struct {
		decayNormAndBias bool
		fused            bool
	}{{true, false}, {false, false}, {true, true}, {false, true}} {
		t.Run(fmt.Sprintf("decay_norm_and_bias=%v,fused=%v", tc.decayNormAndBias, tc.fused), func(t *testing.T) {
			cfg, err := Load(Sources{Set: []string{"model.depth=8", "model.width=4", fmt.Sprintf("optim.weight_decay=%g", wd),
				fmt.Sprintf("optim.decay_norm_and_bias=%v", tc.decayNormAndBias)}})
			if err != nil {
				t.Fatal(err)
			}
			net, err := NewNetwork(env, cfg.Model, cfg.Optim, classes, batch, 3, 8, 8, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			before := net.State()
			x := make([]float32, batch*3*8*8)
			for i := range x {
				x[i] = float32(i%7) / 7
			}
			if tc.fused {
				_, err = net.FusedStep(x, make([]int32, batch), make([]float32, batch), 1, make([]float32, batch*classes), lr)
			} else {
				if _, err = net.Forward(x); err == nil {
					err = net.Backward(make([]float32, batch*classes), lr)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			after := net.State()
			seen := map[graphs.Kind]bool{}
			for _, p := range net.tr.Trainable() {
				decays := tc.decayNormAndBias || (p.Kind != graphs.NormScale && p.Kind != graphs.NormBias && p.Kind != graphs.LinearBias)
				factor := float32(1)
				if decays {
					factor = 1 - lr*wd
				}
				seen[p.Kind] = true
				for i, v := range before[p.Name] {
					want := v * factor
					if got := after[p.Name][i]; math.Abs(float64(got-want)) > 1e-6*math.Max(1, math.Abs(float64(v))) {
						t.Fatalf("%s[%d] (decay %v): %g after one step from %g; want %g", p.Name, i, decays, got, v, want)
					}
				}
			}
			for _, k := range []graphs.Kind{graphs.ConvWeight, graphs.NormScale, graphs.LinearWeight, graphs.LinearBias} {
				if !seen[k] {
					t.Errorf("no trainable parameter of kind %d; the test checks nothing for it", k)
				}
			}
		})
	}
}
