package graphs

import (
	"fmt"
	"math"
)

// A float64 re-implementation of the CIFAR ResNet with a tape of
// hand-written backward closures: an independent reference for the ONNX
// gradient rules (textbook formulas, direct loops, no ONNX).

type rt struct {
	n, c, h, w int
	v, g       []float64
}

func newRT(n, c, h, w int) *rt {
	return &rt{n: n, c: c, h: h, w: w, v: make([]float64, n*c*h*w), g: make([]float64, n*c*h*w)}
}

func (t *rt) at(n, c, h, w int) int { return ((n*t.c+c)*t.h+h)*t.w + w }

type refNet struct {
	spec    Spec
	p       map[string][]float64 // parameters and running statistics
	grad    map[string][]float64
	running map[string][]float64 // updated running statistics
	tape    []func()
}

func newRefNet(s Spec, state map[string][]float32) *refNet {
	r := &refNet{spec: s, p: map[string][]float64{}, grad: map[string][]float64{}, running: map[string][]float64{}}
	for k, v := range state {
		d := make([]float64, len(v))
		for i, x := range v {
			d[i] = float64(x)
		}
		r.p[k] = d
		r.grad[k] = make([]float64, len(v))
	}
	return r
}

func (r *refNet) conv(name string, x *rt, co, k, stride int) *rt {
	w, gw := r.p[name], r.grad[name]
	pad := k / 2
	oh, ow := (x.h+2*pad-k)/stride+1, (x.w+2*pad-k)/stride+1
	y := newRT(x.n, co, oh, ow)
	type tap struct{ xi, wi int }
	// taps[yi] lists the (x, w) index pairs that feed output yi.
	taps := make([][]tap, len(y.v))
	for n := 0; n < x.n; n++ {
		for o := 0; o < co; o++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					yi := y.at(n, o, i, j)
					for c := 0; c < x.c; c++ {
						for a := 0; a < k; a++ {
							for b := 0; b < k; b++ {
								hi, wj := i*stride+a-pad, j*stride+b-pad
								if hi < 0 || wj < 0 || hi >= x.h || wj >= x.w {
									continue
								}
								t := tap{x.at(n, c, hi, wj), ((o*x.c+c)*k+a)*k + b}
								taps[yi] = append(taps[yi], t)
								y.v[yi] += x.v[t.xi] * w[t.wi]
							}
						}
					}
				}
			}
		}
	}
	r.tape = append(r.tape, func() {
		for yi, ts := range taps {
			for _, t := range ts {
				x.g[t.xi] += y.g[yi] * w[t.wi]
				gw[t.wi] += y.g[yi] * x.v[t.xi]
			}
		}
	})
	return y
}

func (r *refNet) bn(name string, x *rt) *rt {
	gamma, beta := r.p[name+".weight"], r.p[name+".bias"]
	gg, gb := r.grad[name+".weight"], r.grad[name+".bias"]
	m := float64(x.n * x.h * x.w)
	mean := make([]float64, x.c)
	variance := make([]float64, x.c)
	each := func(c int, f func(i int)) {
		for n := 0; n < x.n; n++ {
			for h := 0; h < x.h; h++ {
				for w := 0; w < x.w; w++ {
					f(x.at(n, c, h, w))
				}
			}
		}
	}
	y := newRT(x.n, x.c, x.h, x.w)
	xhat := make([]float64, len(x.v))
	inv := make([]float64, x.c)
	rm, rv := make([]float64, x.c), make([]float64, x.c)
	for c := 0; c < x.c; c++ {
		each(c, func(i int) { mean[c] += x.v[i] })
		mean[c] /= m
		each(c, func(i int) { d := x.v[i] - mean[c]; variance[c] += d * d })
		variance[c] /= m
		inv[c] = 1 / math.Sqrt(variance[c]+BNEps)
		each(c, func(i int) { xhat[i] = (x.v[i] - mean[c]) * inv[c]; y.v[i] = gamma[c]*xhat[i] + beta[c] })
		rm[c] = (1-BNMomentum)*r.p[name+".running_mean"][c] + BNMomentum*mean[c]
		rv[c] = (1-BNMomentum)*r.p[name+".running_var"][c] + BNMomentum*variance[c]*m/(m-1)
	}
	r.running[name+".running_mean"] = rm
	r.running[name+".running_var"] = rv
	r.tape = append(r.tape, func() {
		for c := 0; c < x.c; c++ {
			var sdy, sdyx float64
			each(c, func(i int) { sdy += y.g[i]; sdyx += y.g[i] * xhat[i] })
			gb[c] += sdy
			gg[c] += sdyx
			each(c, func(i int) { x.g[i] += gamma[c] * inv[c] / m * (m*y.g[i] - sdy - xhat[i]*sdyx) })
		}
	})
	return y
}

func (r *refNet) relu(x *rt) *rt {
	y := newRT(x.n, x.c, x.h, x.w)
	for i, v := range x.v {
		y.v[i] = math.Max(v, 0)
	}
	r.tape = append(r.tape, func() {
		for i, v := range x.v {
			if v > 0 {
				x.g[i] += y.g[i]
			}
		}
	})
	return y
}

func (r *refNet) add(a, b *rt) *rt {
	y := newRT(a.n, a.c, a.h, a.w)
	for i := range y.v {
		y.v[i] = a.v[i] + b.v[i]
	}
	r.tape = append(r.tape, func() {
		for i := range y.g {
			a.g[i] += y.g[i]
			b.g[i] += y.g[i]
		}
	})
	return y
}

// shortcut is option A: x[:, :, ::2, ::2] padded with zero channels on both sides.
func (r *refNet) shortcut(x *rt, out int) *rt {
	p := (out - x.c) / 2
	y := newRT(x.n, out, (x.h+1)/2, (x.w+1)/2)
	for n := 0; n < x.n; n++ {
		for c := 0; c < x.c; c++ {
			for i := 0; i < y.h; i++ {
				for j := 0; j < y.w; j++ {
					y.v[y.at(n, c+p, i, j)] = x.v[x.at(n, c, 2*i, 2*j)]
				}
			}
		}
	}
	r.tape = append(r.tape, func() {
		for n := 0; n < x.n; n++ {
			for c := 0; c < x.c; c++ {
				for i := 0; i < y.h; i++ {
					for j := 0; j < y.w; j++ {
						x.g[x.at(n, c, 2*i, 2*j)] += y.g[y.at(n, c+p, i, j)]
					}
				}
			}
		}
	})
	return y
}

// forward returns the logits (n×classes) and a function that, given
// dL/dlogits, runs the tape backwards into r.grad.
func (r *refNet) forward(x []float32, n int) ([]float64, func(dlogits []float64)) {
	s := r.spec
	in := newRT(n, s.Channels, s.Height, s.ImageWidth)
	for i, v := range x {
		in.v[i] = float64(v)
	}
	w := s.Width
	h := r.relu(r.bn("bn1", r.conv("conv1.weight", in, w, 3, 1)))
	blocks := (s.Depth - 2) / 6
	for stage, planes := range []int{w, 2 * w, 4 * w} {
		for i := 0; i < blocks; i++ {
			stride := 1
			if stage > 0 && i == 0 {
				stride = 2
			}
			pre := fmt.Sprintf("layer%d.%d", stage+1, i)
			o := r.relu(r.bn(pre+".bn1", r.conv(pre+".conv1.weight", h, planes, 3, stride)))
			o = r.bn(pre+".bn2", r.conv(pre+".conv2.weight", o, planes, 3, 1))
			sc := h
			if stride != 1 || h.c != planes {
				sc = r.shortcut(h, planes)
			}
			h = r.relu(r.add(o, sc))
		}
	}
	// global average pool + linear
	feat := make([]float64, n*h.c)
	hw := float64(h.h * h.w)
	for b := 0; b < n; b++ {
		for c := 0; c < h.c; c++ {
			for i := 0; i < h.h*h.w; i++ {
				feat[b*h.c+c] += h.v[(b*h.c+c)*h.h*h.w+i] / hw
			}
		}
	}
	lw, lb := r.p["linear.weight"], r.p["linear.bias"]
	k := s.Classes
	logits := make([]float64, n*k)
	for b := 0; b < n; b++ {
		for o := 0; o < k; o++ {
			v := lb[o]
			for c := 0; c < h.c; c++ {
				v += feat[b*h.c+c] * lw[o*h.c+c]
			}
			logits[b*k+o] = v
		}
	}
	return logits, func(dl []float64) {
		glw, glb := r.grad["linear.weight"], r.grad["linear.bias"]
		for b := 0; b < n; b++ {
			for o := 0; o < k; o++ {
				d := dl[b*k+o]
				glb[o] += d
				for c := 0; c < h.c; c++ {
					glw[o*h.c+c] += d * feat[b*h.c+c]
					df := d * lw[o*h.c+c] / hw
					for i := 0; i < h.h*h.w; i++ {
						h.g[(b*h.c+c)*h.h*h.w+i] += df
					}
				}
			}
		}
		for i := len(r.tape) - 1; i >= 0; i-- {
			r.tape[i]()
		}
	}
}
