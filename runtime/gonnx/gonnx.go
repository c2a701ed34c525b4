package gonnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"

	"google.golang.org/protobuf/proto"

	"github.com/longtail-ml/longtail/graphs"
	pb "github.com/longtail-ml/longtail/graphs/onnxpb"
)

// maxGraphs bounds the compiled graphs a Predictor keeps, one per batch size
// (an evaluation needs two: full batches and the last one).
const maxGraphs = 2

// compileMu serialises graph building across Predictors: onnx-go's gorgonia
// backend names nodes from an unsynchronised package-level counter.
var compileMu sync.Mutex

// Predictor runs an image classifier with onnx-go's gorgonia backend. It is
// safe for concurrent use; calls run one at a time.
type Predictor struct {
	model []byte
	info  *graphs.ExportInfo
	// gemmC holds the initializers that are a Gemm's C input, by name:
	// onnx-go's Gemm writes its result into C when C has the output's size
	// (batch 1), so they are set afresh before every run.
	gemmC map[string]*pb.TensorProto

	mu     sync.Mutex
	graphs map[int]*compiled // by batch size
}

// compiled is the model decoded into a gorgonia graph for one batch size.
type compiled struct {
	backend *gorgonnx.Graph
	model   *onnx.Model
}

// New checks model (serialised ONNX with one N×C×H×W float input and one
// N×K float output) and compiles it for one image, so that an operator
// onnx-go lacks is reported here rather than at the first Predict. model is
// kept, not copied.
func New(model []byte) (*Predictor, error) {
	info, err := graphs.ParseModel(model)
	if err != nil {
		return nil, fmt.Errorf("gonnx: %w", err)
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil { // ParseModel decoded it already
		return nil, fmt.Errorf("gonnx: %w", err)
	}
	p := &Predictor{model: model, info: info, graphs: map[int]*compiled{}, gemmC: map[string]*pb.TensorProto{}}
	inits := map[string]*pb.TensorProto{}
	for _, t := range m.Graph.Initializer {
		inits[t.GetName()] = t
	}
	for _, n := range m.Graph.Node {
		if n.GetOpType() == "Gemm" && len(n.Input) == 3 && inits[n.Input[2]] != nil {
			t := inits[n.Input[2]]
			if t.GetDataType() != int32(pb.TensorProto_FLOAT) {
				return nil, fmt.Errorf("gonnx: Gemm %s: bias %s is not float32", n.GetName(), t.GetName())
			}
			p.gemmC[n.Input[2]] = floatData(t)
		}
	}
	if _, err := p.compile(1); err != nil {
		return nil, err
	}
	return p, nil
}

// Classes is the number of logits per image.
func (p *Predictor) Classes() int { return p.info.Logits }

// InputShape is the image shape the model takes: channels, height, width.
func (p *Predictor) InputShape() (c, h, w int) { return p.info.Channels, p.info.Height, p.info.Width }

// Close releases the compiled graphs.
func (p *Predictor) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.graphs)
	return nil
}

// compile returns the graph for batch n, building it on first use.
func (p *Predictor) compile(n int) (c *compiled, err error) {
	if c := p.graphs[n]; c != nil {
		return c, nil
	}
	compileMu.Lock()
	defer compileMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gonnx: onnx-go cannot build the model: %v", r)
		}
	}()
	c = &compiled{backend: gorgonnx.NewGraph()}
	c.model = onnx.NewModel(c.backend)
	if err := c.model.UnmarshalBinary(p.model); err != nil {
		return nil, fmt.Errorf("gonnx: onnx-go cannot read the model: %w", err)
	}
	x := tensor.New(tensor.WithShape(n, p.info.Channels, p.info.Height, p.info.Width), tensor.Of(tensor.Float32))
	if err := c.model.SetInput(0, x); err != nil {
		return nil, fmt.Errorf("gonnx: input: %w", err)
	}
	if _, err := c.backend.GetExprGraph(); err != nil {
		return nil, fmt.Errorf("gonnx: onnx-go cannot build the model: %w", err)
	}
	if len(p.graphs) >= maxGraphs {
		for k := range p.graphs {
			if k != 1 {
				delete(p.graphs, k)
			}
		}
	}
	p.graphs[n] = c
	return c, nil
}

// Predict runs the model on n images x (n×C×H×W, NCHW float32, normalised
// as the model expects) and returns n×Classes logits in a new slice.
func (p *Predictor) Predict(x []float32, n int) (out []float32, err error) {
	per := p.info.Channels * p.info.Height * p.info.Width
	if n < 1 || len(x) != n*per {
		return nil, fmt.Errorf("gonnx: predict %d images from %d values; the model takes %d×%d×%d = %d per image",
			n, len(x), p.info.Channels, p.info.Height, p.info.Width, per)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.compile(n)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gonnx: run: %v", r)
		}
	}()
	xt := tensor.New(tensor.WithShape(n, p.info.Channels, p.info.Height, p.info.Width), tensor.WithBacking(x))
	if err := c.model.SetInput(0, xt); err != nil {
		return nil, fmt.Errorf("gonnx: input: %w", err)
	}
	for name, t := range p.gemmC {
		node, ok := c.model.GetNodeByName(name)
		dc, isData := node.(onnx.DataCarrier)
		if !ok || !isData {
			return nil, fmt.Errorf("gonnx: no value %s in the compiled graph", name)
		}
		shape := make([]int, len(t.Dims))
		for i, d := range t.Dims {
			shape[i] = int(d)
		}
		if err := dc.SetTensor(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(slices.Clone(t.FloatData)))); err != nil {
			return nil, fmt.Errorf("gonnx: reset %s: %w", name, err)
		}
	}
	if err := c.backend.Run(); err != nil {
		return nil, fmt.Errorf("gonnx: run: %w", err)
	}
	outs, err := c.model.GetOutputTensors()
	if err != nil {
		return nil, fmt.Errorf("gonnx: output: %w", err)
	}
	data, ok := outs[0].Data().([]float32)
	if !ok || len(data) != n*p.info.Logits {
		return nil, fmt.Errorf("gonnx: output is %v of shape %v; want %d×%d float32", outs[0].Dtype(), outs[0].Shape(), n, p.info.Logits)
	}
	return append([]float32(nil), data...), nil
}

// floatData returns the float32 values of t, from float_data or raw_data
// (little-endian), as a tensor that holds them in float_data.
func floatData(t *pb.TensorProto) *pb.TensorProto {
	out := &pb.TensorProto{Name: t.Name, Dims: t.Dims, FloatData: t.FloatData}
	if len(t.RawData) > 0 {
		out.FloatData = make([]float32, len(t.RawData)/4)
		for i := range out.FloatData {
			out.FloatData[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.RawData[4*i:]))
		}
	}
	return out
}
