package gonnx

import (
	"fmt"
	"sync"

	"github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"

	"github.com/longtail-ml/longtail/graphs"
)

// maxGraphs bounds the compiled graphs a Predictor keeps, one per batch size
// (an evaluation needs two: full batches and the last one).
const maxGraphs = 2

// Predictor runs an image classifier with onnx-go's gorgonia backend. It is
// safe for concurrent use; calls run one at a time.
type Predictor struct {
	model []byte
	info  *graphs.ExportInfo

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
	p := &Predictor{model: model, info: info, graphs: map[int]*compiled{}}
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
