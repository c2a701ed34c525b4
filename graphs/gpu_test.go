package graphs

import (
	"os"
	"testing"

	"github.com/longtail-ml/longtail/runtime"
)

// TestGPUGradientsMatchCPU runs the training graphs of ResNet-32 on the CUDA
// provider and on the CPU provider of the same library and compares the
// gradients. It runs only with LONGTAIL_GPU=1 (scripts/gpu-check.sh), on a
// machine with an NVIDIA GPU and the GPU build (./scripts/setup.sh --gpu, or
// $LONGTAIL_ORT_LIBRARY); the cuda provider must be opened first, since both
// share the one library a process loads.
func TestGPUGradientsMatchCPU(t *testing.T) {
	if os.Getenv("LONGTAIL_GPU") == "" {
		t.Skip("set LONGTAIL_GPU=1 on a machine with a GPU (scripts/gpu-check.sh)")
	}
	gpu, err := runtime.Open(runtime.Options{Provider: "cuda"})
	if err != nil {
		t.Fatal(err)
	}
	defer gpu.Close()
	cpu, err := runtime.Open(runtime.Options{Provider: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	c := newSmallCase(t)
	c.spec = ResNet32(10)
	c.spec.PrimitiveNorm = true // ORT's CUDA provider has no training BatchNormalization
	c.batch = 32
	c.state = Init(c.spec.Params(), 5)
	c.x = make([]float32, c.batch*3*32*32)
	for i := range c.x {
		c.x[i] = float32(i%29)/29 - 0.5
	}
	c.dlog = make([]float32, c.batch*10)
	for i := range c.dlog {
		c.dlog[i] = float32(i%7-3) / 10
	}
	tr, err := BuildTraining(c.spec, c.batch, Optim{Grads: true})
	if err != nil {
		t.Fatal(err)
	}
	_, want := c.step(t, cpu, tr)
	_, got := c.step(t, gpu, tr)
	// Full float32 on both (runtime.tf32 false): only summation order differs.
	const tol = 1e-4
	worst, worstName := 0.0, ""
	for _, p := range tr.Trainable() {
		e := relErr(got[p.Name+".grad"], f64(want[p.Name+".grad"]))
		if e > worst {
			worst, worstName = e, p.Name
		}
		if e > tol {
			t.Errorf("%s: CUDA gradient differs from CPU by %.3g (relative, L2); want < %g", p.Name, e, tol)
		}
	}
	t.Logf("ResNet-32, batch %d: worst relative difference of a CUDA gradient from the CPU one %.3g (%s), %d tensors",
		c.batch, worst, worstName, len(tr.Trainable()))
}
