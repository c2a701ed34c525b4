package sampling

import (
	"context"
	"fmt"
	"iter"
	"runtime"
	"sync"

	"github.com/longtail-ml/longtail/sampling/dataset"
	"github.com/longtail-ml/longtail/sampling/internal/rng"
)

// Batch is one assembled mini-batch.
type Batch struct {
	X       []float32 // N×C×H×W, augmented and normalised
	Y       []int32   // N labels
	Index   int       // batch number within the epoch
	N       int       // images in the batch
	Indices []int     // the images' indices in the set (the sampler's list; read-only)

	ready chan struct{} // signalled once X and Y are filled
}

// Loader assembles a sampler's batches from a set on a pool of goroutines,
// ahead of the consumer, reusing released buffers. Every random choice of
// image j of batch b in epoch e derives from (seed, e, b, j), so the
// stream is the same for any worker count and a resumed epoch continues
// it exactly. A Loader may serve several epochs, one after another or at
// once.
type Loader struct {
	set      *dataset.Set
	sampler  Sampler
	workers  int
	prefetch int
	seed     uint64
	pad      int
	flip     bool
	lut      []table
	err      error       // a setting NewLoader rejected; Epoch reports it
	free     chan *Batch // released buffers
}

// NewLoader returns a loader of set's images in the batches of s,
// augmented by aug. workers goroutines assemble batches (GOMAXPROCS when
// < 1); up to prefetch+1 batches are assembled ahead of the consumer (2
// when < 1). A bad setting (aug.Mean or aug.Std of the wrong length, a
// non-positive Std, a negative Pad, an invalid set) is reported by Epoch.
func NewLoader(set *dataset.Set, s Sampler, aug Augment, workers, prefetch int, seed int64) *Loader {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	if prefetch < 1 {
		prefetch = 2
	}
	l := &Loader{
		set: set, sampler: s, workers: workers, prefetch: prefetch, seed: uint64(seed),
		pad: aug.pad(), flip: aug.Flip,
		free: make(chan *Batch, prefetch+workers+2),
	}
	switch {
	case aug.Pad < 0:
		l.err = fmt.Errorf("augment.pad: %d; want >= 0: %w", aug.Pad, ErrConfig)
	default:
		if err := set.Validate(); err != nil {
			l.err = fmt.Errorf("loader: %w", err)
		} else {
			l.lut, l.err = tables(set.C, aug.Mean, aug.Std)
		}
	}
	return l
}

// Steps returns the number of batches of epoch.
func (l *Loader) Steps(epoch int) int {
	if st, ok := l.sampler.(Stepper); ok {
		return st.Steps(epoch)
	}
	return len(l.sampler.Batches(epoch))
}

// Release hands b's buffers back for reuse. Call it once per batch, when
// done with X and Y; a batch that is never released is garbage collected.
func (l *Loader) Release(b *Batch) {
	if b == nil {
		return
	}
	select {
	case l.free <- b:
	default:
	}
}

// get returns a batch buffer for n images, reused when one is free.
func (l *Loader) get(n int) *Batch {
	var b *Batch
	select {
	case b = <-l.free:
	default:
		b = &Batch{ready: make(chan struct{}, 1)}
	}
	size := n * l.set.ImageSize()
	if cap(b.X) < size {
		b.X = make([]float32, size)
	}
	if cap(b.Y) < n {
		b.Y = make([]int32, n)
	}
	b.X, b.Y, b.N = b.X[:size], b.Y[:n], n
	return b
}

// Epoch streams epoch's batches from batch number from (to resume an
// epoch midway; 0 for all) in order. Each yielded Batch is the consumer's
// until it passes it to Release. Breaking out of the loop stops the
// workers; cancelling ctx ends the stream with an error wrapping
// ErrStopped and ctx's error. A bad setting or from out of 0..Steps yields
// one error and nothing else.
func (l *Loader) Epoch(ctx context.Context, epoch, from int) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		if l.err != nil {
			yield(nil, l.err)
			return
		}
		batches := l.sampler.Batches(epoch)
		if from < 0 || from > len(batches) {
			yield(nil, fmt.Errorf("loader: epoch %d: resume at batch %d; want 0..%d: %w", epoch, from, len(batches), ErrConfig))
			return
		}
		parent := ctx
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer func() {
			cancel()
			wg.Wait()
		}()
		jobs := make(chan *Batch)
		queue := make(chan *Batch, l.prefetch)
		for range min(l.workers, len(batches)-from) {
			wg.Go(func() {
				for b := range jobs {
					l.assemble(epoch, b)
					b.ready <- struct{}{}
				}
			})
		}
		wg.Go(func() {
			defer close(queue)
			defer close(jobs)
			for i := from; i < len(batches); i++ {
				b := l.get(len(batches[i]))
				b.Index, b.Indices = i, batches[i]
				select {
				case queue <- b:
				case <-ctx.Done():
					return
				}
				select {
				case jobs <- b:
				case <-ctx.Done():
					return
				}
			}
		})
		stopped := func(next int) error {
			return fmt.Errorf("loader: epoch %d stopped before batch %d of %d: %w: %w",
				epoch, next, len(batches), ErrStopped, parent.Err())
		}
		next := from
		for b := range queue {
			select {
			case <-b.ready:
			case <-ctx.Done():
				yield(nil, stopped(next))
				return
			}
			if !yield(b, nil) {
				return
			}
			next++
		}
		if next < len(batches) {
			yield(nil, stopped(next))
		}
	}
}

// assemble fills b.X and b.Y from b.Indices.
func (l *Loader) assemble(epoch int, b *Batch) {
	s := l.set
	n := s.ImageSize()
	for j, i := range b.Indices {
		r := rng.New(tagAugment, l.seed, uint64(epoch), uint64(b.Index), uint64(j))
		dx, dy := 0, 0
		if l.pad > 0 {
			dx = r.IntN(2*l.pad+1) - l.pad
			dy = r.IntN(2*l.pad+1) - l.pad
		}
		flip := l.flip && r.Uint64()&1 == 1
		apply(l.lut, s.Image(i), b.X[j*n:(j+1)*n], s.H, s.W, dx, dy, flip)
		b.Y[j] = s.Labels[i]
	}
}
