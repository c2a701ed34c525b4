package graphs

import (
	"os"
	"testing"

	"github.com/longtail-ml/longtail/runtime"
)

// TestGPUGradientsMatchCPU runs the training graphs of ResNet-32 on the CUDA
// provider and on the CPU provider of the same library and compares the
// gradients. It runs only with LONGTAIL_GPU=1 (scripts/gpu-check.sh), on a
// machine with an NVIDIA GPU and an ORT GPU build.
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
	for _, p := range tr.Trainable() {
		if e := relErr(got[p.Name+".grad"], f64(want[p.Name+".grad"])); e > 1e-3 {
			t.Errorf("%s: CUDA gradient differs from CPU by %.3g", p.Name, e)
		}
	}
}
