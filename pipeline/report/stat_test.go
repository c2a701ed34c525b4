package report

import (
	"math"
	"testing"

	"github.com/longtail-ml/longtail/pipeline"
)

// t3 is t_{0.975,3} from the tables (R: qt(0.975, 3)).
const t3 = 3.182446305284263

// TestTQuantile checks t_{0.975,ν} against closed forms for ν = 1, 2 and 4
// and the table for ν = 3. With α = 4p(1−p): ν = 1 is tan(π(p−½)),
// ν = 2 is (2p−1)·√(2/α), ν = 4 is 2·√(q−1) with q = cos(⅓·acos(√α))/√α.
func TestTQuantile(t *testing.T) {
	const p = 0.975
	a := 4 * p * (1 - p)
	q := math.Cos(math.Acos(math.Sqrt(a))/3) / math.Sqrt(a)
	for _, tc := range []struct {
		nu   int
		want float64
	}{
		{1, math.Tan(math.Pi * (p - 0.5))},
		{2, (2*p - 1) * math.Sqrt(2/a)},
		{3, t3},
		{4, 2 * math.Sqrt(q-1)},
	} {
		if got := tQuantile(p, tc.nu); math.Abs(got-tc.want) > 1e-9*tc.want {
			t.Errorf("t_{0.975,%d} = %.15g; want %.15g", tc.nu, got, tc.want)
		}
	}
}

// TestStatInterval checks mean, sample SD and the interval's half-width
// against sums worked by hand.
func TestStatInterval(t *testing.T) {
	for _, tc := range []struct {
		name            string
		v               []float64
		mean, std, half float64
	}{
		// Deviations −0.035, 0.005, −0.015, 0.045: squares sum to 0.0035.
		{"n=4", []float64{0.70, 0.74, 0.72, 0.78}, 0.735, math.Sqrt(0.0035 / 3), t3 * math.Sqrt(0.0035/3) / 2},
		// Two values a, b: s = |a−b|/√2, so t·s/√2 = t·|a−b|/2.
		{"n=2", []float64{0.5, 0.6}, 0.55, 0.1 / math.Sqrt2, math.Tan(0.475*math.Pi) * 0.1 / 2},
		{"equal values", []float64{0.3, 0.3, 0.3}, 0.3, 0, 0},
		{"n=1", []float64{0.42}, 0.42, 0, 0},
	} {
		s := newStat(tc.v)
		if s.N != len(tc.v) || !near(s.Mean, tc.mean) || !near(s.Std, tc.std) || !near(s.Half, tc.half) {
			t.Errorf("%s: %+v; want mean %g std %g half %g", tc.name, s, tc.mean, tc.std, tc.half)
		}
		if s.HasCI() != (len(tc.v) > 1) || !near(s.Lo(), tc.mean-tc.half) || !near(s.Hi(), tc.mean+tc.half) {
			t.Errorf("%s: interval %v [%g, %g]", tc.name, s.HasCI(), s.Lo(), s.Hi())
		}
	}
}

// TestPair checks that runs pair by (train.seed, data.lt_seed), not by
// order or by train.seed alone, and that the paired interval is the
// one-sample interval of the differences.
func TestPair(t *testing.T) {
	run := func(seed, lt int64, top1, sd float64) RunResult {
		r := RunResult{Final: &pipeline.Final{Metrics: pipeline.Metrics{Top1: top1, SD: sd}}}
		r.Seed, r.LTSeed = seed, lt
		return r
	}
	a := []RunResult{run(0, 0, 0.5, 0.2), run(0, 1, 0.6, 0.1), run(1, 0, 0.7, 0.3), run(2, 2, 0.9, 0)}
	b := []RunResult{run(1, 0, 0.6, 0.3), run(3, 3, 0.1, 0), run(0, 1, 0.4, 0.2), run(0, 0, 0.5, 0.1), run(1, 1, 0.2, 0)}
	p, ok := pair(a, b)
	// Pairs (0,0), (0,1), (1,0): top-1 differences 0, 0.2, 0.1 (mean 0.1,
	// squares of deviations 0.01+0.01+0 → s = 0.1); SD differences 0.1,
	// −0.1, 0 (mean 0, s = 0.1). Unpaired: (2,2) of a, (3,3) and (1,1) of b.
	t2 := (2*0.975 - 1) * math.Sqrt(2/(4*0.975*0.025))
	if !ok || p.Top1.N != 3 || !near(p.Top1.Mean, 0.1) || !near(p.Top1.Std, 0.1) || !near(p.Top1.Half, t2*0.1/math.Sqrt(3)) {
		t.Errorf("top-1: %+v, %v", p.Top1, ok)
	}
	if !near(p.SD.Mean, 0) || !near(p.SD.Std, 0.1) || p.Unpaired != 3 {
		t.Errorf("SD: %+v, unpaired %d; want 0 ± s 0.1, 3 unpaired", p.SD, p.Unpaired)
	}
	if p, ok := pair(a[3:], b[:2]); ok || p.Unpaired != 3 {
		t.Errorf("no common replicate: %+v, %v", p, ok)
	}
}
