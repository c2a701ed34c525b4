package graphs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/longtail-ml/longtail/internal/ci"
	"github.com/longtail-ml/longtail/internal/testseed"
	"github.com/longtail-ml/longtail/runtime"

	pb "github.com/longtail-ml/longtail/graphs/onnxpb"
	"google.golang.org/protobuf/proto"
)

// exportCase is a network with random state, a batch of random inputs, and
// the options of its export. The BatchNorm running statistics are those of
// a calibration batch, as training leaves them, so activations keep the
// scale they have in a trained network.
type exportCase struct {
	name    string
	spec    Spec
	batch   int
	keepBN  bool
	state   map[string][]float32
	x       []float32
	options *ExportOptions
}

func (c *exportCase) fill(t testing.TB, env *runtime.Env, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	c.state = Init(c.spec.Params(), seed)
	for _, p := range c.spec.Params() {
		v := c.state[p.Name]
		for i := range v {
			switch p.Kind {
			case NormScale:
				v[i] = float32(0.5 + rng.Float64())
			case NormBias:
				v[i] = float32(rng.NormFloat64() * 0.5)
			case RunningMean:
				v[i] = float32(rng.NormFloat64() * 0.5)
			case RunningVar:
				v[i] = float32(0.5 + rng.Float64())
			}
		}
	}
	image := func(n int) []float32 {
		x := make([]float32, n*c.spec.Channels*c.spec.Height*c.spec.ImageWidth)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	if env != nil {
		c.calibrate(t, env, image(16))
	}
	c.x = image(c.batch)
	names := make([]string, c.spec.Classes)
	for i := range names {
		names[i] = fmt.Sprintf("class %d", i)
	}
	mean, std := make([]float32, c.spec.Channels), make([]float32, c.spec.Channels)
	for i := range mean {
		mean[i], std[i] = 0.5, 0.25
	}
	c.options = &ExportOptions{Classes: names, Mean: mean, Std: std, KeepBatchNorm: c.keepBN,
		Metadata: map[string]string{"method": "test", "config": "model: {depth: 8}\n"}}
}

// calibrate sets the running statistics to the batch statistics of x in
// training mode: with running inputs 0 the forward graph's "<stat>.next" is
// momentum × the batch statistic.
func (c *exportCase) calibrate(t testing.TB, env *runtime.Env, x []float32) {
	t.Helper()
	tr, err := BuildTraining(c.spec, len(x)/(c.spec.Channels*c.spec.Height*c.spec.ImageWidth), Optim{})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string][]float32{"x": x}
	for k, v := range c.state {
		in[k] = v
	}
	for _, p := range tr.Running() {
		in[p.Name] = make([]float32, p.Size())
	}
	out := runGraph(t, env, tr.Forward, in)
	for _, p := range tr.Running() {
		for i, v := range out[p.Name+".next"] {
			c.state[p.Name][i] = v / BNMomentum
		}
	}
}

func exportCases() []*exportCase {
	return []*exportCase{
		{name: "resnet8/folded/batch6", spec: Spec{Depth: 8, Width: 4, Classes: 5, Channels: 3, Height: 8, ImageWidth: 8}, batch: 6},
		{name: "resnet8/kept/batch6", spec: Spec{Depth: 8, Width: 4, Classes: 5, Channels: 3, Height: 8, ImageWidth: 8}, batch: 6, keepBN: true},
		{name: "resnet14/folded/16x12/batch1", spec: Spec{Depth: 14, Width: 8, Classes: 3, Channels: 3, Height: 16, ImageWidth: 12}, batch: 1},
		{name: "resnet32/folded/batch3", spec: ResNet32(10), batch: 3},
	}
}

func marshalModel(t testing.TB, m *pb.ModelProto) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExportMatchesEvalGraph: the export's logits against the evaluation
// graph the training network predicts with (unfolded BatchNorm, Slice and
// Pad shortcuts, state as inputs), both in ORT.
func TestExportMatchesEvalGraph(t *testing.T) {
	env := openEnv(t)
	seed := testseed.New(t)
	for i, c := range exportCases() {
		t.Run(c.name, func(t *testing.T) {
			c.fill(t, env, seed+uint64(i))
			eval, err := BuildEval(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			in := map[string][]float32{"x": c.x}
			for k, v := range c.state {
				in[k] = v
			}
			evalX := *eval
			evalX.shapes = map[string][]int64{}
			for k, v := range eval.shapes {
				evalX.shapes[k] = v
			}
			evalX.shapes["x"] = []int64{int64(c.batch), int64(c.spec.Channels), int64(c.spec.Height), int64(c.spec.ImageWidth)}
			want := runGraph(t, env, &evalX, in)["logits"]

			m, err := BuildExport(c.spec, c.state, c.options)
			if err != nil {
				t.Fatal(err)
			}
			p, err := env.NewPredictor(marshalModel(t, m))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got, err := p.Predict(c.x, c.batch)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, want); d >= 1e-4 || len(got) != len(want) {
				t.Errorf("max |export − eval graph| = %.3g over %d logits; want < 1e-4", d, len(want))
			} else {
				t.Logf("max |export − eval graph| = %.3g; max |logit| %.3g", d, maxAbsDiff(want, make([]float32, len(want))))
			}
			ops := map[string]bool{}
			for _, n := range m.Graph.Node {
				ops[n.GetOpType()] = true
			}
			allowed := []string{"Conv", "Relu", "Add", "GlobalAveragePool", "Flatten", "Gemm", "Identity"}
			if c.keepBN {
				allowed = append(allowed, "BatchNormalization")
			}
			for op := range ops {
				if !slices.Contains(allowed, op) {
					t.Errorf("export uses %s; want only %v", op, allowed)
				}
			}
			if ops["BatchNormalization"] != c.keepBN {
				t.Errorf("BatchNormalization present = %v; keep = %v", ops["BatchNormalization"], c.keepBN)
			}
			md, err := p.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			if md[MetaFormat] != ExportFormat || md["method"] != "test" || md[MetaClasses] == "" {
				t.Errorf("ORT reads metadata %v", md)
			}
		})
	}
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > m || math.IsNaN(d) {
			m = d
		}
	}
	return m
}

func TestParseExport(t *testing.T) {
	c := exportCases()[2]
	c.fill(t, nil, 1)
	m, err := BuildExport(c.spec, c.state, c.options)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ParseExport(marshalModel(t, m))
	if err != nil {
		t.Fatal(err)
	}
	if info.Input != "x" || info.Output != "logits" || info.Channels != 3 || info.Height != 16 || info.Width != 12 ||
		info.Logits != 3 || info.Opset != ExportOpset || !slices.Equal(info.Classes, c.options.Classes) ||
		!slices.Equal(info.Mean, c.options.Mean) || !slices.Equal(info.Std, c.options.Std) ||
		info.Metadata["config"] != c.options.Metadata["config"] {
		t.Errorf("parsed %+v", info)
	}
	// The metadata ends with the format marker, so a cut anywhere in it loses that.
	props := m.GetMetadataProps()
	if props[len(props)-1].GetKey() != MetaFormat {
		t.Errorf("last metadata entry is %s", props[len(props)-1].GetKey())
	}
}

// TestParseExportErrors: damaged, truncated and foreign files are refused
// with the sentinel that says which.
func TestParseExportErrors(t *testing.T) {
	c := exportCases()[0]
	c.fill(t, nil, 2)
	m, err := BuildExport(c.spec, c.state, c.options)
	if err != nil {
		t.Fatal(err)
	}
	good := marshalModel(t, m)
	eval, err := BuildEval(c.spec)
	if err != nil {
		t.Fatal(err)
	}
	evalBytes, err := eval.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x10
		return b
	}
	// A weight's float bits, well inside the graph.
	w := m.Graph.Initializer[0].FloatData
	var wb []byte // packed float_data: little-endian float32 bits
	for _, v := range w[:4] {
		wb = binary.LittleEndian.AppendUint32(wb, math.Float32bits(v))
	}
	at := bytes.Index(good, wb)
	if at < 0 {
		t.Fatal("weights not found in the file")
	}
	other := proto.Clone(m).(*pb.ModelProto)
	for _, e := range other.MetadataProps {
		if e.GetKey() == MetaFormat {
			e.Value = proto.String("longtail-classifier/99")
		}
	}
	edited := proto.Clone(m).(*pb.ModelProto)
	edited.Graph.Node[0].Attribute[1].Ints = []int64{2, 2} // strides
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotONNX},
		{"text", []byte("this is not a model\n"), ErrNotONNX},
		{"PNG signature", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), ErrNotONNX},
		{"training graph (no metadata, parameter inputs)", evalBytes, ErrForeignModel},
		{"other format version", marshalModel(t, other), ErrForeignModel},
		{"weight bit flipped", flip(at + 1), ErrDamaged},
		{"attribute edited", marshalModel(t, edited), ErrDamaged},
	}
	for _, cut := range []int{1, 2, 10, len(good) / 3, len(good) / 2, len(good) - 200, len(good) - 40, len(good) - 1} {
		cases = append(cases, struct {
			name string
			data []byte
			want error
		}{fmt.Sprintf("truncated to %d of %d bytes", cut, len(good)), good[:cut], nil})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseExport(tc.data)
			switch {
			case err == nil:
				t.Fatal("no error")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("error %q; want %v", err, tc.want)
			}
			t.Log(err)
		})
	}
	// Every cut point fails (not only the ones above).
	for cut := range len(good) {
		if _, err := ParseExport(good[:cut]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", cut, len(good))
		}
	}
}

func TestBuildExportErrors(t *testing.T) {
	c := exportCases()[0]
	c.fill(t, nil, 3)
	missing := maps2(c.state)
	delete(missing, "layer2.0.bn1.running_var")
	short := maps2(c.state)
	short["conv1.weight"] = short["conv1.weight"][:5]
	cases := []struct {
		name  string
		state map[string][]float32
		opt   ExportOptions
		want  string
	}{
		{"missing tensor", missing, *c.options, "no layer2.0.bn1.running_var"},
		{"wrong length", short, *c.options, "conv1.weight has 5 values"},
		{"class names", c.state, ExportOptions{Classes: []string{"a"}, Mean: c.options.Mean, Std: c.options.Std}, "1 class names for 5 classes"},
		{"std zero", c.state, ExportOptions{Classes: c.options.Classes, Mean: c.options.Mean, Std: []float32{1, 0, 1}}, "std[1] is 0"},
		{"reserved key", c.state, ExportOptions{Classes: c.options.Classes, Mean: c.options.Mean, Std: c.options.Std, Metadata: map[string]string{"classes": "x"}}, `"classes" is reserved`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := BuildExport(c.spec, tc.state, &tc.opt)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("error %v; want one containing %q", err, tc.want)
			}
		})
	}
}

func maps2(m map[string][]float32) map[string][]float32 {
	out := make(map[string][]float32, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestExportPassesONNXChecker runs onnx.checker (full check, with shape
// inference) on both forms of the export; it skips where Python's onnx
// package is missing (Debian: apt-get install python3-onnx), and fails
// there under CI=true.
func TestExportPassesONNXChecker(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import onnx").Run(); err != nil {
		ci.Skip(t, "Python's onnx package is not installed for %s (apt-get install python3-onnx)", python)
	}
	dir := t.TempDir()
	for i, c := range exportCases()[:3] {
		c.fill(t, nil, uint64(i))
		m, err := BuildExport(c.spec, c.state, c.options)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("m%d.onnx", i))
		if err := os.WriteFile(path, marshalModel(t, m), 0o644); err != nil {
			t.Fatal(err)
		}
		script := `import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
print(m.opset_import[0].version, {p.key for p in m.metadata_props} >= {"classes", "mean", "std", "format"})`
		out, err := exec.Command(python, "-c", script, path).CombinedOutput()
		if err != nil || string(out) != fmt.Sprintf("%d True\n", ExportOpset) {
			t.Errorf("%s: onnx.checker: %v\n%s", c.name, err, out)
		}
	}
}
