package loss

import "errors"

// Sentinel errors; the errors this package returns wrap one of them, so
// callers branch with errors.Is.
var (
	// ErrInvalidConfig reports a bad Config value; the message names the key
	// (loss.name, loss.beta, ...).
	ErrInvalidConfig = errors.New("loss: invalid config")
	// ErrEmptyClass reports class counts with a class of no training images.
	ErrEmptyClass = errors.New("loss: class with no training images")
	// ErrShape reports buffers whose lengths do not match the batch.
	ErrShape = errors.New("loss: shape mismatch")
	// ErrLabel reports a label outside [0, classes).
	ErrLabel = errors.New("loss: label out of range")
	// ErrNonFinite reports a NaN or infinite batch loss, which NaN or
	// infinite logits cause; the gradient is then meaningless.
	ErrNonFinite = errors.New("loss: non-finite loss")
)
