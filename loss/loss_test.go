package loss

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

type lossCase struct {
	name string
	c    Config
}

// everyCase crosses every loss (focal at three γ) with every weighting and
// both normalisations.
func everyCase() []lossCase {
	var out []lossCase
	for _, name := range Names() {
		for _, weights := range []string{WeightsNone, WeightsClamped, WeightsCB, WeightsInverse} {
			if name == "cb" && weights != WeightsCB {
				continue
			}
			for _, norm := range []string{NormalizeBatch, NormalizeWeights} {
				c := explicitConfig(name, weights, norm)
				gammas := []float64{c.Gamma}
				if name == "focal" {
					gammas = []float64{0.5, 1, 2}
				}
				for _, g := range gammas {
					c.Gamma = g
					label := fmt.Sprintf("%s/%s/%s", name, weights, norm)
					if name == "focal" {
						label += fmt.Sprintf("/γ=%v", g)
					}
					out = append(out, lossCase{label, c})
				}
			}
		}
	}
	return out
}

// logitScale is the factor the loss applies to logits before the softmax.
func logitScale(c Config) float64 {
	if c.Name == "ldam" {
		return c.Scale
	}
	return 1
}

// regime draws a batch of logits. moderate: N(0, 2²) after the loss's
// scale. offset: each row shifted by U(−1e3, 1e3), one logit per row
// 1e3 below the others (at the label in every fourth row), so exp would
// overflow without the shift while the softmax stays smooth. uniform:
// U(−1e3, 1e3), a saturated softmax that is piecewise linear in practice.
type regime struct {
	name string
	h    float64 // finite-difference step before the loss's scale
	draw func(r *rand.Rand, labels []int32, classes int, scale float64) []float64
}

var regimes = []regime{
	{"moderate", 0x1p-10, func(r *rand.Rand, labels []int32, classes int, scale float64) []float64 {
		z := make([]float64, len(labels)*classes)
		for i := range z {
			z[i] = 2 * r.NormFloat64() / scale
		}
		return z
	}},
	{"offset±1e3", 0x1p-10, func(r *rand.Rand, labels []int32, classes int, scale float64) []float64 {
		z := make([]float64, len(labels)*classes)
		for j, y := range labels {
			o := 2e3*r.Float64() - 1e3
			row := z[j*classes : (j+1)*classes]
			for k := range row {
				row[k] = o + 2*r.NormFloat64()/scale
			}
			far := (int(y) + 1 + r.IntN(classes-1)) % classes
			if j%4 == 1 {
				far = int(y)
			}
			row[far] = o - 1e3
		}
		return z
	}},
	{"uniform±1e3", 0x1p-7, func(r *rand.Rand, labels []int32, classes int, scale float64) []float64 {
		z := make([]float64, len(labels)*classes)
		for i := range z {
			z[i] = 2e3*r.Float64() - 1e3
		}
		return z
	}},
}

// finiteDiff is the five-point central difference of f at every logit.
// h is a power of two, so z ± h and z ± 2h are exact for |z| ≤ 1e3.
func finiteDiff(f func([]float64) float64, z []float64, h float64) []float64 {
	g := make([]float64, len(z))
	for i := range z {
		at := func(d float64) float64 {
			old := z[i]
			z[i] = old + d
			v := f(z)
			z[i] = old
			return v
		}
		g[i] = (8*(at(h)-at(-h)) - (at(2*h) - at(-2*h))) / (12 * h)
	}
	return g
}

// TestGradientMatchesFiniteDifferences is acceptance 1: for every loss and
// weighting the analytic gradient matches central finite differences in
// float64 to relative error < 1e-6, including logits of magnitude 1e3.
func TestGradientMatchesFiniteDifferences(t *testing.T) {
	const classes, batch = 10, 8
	for ci, tc := range everyCase() {
		for ri, rg := range regimes {
			t.Run(tc.name+"/"+rg.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(ci), uint64(ri)))
				l := mustNew(t, tc.c, countsIF100)
				s := logitScale(tc.c)
				labels := randLabels(r, batch, classes)
				z := rg.draw(r, labels, classes, s)
				v, grad := eval64(t, l, z, labels, classes)
				if math.IsNaN(v) || math.IsInf(v, 0) || !allFinite(grad) {
					t.Fatalf("non-finite loss %v or gradient", v)
				}
				h := rg.h / math.Exp2(math.Ceil(math.Log2(s)))
				fd := finiteDiff(func(z []float64) float64 { v, _ := eval64(t, l, z, labels, classes); return v }, z, h)
				if e := gradErr(grad, fd, classes); e > 1e-6 {
					t.Errorf("relative gradient error %.3g > 1e-6", e)
				}
			})
		}
	}
}

// TestLossMatchesReference checks every loss value against the naive
// definitions in reference_test.go.
func TestLossMatchesReference(t *testing.T) {
	const classes, batch = 10, 16
	counts := ltCounts(5000, classes, 50)
	for ci, tc := range everyCase() {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(ci), 7))
			l := mustNew(t, tc.c, counts)
			labels := randLabels(r, batch, classes)
			z := regimes[0].draw(r, labels, classes, 1)
			got, _ := eval64(t, l, z, labels, classes)
			want := refLoss(tc.c, counts, z, labels)
			if e := relErr(got, want); e > 1e-12 {
				t.Errorf("loss %.17g; reference %.17g (rel err %.3g)", got, want, e)
			}
		})
	}
}

// TestFloat32Path checks Compute, the float32 entry point the trainer
// calls, against the naive float64 definitions of reference_test.go: the
// loss against refLoss, the gradient against refLoss's central finite
// differences, in every regime; and, with logits near float32's limits,
// where no difference quotient works, the loss against refLoss and a
// finite gradient whose rows sum to zero (softmax − one-hot, scaled).
func TestFloat32Path(t *testing.T) {
	const classes, batch = 10, 12
	// The loss is accumulated in float64 from float32 inputs; the gradient
	// is rounded to float32 (2⁻²⁴ relative), and the difference quotients
	// are good to 1e-6 (TestGradientMatchesFiniteDifferences).
	const lossTol, gradTol = 1e-12, 2e-6
	limits := regime{"float32 limits", 0, func(r *rand.Rand, labels []int32, classes int, scale float64) []float64 {
		z := make([]float64, len(labels)*classes)
		for i := range z {
			switch i % 7 {
			case 0:
				z[i] = math.MaxFloat32 * (2*r.Float64() - 1)
			case 1, 2:
				z[i] = 2e3*r.Float64() - 1e3
			default:
				z[i] = r.NormFloat64()
			}
		}
		return z
	}}
	for ci, tc := range everyCase() {
		for ri, rg := range append(slices.Clone(regimes), limits) {
			t.Run(tc.name+"/"+rg.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(ci), 11+uint64(ri)))
				l := mustNew(t, tc.c, countsIF100)
				s := logitScale(tc.c)
				labels := randLabels(r, batch, classes)
				z64 := rg.draw(r, labels, classes, s)
				z32 := make([]float32, len(z64))
				for i, v := range z64 {
					z32[i] = float32(v)
					z64[i] = float64(z32[i]) // both paths see the same logits
				}
				grad32 := make([]float32, len(z32))
				got, err := l.Compute(z32, labels, classes, grad32, nil)
				if err != nil {
					t.Fatal(err)
				}
				grad := make([]float64, len(grad32))
				for i, v := range grad32 {
					grad[i] = float64(v)
				}
				if math.IsInf(got, 0) || math.IsNaN(got) || !allFinite(grad) {
					t.Fatalf("non-finite loss %v or gradient", got)
				}
				ref := func(z []float64) float64 { return refLoss(tc.c, countsIF100, z, labels) }
				if want := ref(z64); relErr(got, want) > lossTol {
					t.Errorf("float32 path loss %.17g; reference %.17g (rel err %.3g > %g)", got, want, relErr(got, want), lossTol)
				}
				if rg.h == 0 {
					for j := range labels {
						row, sum, norm := grad[j*classes:(j+1)*classes], 0.0, 0.0
						for _, g := range row {
							sum += g
							norm = math.Max(norm, math.Abs(g))
						}
						if math.Abs(sum) > 1e-6*norm {
							t.Errorf("gradient row %d sums to %.3g (largest entry %.3g); want 0", j, sum, norm)
						}
					}
					return
				}
				h := rg.h / math.Exp2(math.Ceil(math.Log2(s)))
				if e := gradErr(grad, finiteDiff(ref, z64, h), classes); e > gradTol {
					t.Errorf("float32 path gradient: relative error %.3g against the reference's finite differences; want <= %g", e, gradTol)
				}
			})
		}
	}
}

// TestUniformWeightsEqualCE is acceptance 3: with uniform class weights
// every weighted loss is plain cross-entropy; so are focal loss at γ = 0,
// LDAM without margin or scale, and the prior-adjusted losses on a
// balanced training set.
func TestUniformWeightsEqualCE(t *testing.T) {
	const classes, batch = 10, 16
	balanced := make([]int, classes)
	for i := range balanced {
		balanced[i] = 300
	}
	type build func(t *testing.T) Loss
	fromConfig := func(c Config, counts []int) build {
		return func(t *testing.T) Loss { return mustNew(t, c, counts) }
	}
	direct := func(f func(params) (Loss, error), c Config, counts []int) build {
		return func(t *testing.T) Loss {
			c = c.WithDefaults(len(counts))
			l, err := f(params{cfg: c, counts: counts, weights: fill(len(counts), 1)})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
	}
	drw := func(t *testing.T) Loss {
		l := mustNew(t, Config{Name: "weighted_ce", DRWEpoch: 5}, countsIF100)
		l.(Scheduled).SetEpoch(4)
		return l
	}
	tests := []struct {
		name  string
		build build
		tol   float64
	}{
		{"weighted_ce none", fromConfig(Config{Name: "weighted_ce", Weights: "none"}, countsIF100), 0},
		{"weighted_ce clamped [1,1]", fromConfig(Config{Name: "weighted_ce", Lo: 1, Hi: 1}, countsIF100), 0},
		{"weighted_ce clamped [1,1] by weights", fromConfig(Config{Name: "weighted_ce", Lo: 1, Hi: 1, Normalize: "weights"}, countsIF100), 1e-15},
		{"weighted_ce clamped balanced", fromConfig(Config{Name: "weighted_ce"}, balanced), 0},
		{"weighted_ce inverse balanced", fromConfig(Config{Name: "weighted_ce", Weights: "inverse"}, balanced), 1e-15},
		{"cb balanced", fromConfig(Config{Name: "cb"}, balanced), 1e-14},
		{"cb balanced by weights", fromConfig(Config{Name: "cb", Normalize: "weights"}, balanced), 1e-14},
		{"weighted_ce before drw epoch", drw, 0},
		{"balanced_softmax balanced", fromConfig(Config{Name: "balanced_softmax"}, balanced), 1e-13},
		{"logit_adjust balanced", fromConfig(Config{Name: "logit_adjust", Tau: 2}, balanced), 1e-13},
		{"focal γ=0", direct(func(p params) (Loss, error) {
			p.cfg.Gamma = 0
			return newFocal(p)
		}, Config{Name: "focal"}, countsIF100), 1e-13},
		{"ldam margin 0 scale 1", direct(func(p params) (Loss, error) {
			p.cfg.MaxMargin, p.cfg.Scale = 0, 1
			return newLDAM(p)
		}, Config{Name: "ldam"}, countsIF100), 0},
	}
	r := rand.New(rand.NewPCG(3, 4))
	labels := randLabels(r, batch, classes)
	z := regimes[0].draw(r, labels, classes, 1)
	ce := mustNew(t, Config{Name: "ce"}, countsIF100)
	want, wantGrad := eval64(t, ce, z, labels, classes)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, grad := eval64(t, tt.build(t), z, labels, classes)
			if e := relErr(got, want); e > tt.tol {
				t.Errorf("loss %.17g; ce %.17g (rel err %.3g)", got, want, e)
			}
			if e := gradErr(grad, wantGrad, classes); e > max(tt.tol, 1e-15) {
				t.Errorf("gradient differs from ce's by %.3g", e)
			}
		})
	}
}

// TestAffineReproducesGradient evaluates each Affiner's Affine form
// naively and compares it with the loss's own Compute.
func TestAffineReproducesGradient(t *testing.T) {
	const classes, batch = 10, 12
	for ci, tc := range everyCase() {
		for ri, rg := range regimes[:2] {
			t.Run(tc.name+"/"+rg.name, func(t *testing.T) {
				l := mustNew(t, tc.c, countsIF100)
				af, ok := l.(Affiner)
				if !ok {
					if tc.c.Name != "focal" {
						t.Fatalf("%s is not an Affiner", tc.c.Name)
					}
					t.Skip("focal loss has no affine form")
				}
				r := rand.New(rand.NewPCG(uint64(ci), uint64(ri)+20))
				labels := randLabels(r, batch, classes)
				z64 := rg.draw(r, labels, classes, logitScale(tc.c))
				z := make([]float32, len(z64))
				for i, v := range z64 {
					z[i] = float32(v)
				}
				grad := make([]float32, len(z))
				got, err := l.Compute(z, labels, classes, grad, nil)
				if err != nil {
					t.Fatal(err)
				}
				var a Affine
				if err := af.Affine(labels, classes, &a); err != nil {
					t.Fatal(err)
				}
				want, wantGrad := evalAffine(a, z, labels, classes)
				if e := relErr(got, want); e > 1e-5 {
					t.Errorf("loss %v; affine form %v (rel err %.3g)", got, want, e)
				}
				g64 := make([]float64, len(grad))
				for i, v := range grad {
					g64[i] = float64(v)
				}
				if e := gradErr(g64, wantGrad, classes); e > 1e-5 {
					t.Errorf("gradient differs from the affine form's by %.3g", e)
				}
			})
		}
	}
}

// evalAffine evaluates the Affine documentation's formulas in float64.
func evalAffine(a Affine, z []float32, labels []int32, classes int) (float64, []float64) {
	loss := 0.0
	grad := make([]float64, len(z))
	for j, y := range labels {
		t := make([]float64, classes)
		m := math.Inf(-1)
		for k := range t {
			t[k] = float64(a.Scale)*float64(z[j*classes+k]) + float64(a.B[j*classes+k])
			m = math.Max(m, t[k])
		}
		sum := 0.0
		for _, v := range t {
			sum += math.Exp(v - m)
		}
		lse := m + math.Log(sum)
		loss += float64(a.W[j]) * (lse - t[y])
		for k := range t {
			onehot := 0.0
			if k == int(y) {
				onehot = 1
			}
			grad[j*classes+k] = float64(a.W[j]) * float64(a.Scale) * (math.Exp(t[k]-lse) - onehot)
		}
	}
	return loss, grad
}

// TestDeferredReweighting checks that class weights stay off before
// DRWEpoch and switch on from it, in Compute and in Affine.
func TestDeferredReweighting(t *testing.T) {
	const classes, batch = 10, 16
	r := rand.New(rand.NewPCG(5, 6))
	labels := randLabels(r, batch, classes)
	z := regimes[0].draw(r, labels, classes, 30)
	l := mustNew(t, Config{Name: "ldam", DRWEpoch: 3}, countsIF100)
	off, offGrad := eval64(t, mustNew(t, Config{Name: "ldam"}, countsIF100), z, labels, classes)
	on, onGrad := eval64(t, mustNew(t, Config{Name: "ldam", Weights: "cb"}, countsIF100), z, labels, classes)
	if off == on {
		t.Fatal("cb weights do not change the loss; the test cannot tell the phases apart")
	}
	for _, tt := range []struct {
		epoch int
		on    bool
	}{{-1, false}, {0, false}, {2, false}, {3, true}, {199, true}, {1, false}} {
		if tt.epoch >= 0 {
			l.(Scheduled).SetEpoch(tt.epoch)
		}
		got, grad := eval64(t, l, z, labels, classes)
		want, wantGrad := off, offGrad
		if tt.on {
			want, wantGrad = on, onGrad
		}
		if got != want || gradErr(grad, wantGrad, classes) != 0 {
			t.Errorf("epoch %d: loss %v; want %v (weights on = %v)", tt.epoch, got, want, tt.on)
		}
		var a Affine
		if err := l.(Affiner).Affine(labels, classes, &a); err != nil {
			t.Fatal(err)
		}
		uniform := true
		for _, w := range a.W {
			uniform = uniform && w == 1/float32(batch)
		}
		if uniform == tt.on {
			t.Errorf("epoch %d: affine weights uniform = %v; want %v", tt.epoch, uniform, !tt.on)
		}
	}
}

func TestStats(t *testing.T) {
	const classes = 3
	logits := []float32{
		2, 1, 0, // label 0, correct
		0, 3, 1, // label 2, predicted 1
		1, 1, 0, // label 1, tie: first maximum (0) is the prediction
		0, 0, 5, // label 2, correct
	}
	labels := []int32{0, 2, 1, 2}
	for _, name := range []string{"ce", "weighted_ce"} {
		t.Run(name, func(t *testing.T) {
			l := mustNew(t, Config{Name: name}, []int{500, 100, 10})
			var s Stats
			grad := make([]float32, len(logits))
			if _, err := l.Compute(logits, labels, classes, grad, &s); err != nil {
				t.Fatal(err)
			}
			ce := func(j int) float64 {
				z := make([]float64, classes)
				for k := range z {
					z[k] = float64(logits[j*classes+k])
				}
				return -math.Log(naiveSoftmax(z)[labels[j]])
			}
			wantCount, wantCorrect := []int{1, 1, 2}, []int{1, 0, 1}
			wantSum := []float64{ce(0), ce(2), ce(1) + ce(3)}
			for c := range classes {
				if s.Count[c] != wantCount[c] || s.Correct[c] != wantCorrect[c] || relErr(s.LossSum[c], wantSum[c]) > 1e-14 {
					t.Errorf("class %d: count %d correct %d loss sum %v; want %d %d %v",
						c, s.Count[c], s.Correct[c], s.LossSum[c], wantCount[c], wantCorrect[c], wantSum[c])
				}
			}
			if got := s.Accuracy(2); got != 0.5 {
				t.Errorf("Accuracy(2) = %v; want 0.5", got)
			}
			if got, want := s.MeanLoss(2), wantSum[2]/2; relErr(got, want) > 1e-14 {
				t.Errorf("MeanLoss(2) = %v; want %v", got, want)
			}
			// A second batch accumulates; Merge adds; Reset clears.
			if _, err := l.Compute(logits, labels, classes, grad, &s); err != nil {
				t.Fatal(err)
			}
			var total Stats
			if err := total.Merge(&s); err != nil {
				t.Fatal(err)
			}
			if err := total.Merge(&s); err != nil {
				t.Fatal(err)
			}
			if total.Count[2] != 8 || total.Correct[0] != 4 {
				t.Errorf("merged counts %v correct %v; want class 2 count 8, class 0 correct 4", total.Count, total.Correct)
			}
			s.Reset(classes)
			if s.Count[2] != 0 || !math.IsNaN(s.MeanLoss(2)) || !math.IsNaN(s.Accuracy(0)) {
				t.Errorf("after Reset: %+v, MeanLoss %v; want zeros and NaN", s, s.MeanLoss(2))
			}
			var wrong Stats
			wrong.Reset(5)
			if err := total.Merge(&wrong); !errors.Is(err, ErrShape) {
				t.Errorf("Merge of 5 classes into 3: %v; want ErrShape", err)
			}
			if _, err := l.Compute(logits, labels, classes, grad, &wrong); !errors.Is(err, ErrShape) {
				t.Errorf("Compute into 5-class stats: %v; want ErrShape", err)
			}
		})
	}
}

func TestComputeErrors(t *testing.T) {
	const classes = 4
	ok := func() ([]float32, []int32, []float32) {
		return make([]float32, 2*classes), []int32{0, 3}, make([]float32, 2*classes)
	}
	nan := func() ([]float32, []int32, []float32) {
		z, y, g := ok()
		z[5] = float32(math.NaN())
		return z, y, g
	}
	inf := func() ([]float32, []int32, []float32) {
		z, y, g := ok()
		z[1] = float32(math.Inf(1))
		return z, y, g
	}
	tests := []struct {
		name    string
		classes int
		batch   func() ([]float32, []int32, []float32)
		target  error
		text    string
	}{
		{"wrong classes", 5, ok, ErrShape, "built for 4"},
		{"short logits", classes, func() ([]float32, []int32, []float32) { z, y, g := ok(); return z[1:], y, g }, ErrShape, "7 logits"},
		{"short grad", classes, func() ([]float32, []int32, []float32) { z, y, g := ok(); return z, y, g[1:] }, ErrShape, "grad holds 7"},
		{"empty batch", classes, func() ([]float32, []int32, []float32) { return nil, nil, nil }, ErrShape, "empty batch"},
		{"label too big", classes, func() ([]float32, []int32, []float32) { z, y, g := ok(); y[1] = 4; return z, y, g }, ErrLabel, "labels[1] = 4"},
		{"negative label", classes, func() ([]float32, []int32, []float32) { z, y, g := ok(); y[0] = -1; return z, y, g }, ErrLabel, "labels[0] = -1"},
		{"NaN logit", classes, nan, ErrNonFinite, "NaN"},
		{"infinite logit", classes, inf, ErrNonFinite, "NaN"},
	}
	for _, name := range Names() {
		l := mustNew(t, Config{Name: name}, []int{40, 30, 20, 10})
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				z, y, g := tt.batch()
				_, err := l.Compute(z, y, tt.classes, g, nil)
				if !errors.Is(err, tt.target) || !strings.Contains(err.Error(), tt.text) {
					t.Errorf("error %v; want %v mentioning %q", err, tt.target, tt.text)
				}
			})
		}
	}
}

// TestComputeDoesNotAllocate checks the steady state: scratch is reused.
func TestComputeDoesNotAllocate(t *testing.T) {
	const classes, batch = 10, 32
	r := rand.New(rand.NewPCG(8, 9))
	labels := randLabels(r, batch, classes)
	z := make([]float32, batch*classes)
	for i := range z {
		z[i] = float32(r.NormFloat64())
	}
	grad := make([]float32, len(z))
	for _, name := range Names() {
		l := mustNew(t, Config{Name: name}, countsIF100)
		var s Stats
		var a Affine
		af, isAffine := l.(Affiner)
		run := func() {
			if _, err := l.Compute(z, labels, classes, grad, &s); err != nil {
				t.Fatal(err)
			}
			if isAffine {
				if err := af.Affine(labels, classes, &a); err != nil {
					t.Fatal(err)
				}
			}
		}
		run()
		if n := testing.AllocsPerRun(20, run); n != 0 {
			t.Errorf("%s: %v allocations per batch; want 0", name, n)
		}
	}
}
