package report

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Level is the confidence level of every interval in a report.
const Level = 0.95

// Stat summarises a metric over the replicates of a cell (the runs that
// differ only by train.seed and data.lt_seed), or paired differences over
// the replicates two cells share: the mean, the sample standard deviation
// s (n−1 denominator) and Half, the half-width of the Student-t confidence
// interval of the mean at Level,
//
//	Half = t_{(1+Level)/2, n−1} · s / √n.
//
// One value has no interval: with N = 1, Std and Half are 0 and HasCI is
// false.
type Stat struct {
	Mean, Std, Half float64
	N               int
}

// HasCI reports whether s has an interval: two values or more.
func (s Stat) HasCI() bool { return s.N > 1 }

// Lo and Hi are the interval's ends, Mean ∓ Half.
func (s Stat) Lo() float64 { return s.Mean - s.Half }
func (s Stat) Hi() float64 { return s.Mean + s.Half }

// tQuantile is the p quantile of Student's t distribution with nu degrees
// of freedom.
func tQuantile(p float64, nu int) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(nu)}.Quantile(p)
}

func newStat(v []float64) Stat {
	s := Stat{N: len(v)}
	if s.N == 0 {
		return s
	}
	for _, x := range v {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		var ss float64
		for _, x := range v {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(s.N-1))
		s.Half = tQuantile((1+Level)/2, s.N-1) * s.Std / math.Sqrt(float64(s.N))
	}
	return s
}

// Replicate tells the runs of a cell apart: their train.seed and
// data.lt_seed.
type Replicate struct {
	Seed, LTSeed int64
}

func (r RunResult) replicate() Replicate { return Replicate{r.Seed, r.LTSeed} }

// Paired is the comparison of a cell with the baseline's cell: the
// differences cell − baseline of each metric over the replicates both
// have, matched by (train.seed, data.lt_seed). The paired t interval is
// the one-sample interval of those differences.
type Paired struct {
	Top1, SD Stat
	// Unpaired counts the replicates of either cell without a partner in
	// the other; they are left out.
	Unpaired int
}

// pair matches runs with base by replicate; ok is false when they share
// none.
func pair(runs, base []RunResult) (p Paired, ok bool) {
	byRep := map[Replicate]RunResult{}
	for _, b := range base {
		byRep[b.replicate()] = b
	}
	var dTop, dSD []float64
	for _, a := range runs {
		b, found := byRep[a.replicate()]
		if !found {
			continue
		}
		delete(byRep, a.replicate()) // each baseline run pairs once
		dTop = append(dTop, a.Final.Top1-b.Final.Top1)
		dSD = append(dSD, a.Final.SD-b.Final.SD)
	}
	p.Unpaired = len(runs) + len(base) - 2*len(dTop)
	if len(dTop) == 0 {
		return p, false
	}
	p.Top1, p.SD = newStat(dTop), newStat(dSD)
	return p, true
}
