// Package gonnx runs longtail's exported models (graphs.BuildExport) in pure
// Go, with github.com/owulveryck/onnx-go and its gorgonia backend: no shared
// library, no cgo beyond the standard library's.
//
// onnx-go builds a static gorgonia graph for the input shape it first sees,
// so a Predictor compiles the model once per batch size and keeps the last
// two (an evaluation uses two: full batches and the remainder); batch 1 is
// compiled by New, which thereby reports an operator onnx-go lacks before
// any prediction. The export uses only Conv (with bias), Relu, Add,
// GlobalAveragePool, Flatten and Gemm, which onnx-go's backend runs; it has
// no Slice or Pad, which is why the export writes the option-A shortcut as a
// 1×1 convolution.
//
// onnx-go's Gemm writes its result into its C input (the classifier's bias)
// when C has the output's size, which happens at batch 1; a Predictor
// therefore sets every Gemm's constant C afresh before each run, so that
// repeated runs give the same logits.
//
// Layout is NCHW float32, as graphs documents. Predict copies its result; x
// is read, not kept. Compiled graphs hold their own buffers and are freed by
// the garbage collector after Close.
package gonnx
