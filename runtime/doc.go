// Package runtime owns longtail's use of ONNX Runtime (ORT) through
// github.com/yalue/onnxruntime_go.
//
// ORT keeps one process-wide environment; Env wraps it, counts its users and
// destroys it when the last one closes. An Env finds the shared library by
// Options.Library, then $LONGTAIL_ORT_LIBRARY, then the project-local copy
// that scripts/setup.sh installs in .ort/.
//
// Tensors are float32 (int64 for indices) and always live in host memory:
// onnxruntime_go binds Go slices. Whoever creates a Session or a Tensor
// destroys it.
//
// Predictor runs an exported classifier (graphs.BuildExport) with a dynamic
// batch; subpackage gonnx runs the same models in pure Go.
package runtime
