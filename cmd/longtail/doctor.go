package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/runtime"
)

type doctorCmd struct {
	app *app
	cf  configFlags
}

func newDoctorCmd(a *app) *cobra.Command {
	c := &doctorCmd{app: a}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the set-up: ONNX Runtime, providers, cores, and one training step",
		Long: `doctor loads ONNX Runtime as the config's runtime section says (by default the
library ./scripts/setup.sh installs in .ort/, or $LONGTAIL_ORT_LIBRARY), prints its
version, path and execution providers, the CPU cores and the Go version, then
runs one training step and one evaluation of a small ResNet-8 to show that the
graphs run. It exits non-zero, with one line saying what to do, when something
is missing.

With runtime.provider cuda it loads the GPU build that ./scripts/setup.sh --gpu
installs in .ort/gpu/ (unless runtime.library or $LONGTAIL_ORT_LIBRARY names
another), lists the CUDA 13 and cuDNN 9 libraries its CUDA provider needs and
whether each loads, and fails naming the missing ones when the provider
bridge cannot load the provider.`,
		Example: `  longtail doctor
  LONGTAIL_ORT_LIBRARY=/opt/onnxruntime/lib/libonnxruntime.so longtail doctor
  longtail doctor --set runtime.provider=cuda`,
		Args: cobra.NoArgs,
		RunE: c.run,
	}
	c.cf.register(cmd)
	return cmd
}

func (c *doctorCmd) run(cmd *cobra.Command, _ []string) error {
	w := c.app.stdout
	fmt.Fprintf(w, "%-10s %s\n", "version", versionString())
	fmt.Fprintf(w, "%-10s %d\n", "cpu cores", goruntime.NumCPU())
	cfg, err := pipeline.Load(c.cf.sources(cmd, c.cf.file))
	if err != nil {
		return err
	}
	env, err := runtime.Open(cfg.Runtime)
	var pe *runtime.ProviderError
	if errors.As(err, &pe) {
		// Say what the provider lacks, library by library, before failing.
		fmt.Fprintf(w, "%-10s %s\n", "library", pe.Library)
		printLibs(w, pe.Libs)
	}
	if err != nil {
		return err
	}
	defer env.Close()
	o := env.Options()
	fmt.Fprintf(w, "%-10s %s\n", "onnx rt", env.Version())
	fmt.Fprintf(w, "%-10s %s\n", "library", env.Library())
	fmt.Fprintf(w, "%-10s %s (using %s, %d threads, optimisation %s)\n", "providers", strings.Join(env.Providers(), ", "), o.Provider, o.Threads, cfg.Runtime.OptLevel)
	kernels := "standard ONNX ops only"
	if env.CustomOps() {
		kernels = "longtail's custom operators (3×3 convolutions and their gradients, batch norm + ReLU, SGD)"
	}
	fmt.Fprintf(w, "%-10s %s (runtime.custom_ops %s)\n", "kernels", kernels, o.CustomOps)
	libs, err := runtime.CUDALibraries(env.Library())
	if err != nil {
		return err
	}
	printLibs(w, libs)

	const batch, classes = 8, 4
	m := pipeline.ModelConfig{Depth: 8, Width: 8}
	net, err := pipeline.NewNetwork(env, m, cfg.Optim, classes, batch, 3, 32, 32, 1)
	if err != nil {
		return fmt.Errorf("building a ResNet-8: %w", err)
	}
	defer net.Close()
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*3*32*32)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	start := time.Now()
	logits, err := net.Forward(x)
	if err != nil {
		return fmt.Errorf("training step: %w", err)
	}
	grad := make([]float32, len(logits))
	for i := range grad {
		grad[i] = 0.01
	}
	if err := net.Backward(grad, 0.1); err != nil {
		return fmt.Errorf("training step: %w", err)
	}
	step := time.Since(start)
	if _, err := net.Predict(x, batch); err != nil {
		return fmt.Errorf("evaluation: %w", err)
	}
	fmt.Fprintf(w, "%-10s ok (ResNet-8, batch %d: training step %s)\n", "check", batch, step.Round(time.Millisecond))
	return nil
}

// printLibs lists the CUDA provider's libraries and whether each loads: the
// NVIDIA driver's first, since without it there is no GPU to use; a library
// the loader does not find is "missing", any other failure quotes the loader.
func printLibs(w io.Writer, libs []runtime.Lib) {
	width := 0
	for _, l := range libs {
		width = max(width, len(l.Name))
	}
	line := func(l runtime.Lib) {
		status := "loads"
		switch {
		case l.Err == "":
		case strings.HasSuffix(l.Err, "cannot open shared object file: No such file or directory"):
			status = "missing"
		default:
			status = "missing: " + l.Err
		}
		if l.Name == runtime.DriverLibrary && l.Err != "" {
			status += " (the NVIDIA driver's library: no driver, so no usable GPU here)"
		}
		fmt.Fprintf(w, "%-10s %-*s %s\n", "cuda lib", width, l.Name, status)
	}
	for _, l := range libs {
		if l.Name == runtime.DriverLibrary {
			line(l)
		}
	}
	for _, l := range libs {
		if l.Name != runtime.DriverLibrary {
			line(l)
		}
	}
}
