package runtime

import (
	"os"
	"testing"

	"github.com/longtail-ml/longtail/graphs"
)

// conv3x3 is a graph of one Conv3x3 (custom op) of n×c×h×w images by c×c×3×3
// weights.
func conv3x3(t *testing.T, n, c, h, w int64) *graphs.Graph {
	t.Helper()
	g := graphs.NewGraph("conv3x3")
	x, wt := g.Input("x", n, c, h, w), g.Input("w", c, c, 3, 3)
	g.Output(g.CustomNode("Conv3x3", []string{x, wt}, [][]int64{{n, c, h, w}})[0])
	return g
}

// runOnce creates a session of g, runs it on zeros and returns the session.
func runOnce(t *testing.T, env *Env, g *graphs.Graph) *Session {
	t.Helper()
	model, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, err := env.NewSession(model, g.Inputs(), g.Outputs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]Value, len(g.Inputs()))
	for i, name := range g.Inputs() {
		shape := g.Shape(name)
		n := int64(1)
		for _, d := range shape {
			n *= d
		}
		v, err := NewTensor(make([]float32, n), shape...)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Destroy()
		in[i] = v
	}
	out := make([]Value, len(g.Outputs()))
	if err := s.Run(in, out); err != nil {
		s.Destroy()
		t.Fatal(err)
	}
	for _, v := range out {
		v.Destroy()
	}
	return s
}

// The kernels' scratch buffers are bounded and do not outlive their users:
// after one 4100×4100 Conv3x3 (67 MB of scratch) a buffer keeps at most
// 64 MiB; a small layer's buffer stays while its session lives, and goes
// with the last session with custom ops (or else with the Env). (They once only
// grew and survived Env.Close: 151 MB of RSS against 20 MB with ONNX Conv.)
func TestScratchReleased(t *testing.T) {
	env, err := Open(Options{Threads: 1, CustomOps: "on"})
	if err != nil {
		if os.Getenv("LONGTAIL_REQUIRE_ORT") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	defer env.Close()
	const keep = 64 << 20
	big := runOnce(t, env, conv3x3(t, 1, 1, 4100, 4100))
	if b := scratchBytes(); b > keep {
		t.Errorf("after a 4100×4100 Conv3x3 the scratch holds %d bytes; want at most %d", b, keep)
	}
	small := runOnce(t, env, conv3x3(t, 2, 16, 32, 32))
	if b := scratchBytes(); b == 0 {
		t.Errorf("a live session's scratch was freed: %d bytes held; want it kept between runs", b)
	}
	big.Destroy()
	small.Destroy()
	if b := scratchBytes(); b != 0 {
		t.Errorf("with no session left the scratch holds %d bytes; want 0", b)
	}
	env.Close()
	if b := scratchBytes(); b != 0 {
		t.Errorf("after Env.Close the scratch holds %d bytes; want 0", b)
	}
}
