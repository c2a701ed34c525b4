package gonnx

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/longtail-ml/longtail/graphs"
)

// predictor is what both backends offer.
type predictor interface {
	Predict(x []float32, n int) ([]float32, error)
	Close() error
}

// BenchmarkPredict measures inference latency of an exported ResNet-32
// (CIFAR-10, 3×32×32) on one image and on a batch of 256, with ONNX Runtime
// (all cores) and with the pure-Go backend; ns/op is the latency of one
// Predict call. The Go backend's compile for the batch size happens before
// the timer starts.
func BenchmarkPredict(b *testing.B) {
	spec := graphs.ResNet32(10)
	rng := rand.New(rand.NewPCG(1, 2))
	model := export(b, spec, randomState(spec, rng))
	backends := []struct {
		name string
		open func(b *testing.B) predictor
	}{
		{"ort", func(b *testing.B) predictor {
			p, err := openEnv(b).NewPredictor(model)
			if err != nil {
				b.Fatal(err)
			}
			return p
		}},
		{"go", func(b *testing.B) predictor {
			p, err := New(model)
			if err != nil {
				b.Fatal(err)
			}
			return p
		}},
	}
	for _, be := range backends {
		for _, n := range []int{1, 256} {
			b.Run(fmt.Sprintf("%s/batch=%d", be.name, n), func(b *testing.B) {
				p := be.open(b)
				defer p.Close()
				x := make([]float32, n*3*32*32)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				if _, err := p.Predict(x, n); err != nil { // warm-up (and compile)
					b.Fatal(err)
				}
				b.ResetTimer()
				for b.Loop() {
					if _, err := p.Predict(x, n); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}
