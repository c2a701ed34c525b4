package graphs

import (
	"fmt"

	pb "github.com/longtail-ml/longtail/graphs/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Opset is the ONNX operator set the graphs use.
const Opset = 17

// irVersion is the ONNX IR version that goes with Opset 17.
const irVersion = 8

// Graph builds one ONNX graph. Every value's static shape is tracked, since
// the gradient rules need shapes and all shapes here are known when the
// graph is built. Builder misuse (unknown names, bad shapes) panics: it is a
// programmer error, recovered by Build.
type Graph struct {
	name    string
	nodes   []*pb.NodeProto
	inits   []*pb.TensorProto
	inputs  []*pb.ValueInfoProto
	outputs []*pb.ValueInfoProto
	shapes  map[string][]int64
	dtypes  map[string]pb.TensorProto_DataType
	inits_  map[string]*pb.TensorProto
	isInput map[string]bool
	seq     int
	// outer, when set, is a graph whose values this one may read: the first
	// read of an outer value declares it as an input here (forward values
	// that a backward graph needs).
	outer *Graph
	// custom lets gradient rules emit longtail's custom ops (Spec.CustomOps).
	custom bool
}

// CustomDomain is the op domain of longtail's custom operators, which
// package runtime registers (runtime/ops.c) in the sessions of an Env whose
// CustomOps reports true.
const CustomDomain = "longtail"

// NewGraph starts an empty graph.
func NewGraph(name string) *Graph {
	return &Graph{
		name:    name,
		shapes:  map[string][]int64{},
		dtypes:  map[string]pb.TensorProto_DataType{},
		inits_:  map[string]*pb.TensorProto{},
		isInput: map[string]bool{},
	}
}

// Shape returns the static shape of a value.
func (g *Graph) Shape(name string) []int64 {
	s, ok := g.shapes[name]
	if !ok && g.importOuter(name) {
		s, ok = g.shapes[name]
	}
	if !ok {
		panic(fmt.Sprintf("graphs: %s: no value %q", g.name, name))
	}
	return s
}

// Has reports whether the graph knows a value.
func (g *Graph) Has(name string) bool {
	_, ok := g.shapes[name]
	return ok || g.importOuter(name)
}

func (g *Graph) importOuter(name string) bool {
	if g.outer == nil || !g.outer.Has(name) {
		return false
	}
	g.Input(name, g.outer.Shape(name)...)
	return true
}

func (g *Graph) define(name string, shape []int64, dt pb.TensorProto_DataType) {
	if _, dup := g.shapes[name]; dup {
		panic(fmt.Sprintf("graphs: %s: value %q defined twice", g.name, name))
	}
	g.shapes[name] = append([]int64(nil), shape...)
	g.dtypes[name] = dt
}

// Fresh returns a new unique value name with the given prefix.
func (g *Graph) Fresh(prefix string) string {
	for {
		g.seq++
		n := fmt.Sprintf("%s_%d", prefix, g.seq)
		_, mine := g.shapes[n]
		outer := g.outer != nil && g.outer.Has(n)
		if !mine && !outer {
			return n
		}
	}
}

// Input declares a float32 graph input.
func (g *Graph) Input(name string, shape ...int64) string {
	g.define(name, shape, pb.TensorProto_FLOAT)
	g.isInput[name] = true
	g.inputs = append(g.inputs, valueInfo(name, shape, pb.TensorProto_FLOAT))
	return name
}

// IsInput reports whether name is a graph input.
func (g *Graph) IsInput(name string) bool { return g.isInput[name] }

// Output marks an existing value as a graph output.
func (g *Graph) Output(name string) {
	g.outputs = append(g.outputs, valueInfo(name, g.Shape(name), g.dtypes[name]))
}

// Outputs lists the graph outputs in order.
func (g *Graph) Outputs() []string {
	out := make([]string, len(g.outputs))
	for i, v := range g.outputs {
		out[i] = v.GetName()
	}
	return out
}

// Inputs lists the graph inputs in order.
func (g *Graph) Inputs() []string {
	out := make([]string, len(g.inputs))
	for i, v := range g.inputs {
		out[i] = v.GetName()
	}
	return out
}

// Const adds a float32 initializer.
func (g *Graph) Const(prefix string, data []float32, shape ...int64) string {
	if n := numel(shape); int64(len(data)) != n {
		panic(fmt.Sprintf("graphs: const %s: %d values for shape %v", prefix, len(data), shape))
	}
	name := g.Fresh(prefix)
	t := &pb.TensorProto{Name: proto.String(name), Dims: shape, DataType: proto.Int32(int32(pb.TensorProto_FLOAT)), FloatData: data}
	g.define(name, shape, pb.TensorProto_FLOAT)
	g.inits = append(g.inits, t)
	g.inits_[name] = t
	return name
}

// Scalar adds a float32 scalar initializer.
func (g *Graph) Scalar(v float32) string { return g.Const("c", []float32{v}) }

// Ints adds an int64 1-D initializer (shapes, axes, pads).
func (g *Graph) Ints(vals ...int64) string {
	name := g.Fresh("i")
	t := &pb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(vals))}, DataType: proto.Int32(int32(pb.TensorProto_INT64)), Int64Data: vals}
	g.define(name, []int64{int64(len(vals))}, pb.TensorProto_INT64)
	g.inits = append(g.inits, t)
	g.inits_[name] = t
	return name
}

// ConstValue returns the data of a float32 initializer, if name is one.
func (g *Graph) ConstValue(name string) ([]float32, bool) {
	t, ok := g.inits_[name]
	if !ok || t.GetDataType() != int32(pb.TensorProto_FLOAT) {
		return nil, false
	}
	return t.FloatData, true
}

// Attr is one node attribute.
type Attr = *pb.AttributeProto

// AInt, AInts, AFloat build attributes.
func AInt(name string, v int64) Attr {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func AInts(name string, v ...int64) Attr {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_INTS.Enum(), Ints: v}
}

func AFloat(name string, v float32) Attr {
	return &pb.AttributeProto{Name: proto.String(name), Type: pb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

// Node appends a node whose outputs have the given shapes (float32) and
// returns the output names. An output shape of nil declares an unused output.
func (g *Graph) Node(op string, inputs []string, outShapes [][]int64, attrs ...Attr) []string {
	for _, in := range inputs {
		if in != "" && !g.Has(in) {
			panic(fmt.Sprintf("graphs: %s: %s node reads unknown value %q", g.name, op, in))
		}
	}
	outs := make([]string, len(outShapes))
	for i, s := range outShapes {
		outs[i] = g.Fresh(op)
		g.define(outs[i], s, pb.TensorProto_FLOAT)
	}
	g.nodes = append(g.nodes, &pb.NodeProto{
		Name: proto.String(outs[0]), OpType: proto.String(op), Input: inputs, Output: outs, Attribute: attrs,
	})
	return outs
}

// NodeTyped is Node for outputs of another element type.
func (g *Graph) NodeTyped(op string, inputs []string, dt pb.TensorProto_DataType, shape []int64, attrs ...Attr) string {
	out := g.Node(op, inputs, [][]int64{shape}, attrs...)[0]
	g.dtypes[out] = dt
	return out
}

// CustomNode is Node for an op of CustomDomain.
func (g *Graph) CustomNode(op string, inputs []string, outShapes [][]int64, attrs ...Attr) []string {
	outs := g.Node(op, inputs, outShapes, attrs...)
	g.nodes[len(g.nodes)-1].Domain = proto.String(CustomDomain)
	return outs
}

// CustomNodeNamed is CustomNode with outputs of the given names (float32).
func (g *Graph) CustomNodeNamed(op string, inputs, outputs []string, outShapes [][]int64, attrs ...Attr) {
	for _, in := range inputs {
		if in != "" && !g.Has(in) {
			panic(fmt.Sprintf("graphs: %s: %s node reads unknown value %q", g.name, op, in))
		}
	}
	for i, o := range outputs {
		g.define(o, outShapes[i], pb.TensorProto_FLOAT)
	}
	g.nodes = append(g.nodes, &pb.NodeProto{
		Name: proto.String(outputs[0]), OpType: proto.String(op), Domain: proto.String(CustomDomain),
		Input: inputs, Output: outputs, Attribute: attrs,
	})
}

// UsesCustomOps reports whether the graph has a node of CustomDomain.
func (g *Graph) UsesCustomOps() bool {
	for _, n := range g.nodes {
		if n.GetDomain() == CustomDomain {
			return true
		}
	}
	return false
}

// Rename gives value from a friendlier, unique name by an Identity node.
func (g *Graph) Rename(from, to string) string {
	g.define(to, g.Shape(from), g.dtypes[from])
	g.nodes = append(g.nodes, &pb.NodeProto{Name: proto.String(to), OpType: proto.String("Identity"), Input: []string{from}, Output: []string{to}})
	return to
}

// Nodes exposes the node list (read-only by convention) for differentiation.
func (g *Graph) Nodes() []*pb.NodeProto { return g.nodes }

// Model wraps the graph in a ModelProto.
// A graph with custom ops also imports CustomDomain at version 1.
func (g *Graph) Model() *pb.ModelProto {
	opsets := []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(Opset)}}
	if g.UsesCustomOps() {
		opsets = append(opsets, &pb.OperatorSetIdProto{Domain: proto.String(CustomDomain), Version: proto.Int64(1)})
	}
	return &pb.ModelProto{
		IrVersion:       proto.Int64(irVersion),
		ProducerName:    proto.String("longtail"),
		ProducerVersion: proto.String(Version),
		OpsetImport:     opsets,
		Graph: &pb.GraphProto{
			Name: proto.String(g.name), Node: g.nodes, Initializer: g.inits, Input: g.inputs, Output: g.outputs,
		},
	}
}

// Marshal serialises the graph as an ONNX model.
func (g *Graph) Marshal() ([]byte, error) {
	b, err := proto.Marshal(g.Model())
	if err != nil {
		return nil, fmt.Errorf("graphs: marshal %s: %w", g.name, err)
	}
	return b, nil
}

// Version is written into every model's producer_version.
const Version = "0.1.0"

func valueInfo(name string, shape []int64, dt pb.TensorProto_DataType) *pb.ValueInfoProto {
	dims := make([]*pb.TensorShapeProto_Dimension, len(shape))
	for i, d := range shape {
		if d < 0 { // dynamic batch
			dims[i] = &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}
			continue
		}
		dims[i] = &pb.TensorShapeProto_Dimension{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: d}}
	}
	return &pb.ValueInfoProto{
		Name: proto.String(name),
		Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(dt)),
			Shape:    &pb.TensorShapeProto{Dim: dims},
		}}},
	}
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// IntsValue returns the data of an int64 initializer of this graph or, for a
// backward graph, of its forward graph.
func (g *Graph) IntsValue(name string) ([]int64, bool) {
	if t, ok := g.inits_[name]; ok && t.GetDataType() == int32(pb.TensorProto_INT64) {
		return t.Int64Data, true
	}
	if g.outer != nil {
		return g.outer.IntsValue(name)
	}
	return nil, false
}
