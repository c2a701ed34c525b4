package posthoc

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Method names.
const (
	Plain       = "plain"
	TauNorm     = "tau_norm"
	LogitAdjust = "logit_adjust"
	CRT         = "crt"
	LWS         = "lws"
	NCM         = "ncm"
)

// method is one post-hoc method: how it turns the trained classifier and the
// training features into candidates, one per grid point.
type method struct {
	name string
	// fit returns the candidates in grid order; Fit keeps the one with the
	// best validation top-1.
	fit func(f *fitting) ([]candidate, error)
}

// candidate is one grid point's classifier and how it was made.
type candidate struct {
	choice Choice
	c      *Classifier
}

// Choice is a method's chosen setting; the fields that do not apply are nil.
type Choice struct {
	Tau    *float64 `json:"tau,omitempty"`
	LR     *float64 `json:"lr,omitempty"`
	Epochs *int     `json:"epochs,omitempty"`
	// NoBias: τ-norm dropped the classifier's bias.
	NoBias bool `json:"no_bias,omitempty"`
}

// String renders the choice for the table: "τ=0.8", "τ=1, no bias",
// "lr 0.2, 30 ep", "–".
func (c Choice) String() string {
	switch {
	case c.Tau != nil && c.NoBias:
		return "τ=" + strconv.FormatFloat(*c.Tau, 'g', 4, 64) + ", no bias"
	case c.Tau != nil:
		return "τ=" + strconv.FormatFloat(*c.Tau, 'g', 4, 64)
	case c.LR != nil && c.Epochs != nil:
		return fmt.Sprintf("lr %g, %d ep", *c.LR, *c.Epochs)
	}
	return "–"
}

// methods is the table of methods, in the default table order. Adding one
// is a function and a line here.
func methods() []method {
	return []method{
		{TauNorm, fitTauNorm},
		{LogitAdjust, fitLogitAdjust},
		{CRT, fitCRT},
		{LWS, fitLWS},
		{NCM, fitNCM},
	}
}

// Names lists the method names Config.Methods accepts, in table order.
func Names() []string {
	var out []string
	for _, m := range methods() {
		out = append(out, m.name)
	}
	return out
}

func lookup(name string) (method, bool) {
	for _, m := range methods() {
		if m.name == name {
			return m, true
		}
	}
	return method{}, false
}

// fitting is what every method may read: the trained classifier, the
// training features and counts, and the config. It holds no test data.
type fitting struct {
	base   *Classifier
	train  *Split
	counts []int
	cfg    Config
}

// Fitted is a method's chosen classifier.
type Fitted struct {
	Method string
	Choice Choice
	// Classifier is the chosen candidate.
	Classifier *Classifier
	// ValTop1 is its validation top-1, which chose it.
	ValTop1 float64
	// Seconds is the time the method took, all candidates included.
	Seconds float64
}

// Fit runs each of cfg's methods (after the plain model, the first result)
// on the training features and chooses its setting on val by top-1; base
// is the trained classifier and counts the training images per class. Fit
// reads no test data: it has none.
func Fit(base *Classifier, train, val *Split, counts []int, cfg Config) ([]Fitted, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, s := range []*Split{train, val} {
		if err := base.check(s.Dim); err != nil {
			return nil, fmt.Errorf("%w (%s features)", err, s.Name)
		}
		if len(s.X) != s.Len()*s.Dim {
			return nil, fmt.Errorf("posthoc: %s split: %d feature values for %d images × %d", s.Name, len(s.X), s.Len(), s.Dim)
		}
	}
	if len(counts) != base.Classes() {
		return nil, fmt.Errorf("posthoc: %d training counts for %d classes", len(counts), base.Classes())
	}
	f := &fitting{base: base, train: train, counts: counts, cfg: cfg}
	top1, err := valTop1(base, val)
	if err != nil {
		return nil, err
	}
	out := []Fitted{{Method: Plain, Classifier: base, ValTop1: top1}}
	for _, name := range cfg.Methods {
		m, _ := lookup(name)
		start := time.Now()
		cands, err := m.fit(f)
		if err != nil {
			return nil, fmt.Errorf("posthoc: %s: %w", name, err)
		}
		best := Fitted{Method: name, ValTop1: -1}
		for _, c := range cands {
			a, err := valTop1(c.c, val)
			if err != nil {
				return nil, err
			}
			if a > best.ValTop1 {
				best.Choice, best.Classifier, best.ValTop1 = c.choice, c.c, a
			}
		}
		best.Seconds = time.Since(start).Seconds()
		out = append(out, best)
	}
	return out, nil
}

// valTop1 is the fraction of val predicted right.
func valTop1(c *Classifier, val *Split) (float64, error) {
	tl, err := c.Tally(val)
	if err != nil {
		return 0, err
	}
	var right, all int64
	for t, row := range tl.Confusion {
		right += row[t]
		for _, v := range row {
			all += v
		}
	}
	if all == 0 {
		return 0, fmt.Errorf("posthoc: the %s split is empty", val.Name)
	}
	return float64(right) / float64(all), nil
}

// TauNormalize returns c with each class's weight row w_j divided by
// ‖w_j‖^τ (Kang et al. 2020), which shrinks the large-norm rows of the
// head classes; the bias is kept, or set to 0 with dropBias, as Kang et
// al.'s τ-normalised classifier has none (a trained bias holds much of the
// training prior). A zero row stays as it is; τ = 0 with the bias kept
// returns c's values exactly.
func TauNormalize(c *Classifier, tau float64, dropBias bool) *Classifier {
	out := c.Clone()
	d := c.Dim()
	for j := range c.Classes() {
		w := c.W[j*d : (j+1)*d]
		var ss float64
		for _, v := range w {
			ss += float64(v) * float64(v)
		}
		if ss == 0 {
			continue
		}
		s := math.Pow(math.Sqrt(ss), -tau)
		for t, v := range w {
			out.W[j*d+t] = float32(float64(v) * s)
		}
	}
	if dropBias {
		clear(out.B)
	}
	return out
}

// AdjustLogits returns c with the bias shifted by −τ·log π_j, π_j =
// counts[j]/Σ counts the training prior (Menon et al. 2021). With τ = 1
// the argmax is the Bayes-optimal rule for a uniform test prior when c's
// logits are log-posteriors under the training prior; τ = 0 returns c's
// values exactly.
func AdjustLogits(c *Classifier, counts []int, tau float64) *Classifier {
	out := c.Clone()
	var n float64
	for _, k := range counts {
		n += float64(k)
	}
	for j, k := range counts {
		out.B[j] = float32(float64(c.B[j]) - tau*math.Log(float64(k)/n))
	}
	return out
}

// NearestClassMean is the NCM classifier of the training features: μ_c the
// mean of class c's L2-normalised features, and argmax_c −‖f̃ − μ_c‖² =
// argmax_c 2·μ_c·f̃ − ‖μ_c‖² (‖f̃‖² is the same for every class), i.e.
// W = 2μ, B = −‖μ‖², Normalize.
func NearestClassMean(train *Split, classes int) (*Classifier, error) {
	d := train.Dim
	sum := make([]float64, classes*d)
	n := make([]int, classes)
	f := make([]float64, d)
	for i, y := range train.Labels {
		normalized(train.Row(i), f)
		for t, v := range f {
			sum[int(y)*d+t] += v
		}
		n[y]++
	}
	c := &Classifier{W: make([]float32, classes*d), B: make([]float32, classes), Normalize: true}
	for k := range classes {
		if n[k] == 0 {
			return nil, fmt.Errorf("class %d has no training image; its mean is undefined", k)
		}
		var ss float64
		for t := range d {
			mu := sum[k*d+t] / float64(n[k])
			c.W[k*d+t] = float32(2 * mu)
			ss += mu * mu
		}
		c.B[k] = float32(-ss)
	}
	return c, nil
}

// fitTauNorm tries every τ with the bias kept, then every τ without it.
func fitTauNorm(f *fitting) ([]candidate, error) {
	var out []candidate
	for _, drop := range []bool{false, true} {
		for _, tau := range f.cfg.Tau {
			out = append(out, candidate{Choice{Tau: &tau, NoBias: drop}, TauNormalize(f.base, tau, drop)})
		}
	}
	return out, nil
}

func fitLogitAdjust(f *fitting) ([]candidate, error) {
	for j, k := range f.counts {
		if k < 1 {
			return nil, fmt.Errorf("class %d has no training image; its prior is 0", j)
		}
	}
	var out []candidate
	for _, tau := range f.cfg.Tau {
		out = append(out, candidate{Choice{Tau: &tau}, AdjustLogits(f.base, f.counts, tau)})
	}
	return out, nil
}

func fitNCM(f *fitting) ([]candidate, error) {
	c, err := NearestClassMean(f.train, f.base.Classes())
	if err != nil {
		return nil, err
	}
	return []candidate{{Choice{}, c}}, nil
}
