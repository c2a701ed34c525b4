package graphs

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Spec describes a CIFAR ResNet (He et al. 2016, §4.2; LDAM-DRW's resnet32):
// a 3×3 stem of Width channels, three stages of Width, 2·Width and 4·Width
// channels with (Depth−2)/6 BasicBlocks each, option-A shortcuts (stride-2
// subsampling and zero channel padding, no parameters), global average
// pooling and a linear classifier.
type Spec struct {
	Depth   int // 6k+2: 8, 14, 20, 32, 44, 56, 110
	Width   int // stem channels; 16 in the paper
	Classes int
	// Input image shape; CIFAR is 3×32×32.
	Channels, Height, ImageWidth int
	// PrimitiveNorm builds training-mode BatchNorm from elementwise ops and
	// reductions instead of ONNX's BatchNormalization (which ORT's CUDA
	// provider does not run in training mode). The result is the same.
	PrimitiveNorm bool
	// CustomOps lets the graphs use longtail's custom operators
	// (CustomDomain): direct kernels for 3×3 convolutions (also in the
	// evaluation graph) and their input and weight gradients, BatchNorm,
	// residual addition and ReLU as one op forward and one backward, the
	// option-A shortcut, and one SGD op per parameter. Such graphs run only
	// in sessions of a runtime.Env whose CustomOps is true. Exported models
	// (BuildExport) never use them.
	CustomOps bool
}

// ResNet32 is the paper's network for CIFAR-10.
func ResNet32(classes int) Spec {
	return Spec{Depth: 32, Width: 16, Classes: classes, Channels: 3, Height: 32, ImageWidth: 32}
}

// Validate checks the spec.
func (s Spec) Validate() error {
	switch {
	case s.Depth < 8 || (s.Depth-2)%6 != 0:
		return fmt.Errorf("model.depth: %d is not 6k+2 with k ≥ 1 (8, 14, 20, 32, 44, 56, 110)", s.Depth)
	case s.Width < 4 || s.Width%4 != 0:
		return fmt.Errorf("model.width: %d; want a multiple of 4, at least 4 (option-A shortcuts pad channels by a quarter)", s.Width)
	case s.Classes < 2:
		return fmt.Errorf("model: %d classes; want at least 2", s.Classes)
	case s.Channels < 1 || s.Height < 4 || s.ImageWidth < 4 || s.Height%4 != 0 || s.ImageWidth%4 != 0:
		return fmt.Errorf("model: input %d×%d×%d; want at least one channel and sides that are multiples of 4", s.Channels, s.Height, s.ImageWidth)
	}
	return nil
}

// Param is one named tensor of model state.
type Param struct {
	Name  string
	Shape []int64
	// Kind says how it is initialised and whether it trains.
	Kind Kind
}

// Kind classifies model state.
type Kind int

const (
	ConvWeight   Kind = iota // Kaiming-normal, fan-in
	LinearWeight             // Kaiming-normal, fan-in
	LinearBias               // uniform ±1/√fan-in (PyTorch's default)
	NormScale                // BatchNorm γ, ones
	NormBias                 // BatchNorm β, zeros
	RunningMean              // BatchNorm running mean, zeros; not trained
	RunningVar               // BatchNorm running variance, ones; not trained
)

// Trainable reports whether SGD updates the tensor.
func (k Kind) Trainable() bool { return k != RunningMean && k != RunningVar }

// Size is the number of elements.
func (p Param) Size() int { return int(numel(p.Shape)) }

// BNMomentum and BNEps are PyTorch's BatchNorm2d defaults.
const (
	BNMomentum = 0.1
	BNEps      = 1e-5
)

// net records what building the forward pass declared.
type net struct {
	g      *Graph
	spec   Spec
	train  bool
	params []Param
	// running maps a BN layer's running-stat input to its updated value (training mode).
	running map[string]string
}

func (n *net) param(name string, kind Kind, shape ...int64) string {
	n.params = append(n.params, Param{Name: name, Shape: shape, Kind: kind})
	return n.g.Input(name, shape...)
}

func (n *net) conv(prefix string, x string, out, k, stride int64) string {
	in := n.g.Shape(x)[1]
	w := n.param(prefix+".weight", ConvWeight, out, in, k, k)
	if n.spec.CustomOps && k == 3 && stride == 1 {
		return n.g.Conv3x3(x, w)
	}
	return n.g.Conv(x, w, stride, k/2)
}

// bnRelu is BatchNorm, then the sum with r (when not "") and a ReLU.
// Training graphs with custom ops make it one BatchNormRelu op.
func (n *net) bnRelu(prefix, x, r string) string {
	c := n.g.Shape(x)[1]
	scale := n.param(prefix+".weight", NormScale, c)
	bias := n.param(prefix+".bias", NormBias, c)
	rm := n.param(prefix+".running_mean", RunningMean, c)
	rv := n.param(prefix+".running_var", RunningVar, c)
	after := func(y string) string {
		if r != "" {
			y = n.g.Add(y, r)
		}
		return n.g.Unary("Relu", y)
	}
	if !n.train {
		return after(n.g.BatchNormEval(x, scale, bias, rm, rv, BNEps))
	}
	var y, mean, variance string
	switch {
	case n.spec.PrimitiveNorm:
		y, mean, variance = n.g.BatchNormPrimitive(x, scale, bias, BNEps)
		y = after(y)
	case n.spec.CustomOps:
		y, mean, variance = n.g.BatchNormRelu(x, scale, bias, r, BNEps)
	default:
		y, mean, variance = n.g.BatchNormTrain(x, scale, bias, rm, rv, BNEps)
		y = after(y)
	}
	// PyTorch: running = (1−m)·running + m·batch, with the unbiased variance.
	s := n.g.Shape(x)
	cnt := float64(s[0] * s[2] * s[3])
	keep := n.g.Scalar(1 - BNMomentum)
	nm := n.g.Add(n.g.Mul(rm, keep), n.g.Mul(mean, n.g.Scalar(BNMomentum)))
	nv := n.g.Add(n.g.Mul(rv, keep), n.g.Mul(variance, n.g.Scalar(float32(BNMomentum*cnt/math.Max(cnt-1, 1)))))
	n.running[rm] = n.g.Rename(nm, rm+".next")
	n.running[rv] = n.g.Rename(nv, rv+".next")
	return y
}

// shortcutA subsamples x by 2 and zero-pads channels from in to out (option A).
func (n *net) shortcutA(x string, out int64) string {
	s := n.g.Shape(x)
	p := (out - s[1]) / 2
	if n.train && n.spec.CustomOps {
		return n.g.ShortcutA(x, p)
	}
	sub := n.g.Slice(x, []int64{0, 0}, []int64{s[2], s[3]}, []int64{2, 3}, []int64{2, 2})
	return n.g.Pad(sub, []int64{0, p, 0, 0, 0, p, 0, 0})
}

func (n *net) block(prefix, x string, planes, stride int64) string {
	in := n.g.Shape(x)[1]
	h := n.bnRelu(prefix+".bn1", n.conv(prefix+".conv1", x, planes, 3, stride), "")
	sc := x
	if stride != 1 || in != planes {
		sc = n.shortcutA(x, planes)
	}
	return n.bnRelu(prefix+".bn2", n.conv(prefix+".conv2", h, planes, 3, 1), sc)
}

// buildNet appends the network to g: input "x" of the given batch size (−1 for
// a dynamic batch) and output "logits".
func buildNet(g *Graph, s Spec, batch int, train bool) *net {
	n := &net{g: g, spec: s, train: train, running: map[string]string{}}
	x := g.Input("x", int64(batch), int64(s.Channels), int64(s.Height), int64(s.ImageWidth))
	w := int64(s.Width)
	h := n.bnRelu("bn1", n.conv("conv1", x, w, 3, 1), "")
	blocks := (s.Depth - 2) / 6
	for stage, planes := range []int64{w, 2 * w, 4 * w} {
		for i := 0; i < blocks; i++ {
			stride := int64(1)
			if stage > 0 && i == 0 {
				stride = 2
			}
			h = n.block(fmt.Sprintf("layer%d.%d", stage+1, i), h, planes, stride)
		}
	}
	h = g.Flatten(g.GlobalAveragePool(h))
	lw := n.param("linear.weight", LinearWeight, int64(s.Classes), 4*w)
	lb := n.param("linear.bias", LinearBias, int64(s.Classes))
	g.Rename(g.Linear(h, lw, lb), "logits")
	g.Output("logits")
	return n
}

// Params lists every state tensor of the network in a fixed order (PyTorch's
// state_dict names, without num_batches_tracked).
func (s Spec) Params() []Param {
	return buildNet(NewGraph("params"), s, 1, false).params
}

// Init returns freshly initialised state, as PyTorch initialises the
// reference model: Kaiming-normal (fan-in, gain √2) convolution and linear
// weights, default-uniform linear bias, BatchNorm γ=1, β=0, running mean 0,
// running variance 1.
func Init(params []Param, seed uint64) map[string][]float32 {
	rng := rand.New(rand.NewPCG(seed, 0x6c6f6e677461696c))
	out := make(map[string][]float32, len(params))
	for _, p := range params {
		v := make([]float32, p.Size())
		fanIn := 1.0
		for _, d := range p.Shape[1:] {
			fanIn *= float64(d)
		}
		switch p.Kind {
		case ConvWeight, LinearWeight:
			std := math.Sqrt(2 / fanIn)
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		case LinearBias:
			// fan-in of the matching weight is its second dimension.
			for _, q := range params {
				if q.Kind == LinearWeight {
					fanIn = float64(q.Shape[1])
				}
			}
			b := 1 / math.Sqrt(fanIn)
			for i := range v {
				v[i] = float32((2*rng.Float64() - 1) * b)
			}
		case NormScale, RunningVar:
			for i := range v {
				v[i] = 1
			}
		}
		out[p.Name] = v
	}
	return out
}

// CountTrainable sums the elements of the trainable tensors.
func CountTrainable(params []Param) int {
	n := 0
	for _, p := range params {
		if p.Kind.Trainable() {
			n += p.Size()
		}
	}
	return n
}
