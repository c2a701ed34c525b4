package gonnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/internal/testseed"
	"github.com/longtail-ml/longtail/runtime/ortest"

	"github.com/longtail-ml/longtail/graphs"
	pb "github.com/longtail-ml/longtail/graphs/onnxpb"
	"github.com/longtail-ml/longtail/runtime"
	"google.golang.org/protobuf/proto"
)

func openEnv(t testing.TB) *runtime.Env { return ortest.Open(t, runtime.Options{}) }

// randomState is spec's initial state with random BatchNorm statistics.
func randomState(s graphs.Spec, rng *rand.Rand) map[string][]float32 {
	st := graphs.Init(s.Params(), rng.Uint64())
	for _, p := range s.Params() {
		v := st[p.Name]
		for i := range v {
			switch p.Kind {
			case graphs.NormScale, graphs.RunningVar:
				v[i] = float32(0.5 + rng.Float64())
			case graphs.NormBias, graphs.RunningMean:
				v[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
	}
	return st
}

func export(t testing.TB, s graphs.Spec, state map[string][]float32) []byte {
	t.Helper()
	names := make([]string, s.Classes)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	ms := slices.Repeat([]float32{0}, s.Channels)
	ss := slices.Repeat([]float32{1}, s.Channels)
	m, err := graphs.BuildExport(s, state, &graphs.ExportOptions{Classes: names, Mean: ms, Std: ss})
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// evalLogits runs the training network's evaluation graph (BatchNorm
// unfolded, Slice/Pad shortcuts, state as inputs) in ORT.
func evalLogits(t testing.TB, env *runtime.Env, s graphs.Spec, state map[string][]float32, x []float32, n int) []float32 {
	t.Helper()
	g, err := graphs.BuildEval(s)
	if err != nil {
		t.Fatal(err)
	}
	model, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sess, err := env.NewSession(model, g.Inputs(), g.Outputs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Destroy()
	ins := make([]runtime.Value, len(g.Inputs()))
	for i, name := range g.Inputs() {
		shape, data := g.Shape(name), state[name]
		if name == "x" {
			shape, data = []int64{int64(n), int64(s.Channels), int64(s.Height), int64(s.ImageWidth)}, x
		}
		tt, err := runtime.NewTensor(data, shape...)
		if err != nil {
			t.Fatal(err)
		}
		defer tt.Destroy()
		ins[i] = tt
	}
	out := make([]float32, n*s.Classes)
	ot, err := runtime.NewTensor(out, int64(n), int64(s.Classes))
	if err != nil {
		t.Fatal(err)
	}
	defer ot.Destroy()
	if err := sess.Run(ins, []runtime.Value{ot}); err != nil {
		t.Fatal(err)
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		if d := math.Abs(float64(a[i]) - float64(b[i])); d > m || math.IsNaN(d) {
			m = d
		}
	}
	return m
}

// TestMatchesEvalGraph: the pure-Go backend against the training network's
// evaluation graph in ORT, within the 1e-3.
func TestMatchesEvalGraph(t *testing.T) {
	env := openEnv(t)
	seed := testseed.New(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	for _, tc := range []struct {
		spec    graphs.Spec
		batches []int
	}{
		{graphs.Spec{Depth: 8, Width: 4, Classes: 5, Channels: 3, Height: 8, ImageWidth: 8}, []int{1, 6, 2, 6}},
		{graphs.Spec{Depth: 14, Width: 8, Classes: 3, Channels: 3, Height: 16, ImageWidth: 12}, []int{4}},
		{graphs.Spec{Depth: 20, Width: 16, Classes: 10, Channels: 3, Height: 32, ImageWidth: 32}, []int{3}},
	} {
		t.Run(fmt.Sprintf("resnet%d-w%d-%dx%d", tc.spec.Depth, tc.spec.Width, tc.spec.Height, tc.spec.ImageWidth), func(t *testing.T) {
			state := randomState(tc.spec, rng)
			p, err := New(export(t, tc.spec, state))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			// Batch sizes in turn: compiled graphs are rebuilt and evicted.
			for _, n := range tc.batches {
				x := make([]float32, n*tc.spec.Channels*tc.spec.Height*tc.spec.ImageWidth)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				want := evalLogits(t, env, tc.spec, state, x, n)
				got, err := p.Predict(x, n)
				if err != nil {
					t.Fatal(err)
				}
				if d := maxAbsDiff(got, want); d >= 1e-3 {
					t.Errorf("batch %d: max |go − eval graph| = %.3g; want < 1e-3", n, d)
				} else {
					t.Logf("batch %d: max |go − eval graph| = %.3g, max |logit| %.3g", n, d, maxAbsDiff(want, make([]float32, len(want))))
				}
			}
			if len(p.graphs) > maxGraphs {
				t.Errorf("%d compiled graphs kept; at most %d", len(p.graphs), maxGraphs)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	s := graphs.Spec{Depth: 8, Width: 4, Classes: 4, Channels: 3, Height: 8, ImageWidth: 8}
	good := export(t, s, graphs.Init(s.Params(), 1))
	eval, err := graphs.BuildEval(s)
	if err != nil {
		t.Fatal(err)
	}
	evalBytes, err := eval.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// A classifier onnx-go cannot run: Pad, which its gorgonia backend lacks.
	g := graphs.NewGraph("padded")
	x := g.Input("x", -1, 3, 8, 8)
	h := g.Flatten(g.GlobalAveragePool(g.Pad(x, []int64{0, 0, 1, 1, 0, 0, 1, 1})))
	g.Rename(h, "logits")
	g.Output("logits")
	padded, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		is   error
		want string
	}{
		{"text", []byte("hello, world\n"), graphs.ErrNotONNX, "not an ONNX model"},
		{"truncated", good[:len(good)/2], graphs.ErrNotONNX, "truncated"},
		{"parameters as inputs", evalBytes, graphs.ErrForeignModel, "38 inputs"},
		{"operator onnx-go lacks", padded, nil, "onnx-go cannot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.data)
			switch {
			case err == nil:
				t.Fatal("no error")
			case tc.is != nil && !errors.Is(err, tc.is), !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q; want %v containing %q", err, tc.is, tc.want)
			}
			t.Log(err)
		})
	}
	p, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 2} {
		if _, err := p.Predict(make([]float32, 3*32*32), n); err == nil || !strings.Contains(err.Error(), "3×8×8 = 192 per image") {
			t.Errorf("predict %d images of 3×32×32: %v", n, err)
		}
	}
}

// TestConcurrent predicts from several goroutines on one Predictor and
// compiles several Predictors at once; run with -race it checks the locking
// (onnx-go's backend keeps a package-level counter).
func TestConcurrent(t *testing.T) {
	s := graphs.Spec{Depth: 8, Width: 4, Classes: 4, Channels: 3, Height: 8, ImageWidth: 8}
	model := export(t, s, graphs.Init(s.Params(), 1))
	shared, err := New(model)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*192)
	for i := range x {
		x[i] = float32(i%13) / 13
	}
	want, err := shared.Predict(x, 3)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			p := shared
			if g%2 == 1 {
				var err error
				if p, err = New(model); err != nil {
					errs <- err
					return
				}
			}
			n := 1 + g%3
			got, err := p.Predict(x[:n*192], n)
			if err == nil && maxAbsDiff(got, want[:len(got)]) > 1e-5 {
				err = fmt.Errorf("goroutine %d: logits %v; want %v", g, got, want[:len(got)])
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestRepeatable runs each compiled graph several times on the same images:
// the logits must not change (onnx-go's Gemm writes its result into its bias
// input when the batch is 1, which Predictor undoes). The model is given
// with its weights in float_data, as longtail writes them, and in raw_data,
// as other exporters do.
func TestRepeatable(t *testing.T) {
	s := graphs.Spec{Depth: 8, Width: 4, Classes: 4, Channels: 3, Height: 8, ImageWidth: 8}
	model := export(t, s, graphs.Init(s.Params(), 1))
	var m pb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		t.Fatal(err)
	}
	for _, init := range m.Graph.Initializer {
		for _, v := range init.FloatData {
			init.RawData = binary.LittleEndian.AppendUint32(init.RawData, math.Float32bits(v))
		}
		init.FloatData = nil
	}
	raw, err := proto.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*192)
	for i := range x {
		x[i] = float32(i%13) / 13
	}
	var want []float32
	for _, model := range [][]byte{model, raw} {
		p, err := New(model)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{3, 1} {
			first, err := p.Predict(x[:n*192], n)
			if err != nil {
				t.Fatal(err)
			}
			if n == 3 && want == nil {
				want = first
			}
			if d := maxAbsDiff(first, want[:len(first)]); d > 1e-5 {
				t.Errorf("batch %d: logits %v; batch 3 of the float_data model gave %v", n, first, want[:len(first)])
			}
			for run := 2; run <= 4; run++ {
				again, err := p.Predict(x[:n*192], n)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(again, first) {
					t.Errorf("batch %d, run %d: logits %v; the first run gave %v", n, run, again, first)
				}
			}
		}
	}
}
