package loss

// Affine is a softmax cross-entropy loss written per sample, the form a
// fused training step evaluates on its own. For logits z (B×C), with
// t_j = Scale·z_j + B_j,
//
//	L       = Σ_j W_j·(logsumexp(t_j) − t_{j,y_j})
//	dL/dz_j = W_j·Scale·(softmax(t_j) − onehot(y_j))
//
// W already includes the 1/B (or 1/Σ W_{y_j}) normalisation.
type Affine struct {
	// Scale multiplies every logit (LDAM's s; 1 otherwise).
	Scale float32
	// W is the per-sample weight, B long.
	W []float32
	// B is the per-sample logit offset, B×C row-major.
	B []float32
}

// Affiner is a Loss of the softmax cross-entropy family: ce, weighted_ce,
// cb, balanced_softmax, logit_adjust and ldam. Focal loss is not one.
type Affiner interface {
	Loss
	// Affine writes the batch's affine form for the given labels into a,
	// reusing a's slices when they are large enough. It reflects the
	// current epoch's weights (see Scheduled).
	Affine(labels []int32, classes int, a *Affine) error
}
