package dataset

import (
	"fmt"
	"slices"

	"github.com/longtail-ml/longtail/sampling/internal/mt"
	"github.com/longtail-ml/longtail/sampling/internal/rng"
)

// Pick names the rule that decides which images of a class the long tail
// keeps.
type Pick string

const (
	// PickSeeded keeps the first n_i of a permutation of the class drawn
	// from longtail's own random stream (seed, class).
	PickSeeded Pick = "seeded"
	// PickLDAM draws the subset as LDAM-DRW's IMBALANCECIFAR10/100 does and
	// with it most published CIFAR-LT numbers: np.random.seed(seed) once,
	// then for each class in label order np.random.shuffle of the class's
	// indices in the source order, keeping the first n_i.
	PickLDAM Pick = "ldam"
	// PickFirst keeps the first n_i images of each class in the source
	// order (the PyTorch anchor's rule).
	PickFirst Pick = "first"
)

// Picks lists the rules.
var Picks = []Pick{PickSeeded, PickLDAM, PickFirst}

// SplitOptions say how to cut a training set into a long-tailed training
// split and a class-balanced validation split.
type SplitOptions struct {
	Imbalance float64
	Profile   Profile
	Pick      Pick
	Seed      int64
	// ValPerClass images of every class go to the validation split: the
	// last ValPerClass of the class's permutation, so from the images the
	// long tail leaves out wherever there are enough of them. Where a class
	// has fewer than ValPerClass left over (the head keeps all of its
	// images), its training count shrinks to make room.
	ValPerClass int
}

// Split is a choice of images by position within each class: Train[c][k]
// is the position, in the source order of class c's images, of a training
// image (ascending); Val likewise for validation (nil without one). Sizes
// are the class sizes the positions refer to.
type Split struct {
	Sizes      []int
	Train, Val [][]int
}

// Choose draws the split o describes from the classes of s (s's order
// within each class is the source order the positions refer to).
func Choose(s *Set, o SplitOptions) (*Split, error) {
	byClass := s.ByClass()
	sizes := make([]int, len(byClass))
	for c, idx := range byClass {
		sizes[c] = len(idx)
	}
	return choose(sizes, s.Classes, o)
}

// ChooseSizes is Choose for classes of the given sizes.
func ChooseSizes(sizes []int, o SplitOptions) (*Split, error) { return choose(sizes, nil, o) }

func choose(sizes []int, names []string, o SplitOptions) (*Split, error) {
	name := func(c int) string {
		if c < len(names) {
			return fmt.Sprintf("%d (%s)", c, names[c])
		}
		return fmt.Sprint(c)
	}
	if len(sizes) == 0 {
		return nil, fmt.Errorf("long-tail of a set with no classes: %w", ErrArgument)
	}
	nMax := slices.Max(sizes)
	counts, err := LongTailCounts(nMax, len(sizes), o.Imbalance, o.Profile)
	if err != nil {
		return nil, err
	}
	if o.ValPerClass < 0 {
		return nil, fmt.Errorf("validation images per class %d; want 0 or more: %w", o.ValPerClass, ErrArgument)
	}
	sp := &Split{Sizes: slices.Clone(sizes), Train: make([][]int, len(sizes))}
	if o.ValPerClass > 0 {
		sp.Val = make([][]int, len(sizes))
	}
	var g *mt.MT19937
	if o.Pick == PickLDAM {
		if o.Seed < 0 || o.Seed > 1<<32-1 {
			return nil, fmt.Errorf("lt_pick ldam seed %d; NumPy's legacy seed takes 0 to 2^32-1: %w", o.Seed, ErrArgument)
		}
		g = mt.New(uint32(o.Seed))
	}
	for c, size := range sizes {
		if size < counts[c] {
			return nil, fmt.Errorf("long-tail: class %s has %d images; profile %s IF %v wants %d: %w",
				name(c), size, o.Profile, o.Imbalance, counts[c], ErrArgument)
		}
		perm := make([]int, size)
		for i := range perm {
			perm[i] = i
		}
		switch o.Pick {
		case PickSeeded:
			r := rng.New(tagLongTail, uint64(o.Seed), uint64(c))
			rng.Shuffle(&r, perm)
		case PickLDAM:
			mt.Shuffle(g, perm)
		case PickFirst:
		default:
			return nil, fmt.Errorf("long-tail pick %q; want seeded, ldam or first: %w", o.Pick, ErrArgument)
		}
		v := o.ValPerClass
		if v >= size {
			return nil, fmt.Errorf("class %s has %d images; %d for validation leave none to train on: %w", name(c), size, v, ErrArgument)
		}
		n := min(counts[c], size-v)
		sp.Train[c] = slices.Sorted(slices.Values(perm[:n]))
		if v > 0 {
			sp.Val[c] = slices.Sorted(slices.Values(perm[size-v:]))
		}
	}
	return sp, nil
}

// Counts returns the training images per class.
func (sp *Split) Counts() []int {
	n := make([]int, len(sp.Train))
	for c, p := range sp.Train {
		n[c] = len(p)
	}
	return n
}

// Splits are the sets a Split cuts from a training set.
type Splits struct {
	// Train is the long-tailed training set, Val the validation set (nil
	// without one); both keep the source order.
	Train, Val *Set
}

// Apply cuts s, whose class sizes must be sp.Sizes (Check says whether
// they are).
func (sp *Split) Apply(s *Set) Splits {
	byClass := s.ByClass()
	take := func(pos [][]int) *Set {
		var idx []int
		for c, ps := range pos {
			for _, p := range ps {
				idx = append(idx, byClass[c][p])
			}
		}
		slices.Sort(idx)
		return s.Subset(idx)
	}
	out := Splits{Train: take(sp.Train)}
	if sp.Val != nil {
		out.Val = take(sp.Val)
	}
	return out
}

// Check reports whether s has the classes the split's positions refer to:
// as many, of the same sizes, and the positions in range.
func (sp *Split) Check(s *Set) error {
	sizes := s.Counts()
	if len(sizes) != len(sp.Sizes) {
		return fmt.Errorf("the data has %d classes; the split was chosen from %d: %w", len(sizes), len(sp.Sizes), ErrArgument)
	}
	for c, n := range sizes {
		if n != sp.Sizes[c] {
			return fmt.Errorf("class %d (%s) has %d images; the split was chosen from %d: %w", c, s.Classes[c], n, sp.Sizes[c], ErrArgument)
		}
	}
	for _, part := range [][][]int{sp.Train, sp.Val} {
		if part == nil {
			continue
		}
		if len(part) != len(sizes) {
			return fmt.Errorf("the split lists %d classes; the data has %d: %w", len(part), len(sizes), ErrArgument)
		}
		for c, ps := range part {
			for _, p := range ps {
				if p < 0 || p >= sizes[c] {
					return fmt.Errorf("class %d position %d outside its %d images: %w", c, p, sizes[c], ErrArgument)
				}
			}
		}
	}
	return nil
}
