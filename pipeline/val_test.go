package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidationSelectsWithoutTest trains with a validation split and
// train.select best_val: every evaluation epoch is validated, the test set
// is evaluated only after the last epoch, and the final numbers are the
// test metrics of the best validation epoch's weights.
func TestValidationSelectsWithoutTest(t *testing.T) {
	needORT(t)
	for _, lr := range []string{"0.05", "0.8"} {
		t.Run("lr="+lr, func(t *testing.T) {
			cfg := tinyConfig(t, "data.val_per_class=5", "train.select=best_val", "train.eval_every=1", "train.epochs=4",
				"optim.schedule=constant", "optim.lr="+lr)
			dir := filepath.Join(t.TempDir(), "run")
			res, err := Train(context.Background(), cfg, dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			best := 0
			for i, r := range res.Records {
				if r.Val == nil {
					t.Fatalf("epoch %d has no validation metrics", r.Epoch)
				}
				if (r.Eval != nil) != (i == len(res.Records)-1) {
					t.Fatalf("epoch %d: test evaluated %v; want only after the last epoch", r.Epoch, r.Eval != nil)
				}
				if r.Val.Top1 > res.Records[best].Val.Top1 {
					best = i
				}
			}
			f := res.Final
			if f.Select != SelectBestVal || f.Epoch != res.Records[best].Epoch || f.Val.Top1 != res.Records[best].Val.Top1 {
				t.Fatalf("final: select %q epoch %d val %v; want best_val epoch %d val %v", f.Select, f.Epoch, f.Val.Top1,
					res.Records[best].Epoch, res.Records[best].Val.Top1)
			}
			got, err := EvaluateCheckpoint(cfg, dir, filepath.Join(dir, BestFile))
			if err != nil {
				t.Fatal(err)
			}
			if got.Epoch != f.Epoch || got.Top1 != f.Top1 {
				t.Fatalf("best.ckpt: epoch %d test top-1 %v; final.json says epoch %d, %v", got.Epoch, got.Top1, f.Epoch, f.Top1)
			}
			last := res.Records[len(res.Records)-1]
			if isLast := best == len(res.Records)-1; isLast != (f.Last == nil) {
				t.Fatalf("best epoch %d of %d, final.last %v", f.Epoch, last.Epoch, f.Last)
			}
			if f.Last != nil && f.Last.Top1 != last.Eval.Top1 {
				t.Fatalf("final.last top-1 %v; the last epoch's test top-1 is %v", f.Last.Top1, last.Eval.Top1)
			}
			t.Logf("best validation epoch %d of %d", f.Epoch, last.Epoch)
		})
	}
}

func TestSelectBestValNeedsValidation(t *testing.T) {
	needORT(t)
	cfg := tinyConfig(t, "train.select=best_val")
	_, err := Train(context.Background(), cfg, filepath.Join(t.TempDir(), "run"), Options{})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "train.select" {
		t.Fatalf("best_val without a validation split: %v; want a config error on train.select", err)
	}
}

// TestSubsetPinsTheImages writes a run's subset, trains nothing, and loads
// the data again through data.subset: the same images; data that differs
// is refused with a one-line error.
func TestSubsetPinsTheImages(t *testing.T) {
	cfg := tinyConfig(t, "data.val_per_class=5", "data.lt_pick=ldam", "data.lt_seed=3")
	d, err := LoadData(cfg.Data, cfg.Augment.Normalize)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "subset.json")
	if err := WriteSubset(path, d.Subset); err != nil {
		t.Fatal(err)
	}
	pinned := *cfg
	pinned.Data.Subset, pinned.Data.LTPick, pinned.Data.LTSeed = path, "seeded", 99
	p, err := LoadData(pinned.Data, pinned.Augment.Normalize)
	if err != nil {
		t.Fatal(err)
	}
	if p.Train.Digest() != d.Train.Digest() || p.Val.Digest() != d.Val.Digest() {
		t.Fatal("data.subset chose other images than the draw it was written from")
	}
	other := pinned
	other.Data.Synthetic.Seed++
	_, err = LoadData(other.Data, other.Augment.Normalize)
	if !errors.Is(err, ErrSubsetMismatch) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), path) {
		t.Fatalf("subset on other data: %v; want a one-line ErrSubsetMismatch naming the file", err)
	}
	noVal := pinned
	noVal.Data.ValPerClass = 7
	if _, err := LoadData(noVal.Data, noVal.Augment.Normalize); !errors.Is(err, ErrConfig) {
		t.Fatalf("data.val_per_class 7 with a subset of 5: %v; want a config error", err)
	}
	// Pinned without its validation split: the run's subset is the
	// training lists alone, and reads back.
	trainOnly := pinned
	trainOnly.Data.ValPerClass = 0
	q, err := LoadData(trainOnly.Data, trainOnly.Augment.Normalize)
	if err != nil {
		t.Fatal(err)
	}
	if q.Val != nil || q.Train.Digest() != d.Train.Digest() {
		t.Fatal("data.val_per_class 0 with a subset: want its training images and no validation split")
	}
	back := filepath.Join(t.TempDir(), "run-subset.json")
	if err := WriteSubset(back, q.Subset); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSubset(back); err != nil {
		t.Fatalf("the run's subset does not read back: %v", err)
	}
	// A file whose validation list overlaps its training list is refused
	// even with a valid digest.
	bad := NewSubsetFrom(d.Subset, [][]int{{d.Subset.Train[0][0]}, {d.Subset.Val[1][0]}, {d.Subset.Val[2][0]}, {d.Subset.Val[3][0]}})
	overlap := filepath.Join(t.TempDir(), "overlap.json")
	if err := WriteSubset(overlap, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSubset(overlap); err == nil || !strings.Contains(err.Error(), "in both the training and the validation lists") {
		t.Fatalf("overlapping lists: %v", err)
	}
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), `"lt_seed": 3`, `"lt_seed": 4`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadData(pinned.Data, pinned.Augment.Normalize); err == nil || !strings.Contains(err.Error(), "edited or damaged") {
		t.Fatalf("edited subset: %v", err)
	}
}

// TestResumeRepairsBest resumes a best_val run stopped between its
// end-of-epoch checkpoint and best.ckpt (best.ckpt one epoch behind the
// best validation epoch): the resume writes best.ckpt from the checkpoint,
// and the final numbers are that epoch's. A resume on other images than the
// run's subset.json is refused.
func TestResumeRepairsBest(t *testing.T) {
	needORT(t)
	cfg := tinyConfig(t, "data.val_per_class=5", "train.select=best_val", "train.eval_every=1", "train.epochs=3",
		"train.checkpoint_every=1", "optim.schedule=constant")
	root := t.TempDir()
	whole := filepath.Join(root, "whole")
	if _, err := Train(context.Background(), cfg, whole, Options{}); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadMetrics(whole)
	if err != nil {
		t.Fatal(err)
	}
	cut := func(name string) string {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for dst, src := range map[string]string{
			ConfigFile:     ConfigFile,
			SubsetFile:     SubsetFile,
			CheckpointFile: filepath.Join(CheckpointDir, "epoch-0002.ckpt"),
			BestFile:       filepath.Join(CheckpointDir, "epoch-0001.ckpt"),
		} {
			b, err := os.ReadFile(filepath.Join(whole, src))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		two := append([]EpochRecord(nil), recs[:2]...)
		v := *two[1].Val
		v.Top1 = 1 // epoch 2 is the best validation epoch
		two[1].Val = &v
		if err := WriteMetrics(dir, []string{"a", "b", "c", "d"}, two); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dir := cut("stopped")
	res, err := Resume(context.Background(), cfg, dir, Options{})
	if err != nil {
		t.Fatalf("resume with a stale best.ckpt: %v", err)
	}
	want, err := EvaluateCheckpoint(cfg, whole, filepath.Join(whole, CheckpointDir, "epoch-0002.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Final.Epoch != 2 || res.Final.Top1 != want.Top1 {
		t.Fatalf("final: epoch %d top-1 %v; want epoch 2's %v", res.Final.Epoch, res.Final.Top1, want.Top1)
	}

	other := cut("other-subset")
	cfg2 := *cfg
	cfg2.Data.LTSeed++
	d, err := LoadData(cfg2.Data, cfg2.Augment.Normalize)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSubset(filepath.Join(other, SubsetFile), d.Subset); err != nil {
		t.Fatal(err)
	}
	if _, err := Resume(context.Background(), cfg, other, Options{}); !errors.Is(err, ErrCheckpointMismatch) || !strings.Contains(err.Error(), SubsetFile) {
		t.Fatalf("resume on other images: %v; want ErrCheckpointMismatch naming %s", err, SubsetFile)
	}
}
