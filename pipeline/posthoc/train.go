package posthoc

import (
	"fmt"

	"github.com/longtail-ml/longtail/loss"
	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/sampling"
)

// linearHead is a trainable map from a batch of features to logits: cRT's
// classifier or LWS's scaled one. Parameters are one float64 vector.
type linearHead interface {
	// logits writes the n×classes logits of the n×dim features f into z.
	logits(f []float64, n int, z []float32)
	// grad writes dL/dparams into g from f and dL/dlogits dz.
	grad(f []float64, n int, dz []float32, g []float64)
	// params is the parameter vector that SGD updates in place, decay which
	// of them take weight decay.
	params() []float64
	decay() []bool
	classifier() *Classifier
}

// crtHead is a fresh linear classifier: z = W·f + b, from zero (softmax
// regression is convex, so a zero start loses nothing and needs no seed).
type crtHead struct {
	classes, dim int
	p            []float64 // W (classes×dim), then b
}

func (h *crtHead) params() []float64 { return h.p }

func (h *crtHead) decay() []bool {
	d := make([]bool, len(h.p))
	for i := range h.classes * h.dim {
		d[i] = true
	}
	return d
}

func (h *crtHead) logits(f []float64, n int, z []float32) {
	k, d := h.classes, h.dim
	w, b := h.p[:k*d], h.p[k*d:]
	for i := range n {
		x := f[i*d : (i+1)*d]
		for j := range k {
			s := b[j]
			for t, v := range w[j*d : (j+1)*d] {
				s += v * x[t]
			}
			z[i*k+j] = float32(s)
		}
	}
}

func (h *crtHead) grad(f []float64, n int, dz []float32, g []float64) {
	k, d := h.classes, h.dim
	clear(g)
	gw, gb := g[:k*d], g[k*d:]
	for i := range n {
		x := f[i*d : (i+1)*d]
		for j := range k {
			e := float64(dz[i*k+j])
			gb[j] += e
			row := gw[j*d : (j+1)*d]
			for t, v := range x {
				row[t] += e * v
			}
		}
	}
}

func (h *crtHead) classifier() *Classifier {
	c := &Classifier{W: make([]float32, h.classes*h.dim), B: make([]float32, h.classes)}
	for i, v := range h.p[:h.classes*h.dim] {
		c.W[i] = float32(v)
	}
	for j, v := range h.p[h.classes*h.dim:] {
		c.B[j] = float32(v)
	}
	return c
}

// lwsHead scales the trained classifier's logits per class (Kang et al.
// 2020): z_j = s_j·z0_j with z0 = w_j·f + b_j the frozen classifier's
// logits, s from 1. It trains on the base logits themselves (a Split of
// Classes() "features", computed once), so an epoch costs N·classes, not
// N·classes·features.
type lwsHead struct {
	base *Classifier
	s    []float64
}

func (h *lwsHead) params() []float64 { return h.s }
func (h *lwsHead) decay() []bool     { return make([]bool, len(h.s)) }

// logits: f holds n rows of base logits.
func (h *lwsHead) logits(f []float64, n int, z []float32) {
	k := len(h.s)
	for i := range n {
		for j, s := range h.s {
			z[i*k+j] = float32(s * f[i*k+j])
		}
	}
}

// grad: ∂z_ij/∂s_j = z0_ij.
func (h *lwsHead) grad(f []float64, n int, dz []float32, g []float64) {
	k := len(h.s)
	clear(g)
	for i := range n {
		for j := range k {
			g[j] += float64(dz[i*k+j]) * f[i*k+j]
		}
	}
}

func (h *lwsHead) classifier() *Classifier {
	c := h.base.Clone()
	d := c.Dim()
	for j, s := range h.s {
		for t := range d {
			c.W[j*d+t] = float32(float64(h.base.W[j*d+t]) * s)
		}
		c.B[j] = float32(float64(h.base.B[j]) * s)
	}
	return c
}

// trainHead runs SGD on h over the training features: epochs passes of the
// sampler's batches, the rate lr·(1+cos(π·e/epochs))/2 in epoch e
// (pipeline.OptimConfig.LRAt), momentum and weight decay as PyTorch's SGD:
// v ← μ·v + g + λ·p, p ← p − η·v.
func trainHead(h linearHead, train *Split, counts []int, cfg TrainConfig, lr float64, epochs int) error {
	k := len(counts)
	l, err := loss.New(loss.Config{Name: cfg.Loss}, counts)
	if err != nil {
		return err
	}
	perClass := cfg.PerClass
	if perClass == 0 {
		perClass = max(1, DefaultBatch/k)
	}
	batch := cfg.Batch
	if batch == 0 {
		batch = min(DefaultBatch, train.Len())
	}
	smp, err := sampling.New(cfg.Sampler, train.Labels, k, batch, perClass, cfg.Seed, epochs)
	if err != nil {
		return err
	}
	sched := pipeline.OptimConfig{LR: lr, Schedule: pipeline.ScheduleCosine}
	p, decay := h.params(), h.decay()
	mom, wd := *cfg.Momentum, *cfg.WeightDecay
	v := make([]float64, len(p))
	g := make([]float64, len(p))
	d := train.Dim
	var f []float64
	var z, dz []float32
	var labels []int32
	for e := range epochs {
		if s, ok := l.(loss.Scheduled); ok {
			s.SetEpoch(e)
		}
		eta := sched.LRAt(e, epochs)
		for _, idx := range smp.Batches(e) {
			n := len(idx)
			f, z, dz, labels = f[:0], z[:0], dz[:0], labels[:0]
			for _, i := range idx {
				for _, x := range train.Row(i) {
					f = append(f, float64(x))
				}
				labels = append(labels, train.Labels[i])
			}
			z, dz = append(z, make([]float32, n*k)...), append(dz, make([]float32, n*k)...)
			h.logits(f[:n*d], n, z)
			if _, err := l.Compute(z, labels, k, dz, nil); err != nil {
				return fmt.Errorf("epoch %d: %w", e+1, err)
			}
			h.grad(f[:n*d], n, dz, g)
			for i := range p {
				gi := g[i]
				if decay[i] {
					gi += wd * p[i]
				}
				v[i] = mom*v[i] + gi
				p[i] -= eta * v[i]
			}
		}
	}
	return nil
}

// fitTrained trains a fresh head per schedule of the grid on train.
func fitTrained(f *fitting, train *Split, fresh func() linearHead) ([]candidate, error) {
	var out []candidate
	for _, lr := range f.cfg.Train.LR {
		for _, ep := range f.cfg.Train.Epochs {
			h := fresh()
			if err := trainHead(h, train, f.counts, f.cfg.Train, lr, ep); err != nil {
				return nil, fmt.Errorf("lr %g, %d epochs: %w", lr, ep, err)
			}
			out = append(out, candidate{Choice{LR: &lr, Epochs: &ep}, h.classifier()})
		}
	}
	return out, nil
}

func fitCRT(f *fitting) ([]candidate, error) {
	k, d := f.base.Classes(), f.train.Dim
	return fitTrained(f, f.train, func() linearHead { return &crtHead{classes: k, dim: d, p: make([]float64, k*d+k)} })
}

func fitLWS(f *fitting) ([]candidate, error) {
	k := f.base.Classes()
	z0 := &Split{Name: f.train.Name, X: f.base.Logits(f.train), Labels: f.train.Labels, Dim: k}
	return fitTrained(f, z0, func() linearHead {
		s := make([]float64, f.base.Classes())
		for j := range s {
			s[j] = 1
		}
		return &lwsHead{base: f.base, s: s}
	})
}
