package graphs

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/longtail-ml/longtail/runtime"
)

func BenchmarkConv3x3(b *testing.B) {
	env := openEnv(b)
	for _, c := range []struct{ ci, co, h int64 }{{16, 16, 32}, {32, 32, 16}, {3, 16, 32}, {64, 64, 8}, {16, 16, 8}} {
		for _, custom := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dx%dx%d/custom=%v", c.ci, c.co, c.h, custom), func(b *testing.B) {
				g := NewGraph("conv")
				x := g.Input("x", 128, c.ci, c.h, c.h)
				w := g.Input("w", c.co, c.ci, 3, 3)
				if custom {
					g.Output(g.CustomNode("Conv3x3", []string{x, w}, [][]int64{{128, c.co, c.h, c.h}})[0])
				} else {
					g.Output(g.Conv(x, w, 1, 1))
				}
				model, _ := g.Marshal()
				s, err := env.NewSession(model, g.Inputs(), g.Outputs(), nil)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Destroy()
				rng := rand.New(rand.NewPCG(1, 1))
				var ins []runtime.Value
				for _, name := range g.Inputs() {
					d := make([]float32, numel(g.Shape(name)))
					for i := range d {
						d[i] = float32(rng.NormFloat64())
					}
					t, _ := runtime.NewTensor(d, g.Shape(name)...)
					ins = append(ins, t)
				}
				out, _ := runtime.NewTensor(make([]float32, 128*c.co*c.h*c.h), 128, c.co, c.h, c.h)
				s.Run(ins, []runtime.Value{out})
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := s.Run(ins, []runtime.Value{out}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(128*c.ci*c.co*9*c.h*c.h*2)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
