package posthoc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longtail-ml/longtail/graphs"
	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/runtime"
	"github.com/longtail-ml/longtail/runtime/gonnx"
	"github.com/longtail-ml/longtail/runtime/ortest"
	"github.com/longtail-ml/longtail/sampling"
)

// softmaxRS is the run the tests rebalance: plain cross-entropy with random
// sampling (the paper's Softmax) on 5 synthetic classes at imbalance 10,
// 180…20 training images, 20 validation and 100 test images per class; a
// ResNet-8 of width 8, 8 epochs (about 12 s). Few-shot is < 40 images
// (eval.few_shot): the classes of 35 and 20.
var softmaxRS = []string{
	"data.synthetic.classes=5", "data.synthetic.train_per_class=200", "data.synthetic.test_per_class=100",
	"data.imbalance=10", "data.val_per_class=20", "eval.few_shot=40",
	"model.depth=8", "model.width=8", "loss.name=ce", "sampling.name=random", "sampling.batch=32",
	"train.epochs=8", "train.eval_every=0", "train.seed=1", "runtime.threads=1",
}

// shared is the trained run, made once for the package's tests.
var shared struct {
	once sync.Once
	root string
	dir  string
	cfg  *pipeline.Config
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.root != "" {
		os.RemoveAll(shared.root)
	}
	os.Exit(code)
}

// trainedRun returns the shared Softmax + RS run, training it on first use.
func trainedRun(t *testing.T) (*pipeline.Config, string) {
	t.Helper()
	ortest.Require(t)
	shared.once.Do(func() {
		shared.cfg, shared.err = pipeline.Load(pipeline.Sources{Set: softmaxRS})
		if shared.err != nil {
			return
		}
		if shared.root, shared.err = os.MkdirTemp("", "posthoc-test-"); shared.err != nil {
			return
		}
		shared.dir = filepath.Join(shared.root, "softmax_rs")
		start := time.Now()
		_, shared.err = pipeline.Train(context.Background(), shared.cfg, shared.dir, pipeline.Options{})
		t.Logf("trained the Softmax + RS run in %.1f s", time.Since(start).Seconds())
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.cfg, shared.dir
}

// TestRunLiftsFewShot is the acceptance test: on the synthetic long
// tail every method lifts the few-shot test accuracy of the plain Softmax +
// RS model, each with its setting chosen on the validation split. Over
// train.seed 1..3 the plain model's few-shot accuracy was 0.21–0.51 and the
// lifts were τ-norm +0.045–0.07, logit adjustment +0.15–0.23, cRT
// +0.16–0.43, LWS +0.16–0.41, NCM +0.25–0.42. A second Run reads the
// features from the cache and gives the same report.
func TestRunLiftsFewShot(t *testing.T) {
	cfg, dir := trainedRun(t)
	rep, err := Run(cfg, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := WriteTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + table.String())
	names := []string{Plain}
	for _, m := range rep.Methods {
		if m.Test.Few == nil || m.Val.Few == nil {
			t.Fatalf("%s: no few-shot group among train counts %v", m.Method, rep.TrainCounts)
		}
		if m.Method != Plain && !(*m.Test.Few > *rep.Methods[0].Test.Few) {
			t.Errorf("%s (%s): few-shot test accuracy %.3f; the plain model's %.3f", m.Method, m.Choice, *m.Test.Few, *rep.Methods[0].Test.Few)
		}
		names = append(names, m.Method)
	}
	if want := append([]string{Plain, Plain}, Names()...); !slices.Equal(names, want) {
		t.Errorf("rows %v; want %v", names[1:], want[1:])
	}
	if !slices.Equal(rep.ValCounts, []int{20, 20, 20, 20, 20}) || !slices.Equal(rep.TrainCounts, []int{180, 112, 63, 35, 20}) {
		t.Errorf("val counts %v, train counts %v", rep.ValCounts, rep.TrainCounts)
	}
	if !slices.Equal(rep.Computed, []string{"train", "val", "test"}) && len(rep.Computed) != 0 {
		t.Errorf("computed %v", rep.Computed)
	}
	read, err := ReadReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(read.Methods, rep.Methods) {
		t.Error("posthoc.json does not read back as the report")
	}
	again, err := Run(cfg, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Computed) != 0 {
		t.Errorf("the second run computed %v; want every split from the cache", again.Computed)
	}
	for i, m := range again.Methods {
		m.Seconds = rep.Methods[i].Seconds
		if !reflect.DeepEqual(m, rep.Methods[i]) {
			t.Errorf("%s differs on the second run (from the cache)", m.Method)
		}
	}
	if !Done(dir, cfg, Names()) || Done(dir, cfg, []string{"knn"}) {
		t.Error("Done does not see posthoc.json's methods")
	}
}

// TestSelectionNeverReadsTest: with every test label replaced by −1 (not a
// class) and every test pixel by 0, Run makes the same choices and fits
// the same classifiers as with the real test set, and fails only when it
// scores the test split, after the choices are made.
func TestSelectionNeverReadsTest(t *testing.T) {
	cfg, shared := trainedRun(t)
	// A copy, so that the poisoned test features do not replace the shared
	// run's cache.
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(dir, os.DirFS(shared)); err != nil {
		t.Fatal(err)
	}
	capture := func(data *pipeline.Data) ([]Fitted, error) {
		var got []Fitted
		_, err := Run(cfg, dir, Options{data: data, Selected: func(f []Fitted) { got = f }})
		return got, err
	}
	data, err := pipeline.LoadData(cfg.Data, cfg.Augment.Normalize)
	if err != nil {
		t.Fatal(err)
	}
	want, err := capture(data)
	if err != nil {
		t.Fatal(err)
	}
	poisoned := *data
	test := *data.Test
	test.Pix = make([]uint8, len(data.Test.Pix))
	test.Labels = slices.Repeat([]int32{-1}, data.Test.Len())
	poisoned.Test = &test
	got, err := capture(&poisoned)
	if err == nil || !strings.Contains(err.Error(), "test label -1 of image 0") {
		t.Errorf("Run with unreadable test labels: %v; want it to fail scoring the test split", err)
	}
	if len(got) != len(want) {
		t.Fatalf("with the test set poisoned %d methods were chosen; want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Method != w.Method || !reflect.DeepEqual(g.Choice, w.Choice) || g.ValTop1 != w.ValTop1 || !reflect.DeepEqual(g.Classifier, w.Classifier) {
			t.Errorf("%s: with the test set poisoned chose %s (val %.3f); with the real one %s (val %.3f)", w.Method, g.Choice, g.ValTop1, w.Choice, w.ValTop1)
		}
	}
}

// TestExportFolded: each method folded into the exported model (Export)
// gives, in ONNX Runtime on the test images, the logits of the method's
// classifier on the cached test features to 1e-5, and so the test metrics
// posthoc.json holds; NCM's normalised head runs in the pure-Go backend
// as well.
func TestExportFolded(t *testing.T) {
	cfg, dir := trainedRun(t)
	if !Done(dir, cfg, Names()) {
		if _, err := Run(cfg, dir, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := ReadReport(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := pipeline.LoadData(cfg.Data, cfg.Augment.Normalize)
	if err != nil {
		t.Fatal(err)
	}
	test := data.Test
	key := cacheKey{Split: "test", Checkpoint: rep.CheckpointSHA256, Data: dataDigest(test, data.Mean, data.Std), Images: test.Len(), Dim: 4 * cfg.Model.Width}
	x, err := readCache(filepath.Join(dir, Dir, "features-test.bin"), key)
	if err != nil {
		t.Fatal(err)
	}
	feats := &Split{Name: "test", X: x, Labels: test.Labels, Dim: key.Dim}
	env := ortest.Open(t, runtime.Options{Threads: 1})
	images := make([]float32, test.Len()*test.ImageSize())
	idx := make([]int, test.Len())
	for i := range idx {
		idx[i] = i
	}
	sampling.Assemble(test, idx, data.Mean, data.Std, images)
	for _, m := range rep.Methods {
		t.Run(m.Method, func(t *testing.T) {
			model, err := Export(cfg, dir, m.Method, pipeline.ExportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			info, err := graphs.ParseExport(model)
			if err != nil {
				t.Fatal(err)
			}
			var meta map[string]any
			if err := json.Unmarshal([]byte(info.Metadata[pipeline.MetaPosthoc]), &meta); err != nil || meta["method"] != m.Method {
				t.Errorf("metadata %s = %q (%v)", pipeline.MetaPosthoc, info.Metadata[pipeline.MetaPosthoc], err)
			}
			p, err := env.NewPredictor(model)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got, err := p.Predict(images, test.Len())
			if err != nil {
				t.Fatal(err)
			}
			want := m.Classifier.Logits(feats)
			var worst float64
			for i := range want {
				worst = math.Max(worst, math.Abs(float64(got[i])-float64(want[i]))/math.Max(1, math.Abs(float64(want[i]))))
			}
			if len(got) != len(want) || !(worst < 1e-5) {
				t.Errorf("max relative |export − posthoc| = %.3g over %d logits; want < 1e-5", worst, len(want))
			}
			t.Logf("max relative |export − posthoc| = %.3g over %d logits", worst, len(want))
			f, err := pipeline.EvaluateModel(cfg, p, info, 64)
			if err != nil {
				t.Fatal(err)
			}
			if f.Top1 != m.Test.Top1 || !slices.Equal(f.PerClass, m.Test.PerClass) {
				t.Errorf("the exported model scores top-1 %v per class %v; posthoc.json %v %v", f.Top1, f.PerClass, m.Test.Top1, m.Test.PerClass)
			}
			if m.Method != NCM {
				return
			}
			// The normalised head in the pure-Go backend too (onnx-go).
			g, err := gonnx.New(model)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			var gworst float64
			for i := 0; i < test.Len(); i += 100 {
				n := min(100, test.Len()-i)
				out, err := g.Predict(images[i*test.ImageSize():(i+n)*test.ImageSize()], n)
				if err != nil {
					t.Fatal(err)
				}
				for j, v := range out {
					w := float64(want[i*len(m.Classifier.B)+j])
					gworst = math.Max(gworst, math.Abs(float64(v)-w)/math.Max(1, math.Abs(w)))
				}
			}
			if !(gworst < 1e-4) {
				t.Errorf("pure Go: max relative |export − posthoc| = %.3g; want < 1e-4", gworst)
			}
			t.Logf("pure Go: max relative |export − posthoc| = %.3g", gworst)
		})
	}
	// posthoc.json of another checkpoint is refused.
	other := filepath.Join(t.TempDir(), "other.ckpt")
	ck, err := os.ReadFile(filepath.Join(dir, pipeline.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, append(ck, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Export(cfg, dir, NCM, pipeline.ExportOptions{Checkpoint: other}); err == nil || !strings.Contains(err.Error(), "another checkpoint") {
		t.Errorf("export with another checkpoint: %v", err)
	}
	if _, err := Export(cfg, dir, "knn", pipeline.ExportOptions{}); err == nil || !strings.Contains(err.Error(), `no method "knn"`) {
		t.Errorf("export of an unknown method: %v", err)
	}
}

// TestRunWithoutVal: a run trained without a validation split is refused,
// naming data.val_per_class; setting it afterwards does not match the
// checkpoint (the training images would change).
func TestRunWithoutVal(t *testing.T) {
	ortest.Require(t)
	set := []string{"data.synthetic.classes=3", "data.synthetic.train_per_class=40", "data.synthetic.test_per_class=4", "data.imbalance=4",
		"model.depth=8", "model.width=4", "sampling.batch=16", "train.epochs=1", "runtime.threads=1"}
	cfg, err := pipeline.Load(pipeline.Sources{Set: set})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := pipeline.Train(context.Background(), cfg, dir, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(cfg, dir, Options{}); !errors.Is(err, ErrNoVal) || !strings.Contains(err.Error(), "data.val_per_class") {
		t.Errorf("a run without a validation split: %v; want ErrNoVal naming data.val_per_class", err)
	}
	withVal, err := pipeline.Load(pipeline.Sources{Set: append(set, "data.val_per_class=4")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(withVal, dir, Options{}); !errors.Is(err, pipeline.ErrCheckpointMismatch) || !strings.Contains(err.Error(), "data.val_per_class") {
		t.Errorf("a validation split set after training: %v; want a checkpoint mismatch naming data.val_per_class", err)
	}
}

// TestRunCheckpointChoice: a run without final.json is refused unless a
// checkpoint is named; a mid-epoch checkpoint, named, is rebalanced with a
// warning naming its epoch and step, which posthoc.json and the table's
// heading record.
func TestRunCheckpointChoice(t *testing.T) {
	cfg, shared := trainedRun(t)
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(dir, os.DirFS(shared)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, pipeline.FinalFile)); err != nil {
		t.Fatal(err)
	}
	ck, err := pipeline.ReadCheckpoint(filepath.Join(dir, pipeline.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	ck.Epoch, ck.Step = cfg.Train.Epochs-1, 3 // as an interrupted run leaves it
	mid := filepath.Join(dir, "mid.ckpt")
	if err := pipeline.WriteCheckpoint(mid, ck); err != nil {
		t.Fatal(err)
	}
	one := Config{Methods: []string{LogitAdjust}}
	for _, tc := range []struct {
		name, checkpoint string
		wantErr          error
		epoch, step      int
		log, heading     string
	}{
		{"no final.json, the selected checkpoint", "", ErrUnfinished, 0, 0, "", ""},
		{"no final.json, a checkpoint named", filepath.Join(dir, pipeline.CheckpointFile), nil, cfg.Train.Epochs, 0,
			"", pipeline.CheckpointFile + ", checkpoint epoch 8\n"},
		{"mid-epoch", mid, nil, cfg.Train.Epochs - 1, 3,
			"level=WARN msg=\"posthoc: the checkpoint was taken mid-epoch, not at an epoch's end\" checkpoint=" + mid + " epoch=8 step=3",
			"mid.ckpt, checkpoint epoch 7 + 3 steps of epoch 8 (taken mid-epoch)\n"},
	} {
		var log strings.Builder
		rep, err := Run(cfg, dir, Options{Config: one, Checkpoint: tc.checkpoint, Log: slog.New(slog.NewTextHandler(&log, nil))})
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), "--checkpoint FILE") || !strings.Contains(err.Error(), pipeline.FinalFile) {
				t.Errorf("%s: %v; want %v naming final.json and --checkpoint FILE", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if strings.Contains(log.String(), "WARN") != (tc.log != "") || !strings.Contains(log.String(), tc.log) {
			t.Errorf("%s: the log\n%s\nwant %q", tc.name, log.String(), tc.log)
		}
		read, err := ReadReport(dir)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Epoch != tc.epoch || rep.Step != tc.step || read.Epoch != tc.epoch || read.Step != tc.step {
			t.Errorf("%s: epoch %d step %d (posthoc.json %d, %d); want %d, %d", tc.name, rep.Epoch, rep.Step, read.Epoch, read.Step, tc.epoch, tc.step)
		}
		var table strings.Builder
		if err := WriteTable(&table, rep); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(table.String(), tc.heading) {
			t.Errorf("%s: the table starts\n%s\nwant %q", tc.name, table.String(), tc.heading)
		}
	}
}
