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
// The CPU provider's sessions also get longtail's custom operators (op
// domain "longtail": Conv3x3, ConvWeightGrad, BatchNormRelu,
// BatchNormReluGrad, ShortcutA, ShortcutAGrad, SGD) unless
// Options.CustomOps is "off". They
// are plain C kernels (kernels_*.c) vectorised with GCC's vector extensions
// and compiled for x86-64-v4, v3 and baseline, chosen at load time (GCC 12
// or later with glibc). They beat ORT's own kernels only where the AVX-512
// code runs; built otherwise (clang, musl, older GCC, -DLT_NO_CLONES for
// sanitizers) or on a CPU without AVX-512 they are slower, and "auto" leaves
// them out (KernelBuild).
// The scratch buffers the kernels keep between runs are bounded (64 MiB a
// buffer) and freed with the last session that uses them. ops.c
// registers them through ORT's custom-op C API, which onnxruntime_go does
// not wrap, taking the API from the library already loaded. Each kernel
// splits its batch into a number of tasks fixed by the shapes, run by ORT's
// thread pool, so its results do not depend on the thread count.
//
// Predictor runs an exported classifier (graphs.BuildExport) with a dynamic
// batch; subpackage gonnx runs the same models in pure Go.
package runtime
