package graphs

import (
	"fmt"
	"math"

	pb "github.com/longtail-ml/longtail/graphs/onnxpb"
	"google.golang.org/protobuf/proto"
)

// convGrad differentiates a 2-D Conv without bias or groups.
// dX: a stride-1 Conv of dy with the transposed, spatially flipped kernel
// (measured faster than ConvTranspose in ORT's CPU provider); strided convs use
// ConvTranspose. dW, with custom ops and a 3×3 kernel of padding 1: the
// ConvWeightGrad op. Otherwise an im2col of x by a grouped Conv with one-hot kernels,
// then a batched MatMul against dy and a sum over the batch.
func convGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	if len(n.Input) > 2 || attrInt(n, "group", 1) != 1 {
		panic(fmt.Sprintf("Conv %s: only bias-free, ungrouped convolutions are differentiable", n.GetName()))
	}
	x, w, dy := n.Input[0], n.Input[1], dys[0]
	xs, ws, ys := b.Shape(x), b.Shape(w), b.Shape(dy)
	k := ws[2]
	stride := attrInts(n, "strides")[0]
	pad := attrInts(n, "pads")[0]
	out := make([]string, 2)
	if need[0] {
		if stride == 1 {
			wt := b.Transpose(w, 1, 0, 2, 3)
			flip := b.Node("Slice", []string{wt, b.Ints(-1, -1), b.Ints(math.MinInt64, math.MinInt64), b.Ints(2, 3), b.Ints(-1, -1)},
				[][]int64{b.Shape(wt)})[0]
			out[0] = b.Conv(dy, flip, 1, k-1-pad)
		} else {
			oh := xs[2] - ((ys[2]-1)*stride - 2*pad + k)
			ow := xs[3] - ((ys[3]-1)*stride - 2*pad + k)
			out[0] = b.Node("ConvTranspose", []string{dy, w}, [][]int64{xs},
				AInts("kernel_shape", k, k), AInts("strides", stride, stride), AInts("pads", pad, pad, pad, pad),
				AInts("output_padding", oh, ow))[0]
		}
	}
	if need[1] && b.custom && k == 3 && pad == 1 && ws[3] == 3 && attrInts(n, "strides")[1] == stride {
		out[1] = b.CustomNode("ConvWeightGrad", []string{x, dy}, [][]int64{ws}, AInt("stride", stride))[0]
	} else if need[1] {
		// Per image col (C·k·k × HW) times dyᵀ (HW × Co), summed over the
		// batch (measured a little faster than dy·colᵀ; BenchmarkWeightGrad).
		col := im2col(b, x, k, stride, pad)
		hw := ys[2] * ys[3]
		ckk := xs[1] * k * k
		col3 := b.Reshape(col, xs[0], ckk, hw)
		dyT := b.Transpose(b.Reshape(dy, ys[0], ys[1], hw), 0, 2, 1)
		prod := b.Node("MatMul", []string{col3, dyT}, [][]int64{{ys[0], ckk, ys[1]}})[0]
		out[1] = b.Reshape(b.Transpose(b.ReduceSum(prod, false, 0), 1, 0), ws...)
	}
	return out
}

// conv3x3Grad differentiates the custom Conv3x3 op: dX by Conv3x3 with the
// flipped, transposed kernel, dW by ConvWeightGrad.
func conv3x3Grad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	if n.GetDomain() != CustomDomain {
		panic(fmt.Sprintf("Conv3x3 %s: not of domain %s", n.GetName(), CustomDomain))
	}
	x, w, dy := n.Input[0], n.Input[1], dys[0]
	out := make([]string, 2)
	if need[0] {
		out[0] = b.CustomNode("Conv3x3", []string{dy, w}, [][]int64{b.Shape(x)}, AInt("flip", 1))[0]
	}
	if need[1] {
		out[1] = b.CustomNode("ConvWeightGrad", []string{x, dy}, [][]int64{b.Shape(w)}, AInt("stride", 1))[0]
	}
	return out
}

// shortcutAGrad differentiates the custom ShortcutA op by ShortcutAGrad.
func shortcutAGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	if n.GetDomain() != CustomDomain {
		panic(fmt.Sprintf("ShortcutA %s: not of domain %s", n.GetName(), CustomDomain))
	}
	xs := b.Shape(n.Input[0])
	return []string{b.CustomNode("ShortcutAGrad", []string{dys[0]}, [][]int64{xs},
		AInt("pad", attrInt(n, "pad", 0)), AInt("height", xs[2]), AInt("width", xs[3]))[0]}
}

// im2col returns N×(C·k·k)×Ho×Wo patches of x, channel-major (c·k·k + i·k + j),
// by a Conv with one group per input channel and one-hot k×k kernels.
func im2col(b *Graph, x string, k, stride, pad int64) string {
	xs := b.Shape(x)
	c := xs[1]
	kk := k * k
	onehot := make([]float32, c*kk*kk)
	for ch := int64(0); ch < c; ch++ {
		for i := int64(0); i < kk; i++ {
			onehot[(ch*kk+i)*kk+i] = 1
		}
	}
	wk := b.Const("onehot", onehot, c*kk, 1, k, k)
	oh := (xs[2]+2*pad-k)/stride + 1
	ow := (xs[3]+2*pad-k)/stride + 1
	return b.Node("Conv", []string{x, wk}, [][]int64{{xs[0], c * kk, oh, ow}},
		AInts("kernel_shape", k, k), AInts("strides", stride, stride), AInts("pads", pad, pad, pad, pad), AInt("group", c))[0]
}

// batchNormGrad differentiates training-mode BatchNormalization (batch
// statistics, biased variance), whose outputs 1 and 2 are the batch mean μ and
// variance. With inv = 1/√(var+ε), k = γ·inv, M elements per channel and
// S = Σ dy·(x−μ) = Σ dy·x − μ·Σ dy:
//
//	dβ = Σ dy, dγ = inv·S, dx = k·dy + a·x + c, a = −k·inv²·S/M, c = −k·dβ/M − a·μ.
//
// a·x + c is one per-channel affine pass, done by an inference-mode
// BatchNormalization (mean 0, variance 1−ε), so x − μ is never materialised.
func batchNormGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	if attrInt(n, "training_mode", 0) != 1 {
		panic(fmt.Sprintf("BatchNormalization %s: only training mode is differentiable", n.GetName()))
	}
	x, scale, mean, variance, dy := n.Input[0], n.Input[1], n.Output[1], n.Output[2], dys[0]
	xs := b.Shape(x)
	c := xs[1]
	m := float32(xs[0] * xs[2] * xs[3])
	eps := attrFloat(n, "epsilon", 1e-5)
	inv := b.Unary("Reciprocal", b.Unary("Sqrt", b.Add(variance, b.Scalar(eps))))
	dbeta := b.ReduceSum(dy, false, 0, 2, 3)
	s := b.Sub(b.ReduceSum(b.Mul(dy, x), false, 0, 2, 3), b.Mul(mean, dbeta))
	out := make([]string, len(n.Input))
	if need[1] {
		out[1] = b.Mul(s, inv)
	}
	if need[2] {
		out[2] = dbeta
	}
	if need[0] {
		k := b.Mul(scale, inv)
		a := b.Mul(b.Mul(k, b.Mul(inv, inv)), b.Mul(s, b.Scalar(-1/m)))
		shift := b.Sub(b.Mul(k, b.Mul(dbeta, b.Scalar(-1/m))), b.Mul(a, mean))
		zero := b.Const("zero", make([]float32, c), c)
		unit := b.Const("unit", fill(int(c), 1-eps), c)
		affine := b.BatchNormEval(x, a, shift, zero, unit, eps)
		out[0] = b.Add(b.Mul(dy, b.Reshape(k, 1, c, 1, 1)), affine)
	}
	return out
}

// batchNormReluGrad differentiates the custom BatchNormRelu op (y =
// relu(BN(x) + r)) by one BatchNormReluGrad op, whose fourth output, the
// masked gradient, is r's.
func batchNormReluGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	if n.GetDomain() != CustomDomain {
		panic(fmt.Sprintf("BatchNormRelu %s: not of domain %s", n.GetName(), CustomDomain))
	}
	if dys[1] != "" || dys[2] != "" {
		panic(fmt.Sprintf("BatchNormRelu %s: its batch statistics are not differentiable", n.GetName()))
	}
	x, scale := n.Input[0], n.Input[1]
	xs := b.Shape(x)
	c := xs[1]
	shapes := [][]int64{xs, {c}, {c}}
	residual := len(n.Input) > 3 && need[3]
	if residual {
		shapes = append(shapes, xs)
	}
	g := b.CustomNode("BatchNormReluGrad", []string{x, n.Output[0], dys[0], scale, n.Output[1], n.Output[2]},
		shapes, AFloat("epsilon", attrFloat(n, "epsilon", 1e-5)))
	out := make([]string, len(n.Input))
	copy(out, g)
	return out
}

// reluGrad passes dy where the output is positive.
func reluGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	y := n.Output[0]
	mask := b.NodeTyped("Greater", []string{y, b.Scalar(0)}, pb.TensorProto_BOOL, b.Shape(y))
	return []string{b.Node("Where", []string{mask, dys[0], b.Scalar(0)}, [][]int64{b.Shape(y)})[0]}
}

// addGrad passes dy to both inputs, summed over broadcast axes.
func addGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	out := make([]string, 2)
	for i, in := range n.Input {
		if need[i] {
			out[i] = unbroadcast(b, dys[0], b.Shape(in))
		}
	}
	return out
}

func unbroadcast(b *Graph, dy string, to []int64) string {
	ys := b.Shape(dy)
	if equal(ys, to) {
		return dy
	}
	off := len(ys) - len(to)
	var axes []int64
	for i := range ys {
		if i < off || (to[i-off] == 1 && ys[i] != 1) {
			axes = append(axes, int64(i))
		}
	}
	return b.Reshape(b.ReduceSum(dy, true, axes...), to...)
}

// sliceGrad scatters dy back into zeros of the input's shape (start ≥ 0,
// step ≥ 1 on each sliced axis). A stride-s subsampling of both spatial axes
// (option-A shortcuts) interleaves zeros by Concat and DepthToSpace, one pass
// each; other slices interleave axis by axis (unsqueeze, pad, reshape). Each
// axis is then shifted into place by a pad, or cut by a slice.
func sliceGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	xs := b.Shape(n.Input[0])
	starts, _ := b.IntsValue(n.Input[1])
	axes, _ := b.IntsValue(n.Input[3])
	steps, _ := b.IntsValue(n.Input[4])
	g := dys[0]
	for i := range axes {
		if starts[i] < 0 || steps[i] < 1 || axes[i] < 0 {
			panic(fmt.Sprintf("Slice %s: only non-negative starts and axes and positive steps are differentiable", n.GetName()))
		}
	}
	spatial := len(xs) == 4 && len(axes) == 2 && axes[0] == 2 && axes[1] == 3 && steps[0] == steps[1] && steps[0] > 1
	if spatial {
		s := steps[0]
		ys := b.Shape(g)
		zeros := b.Expand(b.Scalar(0), ys[0], ys[1]*(s*s-1), ys[2], ys[3])
		cat := b.Node("Concat", []string{g, zeros}, [][]int64{{ys[0], ys[1] * s * s, ys[2], ys[3]}}, AInt("axis", 1))[0]
		g = b.Node("DepthToSpace", []string{cat}, [][]int64{{ys[0], ys[1], ys[2] * s, ys[3] * s}},
			AInt("blocksize", s), &pb.AttributeProto{Name: proto.String("mode"), Type: pb.AttributeProto_STRING.Enum(), S: []byte("DCR")})[0]
	}
	for i, a := range axes {
		st, step := starts[i], steps[i]
		s := b.Shape(g)
		if step > 1 && !spatial {
			l := s[a]
			ex := append(append(append([]int64(nil), s[:a+1]...), 1), s[a+1:]...)
			g = b.Reshape(g, ex...)
			pads := make([]int64, 2*len(ex))
			pads[len(ex)+int(a)+1] = step - 1
			g = b.Pad(g, pads)
			merged := append([]int64(nil), s...)
			merged[a] = l * step
			g = b.Reshape(g, merged...)
			s = b.Shape(g)
		}
		tail := xs[a] - st - s[a]
		if st > 0 || tail > 0 {
			pads := make([]int64, 2*len(s))
			pads[a] = st
			pads[len(s)+int(a)] = max(tail, 0)
			g = b.Pad(g, pads)
		}
		if tail < 0 {
			g = b.Slice(g, []int64{0}, []int64{xs[a]}, []int64{a}, []int64{1})
		}
	}
	return []string{g, "", "", "", ""}
}

// padGrad crops dy back to the input (constant padding, non-negative pads).
func padGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	xs := b.Shape(n.Input[0])
	pads, _ := b.IntsValue(n.Input[1])
	r := len(xs)
	var starts, ends, axes, steps []int64
	for i := 0; i < r; i++ {
		if pads[i] < 0 || pads[r+i] < 0 {
			panic(fmt.Sprintf("Pad %s: negative pads are not differentiable", n.GetName()))
		}
		if pads[i] != 0 || pads[r+i] != 0 {
			starts = append(starts, pads[i])
			ends = append(ends, pads[i]+xs[i])
			axes = append(axes, int64(i))
			steps = append(steps, 1)
		}
	}
	out := make([]string, len(n.Input))
	out[0] = dys[0]
	if len(axes) > 0 {
		out[0] = b.Slice(dys[0], starts, ends, axes, steps)
	}
	return out
}

// mulGrad: d(a·b) = dy·b, dy·a, each summed over its broadcast axes.
func mulGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	out := make([]string, 2)
	for i := range 2 {
		if need[i] {
			out[i] = unbroadcast(b, b.Mul(dys[0], n.Input[1-i]), b.Shape(n.Input[i]))
		}
	}
	return out
}

// subGrad: d(a−b) = dy, −dy, each summed over its broadcast axes.
func subGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	out := make([]string, 2)
	if need[0] {
		out[0] = unbroadcast(b, dys[0], b.Shape(n.Input[0]))
	}
	if need[1] {
		out[1] = b.Unary("Neg", unbroadcast(b, dys[0], b.Shape(n.Input[1])))
	}
	return out
}

// sqrtGrad: d√x = dy / (2√x), from the output.
func sqrtGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	return []string{b.Binary("Div", b.Mul(dys[0], b.Scalar(0.5)), n.Output[0])}
}

// reciprocalGrad: d(1/x) = −dy·y², from the output y.
func reciprocalGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	y := n.Output[0]
	return []string{b.Mul(dys[0], b.Mul(b.Mul(y, y), b.Scalar(-1)))}
}

// reduceMeanGrad spreads dy evenly over the reduced axes (keepdims=1).
func reduceMeanGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	if attrInt(n, "keepdims", 1) != 1 {
		panic(fmt.Sprintf("ReduceMean %s: only keepdims=1 is differentiable", n.GetName()))
	}
	xs, ys := b.Shape(n.Input[0]), b.Shape(n.Output[0])
	return []string{b.Mul(b.Expand(dys[0], xs...), b.Scalar(float32(numel(ys))/float32(numel(xs))))}
}

// globalAveragePoolGrad spreads dy evenly over each channel's positions.
func globalAveragePoolGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	xs := b.Shape(n.Input[0])
	return []string{b.Mul(b.Expand(dys[0], xs...), b.Scalar(1/float32(xs[2]*xs[3])))}
}

// reshapeGrad reshapes dy back to the input's shape (Reshape, Flatten).
func reshapeGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	out := make([]string, len(n.Input))
	out[0] = b.Reshape(dys[0], b.Shape(n.Input[0])...)
	return out
}

func identityGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	return []string{dys[0]}
}

// gemmGrad differentiates Y = X·Wᵀ + bias (transB=1, alpha=beta=1).
func gemmGrad(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string {
	if attrInt(n, "transA", 0) != 0 || attrInt(n, "transB", 0) != 1 || attrFloat(n, "alpha", 1) != 1 || attrFloat(n, "beta", 1) != 1 {
		panic(fmt.Sprintf("Gemm %s: only Y = X·Wᵀ + b is differentiable", n.GetName()))
	}
	x, w, dy := n.Input[0], n.Input[1], dys[0]
	out := make([]string, len(n.Input))
	if need[0] {
		out[0] = b.Node("MatMul", []string{dy, w}, [][]int64{b.Shape(x)})[0]
	}
	if need[1] {
		out[1] = b.Node("Gemm", []string{dy, x}, [][]int64{b.Shape(w)}, AInt("transA", 1))[0]
	}
	if len(n.Input) > 2 && need[2] {
		out[2] = unbroadcast(b, dy, b.Shape(n.Input[2]))
	}
	return out
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
