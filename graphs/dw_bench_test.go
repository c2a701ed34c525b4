package graphs

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/longtail-ml/longtail/runtime"
)

// Ways to compute a 3×3 convolution's weight gradient dW from x and dy with
// standard ONNX ops. BenchmarkWeightGrad compares them on ResNet-32's layer
// shapes; convGrad uses the winner.
var weightGradVariants = map[string]func(b *Graph, x, dy string, k, stride, pad int64, ws []int64) string{
	// im2col by a grouped one-hot Conv, batched MatMul dy·colᵀ, sum over the batch.
	"conv-im2col": func(b *Graph, x, dy string, k, stride, pad int64, ws []int64) string {
		xs, ys := b.Shape(x), b.Shape(dy)
		col := im2col(b, x, k, stride, pad)
		hw, ckk := ys[2]*ys[3], xs[1]*k*k
		colT := b.Transpose(b.Reshape(col, xs[0], ckk, hw), 0, 2, 1)
		prod := b.Node("MatMul", []string{b.Reshape(dy, ys[0], ys[1], hw), colT}, [][]int64{{ys[0], ys[1], ckk}})[0]
		return b.Reshape(b.ReduceSum(prod, false, 0), ws...)
	},
	// as conv-im2col, with the product taken as col·dyᵀ.
	"conv-im2col-swap": func(b *Graph, x, dy string, k, stride, pad int64, ws []int64) string {
		xs, ys := b.Shape(x), b.Shape(dy)
		col := im2col(b, x, k, stride, pad)
		hw, ckk := ys[2]*ys[3], xs[1]*k*k
		dyT := b.Transpose(b.Reshape(dy, ys[0], ys[1], hw), 0, 2, 1)
		prod := b.Node("MatMul", []string{b.Reshape(col, xs[0], ckk, hw), dyT}, [][]int64{{ys[0], ckk, ys[1]}})[0]
		return b.Reshape(b.Transpose(b.ReduceSum(prod, false, 0), 1, 0), ws...)
	},
	// im2col by a one-channel Conv over the batch-and-channel axis.
	"conv1ch-im2col": func(b *Graph, x, dy string, k, stride, pad int64, ws []int64) string {
		xs, ys := b.Shape(x), b.Shape(dy)
		kk := k * k
		onehot := make([]float32, kk*kk)
		for i := int64(0); i < kk; i++ {
			onehot[i*kk+i] = 1
		}
		wk := b.Const("onehot", onehot, kk, 1, k, k)
		x1 := b.Reshape(x, xs[0]*xs[1], 1, xs[2], xs[3])
		col := b.Node("Conv", []string{x1, wk}, [][]int64{{xs[0] * xs[1], kk, ys[2], ys[3]}},
			AInts("kernel_shape", k, k), AInts("strides", stride, stride), AInts("pads", pad, pad, pad, pad))[0]
		hw, ckk := ys[2]*ys[3], xs[1]*k*k
		colT := b.Transpose(b.Reshape(col, xs[0], ckk, hw), 0, 2, 1)
		prod := b.Node("MatMul", []string{b.Reshape(dy, ys[0], ys[1], hw), colT}, [][]int64{{ys[0], ys[1], ckk}})[0]
		return b.Reshape(b.ReduceSum(prod, false, 0), ws...)
	},
	// im2col by pad, k² slices and a concat (offset-major), batched MatMul, sum, reorder.
	"slice-im2col": func(b *Graph, x, dy string, k, stride, pad int64, ws []int64) string {
		xs, ys := b.Shape(x), b.Shape(dy)
		col := sliceCols(b, x, k, stride, pad, 1)
		hw, ckk := ys[2]*ys[3], xs[1]*k*k
		colT := b.Transpose(b.Reshape(col, xs[0], ckk, hw), 0, 2, 1)
		prod := b.Node("MatMul", []string{b.Reshape(dy, ys[0], ys[1], hw), colT}, [][]int64{{ys[0], ys[1], ckk}})[0]
		sum := b.Reshape(b.ReduceSum(prod, false, 0), ws[0], k*k, ws[1])
		return b.Reshape(b.Transpose(sum, 0, 2, 1), ws...)
	},
	// channel-first: transpose x and dy to C×N×H×W, slices concatenated on
	// channels, then one Gemm whose inner dimension is the whole batch.
	"cnhw-gemm": func(b *Graph, x, dy string, k, stride, pad int64, ws []int64) string {
		xs, ys := b.Shape(x), b.Shape(dy)
		xt := b.Transpose(x, 1, 0, 2, 3)
		col := sliceCols(b, xt, k, stride, pad, 0)
		nhw := ys[0] * ys[2] * ys[3]
		dyt := b.Reshape(b.Transpose(dy, 1, 0, 2, 3), ys[1], nhw)
		g := b.Node("Gemm", []string{dyt, b.Reshape(col, xs[1]*k*k, nhw)}, [][]int64{{ys[1], xs[1] * k * k}}, AInt("transB", 1))[0]
		return b.Reshape(b.Transpose(b.Reshape(g, ws[0], k*k, ws[1]), 0, 2, 1), ws...)
	},
	// longtail's ConvWeightGrad kernel (runtime.custom_ops), which convGrad
	// uses when the Env runs custom ops.
	"custom": func(b *Graph, x, dy string, k, stride, pad int64, ws []int64) string {
		return b.CustomNode("ConvWeightGrad", []string{x, dy}, [][]int64{ws}, AInt("stride", stride))[0]
	},
}

var variantNames = []string{"conv-im2col", "conv-im2col-swap", "conv1ch-im2col", "slice-im2col", "cnhw-gemm", "custom"}

// sliceCols pads x's two spatial axes and concatenates its k² shifted
// (strided) views along axis, offset-major.
func sliceCols(b *Graph, x string, k, stride, pad int64, axis int64) string {
	xs := b.Shape(x)
	p := b.Pad(x, []int64{0, 0, pad, pad, 0, 0, pad, pad})
	oh := (xs[2]+2*pad-k)/stride + 1
	ow := (xs[3]+2*pad-k)/stride + 1
	var parts []string
	for i := int64(0); i < k; i++ {
		for j := int64(0); j < k; j++ {
			parts = append(parts, b.Slice(p, []int64{i, j}, []int64{i + stride*(oh-1) + 1, j + stride*(ow-1) + 1}, []int64{2, 3}, []int64{stride, stride}))
		}
	}
	s := append([]int64(nil), b.Shape(parts[0])...)
	s[axis] *= k * k
	return b.Node("Concat", parts, [][]int64{s}, AInt("axis", axis))[0]
}

// directWeightGrad is dW by its definition, in float64 with direct loops:
// dW[o,c,a,b] = Σ_{n,i,j} dy[n,o,i,j]·x[n,c,i·s+a−p,j·s+b−p] over in-range
// pixels (k×k kernel, stride s, zero padding p). It shares nothing with the
// graphs' im2col.
func directWeightGrad(x, dy []float32, n, ci, co, h, k, stride, pad int64) []float64 {
	oh := (h+2*pad-k)/stride + 1
	dw := make([]float64, co*ci*k*k)
	for b := range n {
		for o := range co {
			for c := range ci {
				for a := range k {
					for e := range k {
						var s float64
						for i := range oh {
							for j := range oh {
								y, xx := i*stride+a-pad, j*stride+e-pad
								if y < 0 || xx < 0 || y >= h || xx >= h {
									continue
								}
								s += float64(dy[((b*co+o)*oh+i)*oh+j]) * float64(x[((b*ci+c)*h+y)*h+xx])
							}
						}
						dw[((o*ci+c)*k+a)*k+e] += s
					}
				}
			}
		}
	}
	return dw
}

// TestWeightGradVariantsAgree keeps the benchmark honest: every variant,
// the one convGrad uses among them, computes dW as its definition does.
func TestWeightGradVariantsAgree(t *testing.T) {
	env := openEnv(t)
	// float32 sums of up to n·oh² ≈ 100 products: relative L2 error ~1e-7.
	const tol = 1e-5
	for _, c := range []struct{ n, ci, co, h, stride int64 }{{3, 4, 5, 6, 1}, {2, 4, 8, 8, 2}, {2, 3, 4, 7, 2}} {
		x, dy := weightGradInputs(c.n, c.ci, c.co, c.h, c.stride)
		want := directWeightGrad(x, dy, c.n, c.ci, c.co, c.h, 3, c.stride, 1)
		for _, name := range variantNames {
			if name == "custom" && !env.CustomOps() {
				continue
			}
			got := runWeightGrad(t, env, name, c.n, c.ci, c.co, c.h, c.stride, 1)
			if e := relErr(got, want); e > tol {
				t.Errorf("%+v: %s differs from the direct dW by %.3g (relative L2); want <= %g", c, name, e, tol)
			}
		}
	}
}

func buildWeightGrad(name string, n, ci, co, h, stride int64) *Graph {
	b := NewGraph("dw_" + name)
	x := b.Input("x", n, ci, h, h)
	oh := (h+2-3)/stride + 1
	dy := b.Input("dy", n, co, oh, oh)
	dw := weightGradVariants[name](b, x, dy, 3, stride, 1, []int64{co, ci, 3, 3})
	b.Output(b.Rename(dw, "dw"))
	return b
}

// weightGradInputs returns the x (n×ci×h×h) and dy (n×co×oh×oh) that
// runWeightGrad feeds, from a fixed seed.
func weightGradInputs(n, ci, co, h, stride int64) (x, dy []float32) {
	rng := rand.New(rand.NewPCG(1, 1))
	oh := (h+2-3)/stride + 1
	x, dy = make([]float32, n*ci*h*h), make([]float32, n*co*oh*oh)
	for _, d := range [][]float32{x, dy} {
		for i := range d {
			d[i] = float32(rng.NormFloat64())
		}
	}
	return x, dy
}

func runWeightGrad(t testing.TB, env *runtime.Env, name string, n, ci, co, h, stride int64, reps int) []float32 {
	t.Helper()
	g := buildWeightGrad(name, n, ci, co, h, stride)
	x, dy := weightGradInputs(n, ci, co, h, stride)
	model, err := g.Marshal()
	if err != nil {
		t.Fatalf("%s: marshal: %v", name, err)
	}
	s, err := env.NewSession(model, []string{"x", "dy"}, []string{"dw"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	out := make([]float32, co*ci*9)
	var tensors []runtime.Value
	for _, v := range []struct {
		data  []float32
		shape []int64
	}{{x, g.Shape("x")}, {dy, g.Shape("dy")}, {out, []int64{co, ci, 3, 3}}} {
		tt, err := runtime.NewTensor(v.data, v.shape...)
		if err != nil {
			t.Fatalf("%s: tensor %v: %v", name, v.shape, err)
		}
		defer tt.Destroy()
		tensors = append(tensors, tt)
	}
	in, outs := tensors[:2], tensors[2:]
	if b, ok := t.(*testing.B); ok {
		if err := s.Run(in, outs); err != nil {
			t.Fatal(err)
		}
		b.ResetTimer()
		reps = b.N
	}
	for i := 0; i < reps; i++ {
		if err := s.Run(in, outs); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// BenchmarkWeightGrad: go test -run '^$' -bench WeightGrad ./graphs
func BenchmarkWeightGrad(b *testing.B) {
	env := openEnv(b)
	for _, l := range []struct{ ci, co, h, stride int64 }{{16, 16, 32, 1}, {32, 32, 16, 1}, {64, 64, 8, 1}, {16, 32, 32, 2}, {32, 64, 16, 2}} {
		for _, name := range variantNames {
			if name == "custom" && !env.CustomOps() {
				continue
			}
			b.Run(fmt.Sprintf("%dx%d_%dpx_s%d/%s", l.ci, l.co, l.h, l.stride, name), func(b *testing.B) {
				runWeightGrad(b, env, name, 128, l.ci, l.co, l.h, l.stride, 0)
			})
		}
	}
}
