package loss

import (
	"fmt"
	"math"
)

// Stats holds per-class training statistics. Compute adds each sample of a
// batch to its label's entry; Reset starts a new period and Merge combines
// periods. The slices are indexed by class and have equal lengths.
type Stats struct {
	// Count is the number of samples seen per class.
	Count []int
	// LossSum sums each sample's unweighted loss term ℓ_j: the loss's own
	// per-sample term (margins and offsets included) before class weights
	// and the batch normalisation.
	LossSum []float64
	// Correct counts samples whose raw logits have their maximum (first on
	// ties) at the label.
	Correct []int
}

// Reset zeroes s for the given number of classes, reusing its slices when
// they are large enough.
func (s *Stats) Reset(classes int) {
	s.Count = resize(s.Count, classes)
	s.LossSum = resize(s.LossSum, classes)
	s.Correct = resize(s.Correct, classes)
	clear(s.Count)
	clear(s.LossSum)
	clear(s.Correct)
}

// Classes is the number of classes s holds.
func (s *Stats) Classes() int { return len(s.Count) }

// Merge adds o into s. An empty s takes o's size.
func (s *Stats) Merge(o *Stats) error {
	if s.Classes() == 0 {
		s.Reset(o.Classes())
	}
	if o.Classes() != s.Classes() || len(o.LossSum) != len(o.Count) || len(o.Correct) != len(o.Count) {
		return fmt.Errorf("%w: merge stats of %d classes into %d", ErrShape, o.Classes(), s.Classes())
	}
	for i := range s.Count {
		s.Count[i] += o.Count[i]
		s.LossSum[i] += o.LossSum[i]
		s.Correct[i] += o.Correct[i]
	}
	return nil
}

// MeanLoss is class c's mean unweighted loss term; NaN when it has no samples.
func (s *Stats) MeanLoss(c int) float64 {
	if s.Count[c] == 0 {
		return math.NaN()
	}
	return s.LossSum[c] / float64(s.Count[c])
}

// Accuracy is class c's fraction of correct predictions; NaN when it has no
// samples.
func (s *Stats) Accuracy(c int) float64 {
	if s.Count[c] == 0 {
		return math.NaN()
	}
	return float64(s.Correct[c]) / float64(s.Count[c])
}

// prepare sizes an empty s for classes and rejects one of another size.
func (s *Stats) prepare(classes int) error {
	if s.Classes() == 0 {
		s.Reset(classes)
	}
	if s.Classes() != classes || len(s.LossSum) != classes || len(s.Correct) != classes {
		return fmt.Errorf("%w: stats hold %d classes; the loss has %d", ErrShape, s.Classes(), classes)
	}
	return nil
}

// add records one sample of class y.
func (s *Stats) add(y int, ell float64, correct bool) {
	s.Count[y]++
	s.LossSum[y] += ell
	if correct {
		s.Correct[y]++
	}
}

// resize returns a slice of length n, reusing b's storage when it can.
func resize[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}
