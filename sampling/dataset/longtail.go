package dataset

import (
	"fmt"
	"math"
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
// of a permutation of the class fixed by seed (PickSeeded). Kept images stay
// in their original relative order. Apply it to the training set only; the
// test set stays balanced. It fails if a class holds fewer than n_i images.
func LongTail(s *Set, imbalance float64, p Profile, seed int64) (*Set, error) {
	sp, err := Choose(s, SplitOptions{Imbalance: imbalance, Profile: p, Pick: PickSeeded, Seed: seed})
	if err != nil {
		return nil, err
	}
	return sp.Apply(s).Train, nil
}

// Tags that keep the random streams of different uses apart.
const (
	tagLongTail = iota + 1
	tagSynthClass
	tagSynthImage
)
