// Package pipeline trains and evaluates a classifier on long-tailed data: it
// resolves the configuration (Config, Load), draws batches through the
// sampling package, runs the network's forward and backward graphs, computes
// the loss and its gradient in Go (package loss), evaluates on the balanced
// test set (Metrics) and keeps a run directory of metrics, plots and
// checkpoints (Train, Resume). It holds one run's code (and CompareRun, the
// variants of one config trained one after the other); grids of runs live in
// package pipeline/sweep and their tables and figures in pipeline/report,
// both built on this package.
//
// Invariants:
//   - Images are float32 NCHW, normalised; logits and dL/dlogits are
//     batch×classes, row-major. The training batch size is fixed for a run.
//   - Sampling, augmentation and initialisation are pure functions of
//     (train.seed, epoch, step), so a checkpoint's epoch and step are the
//     whole sampler and random state, and a resumed run reproduces the
//     uninterrupted one exactly.
//   - Every file in a run directory is replaced atomically (temporary file,
//     fsync, rename); a checkpoint ends in a SHA-256 of its contents and is
//     refused when it does not verify or does not match the run's config.
//   - Train, Resume and EvaluateCheckpoint open ONNX Runtime and build the
//     Network themselves, and close both before returning. A run directory
//     belongs to one process at a time (package sweep locks it).
package pipeline
