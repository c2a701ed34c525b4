package dataset

import (
	"fmt"
	"math"
	"slices"

	"github.com/longtail-ml/longtail/sampling/internal/rng"
)

// Profile names how the per-class counts of a long-tailed set fall off.
type Profile string

const (
	// Exp is the exponential profile of Cui et al. (2019) and LDAM-DRW:
	// n_i = floor(n_max · IF^(−i/(C−1))), class 0 the head.
	Exp Profile = "exp"
	// Step keeps n_max for the first floor(C/2) classes (at least one) and
	// floor(n_max / IF) for the rest (Buda et al. 2018, as LDAM-DRW builds it).
	Step Profile = "step"
)

// LongTailCounts returns the per-class image counts of profile p for
// classes classes, the head holding nMax images and the imbalance factor
// (head count over tail count) imbalance >= 1. The arithmetic is float64
// exactly as the reference Python computes
// int(n_max * (1/IF) ** (i/(C-1))), so the counts match the literature's.
func LongTailCounts(nMax, classes int, imbalance float64, p Profile) ([]int, error) {
	if nMax < 1 {
		return nil, fmt.Errorf("long-tail head count %d; want >= 1: %w", nMax, ErrArgument)
	}
	if classes < 1 {
		return nil, fmt.Errorf("long-tail classes %d; want >= 1: %w", classes, ErrArgument)
	}
	if !(imbalance >= 1) || math.IsInf(imbalance, 0) {
		return nil, fmt.Errorf("imbalance factor %v; want a finite number >= 1: %w", imbalance, ErrArgument)
	}
	counts := make([]int, classes)
	inv := 1 / imbalance
	switch p {
	case Exp:
		for i := range counts {
			if classes == 1 {
				counts[i] = nMax
				continue
			}
			counts[i] = int(float64(nMax) * math.Pow(inv, float64(i)/float64(classes-1)))
		}
	case Step:
		for i := range counts {
			if i < max(classes/2, 1) {
				counts[i] = nMax
			} else {
				counts[i] = int(float64(nMax) * inv)
			}
		}
	default:
		return nil, fmt.Errorf("long-tail profile %q; want %q or %q: %w", p, Exp, Step, ErrArgument)
	}
	for i, n := range counts {
		if n < 1 {
			return nil, fmt.Errorf("imbalance factor %v leaves class %d of %d with no image (head %d); want a smaller factor: %w",
				imbalance, i, classes, nMax, ErrArgument)
		}
	}
	return counts, nil
}

// LongTail returns the long-tailed subset of s: class i keeps n_i images
// (LongTailCounts with n_max the largest class count), namely the first n_i
// of a permutation of the class fixed by seed. Kept images stay in their
// original relative order. Apply it to the training set only; the test set
// stays balanced. It fails if a class holds fewer than n_i images.
func LongTail(s *Set, imbalance float64, p Profile, seed int64) (*Set, error) {
	byClass := s.ByClass()
	if len(byClass) == 0 {
		return nil, fmt.Errorf("long-tail of a set with no classes: %w", ErrArgument)
	}
	nMax := 0
	for _, idx := range byClass {
		nMax = max(nMax, len(idx))
	}
	counts, err := LongTailCounts(nMax, len(byClass), imbalance, p)
	if err != nil {
		return nil, err
	}
	var keep []int
	for c, idx := range byClass {
		if len(idx) < counts[c] {
			return nil, fmt.Errorf("long-tail: class %d (%s) has %d images; profile %s IF %v wants %d: %w",
				c, s.Classes[c], len(idx), p, imbalance, counts[c], ErrArgument)
		}
		r := rng.New(tagLongTail, uint64(seed), uint64(c))
		perm := slices.Clone(idx)
		rng.Shuffle(&r, perm)
		keep = append(keep, perm[:counts[c]]...)
	}
	slices.Sort(keep)
	return s.Subset(keep), nil
}

// Tags that keep the random streams of different uses apart.
const (
	tagLongTail = iota + 1
	tagSynthClass
	tagSynthImage
)
