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
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), `"lt_seed": 3`, `"lt_seed": 4`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadData(pinned.Data, pinned.Augment.Normalize); err == nil || !strings.Contains(err.Error(), "edited or damaged") {
		t.Fatalf("edited subset: %v", err)
	}
}
