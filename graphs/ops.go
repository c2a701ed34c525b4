package graphs

import "fmt"

// The helpers below append one forward op each and compute its output shape.
// Layout is NCHW float32 throughout.

// Conv is a 2-D convolution without bias: kernel k×k, given stride, symmetric padding.
func (g *Graph) Conv(x, w string, stride, pad int64) string {
	xs, ws := g.Shape(x), g.Shape(w)
	if len(xs) != 4 || len(ws) != 4 || xs[1] != ws[1] {
		panic(fmt.Sprintf("graphs: Conv %s%v with %s%v", x, xs, w, ws))
	}
	oh := (xs[2]+2*pad-ws[2])/stride + 1
	ow := (xs[3]+2*pad-ws[3])/stride + 1
	return g.Node("Conv", []string{x, w}, [][]int64{{xs[0], ws[0], oh, ow}},
		AInts("kernel_shape", ws[2], ws[3]), AInts("strides", stride, stride), AInts("pads", pad, pad, pad, pad))[0]
}

// BatchNormTrain normalises x with its batch statistics and returns y and the
// batch mean and biased variance. It is ONNX BatchNormalization in training
// mode with momentum 0, whose "running" outputs are then the batch statistics
// whatever its running inputs hold. ORT lets that kernel write its running
// outputs in place over its running inputs, so each input is a scratch value
// of its own (runMean·0, runVar·0): never a graph input or an initializer
// that other nodes read or that ORT shares between nodes.
func (g *Graph) BatchNormTrain(x, scale, bias, runMean, runVar string, eps float32) (y, mean, variance string) {
	xs := g.Shape(x)
	c := xs[1]
	m0 := g.Mul(runMean, g.Scalar(0))
	v0 := g.Mul(runVar, g.Scalar(0))
	o := g.Node("BatchNormalization", []string{x, scale, bias, m0, v0}, [][]int64{xs, {c}, {c}},
		AFloat("epsilon", eps), AFloat("momentum", 0), AInt("training_mode", 1))
	return o[0], o[1], o[2]
}

// Conv3x3 is Conv(x, w, 1, 1) for a 3×3 kernel, as one op of CustomDomain.
func (g *Graph) Conv3x3(x, w string) string {
	xs, ws := g.Shape(x), g.Shape(w)
	if len(xs) != 4 || len(ws) != 4 || xs[1] != ws[1] || ws[2] != 3 || ws[3] != 3 {
		panic(fmt.Sprintf("graphs: Conv3x3 %s%v with %s%v", x, xs, w, ws))
	}
	return g.CustomNode("Conv3x3", []string{x, w}, [][]int64{{xs[0], ws[0], xs[2], xs[3]}})[0]
}

// ShortcutA is ResNet's option-A shortcut (x subsampled by 2 in space, pad
// zero channels on each side) as one op of CustomDomain.
func (g *Graph) ShortcutA(x string, pad int64) string {
	xs := g.Shape(x)
	return g.CustomNode("ShortcutA", []string{x}, [][]int64{{xs[0], xs[1] + 2*pad, (xs[2] + 1) / 2, (xs[3] + 1) / 2}}, AInt("pad", pad))[0]
}

// BatchNormRelu is BatchNormTrain followed by the sum with r (when not "")
// and a ReLU, as one op of CustomDomain. It returns y and the batch mean and
// biased variance.
func (g *Graph) BatchNormRelu(x, scale, bias, r string, eps float32) (y, mean, variance string) {
	xs := g.Shape(x)
	c := xs[1]
	in := []string{x, scale, bias}
	if r != "" {
		if !equal(g.Shape(r), xs) {
			panic(fmt.Sprintf("graphs: BatchNormRelu of %s%v with residual %s%v", x, xs, r, g.Shape(r)))
		}
		in = append(in, r)
	}
	o := g.CustomNode("BatchNormRelu", in, [][]int64{xs, {c}, {c}}, AFloat("epsilon", eps))
	return o[0], o[1], o[2]
}

// BatchNormPrimitive is BatchNormTrain built from elementwise ops and
// reductions, for execution providers without a training-mode
// BatchNormalization kernel (ORT's CUDA provider refuses it at opset ≥ 14).
// It returns y and the batch mean and biased variance, each of shape C.
func (g *Graph) BatchNormPrimitive(x, scale, bias string, eps float32) (y, mean, variance string) {
	c := g.Shape(x)[1]
	m := g.ReduceMean(x, 0, 2, 3)
	xc := g.Sub(x, m)
	v := g.ReduceMean(g.Mul(xc, xc), 0, 2, 3)
	inv := g.Unary("Reciprocal", g.Unary("Sqrt", g.Add(v, g.Scalar(eps))))
	y = g.Add(g.Mul(xc, g.Mul(inv, g.Reshape(scale, 1, c, 1, 1))), g.Reshape(bias, 1, c, 1, 1))
	return y, g.Reshape(m, c), g.Reshape(v, c)
}

// ReduceMean averages over axes, keeping them as size 1.
func (g *Graph) ReduceMean(x string, axes ...int64) string {
	s := append([]int64(nil), g.Shape(x)...)
	for _, a := range axes {
		s[a] = 1
	}
	return g.Node("ReduceMean", []string{x}, [][]int64{s}, AInts("axes", axes...), AInt("keepdims", 1))[0]
}

// BatchNormEval normalises x with given (running) statistics.
func (g *Graph) BatchNormEval(x, scale, bias, mean, variance string, eps float32) string {
	return g.Node("BatchNormalization", []string{x, scale, bias, mean, variance}, [][]int64{g.Shape(x)},
		AFloat("epsilon", eps))[0]
}

// Unary appends an elementwise op with one input (Relu, Sqrt, Reciprocal, Neg, ...).
func (g *Graph) Unary(op, x string) string {
	return g.Node(op, []string{x}, [][]int64{g.Shape(x)})[0]
}

// Binary appends an elementwise op with numpy broadcasting (Add, Sub, Mul, Div).
func (g *Graph) Binary(op, a, b string) string {
	return g.Node(op, []string{a, b}, [][]int64{broadcast(g.Shape(a), g.Shape(b))})[0]
}

func (g *Graph) Add(a, b string) string { return g.Binary("Add", a, b) }
func (g *Graph) Sub(a, b string) string { return g.Binary("Sub", a, b) }
func (g *Graph) Mul(a, b string) string { return g.Binary("Mul", a, b) }

// Slice takes x[starts:ends:steps] on the given axes (non-negative starts, positive steps).
func (g *Graph) Slice(x string, starts, ends, axes, steps []int64) string {
	s := append([]int64(nil), g.Shape(x)...)
	for i, a := range axes {
		e := min(ends[i], s[a])
		s[a] = (e - starts[i] + steps[i] - 1) / steps[i]
	}
	return g.Node("Slice", []string{x, g.Ints(starts...), g.Ints(ends...), g.Ints(axes...), g.Ints(steps...)}, [][]int64{s})[0]
}

// Pad zero-pads x; pads are ONNX's [begin..., end...], non-negative.
func (g *Graph) Pad(x string, pads []int64) string {
	s := append([]int64(nil), g.Shape(x)...)
	r := len(s)
	for i := range s {
		s[i] += pads[i] + pads[r+i]
	}
	return g.Node("Pad", []string{x, g.Ints(pads...)}, [][]int64{s})[0]
}

// GlobalAveragePool averages each channel: N×C×H×W → N×C×1×1.
func (g *Graph) GlobalAveragePool(x string) string {
	s := g.Shape(x)
	return g.Node("GlobalAveragePool", []string{x}, [][]int64{{s[0], s[1], 1, 1}})[0]
}

// Flatten reshapes to 2-D at axis 1.
func (g *Graph) Flatten(x string) string {
	s := g.Shape(x)
	return g.Node("Flatten", []string{x}, [][]int64{{s[0], numel(s[1:])}}, AInt("axis", 1))[0]
}

// Linear is Gemm(x, wᵀ) + b with w of shape out×in, as PyTorch's nn.Linear.
func (g *Graph) Linear(x, w, b string) string {
	return g.Node("Gemm", []string{x, w, b}, [][]int64{{g.Shape(x)[0], g.Shape(w)[0]}}, AInt("transB", 1))[0]
}

// Reshape to a static shape.
func (g *Graph) Reshape(x string, shape ...int64) string {
	if numel(shape) != numel(g.Shape(x)) {
		panic(fmt.Sprintf("graphs: reshape %s%v to %v", x, g.Shape(x), shape))
	}
	return g.Node("Reshape", []string{x, g.Ints(shape...)}, [][]int64{shape})[0]
}

// Transpose permutes axes.
func (g *Graph) Transpose(x string, perm ...int64) string {
	s := g.Shape(x)
	o := make([]int64, len(perm))
	for i, p := range perm {
		o[i] = s[p]
	}
	return g.Node("Transpose", []string{x}, [][]int64{o}, AInts("perm", perm...))[0]
}

// ReduceSum sums over axes; keepdims keeps them as size 1.
func (g *Graph) ReduceSum(x string, keep bool, axes ...int64) string {
	s := g.Shape(x)
	var o []int64
	for i, d := range s {
		red := false
		for _, a := range axes {
			red = red || int64(i) == a
		}
		switch {
		case !red:
			o = append(o, d)
		case keep:
			o = append(o, 1)
		}
	}
	k := int64(0)
	if keep {
		k = 1
	}
	return g.Node("ReduceSum", []string{x, g.Ints(axes...)}, [][]int64{o}, AInt("keepdims", k))[0]
}

// Expand broadcasts x to shape.
func (g *Graph) Expand(x string, shape ...int64) string {
	return g.Node("Expand", []string{x, g.Ints(shape...)}, [][]int64{shape})[0]
}

func broadcast(a, b []int64) []int64 {
	if len(a) < len(b) {
		a, b = b, a
	}
	o := append([]int64(nil), a...)
	off := len(a) - len(b)
	for i, d := range b {
		switch {
		case o[off+i] == d || d == 1:
		case o[off+i] == 1:
			o[off+i] = d
		default:
			panic(fmt.Sprintf("graphs: shapes %v and %v do not broadcast", a, b))
		}
	}
	return o
}

func fill(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}
