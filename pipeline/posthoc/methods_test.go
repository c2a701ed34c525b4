package posthoc

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/longtail-ml/longtail/internal/testseed"
	"github.com/longtail-ml/longtail/loss"
)

// randomClassifier has Gaussian weights and biases; randomSplit Gaussian
// features (the pooled features are non-negative, but nothing here relies on
// it) and labels in turn.
func randomClassifier(rng *rand.Rand, classes, dim int) *Classifier {
	c := &Classifier{W: make([]float32, classes*dim), B: make([]float32, classes)}
	for _, v := range [][]float32{c.W, c.B} {
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
	}
	return c
}

func randomSplit(rng *rand.Rand, name string, n, classes, dim int) *Split {
	s := &Split{Name: name, X: make([]float32, n*dim), Labels: make([]int32, n), Dim: dim}
	for i := range s.X {
		s.X[i] = float32(rng.NormFloat64())
	}
	for i := range s.Labels {
		s.Labels[i] = int32(i % classes)
	}
	return s
}

// TestZeroTauIsIdentity: τ = 0 for τ-norm and logit adjustment, and LWS's
// starting scales of 1, reproduce the trained classifier's values and its
// logits bit for bit.
func TestZeroTauIsIdentity(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.New(t), 1))
	for _, tc := range []struct{ classes, dim int }{{2, 1}, {5, 16}, {100, 64}} {
		c := randomClassifier(rng, tc.classes, tc.dim)
		s := randomSplit(rng, "val", 37, tc.classes, tc.dim)
		counts := make([]int, tc.classes)
		for j := range counts {
			counts[j] = 1 + rng.IntN(5000)
		}
		want := c.Logits(s)
		s1 := make([]float64, tc.classes)
		for j := range s1 {
			s1[j] = 1
		}
		for name, got := range map[string]*Classifier{
			"tau_norm τ=0":     TauNormalize(c, 0, false),
			"logit_adjust τ=0": AdjustLogits(c, counts, 0),
			"lws scales 1":     (&lwsHead{base: c, s: s1}).classifier(),
		} {
			if !slices.Equal(got.W, c.W) || !slices.Equal(got.B, c.B) || got.Normalize {
				t.Errorf("%d×%d %s changes the classifier", tc.classes, tc.dim, name)
			}
			if l := got.Logits(s); !slices.Equal(l, want) {
				t.Errorf("%d×%d %s changes the logits", tc.classes, tc.dim, name)
			}
		}
	}
}

// TestTauNorm: τ = 1 leaves every weight row of unit norm, each logit less
// its bias is the original one's divided by ‖w_j‖^τ, and the bias is kept or
// dropped.
func TestTauNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.New(t), 2))
	c := randomClassifier(rng, 7, 12)
	s := randomSplit(rng, "val", 20, 7, 12)
	z0 := c.Logits(s)
	for _, tau := range []float64{0.5, 1, 2} {
		n := TauNormalize(c, tau, false)
		z := n.Logits(s)
		if nb := TauNormalize(c, tau, true); !slices.Equal(nb.W, n.W) || slices.ContainsFunc(nb.B, func(v float32) bool { return v != 0 }) || !slices.Equal(n.B, c.B) {
			t.Errorf("τ=%g: the bias is not kept, or not dropped", tau)
		}
		for j := range 7 {
			var ss, ss1 float64
			for _, v := range c.W[j*12 : (j+1)*12] {
				ss += float64(v) * float64(v)
			}
			for _, v := range n.W[j*12 : (j+1)*12] {
				ss1 += float64(v) * float64(v)
			}
			if want := math.Pow(ss, 1-tau); math.Abs(ss1-want) > 1e-5*want {
				t.Errorf("τ=%g: ‖w_%d‖² = %.6g; want ‖w‖^(2−2τ) = %.6g", tau, j, ss1, want)
			}
			div := math.Pow(math.Sqrt(ss), tau)
			for i := range 20 {
				b := float64(c.B[j])
				if got, want := float64(z[i*7+j])-b, (float64(z0[i*7+j])-b)/div; math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
					t.Errorf("τ=%g: logit %d,%d = %.6g; want %.6g", tau, i, j, got, want)
				}
			}
		}
	}
}

// TestLogitAdjustIsBayesOptimal: with Gaussian classes x ~ N(μ_j, I) under
// the training prior π, the log-posterior logits are μ_j·x − ½‖μ_j‖² +
// log π_j. Logit adjustment with τ = 1 must give the bias −½‖μ_j‖² and the
// predictions of the Bayes-optimal rule for a uniform prior, argmax_j
// p(x | j), computed here directly from the densities.
func TestLogitAdjustIsBayesOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.New(t), 3))
	const classes, dim, n = 6, 4, 3000
	counts := []int{5000, 2000, 800, 300, 120, 50}
	var total float64
	for _, k := range counts {
		total += float64(k)
	}
	mu := make([][]float64, classes)
	c := &Classifier{W: make([]float32, classes*dim), B: make([]float32, classes)}
	for j := range classes {
		mu[j] = make([]float64, dim)
		var ss float64
		for d := range dim {
			mu[j][d] = 1.5 * rng.NormFloat64()
			ss += mu[j][d] * mu[j][d]
			c.W[j*dim+d] = float32(mu[j][d])
		}
		c.B[j] = float32(-ss/2 + math.Log(float64(counts[j])/total))
	}
	adj := AdjustLogits(c, counts, 1)
	for j := range classes {
		var ss float64
		for _, v := range mu[j] {
			ss += v * v
		}
		if got := float64(adj.B[j]); math.Abs(got+ss/2) > 1e-5*math.Max(1, ss) {
			t.Errorf("adjusted bias %d = %.7g; want −½‖μ‖² = %.7g", j, got, -ss/2)
		}
	}
	// Test points from the balanced distribution.
	s := &Split{Name: "test", X: make([]float32, n*dim), Labels: make([]int32, n), Dim: dim}
	for i := range n {
		y := i % classes
		s.Labels[i] = int32(y)
		for d := range dim {
			s.X[i*dim+d] = float32(mu[y][d] + rng.NormFloat64())
		}
	}
	z := adj.Logits(s)
	var agree, rightAdj, rightPlain int
	z0 := c.Logits(s)
	for i := range n {
		best, bestP := 0, math.Inf(-1)
		for j := range classes {
			var d2 float64
			for d := range dim {
				e := float64(s.X[i*dim+d]) - mu[j][d]
				d2 += e * e
			}
			if p := math.Exp(-d2 / 2); p > bestP {
				best, bestP = j, p
			}
		}
		got := argmax32(z[i*classes : (i+1)*classes])
		if got == best {
			agree++
		}
		if got == int(s.Labels[i]) {
			rightAdj++
		}
		if argmax32(z0[i*classes:(i+1)*classes]) == int(s.Labels[i]) {
			rightPlain++
		}
	}
	// Only exact ties of the densities (probability 0) or float32 rounding
	// near the boundary may disagree.
	if agree < n-2 {
		t.Errorf("τ=1 agrees with argmax_j p(x|j) on %d of %d points; want all", agree, n)
	}
	if rightAdj <= rightPlain {
		t.Errorf("balanced accuracy: adjusted %d, plain %d of %d; the Bayes rule should win", rightAdj, rightPlain, n)
	}
}

func argmax32(v []float32) int {
	best := 0
	for j := range v {
		if v[j] > v[best] {
			best = j
		}
	}
	return best
}

// TestNCM: the NCM classifier predicts the class whose mean of normalised
// training features is nearest, as a direct distance computation finds.
func TestNCM(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.New(t), 4))
	const classes, dim = 5, 8
	train := randomSplit(rng, "train", 200, classes, dim)
	for i := range train.X { // shift each class so that the means differ
		train.X[i] += float32(train.Labels[i/dim]) * float32(i%dim%3) * 0.5
	}
	c, err := NearestClassMean(train, classes)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Normalize {
		t.Fatal("NCM classifier does not normalise")
	}
	mean := make([][]float64, classes)
	cnt := make([]int, classes)
	f := make([]float64, dim)
	for j := range mean {
		mean[j] = make([]float64, dim)
	}
	for i, y := range train.Labels {
		var ss float64
		for _, v := range train.Row(i) {
			ss += float64(v) * float64(v)
		}
		for d, v := range train.Row(i) {
			mean[y][d] += float64(v) / math.Sqrt(ss)
		}
		cnt[y]++
	}
	test := randomSplit(rng, "test", 300, classes, dim)
	z := c.Logits(test)
	for i := range test.Len() {
		normalized(test.Row(i), f)
		best, bestD := 0, math.Inf(1)
		for j := range classes {
			var d2 float64
			for d := range dim {
				e := f[d] - mean[j][d]/float64(cnt[j])
				d2 += e * e
			}
			if d2 < bestD {
				best, bestD = j, d2
			}
		}
		if got := argmax32(z[i*classes : (i+1)*classes]); got != best {
			t.Errorf("image %d: NCM predicts %d; the nearest mean is %d", i, got, best)
		}
	}
	empty := randomSplit(rng, "train", 8, 4, dim)
	if _, err := NearestClassMean(empty, 5); err == nil {
		t.Error("NCM with a class without images: no error")
	}
}

// TestHeadGradients checks cRT's and LWS's parameter gradients against
// central finite differences of the loss, for a weighted loss.
func TestHeadGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.New(t), 5))
	const classes, dim, n = 4, 6, 9
	counts := []int{90, 40, 15, 5}
	l, err := loss.New(loss.Config{Name: "weighted_ce"}, counts)
	if err != nil {
		t.Fatal(err)
	}
	s := randomSplit(rng, "train", n, classes, dim)
	f := make([]float64, n*dim)
	for i, v := range s.X {
		f[i] = float64(v)
	}
	base := randomClassifier(rng, classes, dim)
	crt := &crtHead{classes: classes, dim: dim, p: make([]float64, classes*dim+classes)}
	for i := range crt.p {
		crt.p[i] = 0.3 * rng.NormFloat64()
	}
	sc := make([]float64, classes)
	for j := range sc {
		sc[j] = 0.5 + rng.Float64()
	}
	// LWS trains on the base classifier's logits.
	z0 := make([]float64, n*classes)
	for i, v := range base.Logits(s) {
		z0[i] = float64(v)
	}
	for name, tc := range map[string]struct {
		h linearHead
		f []float64
	}{"crt": {crt, f}, "lws": {&lwsHead{base: base, s: sc}, z0}} {
		h, f := tc.h, tc.f
		z := make([]float32, n*classes)
		dz := make([]float32, n*classes)
		lossAt := func() float64 {
			h.logits(f, n, z)
			v, err := l.Compute(z, s.Labels, classes, dz, nil)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		lossAt()
		g := make([]float64, len(h.params()))
		h.grad(f, n, dz, g)
		p := h.params()
		const eps = 1e-3
		for i := range p {
			old := p[i]
			p[i] = old + eps
			up := lossAt()
			p[i] = old - eps
			down := lossAt()
			p[i] = old
			num := (up - down) / (2 * eps)
			// float32 logits bound the finite difference's accuracy.
			if math.Abs(num-g[i]) > 2e-3*math.Max(1, math.Abs(num)) {
				t.Errorf("%s: dL/dp[%d] = %.6g; finite differences %.6g", name, i, g[i], num)
			}
		}
	}
}

// TestCRTRebalances: on separable features with a 50:1 imbalance and class
// overlap, the re-trained classifier with balanced sampling reaches a higher
// balanced validation accuracy than one trained by random sampling, and its
// tail class is predicted at least as often.
func TestCRTRebalances(t *testing.T) {
	rng := rand.New(rand.NewPCG(testseed.New(t), 6))
	const classes, dim = 3, 4
	counts := []int{500, 100, 10}
	centre := [][]float64{{2, 0, 0, 0}, {0, 2, 0, 0}, {0, 0, 2, 0}}
	draw := func(name string, per []int) *Split {
		s := &Split{Name: name, Dim: dim}
		for y, k := range per {
			for range k {
				for d := range dim {
					s.X = append(s.X, float32(centre[y][d]+1.2*rng.NormFloat64()))
				}
				s.Labels = append(s.Labels, int32(y))
			}
		}
		return s
	}
	train, val := draw("train", counts), draw("val", []int{300, 300, 300})
	fit := func(sampler string) (float64, int) {
		t.Helper()
		f := &fitting{base: &Classifier{W: make([]float32, classes*dim), B: make([]float32, classes)}, train: train, counts: counts,
			cfg: Config{Train: TrainConfig{Sampler: sampler, LR: []float64{0.1}, Epochs: []int{20}, Batch: 32, PerClass: 10}}.WithDefaults()}
		cands, err := fitCRT(f)
		if err != nil {
			t.Fatal(err)
		}
		acc, err := valTop1(cands[0].c, val)
		if err != nil {
			t.Fatal(err)
		}
		tl, _ := cands[0].c.Tally(val)
		return acc, int(tl.Confusion[2][2])
	}
	balAcc, balTail := fit("balanced")
	rsAcc, rsTail := fit("random")
	t.Logf("balanced val accuracy: balanced sampling %.3f (tail %d/300), random %.3f (tail %d/300)", balAcc, balTail, rsAcc, rsTail)
	if balAcc <= rsAcc || balTail < rsTail {
		t.Errorf("cRT with balanced sampling: %.3f (tail %d); random sampling %.3f (tail %d); want balanced ahead", balAcc, balTail, rsAcc, rsTail)
	}
}

// BenchmarkCRTEpoch is one epoch of cRT on features the size of
// CIFAR-100-LT at IF 100 (10,847 images, 64 features, 100 classes) with
// balanced batches of 128.
func BenchmarkCRTEpoch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	const classes, dim = 100, 64
	counts := make([]int, classes)
	total := 0
	for j := range counts {
		counts[j] = int(math.Round(500 * math.Pow(0.01, float64(j)/(classes-1))))
		total += counts[j]
	}
	train := &Split{Name: "train", X: make([]float32, total*dim), Dim: dim}
	for j, k := range counts {
		for range k {
			train.Labels = append(train.Labels, int32(j))
		}
	}
	for i := range train.X {
		train.X[i] = float32(rng.Float64())
	}
	cfg := Default().Train
	for b.Loop() {
		h := &crtHead{classes: classes, dim: dim, p: make([]float64, classes*dim+classes)}
		if err := trainHead(h, train, counts, cfg, 0.2, 1); err != nil {
			b.Fatal(err)
		}
	}
}
