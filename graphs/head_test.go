package graphs

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/internal/testseed"
)

// TestExportHead checks the features export and a folded head against a
// float64 computation in Go from the exported features: the plain export's
// logits are features·Wᵀ + b; the trained classifier as a head gives the
// plain export's logits bit for bit; a random normalised head gives
// W·f/√(‖f‖²+ε) + B.
func TestExportHead(t *testing.T) {
	env := openEnv(t)
	seed := testseed.New(t)
	c := exportCases()[0]
	c.fill(t, env, seed)
	s := c.spec
	d := s.Features()
	predict := func(o ExportOptions) []float32 {
		t.Helper()
		m, err := BuildExport(s, c.state, &o)
		if err != nil {
			t.Fatal(err)
		}
		p, err := env.NewPredictor(marshalModel(t, m))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		out, err := p.Predict(c.x, c.batch)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	plain := predict(*c.options)
	fo := *c.options
	fo.Features = true
	feats := predict(fo)
	if len(feats) != c.batch*d {
		t.Fatalf("features export gives %d values; want %d×%d", len(feats), c.batch, d)
	}
	// linear is Go's W·f̃ + B in float64.
	linear := func(h *Head) []float64 {
		out := make([]float64, c.batch*s.Classes)
		for i := range c.batch {
			f := feats[i*d : (i+1)*d]
			scale := 1.0
			if h.Normalize {
				var ss float64
				for _, v := range f {
					ss += float64(v) * float64(v)
				}
				scale = 1 / math.Sqrt(ss+NormEps)
			}
			for k := range s.Classes {
				z := float64(h.B[k])
				for j, v := range f {
					z += float64(h.W[k*d+j]) * float64(v) * scale
				}
				out[i*s.Classes+k] = z
			}
		}
		return out
	}
	near := func(what string, got []float32, want []float64, tol float64) {
		t.Helper()
		var worst float64
		for i := range want {
			worst = math.Max(worst, math.Abs(float64(got[i])-want[i])/math.Max(1, math.Abs(want[i])))
		}
		if len(got) != len(want) || !(worst < tol) {
			t.Errorf("%s: max relative |export − Go| = %.3g over %d logits; want < %g", what, worst, len(want), tol)
		}
	}
	trained := &Head{W: c.state["linear.weight"], B: c.state["linear.bias"]}
	near("plain export against its features", plain, linear(trained), 1e-5)
	ho := *c.options
	ho.Head = trained
	if got := predict(ho); !slices.Equal(got, plain) {
		t.Errorf("the trained classifier as a head changes the logits: %v; want %v", got[:s.Classes], plain[:s.Classes])
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	random := &Head{W: make([]float32, s.Classes*d), B: make([]float32, s.Classes), Normalize: true}
	for _, v := range [][]float32{random.W, random.B} {
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
	}
	ho.Head = random
	near("normalised head", predict(ho), linear(random), 1e-5)
}

func TestExportHeadErrors(t *testing.T) {
	c := exportCases()[0]
	c.fill(t, nil, 4)
	s := c.spec
	good := func() *Head {
		return &Head{W: make([]float32, s.Classes*s.Features()), B: make([]float32, s.Classes)}
	}
	short, nan := good(), good()
	short.W = short.W[1:]
	nan.B[2] = float32(math.NaN())
	for _, tc := range []struct {
		name     string
		head     *Head
		features bool
		want     string
	}{
		{"short weights", short, false, "head has 79 weights; want 5 classes × 16 features = 80"},
		{"NaN bias", nan, false, "head value 2 is NaN"},
		{"head and features", good(), true, "exclude each other"},
	} {
		o := *c.options
		o.Head, o.Features = tc.head, tc.features
		if _, err := BuildExport(s, c.state, &o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error with %q", tc.name, err, tc.want)
		}
	}
	// A features export is not a classifier.
	o := *c.options
	o.Features = true
	m, err := BuildExport(s, c.state, &o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseExport(marshalModel(t, m)); !errors.Is(err, ErrForeignModel) || !strings.Contains(err.Error(), FeaturesFormat) {
		t.Errorf("ParseExport of a features export: %v; want ErrForeignModel naming %s", err, FeaturesFormat)
	}
}
