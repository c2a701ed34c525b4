package pipeline

import (
	"fmt"
	"math"
)

// Shot-group thresholds on the number of training images of a class, as the
// long-tail literature uses them: many-shot has more than ManyShot, few-shot
// fewer than FewShot, medium-shot the rest (FewShot to ManyShot inclusive).
const (
	ManyShot = 100
	FewShot  = 20
)

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

// Metrics summarises one evaluation. Accuracies are fractions in [0, 1].
type Metrics struct {
	// Top1 is correct / total over the whole test set.
	Top1 float64 `json:"top1"`
	// PerClass[c] is the recall of class c.
	PerClass []float64 `json:"per_class"`
	// SD is the population standard deviation of PerClass, the seed paper's
	// measure of accuracy (non-)uniformity.
	SD float64 `json:"sd"`
	// Many, Medium and Few are the means of PerClass over the classes of each
	// shot group; nil when the group has no class.
	Many   *float64 `json:"many"`
	Medium *float64 `json:"medium"`
	Few    *float64 `json:"few"`
	// Confusion is the count matrix the metrics come from.
	Confusion Confusion `json:"confusion"`
}

// Summarize computes Metrics from a confusion matrix and the number of
// training images per class (which decides the shot groups). Every class must
// have at least one test image.
func Summarize(c Confusion, trainCounts []int) (Metrics, error) {
	k := len(c)
	if len(trainCounts) != k {
		return Metrics{}, fmt.Errorf("pipeline: %d training counts for %d classes", len(trainCounts), k)
	}
	m := Metrics{PerClass: make([]float64, k), Confusion: c}
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
		g := shotGroup(n)
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

// shotGroup is 0 for many-shot, 1 for medium, 2 for few.
func shotGroup(trainImages int) int {
	switch {
	case trainImages > ManyShot:
		return 0
	case trainImages >= FewShot:
		return 1
	}
	return 2
}
