package pipeline

import (
	"fmt"
	"math"
)

// Shot-group thresholds on the number of training images of a class, as the
// long-tail literature uses them (Kang et al. 2020; Liu et al. 2019, OLTR):
// many-shot has more than ManyShot, few-shot fewer than FewShot,
// medium-shot the rest (FewShot to ManyShot inclusive). They are the
// defaults of eval.many_shot and eval.few_shot.
const (
	ManyShot = 100
	FewShot  = 20
)

// Shots are the thresholds of the shot groups: many-shot classes have more
// than Many training images, few-shot classes fewer than Few, medium-shot
// classes Few to Many inclusive.
type Shots struct {
	Many int `json:"many"`
	Few  int `json:"few"`
}

// DefaultShots returns the literature's thresholds, ManyShot and FewShot.
func DefaultShots() Shots { return Shots{Many: ManyShot, Few: FewShot} }

// Group is 0 for a many-shot class of trainImages, 1 for medium, 2 for few.
func (s Shots) Group(trainImages int) int {
	switch {
	case trainImages > s.Many:
		return 0
	case trainImages >= s.Few:
		return 1
	}
	return 2
}

// Labels name the groups with their thresholds: "many-shot (>100)",
// "medium-shot (20-100)", "few-shot (<20)".
func (s Shots) Labels() [3]string {
	return [3]string{fmt.Sprintf("many-shot (>%d)", s.Many), fmt.Sprintf("medium-shot (%d-%d)", s.Few, s.Many), fmt.Sprintf("few-shot (<%d)", s.Few)}
}

// CalibrationBins is the number of equal-width confidence bins behind ECE
// and the reliability diagram: 15, as Guo et al. (2017) use.
const CalibrationBins = 15

// Confusion counts test predictions: Confusion[t][p] images of true class t
// predicted as p.
type Confusion [][]int64

// NewConfusion returns a zeroed classes×classes matrix.
func NewConfusion(classes int) Confusion {
	c := make(Confusion, classes)
	for i := range c {
		c[i] = make([]int64, classes)
	}
	return c
}

// Add counts predictions for a batch of labels; logits is n×classes and the
// prediction is the first arg max.
func (c Confusion) Add(logits []float32, labels []int32) {
	k := len(c)
	for i, y := range labels {
		c[y][argmax(logits[i*k:(i+1)*k])]++
	}
}

func argmax(v []float32) int {
	best := 0
	for j := 1; j < len(v); j++ {
		if v[j] > v[best] {
			best = j
		}
	}
	return best
}

// Tally accumulates an evaluation's predictions: the confusion matrix and,
// for each of the CalibrationBins confidence bins, the images whose
// confidence falls in it, the sum of their confidences and how many of
// them were predicted right. An image's confidence is its largest softmax
// probability, computed in float64 from the float32 logits with the largest
// logit subtracted: 1 / Σ_j exp(z_j − z_max). Bin b holds the confidences
// in (b/15, (b+1)/15].
type Tally struct {
	Confusion Confusion
	count     [CalibrationBins]int64
	correct   [CalibrationBins]int64
	conf      [CalibrationBins]float64
	// bad counts images whose confidence is not a number (NaN or
	// infinite logits).
	bad int64
}

// NewTally returns an empty tally for classes classes.
func NewTally(classes int) *Tally { return &Tally{Confusion: NewConfusion(classes)} }

// Add counts a batch: logits is n×classes, the prediction the first arg max
// (as Confusion.Add).
func (t *Tally) Add(logits []float32, labels []int32) {
	k := len(t.Confusion)
	for i, y := range labels {
		z := logits[i*k : (i+1)*k]
		p := argmax(z)
		t.Confusion[y][p]++
		top := float64(z[p])
		var s float64
		for _, v := range z {
			s += math.Exp(float64(v) - top)
		}
		conf := 1 / s
		if math.IsNaN(conf) {
			t.bad++
			continue
		}
		b := confBin(conf)
		t.count[b]++
		t.conf[b] += conf
		if int(y) == p {
			t.correct[b]++
		}
	}
}

// confBin is the bin b with b/15 < p ≤ (b+1)/15, the edges taken as the
// float64 quotients (p·15 alone may round across an edge); p ≤ 0 goes to
// bin 0, p > 1 to the last.
func confBin(p float64) int {
	b := max(0, min(CalibrationBins-1, int(math.Ceil(p*CalibrationBins))-1))
	for b > 0 && p <= float64(b)/CalibrationBins {
		b--
	}
	for b < CalibrationBins-1 && p > float64(b+1)/CalibrationBins {
		b++
	}
	return b
}

// Summarize computes the Metrics of the tally, with the calibration: ECE
// and the reliability diagram's bins. An image with non-finite logits is an
// error (its confidence, and so ECE, is undefined).
func (t *Tally) Summarize(trainCounts []int, s Shots) (Metrics, error) {
	if t.bad > 0 {
		return Metrics{}, fmt.Errorf("pipeline: %d test images have non-finite logits; their confidence (and ECE) is undefined", t.bad)
	}
	m, err := Summarize(t.Confusion, trainCounts, s)
	if err != nil {
		return m, err
	}
	var n int64
	var gap float64
	m.Reliability = make([]Bin, CalibrationBins)
	for b := range m.Reliability {
		bin := Bin{Lo: float64(b) / CalibrationBins, Hi: float64(b+1) / CalibrationBins, Count: t.count[b]}
		if bin.Count > 0 {
			bin.Confidence = t.conf[b] / float64(bin.Count)
			bin.Accuracy = float64(t.correct[b]) / float64(bin.Count)
		}
		m.Reliability[b] = bin
		n += t.count[b]
		gap += math.Abs(float64(t.correct[b]) - t.conf[b])
	}
	m.ECE = gap / float64(n)
	return m, nil
}

// Bin is one confidence bin of a reliability diagram: the images whose
// confidence (largest softmax probability) is in (Lo, Hi].
type Bin struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	// Count is the number of images in the bin.
	Count int64 `json:"count"`
	// Confidence is their mean confidence and Accuracy the share of them
	// predicted right; both 0 for an empty bin.
	Confidence float64 `json:"confidence"`
	Accuracy   float64 `json:"accuracy"`
}

// Metrics summarises one evaluation. Accuracies are fractions in [0, 1].
type Metrics struct {
	// Top1 is correct / total over the whole test set.
	Top1 float64 `json:"top1"`
	// PerClass[c] is the recall of class c (its per-class accuracy): the
	// share of its test images predicted as c.
	PerClass []float64 `json:"per_class"`
	// Precision[c] is the share of the images predicted as c that are of
	// class c. A class never predicted has precision 0, as scikit-learn's
	// precision_score(..., average=None, zero_division=0) gives.
	Precision []float64 `json:"precision,omitempty"`
	// SD is the population standard deviation of PerClass, the seed paper's
	// measure of accuracy (non-)uniformity.
	SD float64 `json:"sd"`
	// Worst is the lowest per-class accuracy, WorstClass the first class
	// with it.
	Worst      float64 `json:"worst"`
	WorstClass int     `json:"worst_class"`
	// Many, Medium and Few are the means of PerClass over the classes of each
	// shot group; nil when the group has no class.
	Many   *float64 `json:"many"`
	Medium *float64 `json:"medium"`
	Few    *float64 `json:"few"`
	// Shots are the thresholds the groups were formed with (eval.many_shot,
	// eval.few_shot); nil in files written before they were recorded,
	// which used DefaultShots. ShotThresholds reads them.
	Shots *Shots `json:"shots,omitempty"`
	// ECE is the expected calibration error over the CalibrationBins
	// equal-width confidence bins B_b of Reliability (Guo et al. 2017):
	// Σ_b |B_b|/n · |acc(B_b) − conf(B_b)|. It is known only when
	// Reliability is (HasCalibration): metrics summarised from a confusion
	// matrix alone, and files written before ECE was recorded, have 0 and no
	// bins.
	ECE         float64 `json:"ece"`
	Reliability []Bin   `json:"reliability,omitempty"`
	// Confusion is the count matrix the metrics come from.
	Confusion Confusion `json:"confusion"`
}

// ShotThresholds are the thresholds of Many, Medium and Few: Shots, or
// DefaultShots when the metrics do not record them.
func (m *Metrics) ShotThresholds() Shots {
	if m.Shots == nil {
		return DefaultShots()
	}
	return *m.Shots
}

// HasCalibration reports whether ECE and Reliability were computed.
func (m *Metrics) HasCalibration() bool { return len(m.Reliability) > 0 }

// complete fills in what metrics read from files written before Precision
// and Worst existed, from the confusion matrix they keep.
func (m *Metrics) complete() {
	if m.Precision != nil || len(m.Confusion) == 0 || len(m.PerClass) != len(m.Confusion) {
		return
	}
	m.Precision = precision(m.Confusion)
	m.Worst, m.WorstClass = worst(m.PerClass)
}

// Summarize computes Metrics from a confusion matrix, the number of
// training images per class and the shot thresholds s (which decide the
// shot groups). Every class must have at least one test image. The result
// has no calibration: Tally.Summarize adds it.
func Summarize(c Confusion, trainCounts []int, s Shots) (Metrics, error) {
	k := len(c)
	if len(trainCounts) != k {
		return Metrics{}, fmt.Errorf("pipeline: %d training counts for %d classes", len(trainCounts), k)
	}
	m := Metrics{PerClass: make([]float64, k), Confusion: c, Shots: &s}
	var correct, total int64
	for t := range c {
		var n int64
		for _, v := range c[t] {
			n += v
		}
		if n == 0 {
			return Metrics{}, fmt.Errorf("pipeline: class %d has no test images; per-class accuracy is undefined", t)
		}
		m.PerClass[t] = float64(c[t][t]) / float64(n)
		correct += c[t][t]
		total += n
	}
	m.Top1 = float64(correct) / float64(total)
	m.Precision = precision(c)
	m.Worst, m.WorstClass = worst(m.PerClass)
	var mean float64
	for _, a := range m.PerClass {
		mean += a
	}
	mean /= float64(k)
	var ss float64
	for _, a := range m.PerClass {
		ss += (a - mean) * (a - mean)
	}
	m.SD = math.Sqrt(ss / float64(k))
	var sum [3]float64
	var cnt [3]int
	for t, n := range trainCounts {
		g := s.Group(n)
		sum[g] += m.PerClass[t]
		cnt[g]++
	}
	groups := [3]**float64{&m.Many, &m.Medium, &m.Few}
	for g := range groups {
		if cnt[g] > 0 {
			v := sum[g] / float64(cnt[g])
			*groups[g] = &v
		}
	}
	return m, nil
}

// precision is each class's diagonal count over its column sum, 0 for an
// empty column.
func precision(c Confusion) []float64 {
	out := make([]float64, len(c))
	for p := range c {
		var n int64
		for t := range c {
			n += c[t][p]
		}
		if n > 0 {
			out[p] = float64(c[p][p]) / float64(n)
		}
	}
	return out
}

// worst is the lowest value of perClass and its first index.
func worst(perClass []float64) (float64, int) {
	if len(perClass) == 0 {
		return 0, 0
	}
	w := 0
	for c, a := range perClass {
		if a < perClass[w] {
			w = c
		}
	}
	return perClass[w], w
}
