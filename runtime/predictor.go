package runtime

import (
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// Predictor runs an image classifier, an ONNX model with one N×C×H×W float32
// input and one N×K float32 output (such as a longtail export), with ORT.
// Predict may be called from several goroutines.
type Predictor struct {
	s                *Session
	c, h, w, classes int
}

// NewPredictor checks model's interface and opens a session for it with the
// Env's options. The caller destroys it with Close.
func (e *Env) NewPredictor(model []byte) (*Predictor, error) {
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("runtime: read model: %s", oneLine(err.Error()))
	}
	if len(ins) != 1 || len(outs) != 1 {
		return nil, fmt.Errorf("runtime: the model has %d inputs and %d outputs; want one image input and one logits output", len(ins), len(outs))
	}
	in, out := ins[0], outs[0]
	isFloat := func(v ort.InputOutputInfo, rank int) bool {
		return v.OrtValueType == ort.ONNXTypeTensor && v.DataType == ort.TensorElementDataTypeFloat && len(v.Dimensions) == rank
	}
	if !isFloat(in, 4) || !isFloat(out, 2) || in.Dimensions[1] < 1 || in.Dimensions[2] < 1 || in.Dimensions[3] < 1 || out.Dimensions[1] < 1 {
		return nil, fmt.Errorf("runtime: the model maps %s %v to %s %v; want float32 N×C×H×W to N×classes", in.Name, in.Dimensions, out.Name, out.Dimensions)
	}
	s, err := e.NewSession(model, []string{in.Name}, []string{out.Name}, nil)
	if err != nil {
		return nil, err
	}
	d := in.Dimensions
	return &Predictor{s: s, c: int(d[1]), h: int(d[2]), w: int(d[3]), classes: int(out.Dimensions[1])}, nil
}

// Classes is the number of logits per image.
func (p *Predictor) Classes() int { return p.classes }

// InputShape is the image shape the model takes: channels, height, width.
func (p *Predictor) InputShape() (c, h, w int) { return p.c, p.h, p.w }

// Predict runs the model on n images x (n×C×H×W float32, normalised as the
// model expects) and returns n×Classes logits in a new slice.
func (p *Predictor) Predict(x []float32, n int) ([]float32, error) {
	per := p.c * p.h * p.w
	if n < 1 || len(x) != n*per {
		return nil, fmt.Errorf("runtime: predict %d images from %d values; the model takes %d×%d×%d = %d per image", n, len(x), p.c, p.h, p.w, per)
	}
	xt, err := NewTensor(x, int64(n), int64(p.c), int64(p.h), int64(p.w))
	if err != nil {
		return nil, err
	}
	defer xt.Destroy()
	logits := make([]float32, n*p.classes)
	lt, err := NewTensor(logits, int64(n), int64(p.classes))
	if err != nil {
		return nil, err
	}
	defer lt.Destroy()
	if err := p.s.Run([]Value{xt}, []Value{lt}); err != nil {
		return nil, fmt.Errorf("runtime: predict: %w", err)
	}
	return logits, nil
}

// Metadata returns the model's metadata_props as ORT reads them.
func (p *Predictor) Metadata() (map[string]string, error) {
	m, err := p.s.s.GetModelMetadata()
	if err != nil {
		return nil, fmt.Errorf("runtime: metadata: %w", err)
	}
	defer m.Destroy()
	keys, err := m.GetCustomMetadataMapKeys()
	if err != nil {
		return nil, fmt.Errorf("runtime: metadata: %w", err)
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		v, _, err := m.LookupCustomMetadataMap(k)
		if err != nil {
			return nil, fmt.Errorf("runtime: metadata %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// Close destroys the session.
func (p *Predictor) Close() error { return p.s.Destroy() }
