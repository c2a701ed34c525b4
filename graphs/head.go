package graphs

import (
	"fmt"
	"math"

	pb "github.com/longtail-ml/longtail/graphs/onnxpb"
)

// Head is a linear classifier on the pooled features that replaces the
// trained one (linear.weight, linear.bias) in an export:
//
//	logits = W·f̃ + B,  f̃ = f / √(‖f‖² + NormEps) when Normalize, else f,
//
// where f is an image's globally average-pooled penultimate feature vector
// (4·Width values). Post-hoc rebalancing (pipeline/posthoc) ends every method
// as a Head: a rescaled, shifted or re-trained classifier, or class means.
type Head struct {
	// W is Classes×Features, row-major; B has one value per class.
	W, B []float32
	// Normalize divides each feature vector by its L2 norm first.
	Normalize bool
}

// NormEps keeps Head's normalisation finite for an all-zero feature vector
// (every ReLU of the last block off); it changes the norm of any other
// vector by less than float32 rounding.
const NormEps = 1e-12

// FeaturesOutput names the output of a features export (ExportOptions.Features).
const FeaturesOutput = "features"

// Features is the length of the pooled feature vector, 4·Width.
func (s Spec) Features() int { return 4 * s.Width }

func (h *Head) validate(s Spec) error {
	d := s.Features()
	switch {
	case len(h.W) != s.Classes*d:
		return fmt.Errorf("graphs: export: head has %d weights; want %d classes × %d features = %d", len(h.W), s.Classes, d, s.Classes*d)
	case len(h.B) != s.Classes:
		return fmt.Errorf("graphs: export: head has %d biases; want one per class (%d)", len(h.B), s.Classes)
	}
	for _, v := range [][]float32{h.W, h.B} {
		for i, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("graphs: export: head value %d is %v; want finite numbers", i, x)
			}
		}
	}
	return nil
}

// classifier lowers the trained network's Gemm: with a head, into the
// head's (normalised) linear map; for a features export, into the output.
// It reports whether the lowering is complete (a features export stops here).
func (l *lowering) classifier(gemm *pb.NodeProto) (done bool) {
	f := l.value(gemm.Input[0])
	if l.features {
		l.dst.Output(l.dst.Rename(f, FeaturesOutput))
		return true
	}
	h := l.head
	fs := l.dst.Shape(f)
	if h.Normalize {
		// ‖f‖² as a MatMul with ones, since opset 9 has no ReduceSum of a
		// kind every runtime runs (onnx-go's backend has none); f·f goes
		// through an Identity, as onnx-go keeps one edge per pair of nodes
		// and would see Mul(f, f) with one input.
		sq := l.dst.Mul(f, l.dst.Rename(f, l.dst.Fresh("features_copy")))
		ones := make([]float32, fs[1])
		for i := range ones {
			ones[i] = 1
		}
		norm2 := l.dst.Node("MatMul", []string{sq, l.dst.Const("ones", ones, fs[1], 1)}, [][]int64{{fs[0], 1}})[0]
		norm := l.dst.Unary("Sqrt", l.dst.Add(norm2, l.dst.Const("eps", []float32{NormEps}, 1, 1)))
		f = l.dst.Node("Div", []string{f, norm}, [][]int64{fs})[0]
	}
	w := l.dst.Initializer(gemm.Input[1], h.W, l.src.Shape(gemm.Input[1])...)
	b := l.dst.Initializer(gemm.Input[2], h.B, l.src.Shape(gemm.Input[2])...)
	l.name[gemm.Output[0]] = l.dst.Node("Gemm", []string{f, w, b}, [][]int64{l.src.Shape(gemm.Output[0])}, gemm.Attribute...)[0]
	return false
}
