package graphs

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/longtail-ml/longtail/runtime"
)

// BenchmarkConv3x3 times ORT's Conv against longtail's Conv3x3 kernel on
// ResNet-32's stride-1 layer shapes at batch 128, in GFLOP/s:
// go test -run '^$' -bench Conv3x3 ./graphs
func BenchmarkConv3x3(b *testing.B) {
	env := openEnv(b)
	for _, c := range []struct{ ci, co, h int64 }{{3, 16, 32}, {16, 16, 32}, {32, 32, 16}, {64, 64, 8}} {
		for _, custom := range []bool{false, true} {
			if custom && !env.CustomOps() {
				continue
			}
			b.Run(fmt.Sprintf("%dx%d_%dpx/custom=%v", c.ci, c.co, c.h, custom), func(b *testing.B) {
				g := NewGraph("conv")
				x := g.Input("x", 128, c.ci, c.h, c.h)
				w := g.Input("w", c.co, c.ci, 3, 3)
				if custom {
					g.Output(g.Conv3x3(x, w))
				} else {
					g.Output(g.Conv(x, w, 1, 1))
				}
				model, err := g.Marshal()
				if err != nil {
					b.Fatal(err)
				}
				s, err := env.NewSession(model, g.Inputs(), g.Outputs(), nil)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Destroy()
				rng := rand.New(rand.NewPCG(1, 1))
				var vals []runtime.Value
				for _, shape := range [][]int64{g.Shape(x), g.Shape(w), {128, c.co, c.h, c.h}} {
					d := make([]float32, numel(shape))
					for i := range d {
						d[i] = float32(rng.NormFloat64())
					}
					t, err := runtime.NewTensor(d, shape...)
					if err != nil {
						b.Fatal(err)
					}
					defer t.Destroy()
					vals = append(vals, t)
				}
				run := func() {
					if err := s.Run(vals[:2], vals[2:]); err != nil {
						b.Fatal(err)
					}
				}
				run()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					run()
				}
				flops := float64(2 * 128 * c.ci * c.co * 9 * c.h * c.h)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
