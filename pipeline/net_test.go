package pipeline

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/runtime/ortest"

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
				if rel := diff / math.Max(scale, 1e-12); rel > 1e-5 {
					t.Errorf("%s: fused differs from split by %.3g (relative to its largest entry)", name, rel)
				}
			}
		})
	}
}

// Two training-mode forwards of the same batch, with no update between them,
// must move the running statistics as PyTorch does: from mean 0 and variance
// 1, m₁ = 0.1·μ and m₂ = 0.19·μ = 1.9·m₁; v₁ − 0.9 = 0.1·σ² and v₂ − 0.81 = 1.9·(v₁ − 0.9).
func TestNetRunningStatistics(t *testing.T) {
	env := openORT(t)
	net, err := NewNetwork(env, ModelConfig{Depth: 8, Width: 4}, OptimConfig{Momentum: 0.9}, 3, 4, 3, 8, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	rng := rand.New(rand.NewPCG(9, 9))
	x := make([]float32, 4*3*8*8)
	for i := range x {
		x[i] = float32(rng.NormFloat64()) + 0.5
	}
	var states []map[string][]float32
	for range 2 {
		if _, err := net.Forward(x); err != nil {
			t.Fatal(err)
		}
		states = append(states, net.State())
	}
	for _, p := range net.Params() {
		var off float32
		switch {
		case strings.HasSuffix(p.Name, "running_mean"):
		case strings.HasSuffix(p.Name, "running_var"):
			off = 1
		default:
			continue
		}
		for i := range states[0][p.Name] {
			s1 := states[0][p.Name][i] - 0.9*off
			s2 := states[1][p.Name][i] - 0.81*off
			if math.Abs(float64(s2-1.9*s1)) > 1e-5*(1+math.Abs(float64(s2))) {
				t.Errorf("%s[%d]: after one forward %v, after two %v; want the second move 1.9× the first", p.Name, i, states[0][p.Name][i], states[1][p.Name][i])
				break
			}
		}
	}
}
