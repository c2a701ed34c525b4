// Package graphs builds longtail's ONNX models from Go: the CIFAR ResNet
// family, its training-mode forward graph, the backward graph derived from it
// by reverse-mode differentiation, the SGD update, and the evaluation graph.
//
// Layout is NCHW float32. Training graphs have a fixed batch size; the
// evaluation graph's batch is dynamic. Parameters are graph inputs named as
// PyTorch's state_dict names them ("layer1.0.conv1.weight"), so state moves
// between longtail and PyTorch by name.
//
// Backward applies one gradient rule per forward op type (the rules table);
// any graph made of those ops differentiates, so depth and width come free.
// The backward graph takes dL/dlogits as its input "dlogits": the loss lives
// in Go (package loss). Forward intermediates that the rules read are passed
// from the forward run to the backward run as extra outputs (Training.Saved)
// rather than recomputed.
//
// With Spec.CustomOps the graphs use longtail's own operators (domain
// "longtail", kernels in package runtime): Conv3x3 for stride-1 3×3
// convolutions (also in the evaluation graph) and their input gradients,
// ConvWeightGrad for weight gradients, BatchNormRelu (BatchNorm, residual
// Add, ReLU in one op) and BatchNormReluGrad, ShortcutA and ShortcutAGrad,
// and SGD for each parameter's update. Without it they use standard ONNX
// ops only, the portable path; both give the same gradients to float32
// rounding. Exported models never use custom ops.
//
// BuildExport lowers the evaluation graph into a self-contained inference
// model (state as initializers, BatchNorm folded, opset 9, metadata) and
// ParseExport reads one back.
//
// Building a graph panics on programmer errors (unknown value, bad shape);
// BuildTraining, BuildEval and Backward recover and return them as errors.
package graphs
