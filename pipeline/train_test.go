package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/runtime/ortest"
)

func needORT(t *testing.T) { ortest.Require(t) }

// tinyConfig is a run of a few seconds: a ResNet-8 of width 4 on 4 synthetic
// classes, long-tailed 60 → 15 images.
func tinyConfig(t *testing.T, set ...string) *Config {
	t.Helper()
	base := []string{
		"data.synthetic.classes=4", "data.synthetic.train_per_class=60", "data.synthetic.test_per_class=10", "data.imbalance=4",
		"model.depth=8", "model.width=4", "sampling.batch=16", "train.epochs=3", "train.eval_every=2", "runtime.threads=1",
	}
	c, err := Load(Sources{Set: append(base, set...)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readState(t *testing.T, dir string) *Checkpoint {
	t.Helper()
	ck, err := ReadCheckpoint(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// TestResumeIsExact interrupts training at several points, resumes it, and
// checks that the parameters, momentum, BatchNorm statistics and metrics
// are bitwise those of the uninterrupted run.
func TestResumeIsExact(t *testing.T) {
	needORT(t)
	for _, fused := range []string{"false", "true"} {
		t.Run("fused_step="+fused, func(t *testing.T) { testResumeIsExact(t, fused) })
	}
}

func testResumeIsExact(t *testing.T, fused string) {
	root := t.TempDir()
	cfg := tinyConfig(t, "sampling.name=balanced", "sampling.per_class=3", "sampling.batch=0", "loss.name=weighted_ce", "train.fused_step="+fused)
	want, err := Train(context.Background(), cfg, filepath.Join(root, "whole"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantCk := readState(t, want.Dir)
	// 60+37+23+15 = 135 images in batches of 3×4: 11 steps per epoch.
	if len(want.Records) != 3 || want.Records[0].Eval != nil || want.Records[1].Eval == nil || wantCk.OptimizerStep != 33 {
		t.Fatalf("uninterrupted run: %d records, %d steps", len(want.Records), wantCk.OptimizerStep)
	}
	for _, at := range []struct{ epoch, step int }{{0, 1}, {1, 11}, {2, 4}} {
		dir := filepath.Join(root, fmt.Sprintf("cut-%d-%d", at.epoch, at.step))
		ctx, cancel := context.WithCancel(context.Background())
		_, err := Train(ctx, cfg, dir, Options{OnStep: func(e, s int) {
			if e == at.epoch && s == at.step {
				cancel()
			}
		}})
		cancel()
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("cut at %v: got %v; want ErrInterrupted", at, err)
		}
		if ck := readState(t, dir); ck.Epoch != at.epoch || ck.Step != at.step {
			t.Fatalf("cut at %v: checkpoint at epoch %d step %d", at, ck.Epoch, ck.Step)
		}
		stored, err := Load(Sources{File: filepath.Join(dir, ConfigFile)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Resume(context.Background(), stored, dir, Options{})
		if err != nil {
			t.Fatalf("resume after cut at %v: %v", at, err)
		}
		gotCk := readState(t, dir)
		if gotCk.OptimizerStep != wantCk.OptimizerStep || len(gotCk.State) != len(wantCk.State) {
			t.Errorf("cut at %v: %d steps, %d tensors; want %d, %d", at, gotCk.OptimizerStep, len(gotCk.State), wantCk.OptimizerStep, len(wantCk.State))
		}
		for name, w := range wantCk.State {
			if !slices.Equal(gotCk.State[name], w) {
				t.Errorf("cut at %v: %s differs from the uninterrupted run", at, name)
			}
		}
		if len(got.Records) != len(want.Records) {
			t.Fatalf("cut at %v: %d records; want %d", at, len(got.Records), len(want.Records))
		}
		for i, w := range want.Records {
			g := got.Records[i]
			g.ImagesPerSec, w.ImagesPerSec = 0, 0 // timing
			if g.Loss != w.Loss || g.LR != w.LR || g.TrainAcc != w.TrainAcc || (g.Eval == nil) != (w.Eval == nil) ||
				g.Eval != nil && (g.Eval.Top1 != w.Eval.Top1 || !slices.Equal(g.Eval.PerClass, w.Eval.PerClass)) {
				t.Errorf("cut at %v: epoch %d record %+v; want %+v", at, i+1, g, w)
			}
		}
		if !slices.Equal(got.Final.PerClass, want.Final.PerClass) {
			t.Errorf("cut at %v: final per-class %v; want %v", at, got.Final.PerClass, want.Final.PerClass)
		}
	}
}

func TestResumeRefusesOtherConfig(t *testing.T) {
	needORT(t)
	dir := filepath.Join(t.TempDir(), "run")
	cfg := tinyConfig(t, "train.epochs=2")
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Train(ctx, cfg, dir, Options{OnStep: func(e, s int) { cancel() }})
	cancel()
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("got %v; want ErrInterrupted", err)
	}
	other := *cfg
	other.Optim.LR = 0.05
	if _, err := Resume(context.Background(), &other, dir, Options{}); !errors.Is(err, ErrCheckpointMismatch) || !strings.Contains(err.Error(), "optim.lr") {
		t.Errorf("got %v; want ErrCheckpointMismatch naming optim.lr", err)
	}
	// A damaged checkpoint is refused, never used.
	path := filepath.Join(dir, CheckpointFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x10
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Resume(context.Background(), cfg, dir, Options{}); !errors.Is(err, ErrCorruptCheckpoint) {
		t.Errorf("got %v; want ErrCorruptCheckpoint", err)
	}
	// A new run does not overwrite an existing one.
	if _, err := Train(context.Background(), cfg, dir, Options{}); !errors.Is(err, ErrRunExists) {
		t.Errorf("got %v; want ErrRunExists", err)
	}
}

func TestDivergenceStops(t *testing.T) {
	needORT(t)
	dir := filepath.Join(t.TempDir(), "run")
	cfg := tinyConfig(t, "optim.lr=1e30", "optim.schedule=constant", "train.epochs=2")
	_, err := Train(context.Background(), cfg, dir, Options{})
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("got %v; want ErrDiverged", err)
	}
	t.Log(err)
	for _, w := range []string{"epoch 1/2", "step ", filepath.Join(dir, CheckpointFile), "initial weights"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestTrainWritesRunDir(t *testing.T) {
	needORT(t)
	dir := filepath.Join(t.TempDir(), "run")
	cfg := tinyConfig(t, "train.epochs=2", "train.eval_every=1", "train.checkpoint_every=1", "sampling.name=balanced", "sampling.per_class=2", "sampling.batch=0")
	res, err := Train(context.Background(), cfg, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ConfigFile, MetricsJSONL, MetricsCSV, FinalFile, PerClassCSV, PlotFile, CheckpointFile,
		filepath.Join(CheckpointDir, "epoch-0001.ckpt"), filepath.Join(CheckpointDir, "epoch-0002.ckpt")} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run directory lacks %s: %v", f, err)
		}
	}
	// The stored config is complete: the derived batch (2 per class × 4
	// classes) and the loss defaults for 4 classes are written out.
	stored, err := Load(Sources{File: filepath.Join(dir, ConfigFile)})
	if err != nil {
		t.Fatal(err)
	}
	if stored.Sampling.Batch != 8 || stored.Loss.Weights != "none" || math.Abs(stored.Loss.Hi-math.Sqrt2) > 1e-12 {
		t.Errorf("stored sampling %+v loss %+v", stored.Sampling, stored.Loss)
	}
	if got := res.Final.TrainCounts; !slices.Equal(got, []int{60, 37, 23, 15}) {
		t.Errorf("train counts %v; want the long tail 60 37 23 15", got)
	}
	var test int64
	for _, row := range res.Final.Confusion {
		for _, v := range row {
			test += v
		}
	}
	if test != 40 {
		t.Errorf("evaluated %d test images; want 40", test)
	}
	for _, r := range res.Records {
		if r.Eval == nil || r.ImagesPerSec <= 0 || r.Loss <= 0 {
			t.Errorf("record %+v", r)
		}
	}
}

// TestFusedStepTrains checks that the fused step trains like the split one:
// the same losses per epoch up to float32 rounding.
func TestFusedStepTrains(t *testing.T) {
	needORT(t)
	var losses [2][]float64
	for i, fused := range []string{"false", "true"} {
		cfg := tinyConfig(t, "train.epochs=2", "loss.name=cb", "train.fused_step="+fused)
		res, err := Train(context.Background(), cfg, filepath.Join(t.TempDir(), "run"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Records {
			losses[i] = append(losses[i], r.Loss)
		}
	}
	for e := range losses[0] {
		if d := math.Abs(losses[0][e] - losses[1][e]); d > 1e-3*losses[0][e] {
			t.Errorf("epoch %d: split loss %v, fused %v", e+1, losses[0][e], losses[1][e])
		}
	}
	// Focal loss has no fused form: fused_step falls back to the split step,
	// so the run is the split run exactly.
	var focal [2][]float64
	for i, fused := range []string{"false", "true"} {
		cfg := tinyConfig(t, "train.epochs=1", "loss.name=focal", "train.fused_step="+fused)
		dir := filepath.Join(t.TempDir(), "run")
		if _, err := Train(context.Background(), cfg, dir, Options{}); err != nil {
			t.Fatalf("focal, fused_step=%s: %v", fused, err)
		}
		recs, err := ReadMetrics(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			focal[i] = append(focal[i], r.Loss)
		}
	}
	if len(focal[0]) == 0 || fmt.Sprint(focal[0]) != fmt.Sprint(focal[1]) {
		t.Errorf("focal loss with fused_step: losses %v, split %v; want the split run exactly", focal[1], focal[0])
	}
}
