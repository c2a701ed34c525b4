package loss

import (
	"math/rand/v2"
	"testing"
)

// stepNs is a ResNet-32 training step at batch 128 on this machine's CPU
// (about 0.3 s at best, FACTS.md); benchmarks report their share of it.
const stepNs = 0.3e9

// BenchmarkCompute times loss and gradient for a batch of 128 × 100 classes
// (CIFAR-100-LT, IF 100), with statistics.
func BenchmarkCompute(b *testing.B) {
	const classes, batch = 100, 128
	counts := ltCounts(500, classes, 100)
	r := rand.New(rand.NewPCG(1, 2))
	labels := randLabels(r, batch, classes)
	z := make([]float32, batch*classes)
	for i := range z {
		z[i] = float32(3 * r.NormFloat64())
	}
	grad := make([]float32, len(z))
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			l := mustNew(b, Config{Name: name}, counts)
			var s Stats
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Compute(z, labels, classes, grad, &s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/stepNs*100, "%step")
		})
	}
}

// BenchmarkAffine times filling the affine form for the same batch.
func BenchmarkAffine(b *testing.B) {
	const classes, batch = 100, 128
	l := mustNew(b, Config{Name: "ldam", DRWEpoch: 160}, ltCounts(500, classes, 100))
	labels := randLabels(rand.New(rand.NewPCG(1, 2)), batch, classes)
	var a Affine
	b.ReportAllocs()
	for b.Loop() {
		if err := l.(Affiner).Affine(labels, classes, &a); err != nil {
			b.Fatal(err)
		}
	}
}
