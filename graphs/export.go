package graphs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	pb "github.com/longtail-ml/longtail/graphs/onnxpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// ExportOpset is the ONNX operator set of exported inference models. Every op
// an export uses (Conv, Relu, Add, GlobalAveragePool, Flatten, Gemm, and
// BatchNormalization when kept) has had its present float semantics since
// opset 9, so 9 is the lowest opset that loses nothing, and any runtime that
// reads ONNX 1.4 (2019) or later models loads it: ONNX Runtime, onnx-go's
// gorgonia backend (whose operator tests are opset 9) and onnx.checker among
// them.
const ExportOpset = 9

// exportIRVersion is the ONNX IR version that goes with opset 9 (ONNX 1.4);
// it is the first that lets initializers stay out of the graph inputs.
const exportIRVersion = 4

// Metadata keys every export carries (ModelProto.metadata_props). Values are
// JSON where they are lists.
const (
	// MetaFormat identifies a longtail export; its value is ExportFormat.
	MetaFormat = "format"
	// MetaClasses is the JSON list of class names, in logit order.
	MetaClasses = "classes"
	// MetaMean and MetaStd are JSON lists, one value per input channel, in
	// [0,1] pixel units: the input is (pixel/255 − mean[c]) / std[c].
	MetaMean = "mean"
	MetaStd  = "std"
	// MetaInput and MetaOutput describe the input and output in words.
	MetaInput  = "input"
	MetaOutput = "output"
	// MetaGraphSHA256 is the hex SHA-256 of the serialised GraphProto as it
	// is stored in the file; ParseExport checks it, so a damaged or edited
	// graph is refused rather than run.
	MetaGraphSHA256 = "graph_sha256"
)

// ExportFormat is the value of MetaFormat; FeaturesFormat that of a features
// export (ExportOptions.Features).
const (
	ExportFormat   = "longtail-classifier/1"
	FeaturesFormat = "longtail-features/1"
)

// Errors of ParseExport; the returned errors wrap one with the detail.
var (
	// ErrNotONNX: the bytes are not a whole ONNX model (corrupt, truncated,
	// or another kind of file).
	ErrNotONNX = errors.New("graphs: not an ONNX model")
	// ErrForeignModel: a readable ONNX model, but not a longtail export (no
	// or wrong metadata, or an input and output of another form).
	ErrForeignModel = errors.New("graphs: not a longtail export")
	// ErrDamaged: a longtail export whose graph does not match its stored
	// digest.
	ErrDamaged = errors.New("graphs: damaged model")
	// ErrState: the state given to BuildExport does not fit the network.
	ErrState = errors.New("graphs: state does not match the network")
)

// ExportOptions configure BuildExport. Classes, Mean and Std are required;
// the rest may be zero.
type ExportOptions struct {
	// Classes names the classes in logit order; one per Spec.Classes.
	Classes []string
	// Mean and Std normalise the input, per channel, in [0,1] pixel units.
	Mean, Std []float32
	// KeepBatchNorm keeps BatchNormalization nodes (with the running
	// statistics) instead of folding them into the convolutions. The
	// default, folding, gives a smaller and faster graph whose logits differ
	// from the unfolded ones by float rounding only.
	KeepBatchNorm bool
	// Metadata holds further metadata_props entries (method, data, config,
	// versions); keys must not clash with the Meta* keys.
	Metadata map[string]string
	// Doc is the model's doc_string; empty means a generated description.
	Doc string
	// Head, when set, replaces the trained classifier with another linear
	// map of the (optionally L2-normalised) pooled features; the output is
	// still "logits". Post-hoc rebalancing folds its result in this way.
	Head *Head
	// Features ends the model at the pooled features: output "features",
	// N×Spec.Features() float32, no classifier. Such a model is marked
	// FeaturesFormat, so ParseExport refuses it as a classifier.
	Features bool
}

// BuildExport builds the inference model of a trained network: the
// evaluation-mode ResNet of BuildEval (BatchNorm on running statistics),
// with the state baked in as initializers named as PyTorch names them, a
// dynamic batch, input "x" (N×C×H×W float32) and output "logits"
// (N×Classes float32).
//
// Unless KeepBatchNorm, each BatchNorm is folded into the convolution before
// it: w' = w·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε), computed in float64 and rounded
// once. The option-A shortcut (x[:, :, ::2, ::2] zero-padded in channels) is
// a stride-2 1×1 convolution with a fixed 0/1 weight, which is exact: each
// output is one input times 1 plus zeros. So the export uses only Conv,
// Relu, Add, GlobalAveragePool, Flatten and Gemm (and BatchNormalization if
// kept), at ExportOpset, which onnx-go's gorgonia backend runs as well.
//
// The metadata_props carry the options' metadata, then classes, mean, std,
// an input and output description, the graph digest and, last, the format
// marker (so a file cut anywhere in the metadata lacks it).
func BuildExport(s Spec, state map[string][]float32, o *ExportOptions) (m *pb.ModelProto, err error) {
	if o == nil {
		o = &ExportOptions{}
	}
	if err := o.validate(s); err != nil {
		return nil, err
	}
	for _, p := range s.Params() {
		v, ok := state[p.Name]
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: no %s", ErrState, p.Name)
		case len(v) != p.Size():
			return nil, fmt.Errorf("%w: %s has %d values; the network's is %v (%d)", ErrState, p.Name, len(v), p.Shape, p.Size())
		}
	}
	s.CustomOps = false // an exported model runs anywhere
	eval, err := BuildEval(s)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("graphs: build export: %v", r)
		}
	}()
	l := &lowering{src: eval, dst: NewGraph(fmt.Sprintf("resnet%d", s.Depth)), state: state, fold: !o.KeepBatchNorm,
		head: o.Head, features: o.Features, name: map[string]string{}}
	l.run()
	return l.model(s, o)
}

func (o *ExportOptions) validate(s Spec) error {
	switch {
	case len(o.Classes) != s.Classes:
		return fmt.Errorf("graphs: export: %d class names for %d classes", len(o.Classes), s.Classes)
	case len(o.Mean) != s.Channels || len(o.Std) != s.Channels:
		return fmt.Errorf("graphs: export: mean has %d values and std %d; want one per channel (%d)", len(o.Mean), len(o.Std), s.Channels)
	}
	for c, v := range o.Std {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("graphs: export: std[%d] is %v; want a positive number", c, v)
		}
	}
	switch {
	case o.Head != nil && o.Features:
		return fmt.Errorf("graphs: export: a head and a features export exclude each other")
	case o.Head != nil:
		if err := o.Head.validate(s); err != nil {
			return err
		}
	}
	for k := range o.Metadata {
		if slices.Contains(coreKeys, k) {
			return fmt.Errorf("graphs: export: metadata key %q is reserved", k)
		}
	}
	return nil
}

// coreKeys are written by BuildExport itself, MetaFormat last.
var coreKeys = []string{MetaClasses, MetaMean, MetaStd, MetaInput, MetaOutput, MetaGraphSHA256, MetaFormat}

// lowering rewrites the evaluation graph into the export graph, node by node.
type lowering struct {
	src, dst *Graph
	state    map[string][]float32
	fold     bool
	head     *Head // replaces the classifier (ExportOptions.Head)
	features bool  // stop at the pooled features (ExportOptions.Features)
	// name maps a src value to the dst value that holds it.
	name map[string]string
}

// value returns the dst name of src value v; a parameter becomes an
// initializer of the same name on first use.
func (l *lowering) value(v string) string {
	if n, ok := l.name[v]; ok {
		return n
	}
	if !l.src.IsInput(v) {
		panic(fmt.Sprintf("value %q has no producer", v))
	}
	if v == "x" {
		l.name[v] = l.dst.Input("x", l.src.Shape("x")...)
		return "x"
	}
	l.name[v] = l.dst.Initializer(v, l.state[v], l.src.Shape(v)...)
	return v
}

func (l *lowering) run() {
	nodes := l.src.Nodes()
	uses := map[string]int{}
	for _, n := range nodes {
		for _, in := range n.Input {
			uses[in]++
		}
	}
	for i := 0; i < len(nodes); i++ {
		n := nodes[i]
		// next is the node after n when it is n's only consumer: a pair to fuse.
		var next *pb.NodeProto
		if i+1 < len(nodes) && uses[n.Output[0]] == 1 && slices.Contains(nodes[i+1].Input, n.Output[0]) {
			next = nodes[i+1]
		}
		switch op := n.GetOpType(); {
		case op == "Conv" && l.fold && next != nil && next.GetOpType() == "BatchNormalization":
			l.foldConvBN(n, next)
			i++
		case op == "Slice" && next != nil && next.GetOpType() == "Pad":
			l.shortcut(n, next)
			i++
		case op == "Gemm" && (l.head != nil || l.features):
			if l.classifier(n) {
				return
			}
		case op == "Identity":
			l.name[n.Output[0]] = l.dst.Rename(l.value(n.Input[0]), n.Output[0])
		case op == "Conv", op == "BatchNormalization", op == "Relu", op == "Add",
			op == "GlobalAveragePool", op == "Flatten", op == "Gemm":
			ins := make([]string, len(n.Input))
			for j, in := range n.Input {
				ins[j] = l.value(in)
			}
			l.name[n.Output[0]] = l.dst.Node(op, ins, [][]int64{l.src.Shape(n.Output[0])}, n.Attribute...)[0]
		default:
			panic(fmt.Sprintf("no export form for %s node %s", op, n.GetName()))
		}
	}
	for _, out := range l.src.Outputs() {
		l.dst.Output(l.value(out))
	}
}

// foldConvBN emits conv followed by bn as one Conv with a bias.
func (l *lowering) foldConvBN(conv, bn *pb.NodeProto) {
	wName := conv.Input[1]
	w, shape := l.state[wName], l.src.Shape(wName)
	gamma, beta := l.state[bn.Input[1]], l.state[bn.Input[2]]
	mean, variance := l.state[bn.Input[3]], l.state[bn.Input[4]]
	eps := float64(attrFloat(bn, "epsilon", 1e-5))
	out := int(shape[0])
	per := len(w) / out
	fw := make([]float32, len(w))
	fb := make([]float32, out)
	for o := range out {
		inv := float64(gamma[o]) / math.Sqrt(float64(variance[o])+eps)
		for k := o * per; k < (o+1)*per; k++ {
			fw[k] = float32(float64(w[k]) * inv)
		}
		fb[o] = float32(float64(beta[o]) - float64(mean[o])*inv)
	}
	// "layer1.0.conv1.weight" keeps its name; the bias is "layer1.0.conv1.bias".
	prefix := wName[:len(wName)-len(".weight")]
	wv := l.dst.Initializer(wName, fw, shape...)
	bv := l.dst.Initializer(prefix+".bias", fb, shape[0])
	l.name[bn.Output[0]] = l.dst.Node("Conv", []string{l.value(conv.Input[0]), wv, bv},
		[][]int64{l.src.Shape(bn.Output[0])}, conv.Attribute...)[0]
}

// shortcut emits Slice(x, ::s on H and W) followed by a channel Pad as one
// 1×1 convolution of stride s whose weight copies input channel i to output
// channel i+before.
func (l *lowering) shortcut(slice, pad *pb.NodeProto) {
	x := slice.Input[0]
	xs := l.src.Shape(x)
	starts, _ := l.src.IntsValue(slice.Input[1])
	axes, _ := l.src.IntsValue(slice.Input[3])
	steps, _ := l.src.IntsValue(slice.Input[4])
	pads, _ := l.src.IntsValue(pad.Input[1])
	if !slices.Equal(axes, []int64{2, 3}) || !slices.Equal(starts, []int64{0, 0}) || steps[0] != steps[1] ||
		len(pads) != 8 || pads[0]|pads[2]|pads[3]|pads[4]|pads[6]|pads[7] != 0 {
		panic(fmt.Sprintf("Slice %v/%v/%v then Pad %v is not an option-A shortcut", starts, axes, steps, pads))
	}
	in, out := xs[1], xs[1]+pads[1]+pads[5]
	w := make([]float32, out*in)
	for i := range in {
		w[(i+pads[1])*in+i] = 1
	}
	wv := l.dst.Initializer(l.dst.Fresh("shortcut.weight"), w, out, in, 1, 1)
	stride := steps[0]
	l.name[pad.Output[0]] = l.dst.Node("Conv", []string{l.value(x), wv}, [][]int64{l.src.Shape(pad.Output[0])},
		AInts("kernel_shape", 1, 1), AInts("strides", stride, stride), AInts("pads", 0, 0, 0, 0))[0]
}

// model wraps the lowered graph with the opset, the metadata and the digest.
func (l *lowering) model(s Spec, o *ExportOptions) (*pb.ModelProto, error) {
	m := l.dst.Model()
	m.IrVersion = proto.Int64(exportIRVersion)
	m.OpsetImport = []*pb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(ExportOpset)}}
	layout := fmt.Sprintf("x: float32 N×%d×%d×%d (NCHW, RGB channel order for 3 channels), value (pixel/255 − mean[c]) / std[c]", s.Channels, s.Height, s.ImageWidth)
	output := fmt.Sprintf("logits: float32 N×%d, in the order of classes; softmax over axis 1 gives probabilities", s.Classes)
	format := ExportFormat
	if o.Features {
		output = fmt.Sprintf("%s: float32 N×%d, the globally average-pooled features before the classifier", FeaturesOutput, s.Features())
		format = FeaturesFormat
	}
	m.DocString = proto.String(o.Doc)
	if o.Doc == "" {
		m.DocString = proto.String(fmt.Sprintf("longtail ResNet-%d (width %d), %d classes, evaluation mode. Input %s. Output %s.",
			s.Depth, s.Width, s.Classes, layout, output))
	}
	graph, err := proto.Marshal(m.Graph)
	if err != nil {
		return nil, fmt.Errorf("graphs: export: %w", err)
	}
	sum := sha256.Sum256(graph)
	jsonOf := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err) // strings and float32s always marshal
		}
		return string(b)
	}
	entry := func(k, v string) *pb.StringStringEntryProto {
		return &pb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)}
	}
	keys := make([]string, 0, len(o.Metadata))
	for k := range o.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m.MetadataProps = append(m.MetadataProps, entry(k, o.Metadata[k]))
	}
	core := map[string]string{
		MetaClasses: jsonOf(o.Classes), MetaMean: jsonOf(o.Mean), MetaStd: jsonOf(o.Std),
		MetaInput: layout, MetaOutput: output, MetaGraphSHA256: hex.EncodeToString(sum[:]), MetaFormat: format,
	}
	for _, k := range coreKeys {
		m.MetadataProps = append(m.MetadataProps, entry(k, core[k]))
	}
	return m, nil
}

// Initializer adds a float32 initializer with an exact name.
func (g *Graph) Initializer(name string, data []float32, shape ...int64) string {
	if n := numel(shape); int64(len(data)) != n {
		panic(fmt.Sprintf("graphs: initializer %s: %d values for shape %v", name, len(data), shape))
	}
	t := &pb.TensorProto{Name: proto.String(name), Dims: shape, DataType: proto.Int32(int32(pb.TensorProto_FLOAT)), FloatData: data}
	g.define(name, shape, pb.TensorProto_FLOAT)
	g.inits = append(g.inits, t)
	g.inits_[name] = t
	return name
}

// ExportInfo is what ParseModel and ParseExport read from a model.
type ExportInfo struct {
	// Input and Output are the graph's input and output names.
	Input, Output string
	// Channels, Height and Width are the input image shape (the batch is
	// dynamic or, in a foreign-built file, whatever it declares).
	Channels, Height, Width int
	// Logits is the output's width, the number of classes.
	Logits int
	// Opset is the default-domain opset the model imports.
	Opset int64
	// Classes names the logits in order (ParseExport only).
	Classes []string
	// Mean and Std are the per-channel input normalisation (ParseExport only).
	Mean, Std []float32
	// Metadata holds every metadata_props entry.
	Metadata map[string]string
}

// ParseModel reads an image classifier's interface from a serialised ONNX
// model: one N×C×H×W float32 input (besides initializers) and one N×K
// float32 output. Bytes that do not decode as a ModelProto with a graph give
// ErrNotONNX; another interface gives ErrForeignModel.
func ParseModel(data []byte) (*ExportInfo, error) {
	var m pb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %v (the file is corrupt or truncated, or not ONNX)", ErrNotONNX, err)
	}
	if m.Graph == nil || len(m.Graph.Node) == 0 || m.IrVersion == nil {
		return nil, fmt.Errorf("%w: no graph (the file is truncated, or not ONNX)", ErrNotONNX)
	}
	info := &ExportInfo{Metadata: map[string]string{}}
	for _, e := range m.MetadataProps {
		info.Metadata[e.GetKey()] = e.GetValue()
	}
	for _, op := range m.OpsetImport {
		if op.GetDomain() == "" || op.GetDomain() == "ai.onnx" {
			info.Opset = op.GetVersion()
		}
	}
	if err := info.io(m.Graph); err != nil {
		return nil, err
	}
	return info, nil
}

// ParseExport reads and checks a longtail export: ParseModel's checks, then
// longtail's metadata (else ErrForeignModel) and the graph digest (else
// ErrDamaged).
func ParseExport(data []byte) (*ExportInfo, error) {
	info, err := ParseModel(data)
	if err != nil {
		return nil, err
	}
	if f, ok := info.Metadata[MetaFormat]; !ok {
		return nil, fmt.Errorf("%w: no %q metadata (a model from elsewhere, or a truncated file)", ErrForeignModel, MetaFormat)
	} else if f != ExportFormat {
		return nil, fmt.Errorf("%w: format %q; this longtail reads %q", ErrForeignModel, f, ExportFormat)
	}
	graph, ok := graphBytes(data)
	sum := sha256.Sum256(graph)
	if want := info.Metadata[MetaGraphSHA256]; !ok || hex.EncodeToString(sum[:]) != want {
		return nil, fmt.Errorf("%w: the graph's SHA-256 is %x…, the metadata says %.12s…: the file is damaged or was edited after export",
			ErrDamaged, sum[:6], want)
	}
	for _, f := range []struct {
		key string
		dst any
	}{{MetaClasses, &info.Classes}, {MetaMean, &info.Mean}, {MetaStd, &info.Std}} {
		if err := json.Unmarshal([]byte(info.Metadata[f.key]), f.dst); err != nil {
			return nil, fmt.Errorf("%w: metadata %q: %v", ErrForeignModel, f.key, err)
		}
	}
	switch {
	case len(info.Classes) != info.Logits:
		return nil, fmt.Errorf("%w: output %s has %d logits; the metadata names %d classes", ErrForeignModel, info.Output, info.Logits, len(info.Classes))
	case len(info.Mean) != info.Channels || len(info.Std) != info.Channels:
		return nil, fmt.Errorf("%w: mean and std have %d and %d values for %d input channels", ErrForeignModel, len(info.Mean), len(info.Std), info.Channels)
	case slices.ContainsFunc(info.Std, func(v float32) bool { return !(v > 0) }):
		return nil, fmt.Errorf("%w: std %v has a value that is not positive", ErrForeignModel, info.Std)
	}
	return info, nil
}

// io finds the one image input and the one logits output.
func (info *ExportInfo) io(g *pb.GraphProto) error {
	inits := map[string]bool{}
	for _, t := range g.Initializer {
		inits[t.GetName()] = true
	}
	var ins []*pb.ValueInfoProto
	for _, v := range g.Input {
		if !inits[v.GetName()] {
			ins = append(ins, v)
		}
	}
	if len(ins) != 1 || len(g.Output) != 1 {
		return fmt.Errorf("%w: %d inputs and %d outputs; want one image input and one logits output", ErrForeignModel, len(ins), len(g.Output))
	}
	dims := func(v *pb.ValueInfoProto, rank int) ([]int64, error) {
		t := v.GetType().GetTensorType()
		if t == nil || t.GetElemType() != int32(pb.TensorProto_FLOAT) || len(t.GetShape().GetDim()) != rank {
			return nil, fmt.Errorf("%w: %s is not a rank-%d float32 tensor", ErrForeignModel, v.GetName(), rank)
		}
		out := make([]int64, rank)
		for i, d := range t.GetShape().GetDim() {
			out[i] = d.GetDimValue() // 0 for a symbolic (dynamic) dimension
		}
		return out, nil
	}
	in, err := dims(ins[0], 4)
	if err != nil {
		return err
	}
	out, err := dims(g.Output[0], 2)
	if err != nil {
		return err
	}
	if in[1] < 1 || in[2] < 1 || in[3] < 1 || out[1] < 1 {
		return fmt.Errorf("%w: input %s%v and output %s%v; want fixed C, H, W and classes", ErrForeignModel, ins[0].GetName(), in, g.Output[0].GetName(), out)
	}
	info.Input, info.Output = ins[0].GetName(), g.Output[0].GetName()
	info.Channels, info.Height, info.Width = int(in[1]), int(in[2]), int(in[3])
	info.Logits = int(out[1])
	return nil
}

// graphBytes returns the bytes of ModelProto field 7 (graph) as stored in
// data, by the protobuf library's wire reader.
func graphBytes(data []byte) ([]byte, bool) {
	const graphField = 7
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return nil, false
		}
		data = data[n:]
		if num == graphField && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(data)
			return v, n >= 0
		}
		n = protowire.ConsumeFieldValue(num, typ, data)
		if n < 0 {
			return nil, false
		}
		data = data[n:]
	}
	return nil, false
}
