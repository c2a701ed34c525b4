package pipeline

// Network is the trainable model as the training loop sees it.
type Network interface {
	Classes() int
	// Forward runs the training-mode forward pass on x (n×C×H×W float32, NCHW) and returns logits (n×classes), valid until the next call; activations stay for Backward. n is fixed at construction (the training batch).
	Forward(x []float32) ([]float32, error)
	// Backward injects dL/dlogits (n×classes), runs the backward graph and applies one SGD step (momentum, weight decay) with learning rate lr.
	Backward(dlogits []float32, lr float32) error
	// Predict runs the evaluation-mode network (BN running statistics) on n images, any n ≥ 1; returns n×classes logits.
	Predict(x []float32, n int) ([]float32, error)
	// State returns copies of the parameters, momentum buffers and BN running statistics, by name; SetState loads them (every name and length must match).
	State() map[string][]float32
	SetState(map[string][]float32) error
	Close() error
}
