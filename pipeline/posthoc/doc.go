// Package posthoc rebalances a trained run's classifier after training,
// without touching the backbone: τ-normalisation, post-hoc logit adjustment,
// classifier re-training (cRT), learnable weight scaling (LWS) and the
// nearest class mean (NCM). Run computes the pooled penultimate features of
// the run's checkpoint once with ONNX Runtime (a features export, see
// graphs.ExportOptions.Features), caches them in RUN_DIR/posthoc/, fits every
// method on them and writes the method × metrics table to
// RUN_DIR/posthoc.json.
//
// Invariants:
//   - Every method ends as a Classifier: logits = W·f̃ + B on the pooled
//     features f, with f̃ = f/√(‖f‖² + graphs.NormEps) when Normalize, else f.
//     W is classes×features, row-major. Export folds it into the ONNX model
//     (graphs.Head), so the rebalanced model needs no extra code to run.
//   - Each method's τ or schedule is chosen on the validation split
//     (data.val_per_class) by its top-1, the mean per-class accuracy on a
//     class-balanced split; ties go to the first in the grid. Fit receives
//     the training and validation features only; Run reads the test split's
//     images and labels after every choice is made, for the final numbers.
//   - Features are float32 in the order of the split's images; a cache file
//     holds the SHA-256 of the checkpoint and of the split's images and
//     normalisation it was computed from, and is recomputed when either
//     differs.
//   - cRT and LWS train in float64 in Go, deterministically in the seed: the
//     sampler's batches are a function of (seed, epoch) as in training.
package posthoc
