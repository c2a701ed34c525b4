// Package sampling turns a training set into the stream of mini-batches
// that the training step consumes.
//
// A Sampler decides which images make each batch of an epoch (New builds
// one by name: random, the paper's RS; balanced, its F_R(s), exactly s
// images of every class per batch; and classaware, sqrt and progressive).
// A Loader assembles those batches on a pool of goroutines ahead of the
// consumer: it pads, crops, flips and normalises each image into a
// float32 N×C×H×W (NCHW) buffer, with labels as int32.
//
// Invariants:
//   - Reproducibility. Sampler.Batches depends only on (seed, epoch), and
//     the augmentation of image j of batch b only on (seed, epoch, b, j),
//     through sampling/internal/rng. The bytes of every batch are the same
//     for any worker count, and Epoch(ctx, e, from) resumes epoch e at batch
//     from exactly as an uninterrupted run would have gone on. No state is
//     carried between epochs, so a resumed run needs no saved sampler state.
//   - Ownership. A yielded Batch belongs to the consumer until it calls
//     Loader.Release; the Loader then reuses its buffers. The set is only
//     read and may be shared by several loaders.
//   - Order. Batches arrive in batch-number order whatever the workers do.
//
// Adding a sampler is a file with its constructor plus one line in
// registry (sampler.go); a sampler that is a per-epoch class distribution
// is a prior function given to newPriorSampler (see sqrt.go).
package sampling
