package graphs

import (
	"fmt"
	"slices"

	pb "github.com/longtail-ml/longtail/graphs/onnxpb"
)

// A gradRule emits, into the backward graph b, the gradients of one forward
// node's inputs from the gradients of its outputs. dys[i] is the gradient of
// output i ("" when none flows back); need[i] says whether input i wants one.
// It returns one name per input ("" where not needed). Rules may read any
// forward value by name: b imports it as an input (a saved activation).
type gradRule func(b *Graph, n *pb.NodeProto, dys []string, need []bool) []string

// rules is the table of differentiable ops; Backward refuses any other op on
// the path from the parameters to the output.
var rules = map[string]gradRule{
	"Conv":               convGrad,
	"BatchNormalization": batchNormGrad,
	"BatchNormRelu":      batchNormReluGrad, // CustomDomain
	"Conv3x3":            conv3x3Grad,       // CustomDomain
	"ShortcutA":          shortcutAGrad,     // CustomDomain
	"Relu":               reluGrad,
	"Add":                addGrad,
	"Sub":                subGrad,
	"Mul":                mulGrad,
	"Sqrt":               sqrtGrad,
	"Reciprocal":         reciprocalGrad,
	"ReduceMean":         reduceMeanGrad,
	"Slice":              sliceGrad,
	"Pad":                padGrad,
	"GlobalAveragePool":  globalAveragePoolGrad,
	"Flatten":            reshapeGrad,
	"Reshape":            reshapeGrad,
	"Identity":           identityGrad,
	"Gemm":               gemmGrad,
}

// Differentiable lists the op types Backward can differentiate.
func Differentiable() []string {
	out := make([]string, 0, len(rules))
	for op := range rules {
		out = append(out, op)
	}
	return out
}

// Backward builds the reverse-mode graph of fwd: given the gradient of output y
// as the backward graph's input seed, it returns a graph computing the
// gradients of wrt, and the names of those gradients. Forward values that the
// gradient rules read become inputs of the backward graph; the caller makes
// them outputs of the forward graph (see Saved).
func Backward(fwd *Graph, y, seed string, wrt []string) (b *Graph, grads map[string]string, err error) {
	b = NewGraph(fwd.name + "_backward")
	b.outer = fwd
	b.custom = fwd.custom
	b.Input(seed, fwd.Shape(y)...)
	grads, err = differentiate(b, fwd, y, seed, wrt)
	if err != nil {
		return nil, nil, err
	}
	return b, grads, nil
}

// BackwardInto appends the reverse-mode nodes to g itself, seeded by the
// existing value seed (the gradient of y): one graph for a whole step.
func BackwardInto(g *Graph, y, seed string, wrt []string) (map[string]string, error) {
	return differentiate(g, g, y, seed, wrt)
}

// differentiate emits the gradient nodes of fwd's nodes into b.
func differentiate(b, fwd *Graph, y, seed string, wrt []string) (grads map[string]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("graphs: backward of %s: %v", fwd.name, r)
		}
	}()
	// Values that depend on wrt.
	live := map[string]bool{}
	for _, w := range wrt {
		live[w] = true
	}
	for _, n := range fwd.nodes {
		for _, in := range n.Input {
			if live[in] {
				for _, o := range n.Output {
					live[o] = true
				}
				break
			}
		}
	}
	if !live[y] {
		return nil, fmt.Errorf("graphs: %s does not depend on the parameters", y)
	}
	nodes := fwd.nodes // b may be fwd: differentiate only what existed before
	acc := map[string][]string{y: {seed}}
	sum := func(name string) string {
		parts := acc[name]
		switch len(parts) {
		case 0:
			return ""
		case 1:
			return parts[0]
		}
		if s := b.addInto(parts); s != "" {
			acc[name] = []string{s}
			return s
		}
		s := b.Node("Sum", parts, [][]int64{fwd.Shape(name)})[0]
		acc[name] = []string{s}
		return s
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		dys := make([]string, len(n.Output))
		any := false
		for j, o := range n.Output {
			dys[j] = sum(o)
			any = any || dys[j] != ""
		}
		if !any {
			continue
		}
		need := make([]bool, len(n.Input))
		anyNeed := false
		for j, in := range n.Input {
			need[j] = live[in]
			anyNeed = anyNeed || need[j]
		}
		if !anyNeed {
			continue
		}
		rule, ok := rules[n.GetOpType()]
		if !ok {
			return nil, fmt.Errorf("graphs: no gradient rule for %s (node %s); differentiable ops: %v", n.GetOpType(), n.GetName(), Differentiable())
		}
		dxs := rule(b, n, dys, need)
		for j, dx := range dxs {
			if need[j] && dx != "" {
				acc[n.Input[j]] = append(acc[n.Input[j]], dx)
			}
		}
	}
	grads = map[string]string{}
	for _, w := range wrt {
		g := sum(w)
		if g == "" {
			return nil, fmt.Errorf("graphs: %s gets no gradient from %s", w, y)
		}
		grads[w] = g
	}
	return grads, nil
}

// addInto sums two gradient parts without a Sum node where custom ops
// allow: when one is a Conv3x3's output, the other becomes that op's
// addend, provided it is defined before the op. It returns the sum, or "".
func (b *Graph) addInto(parts []string) string {
	if !b.custom || len(parts) != 2 {
		return ""
	}
	at := func(v string) int {
		for i := len(b.nodes) - 1; i >= 0; i-- {
			if slices.Contains(b.nodes[i].Output, v) {
				return i
			}
		}
		return -1 // a graph input or initializer
	}
	for k, p := range parts {
		i := at(p)
		if i < 0 {
			continue
		}
		n := b.nodes[i]
		if n.GetDomain() == CustomDomain && n.GetOpType() == "Conv3x3" && len(n.Input) == 2 && at(parts[1-k]) < i {
			n.Input = append(n.Input, parts[1-k])
			return p
		}
	}
	return ""
}

// attribute lookups on a node.

func attrInt(n *pb.NodeProto, name string, def int64) int64 {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return a.GetI()
		}
	}
	return def
}

func attrInts(n *pb.NodeProto, name string) []int64 {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return a.Ints
		}
	}
	return nil
}

func attrFloat(n *pb.NodeProto, name string, def float32) float32 {
	for _, a := range n.Attribute {
		if a.GetName() == name {
			return a.GetF()
		}
	}
	return def
}
