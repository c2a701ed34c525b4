package runtime

import (
	"os"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/graphs"
	"google.golang.org/protobuf/proto"
)

func openEnv(t testing.TB) *Env {
	t.Helper()
	env, err := Open(Options{Threads: 1})
	if err != nil {
		if os.Getenv("LONGTAIL_REQUIRE_ORT") != "" {
			t.Fatalf("ONNX Runtime required: %v", err)
		}
		t.Skipf("ONNX Runtime not available: %v", err)
	}
	t.Cleanup(func() { env.Close() })
	return env
}

// tinyExport is a ResNet-8 of width 4 on 3×8×8 images with 4 classes.
func tinyExport(t testing.TB) []byte {
	t.Helper()
	s := graphs.Spec{Depth: 8, Width: 4, Classes: 4, Channels: 3, Height: 8, ImageWidth: 8}
	m, err := graphs.BuildExport(s, graphs.Init(s.Params(), 1), &graphs.ExportOptions{
		Classes: []string{"a", "b", "c", "d"}, Mean: []float32{0, 0, 0}, Std: []float32{1, 1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPredictorShapes(t *testing.T) {
	env := openEnv(t)
	p, err := env.NewPredictor(tinyExport(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if c, h, w := p.InputShape(); c != 3 || h != 8 || w != 8 || p.Classes() != 4 {
		t.Errorf("input %d×%d×%d, %d classes; want 3×8×8, 4", c, h, w, p.Classes())
	}
	// The batch is dynamic: one image alone gives the same logits as in a batch.
	x := make([]float32, 5*3*8*8)
	for i := range x {
		x[i] = float32(i%17) / 17
	}
	all, err := p.Predict(x, 5)
	if err != nil {
		t.Fatal(err)
	}
	one, err := p.Predict(x[3*192:4*192], 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range one {
		if d := v - all[3*4+i]; d > 1e-5 || d < -1e-5 {
			t.Errorf("logit %d of image 3: %v alone, %v in a batch", i, v, all[3*4+i])
		}
	}
	for _, tc := range []struct {
		n    int
		size int
	}{{0, 0}, {2, 192}, {1, 3 * 32 * 32}} {
		if _, err := p.Predict(make([]float32, tc.size), tc.n); err == nil || !strings.Contains(err.Error(), "3×8×8 = 192 per image") {
			t.Errorf("predict %d images from %d values: %v", tc.n, tc.size, err)
		}
	}
}

func TestNewPredictorErrors(t *testing.T) {
	env := openEnv(t)
	good := tinyExport(t)
	eval, err := graphs.BuildEval(graphs.Spec{Depth: 8, Width: 4, Classes: 4, Channels: 3, Height: 8, ImageWidth: 8})
	if err != nil {
		t.Fatal(err)
	}
	evalBytes, err := eval.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"text", []byte("not a model"), "read model"},
		{"truncated", good[:len(good)/2], "read model"},
		{"parameters as inputs", evalBytes, "38 inputs and 1 outputs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := env.NewPredictor(tc.data)
			if err == nil {
				p.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q; want one line containing %q", err, tc.want)
			}
		})
	}
}
