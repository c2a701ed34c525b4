package graphs

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Slice and Pad gradients against a direct scatter, one op at a time.
func TestSliceAndPadGradients(t *testing.T) {
	env := openEnv(t)
	shape := []int64{2, 3, 7, 6}
	cases := []struct {
		name                      string
		starts, ends, axes, steps []int64
		pads                      []int64 // a Pad instead of a Slice
	}{
		{name: "subsample 2x2", starts: []int64{0, 0}, ends: []int64{7, 6}, axes: []int64{2, 3}, steps: []int64{2, 2}},
		{name: "offset 3x3", starts: []int64{1, 2}, ends: []int64{7, 6}, axes: []int64{2, 3}, steps: []int64{3, 3}},
		{name: "rows step 3", starts: []int64{1}, ends: []int64{6}, axes: []int64{2}, steps: []int64{3}},
		{name: "channels", starts: []int64{1}, ends: []int64{3}, axes: []int64{1}, steps: []int64{1}},
		{name: "mixed steps", starts: []int64{0, 1}, ends: []int64{5, 6}, axes: []int64{2, 3}, steps: []int64{2, 1}},
		{name: "pad channels", pads: []int64{0, 2, 0, 0, 0, 1, 0, 0}},
		{name: "pad all", pads: []int64{1, 0, 2, 1, 0, 1, 0, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := NewGraph("op")
			x := f.Input("x", shape...)
			var y string
			if c.pads != nil {
				y = f.Pad(x, c.pads)
			} else {
				y = f.Slice(x, c.starts, c.ends, c.axes, c.steps)
			}
			b, grads, err := Backward(f, y, "dy", []string{"x"})
			if err != nil {
				t.Fatal(err)
			}
			b.Output(grads["x"])
			ys := f.Shape(y)
			rng := rand.New(rand.NewPCG(1, 2))
			dy := make([]float32, numel(ys))
			for i := range dy {
				dy[i] = float32(rng.NormFloat64())
			}
			got := runGraph(t, env, b, map[string][]float32{"dy": dy, "x": make([]float32, numel(shape))})[grads["x"]]
			want := make([]float64, numel(shape))
			// Walk every output index and add its gradient at the input index it came from.
			idx := make([]int64, 4)
			for i := range dy {
				r := int64(i)
				for d := 3; d >= 0; d-- {
					idx[d] = r % ys[d]
					r /= ys[d]
				}
				src := make([]int64, 4)
				copy(src, idx)
				inside := true
				if c.pads != nil {
					for d := range src {
						src[d] -= c.pads[d]
						inside = inside && src[d] >= 0 && src[d] < shape[d]
					}
				} else {
					for k, a := range c.axes {
						src[a] = c.starts[k] + idx[a]*c.steps[k]
					}
				}
				if inside {
					want[((src[0]*shape[1]+src[1])*shape[2]+src[2])*shape[3]+src[3]] += float64(dy[i])
				}
			}
			if e := relErr(got, want); e > 1e-7 {
				t.Errorf("gradient differs from the scatter by %.3g", e)
			}
		})
	}
}

func TestBackwardRefusesUnknownOps(t *testing.T) {
	f := NewGraph("op")
	x := f.Input("x", 2, 3)
	y := f.Unary("Tanh", x)
	_, _, err := Backward(f, y, "dy", []string{"x"})
	if err == nil || !strings.Contains(err.Error(), "no gradient rule for Tanh") {
		t.Fatalf("Tanh without a rule: got %v", err)
	}
}
