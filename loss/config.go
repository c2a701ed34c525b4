package loss

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Defaults for the Config fields whose zero value means "default".
const (
	DefaultName      = "ce"
	DefaultLo        = 1.0
	DefaultBeta      = 0.9999 // Cui et al. 2019
	DefaultNormalize = NormalizeBatch
	DefaultGamma     = 1.0 // LDAM-DRW's focal baseline on CIFAR-LT
	DefaultMaxMargin = 0.5 // LDAM-DRW
	DefaultScale     = 30.0
	DefaultTau       = 1.0 // Menon et al. 2021
)

// Normalisations of the weighted batch sum (Config.Normalize).
const (
	// NormalizeBatch divides by the batch size B: L = (1/B)·Σ_j W_{y_j}·ℓ_j,
	// the paper's Eq. 4.
	NormalizeBatch = "batch"
	// NormalizeWeights divides by Σ_j W_{y_j}, PyTorch's weighted mean (and
	// what the LDAM-DRW reference code uses).
	NormalizeWeights = "weights"
)

// Config selects a loss and its class weighting. A zero field means its
// default; WithDefaults fills them in. Every key is checked by Validate,
// whether or not the chosen loss uses it.
type Config struct {
	// Name picks the loss; Names lists them. Empty means ce.
	Name string `mapstructure:"name"`
	// Weights picks the class weighting: none, clamped, cb or inverse (see
	// ClassWeights). Class weights apply to every loss. Empty means the
	// loss's default: clamped for weighted_ce, cb for cb; for the others
	// none, or cb when DRWEpoch > 0 (LDAM-DRW).
	Weights string `mapstructure:"weights"`
	// Lo and Hi bound the clamped weights; 0 means 1 and classes^(1/4).
	Lo float64 `mapstructure:"lo"`
	Hi float64 `mapstructure:"hi"`
	// Beta is the cb weighting's β, in (0, 1); 0 means 0.9999.
	Beta float64 `mapstructure:"beta"`
	// Normalize is batch (the paper's 1/B, default) or weights (1/Σ W_{y_j}).
	Normalize string `mapstructure:"normalize"`
	// Gamma is the focal loss's γ ≥ 0; 0 means 1 (γ = 0 is plain ce).
	Gamma float64 `mapstructure:"gamma"`
	// MaxMargin is LDAM's margin for the rarest class; 0 means 0.5.
	MaxMargin float64 `mapstructure:"max_margin"`
	// Scale is LDAM's logit scale s; 0 means 30.
	Scale float64 `mapstructure:"scale"`
	// DRWEpoch is the 0-based epoch from which class weights apply (deferred
	// re-weighting); before it every weight is 1. 0 means from the start.
	// Any loss honours it through Scheduled.SetEpoch.
	DRWEpoch int `mapstructure:"drw_epoch"`
	// Tau is logit adjustment's τ; 0 means 1.
	Tau float64 `mapstructure:"tau"`
}

// WithDefaults returns c with every zero field replaced by its default for
// the given number of classes. It does not validate.
func (c Config) WithDefaults(classes int) Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Weights == "" {
		c.Weights = WeightsNone
		if e, ok := lookup(c.Name); ok {
			c.Weights = e.weights
		}
		if c.Weights == WeightsNone && c.DRWEpoch > 0 {
			c.Weights = WeightsCB // LDAM-DRW's deferred weights
		}
	}
	if c.Lo == 0 {
		c.Lo = DefaultLo
	}
	if c.Hi == 0 {
		c.Hi = DefaultHi(classes)
	}
	if c.Beta == 0 {
		c.Beta = DefaultBeta
	}
	if c.Normalize == "" {
		c.Normalize = DefaultNormalize
	}
	if c.Gamma == 0 {
		c.Gamma = DefaultGamma
	}
	if c.MaxMargin == 0 {
		c.MaxMargin = DefaultMaxMargin
	}
	if c.Scale == 0 {
		c.Scale = DefaultScale
	}
	if c.Tau == 0 {
		c.Tau = DefaultTau
	}
	return c
}

// DefaultHi is the paper's upper clamp, classes^(1/4) (1.7783 for 10).
func DefaultHi(classes int) float64 { return math.Pow(float64(classes), 0.25) }

// Validate checks c for a problem with the given number of classes. Each
// problem is one error naming its key ("loss.beta: ..."); all of them are
// joined, and each wraps ErrInvalidConfig.
func (c Config) Validate(classes int) error {
	if classes < 2 {
		return fmt.Errorf("%w: loss: %d classes; want at least 2", ErrInvalidConfig, classes)
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: loss.%s: %s", ErrInvalidConfig, key, fmt.Sprintf(format, args...)))
	}
	d := c.WithDefaults(classes)
	if _, ok := lookup(d.Name); !ok {
		bad("name", "unknown loss %q; want one of %s", c.Name, strings.Join(Names(), ", "))
	}
	if !validWeights(d.Weights) {
		bad("weights", "unknown weighting %q; want none, clamped, cb or inverse", c.Weights)
	} else if d.Name == "cb" && d.Weights != WeightsCB {
		bad("weights", "%q conflicts with loss.name cb (weighted_ce with cb weights); leave it empty or use weighted_ce", c.Weights)
	}
	if !(c.Lo >= 0) || math.IsInf(c.Lo, 0) {
		bad("lo", "%v; want a finite value > 0 (0 means %v)", c.Lo, DefaultLo)
	}
	if !(c.Hi >= 0) || math.IsInf(c.Hi, 0) {
		bad("hi", "%v; want a finite value > 0 (0 means classes^(1/4) = %.4f)", c.Hi, DefaultHi(classes))
	}
	if d.Lo > d.Hi {
		bad("lo", "%v exceeds loss.hi %v; want lo ≤ hi", d.Lo, d.Hi)
	}
	if !(c.Beta >= 0 && c.Beta < 1) {
		bad("beta", "%v; want 0 < beta < 1 (0 means %v)", c.Beta, DefaultBeta)
	}
	if d.Normalize != NormalizeBatch && d.Normalize != NormalizeWeights {
		bad("normalize", "unknown normalisation %q; want batch or weights", c.Normalize)
	}
	if !(c.Gamma >= 0) || math.IsInf(c.Gamma, 0) {
		bad("gamma", "%v; want a finite value ≥ 0 (0 means %v)", c.Gamma, DefaultGamma)
	}
	if !(c.MaxMargin >= 0) || math.IsInf(c.MaxMargin, 0) {
		bad("max_margin", "%v; want a finite value ≥ 0 (0 means %v)", c.MaxMargin, DefaultMaxMargin)
	}
	if !(c.Scale >= 0) || math.IsInf(c.Scale, 0) {
		bad("scale", "%v; want a finite value > 0 (0 means %v)", c.Scale, DefaultScale)
	}
	if !(c.Tau >= 0) || math.IsInf(c.Tau, 0) {
		bad("tau", "%v; want a finite value ≥ 0 (0 means %v)", c.Tau, DefaultTau)
	}
	if c.DRWEpoch < 0 {
		bad("drw_epoch", "%d is negative; want the 0-based epoch from which class weights apply", c.DRWEpoch)
	} else if c.DRWEpoch > 0 && d.Weights == WeightsNone {
		bad("drw_epoch", "%d defers class weights, but loss.weights is none; set loss.weights (cb for LDAM-DRW)", c.DRWEpoch)
	}
	return errors.Join(errs...)
}
