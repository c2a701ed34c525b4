package graphs

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/longtail-ml/longtail/internal/ci"
)

// TestGradientsMatchPyTorch checks the ONNX training graph against PyTorch's
// autograd on the reference model (../shared/anchors/torch_resnet32.py grads).
// It skips where PyTorch or the anchor script is absent, and fails there
// under CI=true (package ci).
func TestGradientsMatchPyTorch(t *testing.T) {
	anchor, err := filepath.Abs("../../shared/anchors/torch_resnet32.py")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(anchor); err != nil {
		ci.Skip(t, "no PyTorch anchor (../shared beside the checkout): %v", err)
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		ci.Skip(t, "PyTorch not installed for /usr/bin/python3 (apt-get install python3-torch)")
	}
	env := openEnv(t)
	c := newSmallCase(t)
	c.spec.Width = 16 // the anchor's widths are fixed at 16/32/64
	c.state = Init(c.spec.Params(), 99)
	dir := t.TempDir()
	arrays := map[string][]float32{"x": c.x, "dlogits": c.dlog}
	shapes := map[string][]int64{"x": {int64(c.batch), int64(c.spec.Channels), int64(c.spec.Height), int64(c.spec.ImageWidth)},
		"dlogits": {int64(c.batch), int64(c.spec.Classes)}}
	for _, p := range c.spec.Params() {
		arrays[p.Name] = c.state[p.Name]
		shapes[p.Name] = p.Shape
	}
	in, out := filepath.Join(dir, "in.npz"), filepath.Join(dir, "out.npz")
	labels := make([]int64, c.batch)
	if err := writeNPZ(in, arrays, shapes, map[string][]int64{"y": labels, "num_classes": {int64(c.spec.Classes)}}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", anchor, "grads", "--depth", "8", "--threads", "1", "--npz", in, "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("anchor: %v\n%s", err, b)
	}
	want, err := readNPZ(out)
	if err != nil {
		t.Fatal(err)
	}
	// Both paths: the standard-op graphs and the custom ops.
	paths(t, func(t *testing.T, custom bool) {
		spec := c.spec
		check := onPath(t, env, &spec, custom)
		tr, err := BuildTraining(spec, c.batch, Optim{Grads: true})
		if err != nil {
			t.Fatal(err)
		}
		check(tr.Backward)
		fwd, bwd := c.step(t, env, tr)
		if e := relErr(fwd["logits"], f64(want["logits"])); e > 1e-5 {
			t.Errorf("logits differ from PyTorch by %.3g", e)
		}
		worst := 0.0
		for _, p := range tr.Trainable() {
			w, ok := want["grad:"+p.Name]
			if !ok {
				t.Errorf("PyTorch has no gradient for %s", p.Name)
				continue
			}
			e := relErr(bwd[p.Name+".grad"], f64(w))
			worst = math.Max(worst, e)
			if e > 1e-4 {
				t.Errorf("%s: relative error %.3g against PyTorch", p.Name, e)
			}
		}
		t.Logf("worst gradient relative error against PyTorch: %.2g", worst)
	})
}
