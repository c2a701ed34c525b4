package pipeline

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// onehot returns logits that predict p for each entry.
func onehot(classes int, preds ...int) []float32 {
	out := make([]float32, len(preds)*classes)
	for i, p := range preds {
		out[i*classes+p] = 1
	}
	return out
}

func TestSummarize(t *testing.T) {
	// Class 0: 4 test images, 3 right, 1 taken for class 1 → 0.75.
	// Class 1: 2 images, 1 right → 0.5. Class 2: 4 images, all right → 1.
	// Top-1 8/10; mean per-class 0.75, deviations 0, −0.25, 0.25, so
	// SD = sqrt(0.125/3).
	c := NewConfusion(3)
	c.Add(onehot(3, 0, 0, 1, 0, 1, 2), []int32{0, 0, 0, 0, 1, 1})
	c.Add(onehot(3, 2, 2, 2, 2), []int32{2, 2, 2, 2})
	for _, tc := range []struct {
		name              string
		counts            []int
		many, medium, few float64 // NaN: no class in the group
	}{
		{"one per group", []int{500, 50, 5}, 0.75, 0.5, 1},
		{"boundaries", []int{101, 100, 20}, 0.75, 0.75, math.NaN()},
		{"few at 19", []int{101, 20, 19}, 0.75, 0.5, 1},
		{"all many", []int{5000, 2000, 101}, 0.75, math.NaN(), math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Summarize(c, tc.counts, DefaultShots())
			if err != nil {
				t.Fatal(err)
			}
			near := func(what string, got, want float64) {
				if math.Abs(got-want) > 1e-12 {
					t.Errorf("%s = %v; want %v", what, got, want)
				}
			}
			near("top1", m.Top1, 0.8)
			near("sd", m.SD, math.Sqrt(0.125/3))
			// Predicted 0: three images, all of class 0. Predicted 1: one
			// of class 0, one of class 1. Predicted 2: four of class 2 and
			// one of class 1.
			for i, want := range []float64{1, 0.5, 0.8} {
				near(fmt.Sprintf("precision[%d]", i), m.Precision[i], want)
			}
			near("worst", m.Worst, 0.5)
			if m.WorstClass != 1 {
				t.Errorf("worst class %d; want 1", m.WorstClass)
			}
			if m.HasCalibration() {
				t.Errorf("a bare confusion matrix has calibration: ECE %v, %d bins", m.ECE, len(m.Reliability))
			}
			for i, want := range []float64{0.75, 0.5, 1} {
				near(fmt.Sprintf("per-class[%d]", i), m.PerClass[i], want)
			}
			for _, g := range []struct {
				name string
				got  *float64
				want float64
			}{{"many", m.Many, tc.many}, {"medium", m.Medium, tc.medium}, {"few", m.Few, tc.few}} {
				switch {
				case math.IsNaN(g.want) && g.got != nil:
					t.Errorf("%s = %v; want none", g.name, *g.got)
				case !math.IsNaN(g.want) && g.got == nil:
					t.Errorf("%s missing; want %v", g.name, g.want)
				case g.got != nil:
					near(g.name, *g.got, g.want)
				}
			}
		})
	}
	if c[0][1] != 1 || c[1][2] != 1 || c[2][2] != 4 {
		t.Errorf("confusion %v", c)
	}
}

func TestSummarizeErrors(t *testing.T) {
	c := NewConfusion(2)
	c.Add(onehot(2, 0), []int32{0})
	tests := []struct {
		name   string
		counts []int
		want   string
	}{
		{"class without test images", []int{5, 5}, "pipeline: class 1 has no test images"},
		{"too few training counts", []int{5}, "pipeline: 1 training counts for 2 classes"},
		{"too many training counts", []int{5, 5, 5}, "pipeline: 3 training counts for 2 classes"},
	}
	for _, tc := range tests {
		if _, err := Summarize(c, tc.counts, DefaultShots()); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v; want one starting %q", tc.name, err, tc.want)
		}
	}
}

func TestArgmaxFirstOnTies(t *testing.T) {
	c := NewConfusion(3)
	c.Add([]float32{0.5, 0.5, 0.1}, []int32{1})
	if c[1][0] != 1 {
		t.Errorf("tie went to %v; want class 0", c[1])
	}
}

func ExampleSummarize() {
	// Two classes: the head (300 training images) gets 9 of 10 test images
	// right, the tail (10 training images) 5 of 10.
	c := Confusion{{9, 1}, {5, 5}}
	m, _ := Summarize(c, []int{300, 10}, DefaultShots())
	fmt.Printf("top-1 %.2f, per class %.2f, SD %.2f, many %.2f, few %.2f, medium %v\n",
		m.Top1, m.PerClass, m.SD, *m.Many, *m.Few, m.Medium)
	// Output: top-1 0.70, per class [0.90 0.50], SD 0.20, many 0.90, few 0.50, medium <nil>
}

// TestPrecisionNeverPredicted checks the zero_division=0 convention: a
// class no image is predicted as has precision 0, and the worst class is
// the first of equals.
func TestPrecisionNeverPredicted(t *testing.T) {
	// Class 0: 2 of 2 right. Class 1: both taken for 0. Class 2: both
	// taken for 0. Predicted 0: 6 images, 2 of class 0.
	m, err := Summarize(Confusion{{2, 0, 0}, {2, 0, 0}, {2, 0, 0}}, []int{10, 10, 10}, DefaultShots())
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{2.0 / 6, 0, 0}; !slices.Equal(m.Precision, want) {
		t.Errorf("precision %v; want %v", m.Precision, want)
	}
	if m.Worst != 0 || m.WorstClass != 1 {
		t.Errorf("worst %v (class %d); want 0 (class 1, the first of equals)", m.Worst, m.WorstClass)
	}
}

// logitsFor returns two-class logits whose softmax puts probability p on
// class hi and 1−p on the other: log(p/(1−p)) apart.
func logitsFor(p float64, hi int) []float32 {
	z := []float32{0, 0}
	z[hi] = float32(math.Log(p / (1 - p)))
	return z
}

// TestTallyCalibration checks ECE and the reliability bins on cases
// worked by hand. Bin b holds confidences in (b/15, (b+1)/15].
func TestTallyCalibration(t *testing.T) {
	type bin struct {
		b          int
		count      int64
		conf, accu float64
	}
	for _, tc := range []struct {
		name    string
		classes int
		logits  [][]float32
		labels  []int32
		ece     float64
		bins    []bin // the non-empty bins
	}{
		{
			// Confidence 0.5 in (7/15, 8/15]; one of two right.
			name: "calibrated coin", classes: 2, logits: [][]float32{{0, 0}, {0, 0}}, labels: []int32{0, 1},
			ece: 0, bins: []bin{{7, 2, 0.5, 0.5}},
		},
		{
			// Confidence 0.75 in (11/15, 12/15]; three of four right.
			name: "calibrated 0.75", classes: 2, logits: [][]float32{logitsFor(0.75, 0), logitsFor(0.75, 0), logitsFor(0.75, 0), logitsFor(0.75, 0)},
			labels: []int32{0, 0, 0, 1}, ece: 0, bins: []bin{{11, 4, 0.75, 0.75}},
		},
		{
			// One of two right at 0.75: |0.5 − 0.75|.
			name: "overconfident", classes: 2, logits: [][]float32{logitsFor(0.75, 0), logitsFor(0.75, 0)},
			labels: []int32{0, 1}, ece: 0.25, bins: []bin{{11, 2, 0.75, 0.5}},
		},
		{
			// 0.9 right in bin 13 and 0.7 wrong in bin 10 (10/15 < 0.7 ≤ 11/15):
			// ½·|1 − 0.9| + ½·|0 − 0.7| = 0.05 + 0.35.
			name: "two bins", classes: 2, logits: [][]float32{logitsFor(0.9, 0), logitsFor(0.7, 0)},
			labels: []int32{0, 1}, ece: 0.4, bins: []bin{{13, 1, 0.9, 1}, {10, 1, 0.7, 0}},
		},
		{
			// Uniform over three: confidence 1/3 is the upper edge of bin
			// 4, (4/15, 5/15]; the prediction is class 0, right once.
			name: "edge goes down", classes: 3, logits: [][]float32{{0, 0, 0}, {1, 1, 1}, {-2, -2, -2}},
			labels: []int32{0, 1, 2}, ece: 0, bins: []bin{{4, 3, 1.0 / 3, 1.0 / 3}},
		},
		{
			// Large logits: without the max subtracted exp overflows.
			// Softmax of (1000, 0) is 1 to float64 precision: bin 14.
			name: "large logits", classes: 2, logits: [][]float32{{1000, 0}, {1000, 0}},
			labels: []int32{0, 1}, ece: 0.5, bins: []bin{{14, 2, 1, 0.5}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := NewTally(tc.classes)
			for i, z := range tc.logits {
				tl.Add(z, tc.labels[i:i+1])
			}
			m, err := tl.Summarize(make([]int, tc.classes), DefaultShots())
			if err != nil {
				t.Fatal(err)
			}
			const tol = 1e-6 // the logits are float32
			if !m.HasCalibration() || math.Abs(m.ECE-tc.ece) > tol {
				t.Errorf("ECE %v (calibration %v); want %v", m.ECE, m.HasCalibration(), tc.ece)
			}
			if len(m.Reliability) != CalibrationBins {
				t.Fatalf("%d bins; want %d", len(m.Reliability), CalibrationBins)
			}
			want := map[int]bin{}
			for _, b := range tc.bins {
				want[b.b] = b
			}
			for b, got := range m.Reliability {
				if math.Abs(got.Lo-float64(b)/15) > 1e-15 || math.Abs(got.Hi-float64(b+1)/15) > 1e-15 {
					t.Errorf("bin %d spans (%v, %v]", b, got.Lo, got.Hi)
				}
				w := want[b]
				if got.Count != w.count || math.Abs(got.Confidence-w.conf) > tol || math.Abs(got.Accuracy-w.accu) > tol {
					t.Errorf("bin %d: %d images, confidence %v, accuracy %v; want %d, %v, %v", b, got.Count, got.Confidence, got.Accuracy, w.count, w.conf, w.accu)
				}
			}
		})
	}
}

// TestTallyRandom checks a tally of random logits against a naive
// re-computation: softmax without the max subtracted, bins found by
// scanning the edges, precision and recall counted image by image.
func TestTallyRandom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	const classes, n = 6, 3000
	logits := make([]float32, n*classes)
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(rng.IntN(classes))
		for j := range classes {
			logits[i*classes+j] = float32(3 * rng.NormFloat64())
		}
		// Make the labelled class likelier, so accuracy is neither 0 nor 1.
		logits[i*classes+int(labels[i])] += 2
	}
	tl := NewTally(classes)
	for i := 0; i < n; i += 256 { // batches, the last one short
		k := min(256, n-i)
		tl.Add(logits[i*classes:(i+k)*classes], labels[i:i+k])
	}
	counts := []int{500, 200, 100, 50, 20, 5}
	m, err := tl.Summarize(counts, DefaultShots())
	if err != nil {
		t.Fatal(err)
	}

	var binN, binRight [15]float64
	var binConf [15]float64
	var predN, predRight, classN [classes]float64
	for i, y := range labels {
		z := logits[i*classes : (i+1)*classes]
		pred := 0
		var sum float64
		for j, v := range z {
			sum += math.Exp(float64(v))
			if v > z[pred] {
				pred = j
			}
		}
		conf := math.Exp(float64(z[pred])) / sum
		b := -1
		for k := range 15 {
			if conf > float64(k)/15 && conf <= float64(k+1)/15 {
				b = k
			}
		}
		if b < 0 {
			t.Fatalf("image %d: confidence %v in no bin", i, conf)
		}
		right := 0.0
		if pred == int(y) {
			right = 1
		}
		binN[b]++
		binRight[b] += right
		binConf[b] += conf
		predN[pred]++
		predRight[pred] += right
		classN[y]++
	}
	var ece float64
	for b := range 15 {
		if binN[b] == 0 {
			continue
		}
		ece += binN[b] / n * math.Abs(binRight[b]/binN[b]-binConf[b]/binN[b])
		got := m.Reliability[b]
		if float64(got.Count) != binN[b] || math.Abs(got.Accuracy-binRight[b]/binN[b]) > 1e-12 || math.Abs(got.Confidence-binConf[b]/binN[b]) > 1e-12 {
			t.Errorf("seed %d: bin %d: %+v; want %v images, accuracy %v, confidence %v", seed, b, got, binN[b], binRight[b]/binN[b], binConf[b]/binN[b])
		}
	}
	if math.Abs(m.ECE-ece) > 1e-12 {
		t.Errorf("seed %d: ECE %v; want %v", seed, m.ECE, ece)
	}
	worst, worstClass := math.Inf(1), -1
	for c := range classes {
		var recall float64
		for i, y := range labels {
			if int(y) == c && argmax(logits[i*classes:(i+1)*classes]) == c {
				recall++
			}
		}
		recall /= classN[c]
		if math.Abs(m.PerClass[c]-recall) > 1e-12 {
			t.Errorf("seed %d: recall[%d] %v; want %v", seed, c, m.PerClass[c], recall)
		}
		if recall < worst {
			worst, worstClass = recall, c
		}
		prec := 0.0
		if predN[c] > 0 {
			prec = predRight[c] / predN[c]
		}
		if math.Abs(m.Precision[c]-prec) > 1e-12 {
			t.Errorf("seed %d: precision[%d] %v; want %v", seed, c, m.Precision[c], prec)
		}
	}
	if m.Worst != worst || m.WorstClass != worstClass {
		t.Errorf("seed %d: worst %v (class %d); want %v (class %d)", seed, m.Worst, m.WorstClass, worst, worstClass)
	}
	if m.ECE <= 0 || m.ECE >= 1 {
		t.Errorf("seed %d: ECE %v; want a value strictly inside (0, 1) for random logits", seed, m.ECE)
	}
}

func TestTallyNonFinite(t *testing.T) {
	tl := NewTally(2)
	tl.Add([]float32{0, 1, float32(math.NaN()), 0}, []int32{1, 0})
	_, err := tl.Summarize([]int{5, 5}, DefaultShots())
	if err == nil || !strings.Contains(err.Error(), "1 test images have non-finite logits") {
		t.Errorf("error %v; want one naming the image with non-finite logits", err)
	}
}

// TestSummarizeShots checks that eval.many_shot and eval.few_shot, as a
// config sets them, move classes between the groups.
func TestSummarizeShots(t *testing.T) {
	// Per-class accuracy 0.75, 0.5, 1 (as in TestSummarize).
	c := Confusion{{3, 1, 0}, {0, 1, 1}, {0, 0, 4}}
	counts := []int{500, 50, 5}
	for _, tc := range []struct {
		set               []string
		many, medium, few float64 // NaN: no class in the group
	}{
		{nil, 0.75, 0.5, 1},
		{[]string{"eval.many_shot=40", "eval.few_shot=10"}, 0.625, math.NaN(), 1},
		{[]string{"eval.many_shot=500", "eval.few_shot=5"}, math.NaN(), 0.75, math.NaN()},
		{[]string{"eval.many_shot=50", "eval.few_shot=50"}, 0.75, 0.5, 1},
		{[]string{"eval.many_shot=0", "eval.few_shot=0"}, 0.75, math.NaN(), math.NaN()},
		{[]string{"eval.many_shot=1000", "eval.few_shot=1000"}, math.NaN(), math.NaN(), 0.75},
	} {
		cfg, err := Load(Sources{Set: tc.set})
		if err != nil {
			t.Fatalf("%v: %v", tc.set, err)
		}
		m, err := Summarize(c, counts, cfg.Eval.Shots())
		if err != nil {
			t.Fatal(err)
		}
		if m.Shots == nil || *m.Shots != cfg.Eval.Shots() || m.ShotThresholds() != cfg.Eval.Shots() {
			t.Errorf("%v: recorded thresholds %v; want %v", tc.set, m.Shots, cfg.Eval.Shots())
		}
		for _, g := range []struct {
			name string
			got  *float64
			want float64
		}{{"many", m.Many, tc.many}, {"medium", m.Medium, tc.medium}, {"few", m.Few, tc.few}} {
			switch {
			case math.IsNaN(g.want) && g.got != nil:
				t.Errorf("%v: %s = %v; want none", tc.set, g.name, *g.got)
			case !math.IsNaN(g.want) && (g.got == nil || math.Abs(*g.got-g.want) > 1e-12):
				t.Errorf("%v: %s = %v; want %v", tc.set, g.name, g.got, g.want)
			}
		}
	}
	var old Metrics
	if old.ShotThresholds() != (Shots{Many: 100, Few: 20}) {
		t.Errorf("metrics without thresholds read as %v; want the defaults 100/20", old.ShotThresholds())
	}
}
