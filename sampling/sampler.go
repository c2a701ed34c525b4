package sampling

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sentinel errors; returned errors wrap one of them.
var (
	// ErrConfig marks a bad sampler or loader setting; the message names
	// its config key.
	ErrConfig = errors.New("sampling: bad setting")
	// ErrStopped marks an epoch that ended early because its context was
	// cancelled; it also wraps the context's error.
	ErrStopped = errors.New("sampling: epoch stopped")
)

// Sampler yields the batches of one epoch as index lists into the training
// set. Batches is deterministic in (seed, epoch): calling it again, in
// another process or after a restart, gives the same lists.
type Sampler interface {
	Batches(epoch int) [][]int
}

// Stepper is implemented by samplers that know an epoch's batch count
// without building its batches. Every sampler of New implements it.
type Stepper interface {
	Steps(epoch int) int
}

// params is what a sampler constructor receives from New, already checked:
// Classes >= 1, Labels in [0, Classes), Seed and the knobs as given.
type params struct {
	Labels   []int32
	Classes  int
	Batch    int // images per batch, for samplers that use it
	PerClass int // s, images of each class per batch, for balanced
	Seed     int64
	Epochs   int     // planned epochs, for schedules such as progressive
	byClass  [][]int // each class's training indices, ascending
}

// constructor builds a sampler from checked params, validating the knobs it
// uses (and naming their config keys in errors).
type constructor func(p *params) (Sampler, error)

// registry lists the samplers New knows. Adding one is a file with its
// constructor and a line here.
func registry() map[string]constructor {
	return map[string]constructor{
		"random":      newRandom,
		"balanced":    newBalanced,
		"classaware":  newClassAware,
		"sqrt":        newSqrt,
		"progressive": newProgressive,
	}
}

// Names returns the sampler names New accepts, sorted.
func Names() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for name := range registry() {
			if !yield(name) {
				return
			}
		}
	})
}

// New returns the sampler called name over a training set with the given
// labels and classes count. Which knobs a sampler uses:
//
//   - random: batch; a fresh shuffle per epoch cut into floor(N/batch)
//     batches (the last partial batch is dropped). The paper's RS.
//   - balanced: perClass (s); every batch holds exactly s images of every
//     class, class by class, so batch is s·classes and the batch argument is
//     ignored; floor(N/(s·classes)) batches per epoch. The paper's F_R(s).
//   - classaware: batch; each slot takes the next class of a reshuffled
//     class list, then an image of it (Shen et al. 2016).
//   - sqrt: batch; each slot draws a class with probability ∝ √n_c.
//   - progressive: batch, epochs; class probabilities move linearly from
//     n_c/N at epoch 0 towards 1/C, (1−t/T)·n_c/N + (t/T)/C at epoch t of
//     T = epochs (Kang et al. 2020).
//
// All but random have floor(N/batch) (or N/(s·classes)) batches per epoch
// and draw a class's images from per-epoch reshuffled cycles: within an
// epoch an image of class c is drawn again only after all of c's images
// have been, so draw counts within a class differ by at most 1. Errors name
// the config key: sampling.name, sampling.batch, sampling.per_class,
// train.epochs.
func New(name string, labels []int32, classes int, batch int, perClass int, seed int64, epochs int) (Sampler, error) {
	ctor, ok := registry()[name]
	if !ok {
		return nil, fmt.Errorf("sampling.name: %q; want one of %s: %w", name, strings.Join(Names(), ", "), ErrConfig)
	}
	if classes < 1 {
		return nil, fmt.Errorf("sampler %s: %d classes; want >= 1: %w", name, classes, ErrConfig)
	}
	p := &params{Labels: labels, Classes: classes, Batch: batch, PerClass: perClass, Seed: seed, Epochs: epochs}
	p.byClass = make([][]int, classes)
	for i, l := range labels {
		if l < 0 || int(l) >= classes {
			return nil, fmt.Errorf("sampler %s: label %d of image %d; want 0..%d: %w", name, l, i, classes-1, ErrConfig)
		}
		p.byClass[l] = append(p.byClass[l], i)
	}
	return ctor(p)
}

// checkBatch validates the batch knob for samplers that use it.
func (p *params) checkBatch(name string) error {
	if p.Batch < 1 {
		return fmt.Errorf("sampling.batch: %d; want >= 1 for sampler %s: %w", p.Batch, name, ErrConfig)
	}
	if n := len(p.Labels); n < p.Batch {
		return fmt.Errorf("sampling.batch: %d exceeds the %d training images; want <= %d for sampler %s: %w",
			p.Batch, n, n, name, ErrConfig)
	}
	return nil
}
