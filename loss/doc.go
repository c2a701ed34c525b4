// Package loss computes training losses for long-tailed classification and
// their gradients with respect to the logits, which the training step
// injects into the backward graph. The paper's class reweighting lives here.
//
// Losses, chosen by Config.Name (Names lists them): ce (softmax
// cross-entropy, the paper's "Softmax"), weighted_ce (the paper's Eq. 4,
// clamped weights by default), cb (cross-entropy with class-balanced
// weights, the paper's CB-Softmax baseline), focal, ldam, balanced_softmax
// and logit_adjust. Class weights (Config.Weights, ClassWeights) apply to
// every loss: none, clamped (the paper's Eq. 3 clamped to [lo, hi]), cb
// (effective number) or inverse (Eq. 3 unclamped). ce and weighted_ce are
// one loss with different default weights. With Config.DRWEpoch the
// weights stay uniform until that epoch (deferred re-weighting).
//
// The batch loss is L = Σ_j w_j·ℓ_j, where ℓ_j is sample j's loss term and
// w_j = W_{y_j}/B (Normalize "batch", the paper's default) or
// W_{y_j}/Σ_k W_{y_k} (Normalize "weights", PyTorch's weighted mean).
//
// Invariants:
//   - Logits and gradients are B×C row-major float32, B = len(labels),
//     C = the number of classes the loss was built for; labels are int32 in
//     [0, C).
//   - The caller owns logits, labels, grad and Stats; Compute reads logits,
//     overwrites all of grad and keeps no reference to either.
//   - Every row is evaluated in float64 with the log-sum-exp shift, so
//     logits of any finite magnitude give finite values; NaN or infinite
//     logits give ErrNonFinite.
//   - A Loss owns scratch buffers that grow to the largest batch seen, so
//     Compute does not allocate in steady state. A Loss is not safe for
//     concurrent use.
//   - The softmax cross-entropy family implements Affiner: its gradient is
//     W_j·Scale·(softmax(Scale·z_j + B_j) − onehot(y_j)).
//   - Every loss implements Scheduled; call SetEpoch before each epoch when
//     Config.DRWEpoch is set.
package loss
