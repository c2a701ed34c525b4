package posthoc

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/longtail-ml/longtail/loss"
	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/sampling"
)

// Config chooses the methods and their search grids; the YAML section is
// posthoc: (configs/README.md). A zero field means its default, which
// WithDefaults fills in; the fields whose 0 is a setting of its own
// (TrainConfig.Momentum, TrainConfig.WeightDecay) are pointers, nil the
// default.
type Config struct {
	// Methods to run, in table order; Names lists them. Default all. The
	// plain model is always the first row.
	Methods []string `mapstructure:"methods" json:"methods"`
	// Tau is the grid τ is chosen from for tau_norm and logit_adjust.
	// Default 0, 0.1, …, 2.
	Tau []float64 `mapstructure:"tau" json:"tau"`
	// Train is how cRT and LWS train their classifier.
	Train TrainConfig `mapstructure:"train" json:"train"`
}

// TrainConfig is the classifier training of cRT and LWS: SGD with momentum
// on the cached training features, a cosine rate per epoch, the batches
// drawn by a sampler of package sampling and the gradient of a loss of
// package loss. The schedule (LR × Epochs) is chosen on the validation split.
type TrainConfig struct {
	// Loss names a loss of package loss (loss.Names); default ce.
	Loss string `mapstructure:"loss" json:"loss"`
	// Sampler names a sampler of package sampling; default balanced (every
	// batch holds PerClass images of every class).
	Sampler string `mapstructure:"sampler" json:"sampler"`
	// PerClass is the balanced sampler's images per class and batch; 0 means
	// max(1, 128/classes).
	PerClass int `mapstructure:"per_class" json:"per_class"`
	// Batch is the other samplers' batch size; 0 means 128.
	Batch int `mapstructure:"batch" json:"batch"`
	// LR and Epochs are the grid of schedules; default {0.02, 0.2} × {10, 30}.
	LR     []float64 `mapstructure:"lr" json:"lr"`
	Epochs []int     `mapstructure:"epochs" json:"epochs"`
	// Momentum is SGD's (PyTorch convention), 0 plain SGD; nil means 0.9.
	Momentum *float64 `mapstructure:"momentum" json:"momentum"`
	// WeightDecay applies to cRT's weights (not its biases, nor LWS's
	// scales, which it would pull towards 0), 0 none; nil means 5e-4.
	WeightDecay *float64 `mapstructure:"weight_decay" json:"weight_decay"`
	// Seed fixes the sampler's batches; default 0.
	Seed int64 `mapstructure:"seed" json:"seed"`
}

// DefaultBatch is TrainConfig.Batch's default, and the batch the balanced
// sampler's default PerClass approximates.
const DefaultBatch = 128

// Default returns the defaults.
func Default() Config {
	tau := make([]float64, 21)
	for i := range tau {
		tau[i] = float64(i) / 10
	}
	return Config{
		Methods: Names(),
		Tau:     tau,
		Train: TrainConfig{Loss: loss.DefaultName, Sampler: "balanced", LR: []float64{0.02, 0.2}, Epochs: []int{10, 30},
			Momentum: new(0.9), WeightDecay: new(5e-4)},
	}
}

// WithDefaults returns c with every zero field (nil for a pointer)
// replaced by its default.
func (c Config) WithDefaults() Config {
	d := Default()
	if len(c.Methods) == 0 {
		c.Methods = d.Methods
	}
	if len(c.Tau) == 0 {
		c.Tau = d.Tau
	}
	t := &c.Train
	if t.Loss == "" {
		t.Loss = d.Train.Loss
	}
	if t.Sampler == "" {
		t.Sampler = d.Train.Sampler
	}
	if len(t.LR) == 0 {
		t.LR = d.Train.LR
	}
	if len(t.Epochs) == 0 {
		t.Epochs = d.Train.Epochs
	}
	if t.Momentum == nil {
		t.Momentum = d.Train.Momentum
	}
	if t.WeightDecay == nil {
		t.WeightDecay = d.Train.WeightDecay
	}
	return c
}

// Validate checks c (after WithDefaults); each problem is a
// pipeline.ConfigError naming its key (errors.Is(err, pipeline.ErrConfig)).
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &pipeline.ConfigError{Key: "posthoc." + key, Msg: fmt.Sprintf(format, args...)})
	}
	for _, m := range c.Methods {
		if !slices.Contains(Names(), m) {
			bad("methods", "%q; want some of %s", m, strings.Join(Names(), ", "))
		}
	}
	for _, t := range c.Tau {
		if !(t >= 0) || math.IsInf(t, 0) {
			bad("tau", "%v; want numbers ≥ 0", t)
		}
	}
	t := c.Train
	if !slices.Contains(loss.Names(), t.Loss) {
		bad("train.loss", "%q; want one of %s", t.Loss, strings.Join(loss.Names(), ", "))
	}
	if !slices.Contains(sampling.Names(), t.Sampler) {
		bad("train.sampler", "%q; want one of %s", t.Sampler, strings.Join(sampling.Names(), ", "))
	}
	if t.PerClass < 0 || t.Batch < 0 {
		bad("train", "per_class %d and batch %d; want ≥ 0 (0 is the default)", t.PerClass, t.Batch)
	}
	for _, lr := range t.LR {
		if !(lr > 0) || math.IsInf(lr, 0) {
			bad("train.lr", "%v; want positive numbers", lr)
		}
	}
	for _, e := range t.Epochs {
		if e < 1 {
			bad("train.epochs", "%d; want ≥ 1", e)
		}
	}
	switch m := t.Momentum; {
	case m == nil:
		bad("train.momentum", "unset; want 0 ≤ momentum < 1")
	case !(*m >= 0 && *m < 1):
		bad("train.momentum", "%v; want 0 ≤ momentum < 1", *m)
	}
	switch wd := t.WeightDecay; {
	case wd == nil:
		bad("train.weight_decay", "unset; want ≥ 0")
	case !(*wd >= 0) || math.IsInf(*wd, 0):
		bad("train.weight_decay", "%v; want a number ≥ 0", *wd)
	}
	return errors.Join(errs...)
}
