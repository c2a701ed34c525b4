package pipeline

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/longtail-ml/longtail/runtime"
)

func openORT(t testing.TB) *runtime.Env {
	t.Helper()
	threads, _ := strconv.Atoi(os.Getenv("LONGTAIL_THREADS"))
	env, err := runtime.Open(runtime.Options{Threads: threads})
	if err != nil {
		if os.Getenv("LONGTAIL_REQUIRE_ORT") != "" {
			t.Fatalf("ONNX Runtime required: %v", err)
		}
		t.Skipf("ONNX Runtime not available: %v", err)
	}
	t.Cleanup(func() { env.Close() })
	return env
}

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
// the injected loss gradient, backward and update. Compare with
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
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = rng.IntN(classes)
	}
	grad := make([]float32, batch*classes)
	step := func() {
		logits, err := net.Forward(x)
		if err != nil {
			b.Fatal(err)
		}
		softmaxCE(logits, labels, classes, grad)
		if err := net.Backward(grad, 0.1); err != nil {
			b.Fatal(err)
		}
	}
	step() // warm-up
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
}
