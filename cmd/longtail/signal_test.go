package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/longtail-ml/longtail/pipeline"
)

// TestInterruptAndResume is acceptance 2: the built binary gets SIGINT
// during training, writes a checkpoint and exits 130; `train --resume`
// finishes the run, and its parameters, BatchNorm statistics, momentum and
// metrics are bitwise those of an uninterrupted run with the same seed.
func TestInterruptAndResume(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "longtail")
	build := command(t, "go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// 400+251+158+100 = 909 training images in batches of 4×4: 56 steps
	// per epoch.
	cfg := write(t, filepath.Join(dir, "c.yaml"), `
data:
  synthetic: {classes: 4, train_per_class: 400, test_per_class: 10}
  imbalance: 4
model: {depth: 8, width: 4}
sampling: {name: balanced, per_class: 4}
loss: {name: weighted_ce}
train: {epochs: 8, eval_every: 3}
runtime: {threads: 1}
`)
	runs := filepath.Join(dir, "runs")
	if code, _, errs := cli(t, "train", "-c", cfg, "--out", runs, "--name", "whole"); code != 0 {
		t.Fatal(errs)
	}

	cut := filepath.Join(runs, "cut")
	// Debug logging reports every step; the signal goes out at step 10 of
	// the second epoch, 46 steps before its end.
	cmd := command(t, bin, "train", "-c", cfg, "--out", runs, "--name", "cut", "--log-level", "debug")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "msg=step epoch=2 step=10 ") {
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
		t.Fatalf("interrupted run: %v; want exit code %d\n%s", err, exitInterrupted, log.String())
	}
	if !strings.Contains(log.String(), "longtail train --resume "+cut) {
		t.Errorf("the interruption does not say how to resume:\n%s", log.String())
	}
	ck, err := pipeline.ReadCheckpoint(filepath.Join(cut, pipeline.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("interrupted at epoch %d, step %d", ck.Epoch+1, ck.Step)
	if ck.Epoch != 1 || ck.Step < 10 {
		t.Fatalf("checkpoint at epoch %d step %d; want the middle of epoch 2", ck.Epoch+1, ck.Step)
	}

	resume := command(t, bin, "train", "--resume", cut)
	start := time.Now()
	if out, err := resume.CombinedOutput(); err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	t.Logf("resumed in %s", time.Since(start).Round(time.Millisecond))

	whole := filepath.Join(runs, "whole")
	a, err := pipeline.ReadCheckpoint(filepath.Join(whole, pipeline.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := pipeline.ReadCheckpoint(filepath.Join(cut, pipeline.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if a.OptimizerStep != b.OptimizerStep || len(a.State) != len(b.State) {
		t.Fatalf("steps %d vs %d, tensors %d vs %d", a.OptimizerStep, b.OptimizerStep, len(a.State), len(b.State))
	}
	for name, v := range a.State {
		if !slices.Equal(v, b.State[name]) {
			t.Errorf("%s differs between the uninterrupted and the resumed run", name)
		}
	}
	ra, err := pipeline.ReadMetrics(whole)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := pipeline.ReadMetrics(cut)
	if err != nil {
		t.Fatal(err)
	}
	if len(ra) != 8 || len(rb) != 8 {
		t.Fatalf("%d and %d metric rows; want 8", len(ra), len(rb))
	}
	for i := range ra {
		x, y := ra[i], rb[i]
		x.ImagesPerSec, y.ImagesPerSec = 0, 0
		if x.Loss != y.Loss || x.LR != y.LR || x.TrainAcc != y.TrainAcc || (x.Eval == nil) != (y.Eval == nil) ||
			x.Eval != nil && (x.Eval.Top1 != y.Eval.Top1 || !slices.Equal(x.Eval.PerClass, y.Eval.PerClass)) {
			t.Errorf("epoch %d: resumed %+v; uninterrupted %+v", i+1, y, x)
		}
	}
}
