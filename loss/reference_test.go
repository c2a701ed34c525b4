package loss

import (
	"math"
	"slices"
)

// This file re-implements every loss naively in float64, straight from the
// papers' definitions, as the tests' independent reference.

// explicitConfig sets every field, to values other than the defaults where
// that makes the reference check stronger.
func explicitConfig(name, weights, normalize string) Config {
	return Config{
		Name: name, Weights: weights, Normalize: normalize,
		Lo: 1, Hi: math.Pow(10, 0.25), Beta: 0.9999,
		Gamma: 2, MaxMargin: 0.5, Scale: 30, Tau: 1.5,
	}
}

// refWeights computes class weights from their definitions.
func refWeights(c Config, counts []int) []float64 {
	switch c.Weights {
	case WeightsClamped:
		w := naiveInverse(counts)
		for i := range w {
			w[i] = math.Max(c.Lo, math.Min(c.Hi, w[i]))
		}
		return w
	case WeightsCB:
		return naiveCB(counts, c.Beta)
	case WeightsInverse:
		return naiveInverse(counts)
	}
	return fill(len(counts), 1)
}

// naiveSoftmax is exp(z_k)/Σ exp(z); fine for moderate logits only.
func naiveSoftmax(z []float64) []float64 {
	p := make([]float64, len(z))
	sum := 0.0
	for k, v := range z {
		p[k] = math.Exp(v)
		sum += p[k]
	}
	for k := range p {
		p[k] /= sum
	}
	return p
}

// naiveLogSoftmax is log(exp(z_k)/Σ exp(z)) = z_k − m − log Σ exp(z − m)
// with m = max z, which stays finite for any finite logits.
func naiveLogSoftmax(z []float64) []float64 {
	m := slices.Max(z)
	sum := 0.0
	for _, v := range z {
		sum += math.Exp(v - m)
	}
	out := make([]float64, len(z))
	for k, v := range z {
		out[k] = v - m - math.Log(sum)
	}
	return out
}

// refTerm is sample loss ℓ for one row of logits z with label y.
func refTerm(c Config, counts []int, z []float64, y int) float64 {
	z = slices.Clone(z)
	total := 0
	for _, v := range counts {
		total += v
	}
	switch c.Name {
	case "focal":
		logp := naiveLogSoftmax(z)[y]
		return math.Pow(1-math.Exp(logp), c.Gamma) * -logp
	case "ldam":
		// Cao et al.: m_i = C/N_i^(1/4) with the largest margin MaxMargin;
		// loss = CE(s·(z − m_y·onehot(y))).
		m := make([]float64, len(counts))
		largest := 0.0
		for i, v := range counts {
			m[i] = 1 / math.Pow(float64(v), 0.25)
			largest = math.Max(largest, m[i])
		}
		z[y] -= m[y] * c.MaxMargin / largest
		for k := range z {
			z[k] *= c.Scale
		}
	case "balanced_softmax":
		for k := range z {
			z[k] += math.Log(float64(counts[k]))
		}
	case "logit_adjust":
		for k := range z {
			z[k] += c.Tau * math.Log(float64(counts[k])/float64(total))
		}
	}
	return -naiveLogSoftmax(z)[y]
}

// refLoss is the batch loss Σ_j W_{y_j}·ℓ_j / (B or Σ_j W_{y_j}).
func refLoss(c Config, counts []int, logits []float64, labels []int32) float64 {
	classes := len(counts)
	w := refWeights(c, counts)
	num, den := 0.0, 0.0
	for j, y := range labels {
		num += w[y] * refTerm(c, counts, logits[j*classes:(j+1)*classes], int(y))
		den += w[y]
	}
	if c.Normalize == NormalizeWeights {
		return num / den
	}
	return num / float64(len(labels))
}
