package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/longtail-ml/longtail/graphs"
	"github.com/longtail-ml/longtail/runtime"
	"github.com/longtail-ml/longtail/runtime/gonnx"
	"github.com/longtail-ml/longtail/sampling"
)

// exportedRun trains the tiny config, exports it and returns the run, its
// config, the model bytes and what ParseExport reads from them.
func exportedRun(t *testing.T, set ...string) (*Result, *Config, []byte, *graphs.ExportInfo) {
	t.Helper()
	cfg := tinyConfig(t, set...)
	res, err := Train(context.Background(), cfg, filepath.Join(t.TempDir(), "run"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	model, err := Export(cfg, res.Dir, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := graphs.ParseExport(model)
	if err != nil {
		t.Fatal(err)
	}
	return res, cfg, model, info
}

// TestExportedRun checks the acceptance 1 and 2 on a trained run:
// the exported model's logits against the training network's evaluation
// mode (Net.Predict with the checkpoint's state) for both backends, and
// EvaluateModel reproducing final.json's top-1 and per-class accuracies.
func TestExportedRun(t *testing.T) {
	needORT(t)
	res, cfg, model, info := exportedRun(t)

	// Metadata, checked against the run's own files.
	ck := readState(t, res.Dir)
	wantTop1 := strconv.FormatFloat(res.Final.Top1, 'g', -1, 64)
	sum := sha256.Sum256([]byte(info.Metadata[MetaConfig]))
	switch {
	case !slices.Equal(info.Classes, res.Final.Classes):
		t.Errorf("classes %q; the run's %q", info.Classes, res.Final.Classes)
	case info.Metadata[MetaTrainCounts] != "[60,37,23,15]":
		t.Errorf("train_counts %s", info.Metadata[MetaTrainCounts])
	case info.Metadata[MetaEpoch] != "3" || info.Metadata[MetaTestTop1] != wantTop1:
		t.Errorf("epoch %s, test_top1 %s; the run: 3, %s", info.Metadata[MetaEpoch], info.Metadata[MetaTestTop1], wantTop1)
	case info.Metadata[MetaConfigSHA256] != hex.EncodeToString(sum[:]):
		t.Errorf("config_sha256 does not hash the config")
	case !strings.Contains(info.Metadata[MetaMethod], `"sampling":"random"`) || !strings.Contains(info.Metadata[MetaImbalance], `"factor":4`):
		t.Errorf("method %s, imbalance %s", info.Metadata[MetaMethod], info.Metadata[MetaImbalance])
	}
	again, err := Export(cfg, res.Dir, ExportOptions{})
	if err != nil || !bytes.Equal(again, model) {
		t.Errorf("a second export differs (%v)", err)
	}

	// The reference: the training network in evaluation mode.
	env, err := runtime.Open(runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	data, err := LoadData(cfg.Data, cfg.Augment.Normalize)
	if err != nil {
		t.Fatal(err)
	}
	test := data.Test
	net, err := NewNetwork(env, cfg.Model, cfg.Optim, len(test.Classes), 16, test.C, test.H, test.W, cfg.Train.Seed)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.SetState(ck.State); err != nil {
		t.Fatal(err)
	}
	idx := make([]int, test.Len())
	for i := range idx {
		idx[i] = i
	}
	x := make([]float32, test.Len()*test.ImageSize())
	sampling.Assemble(test, idx, data.Mean, data.Std, x)
	want, err := net.Predict(x, test.Len())
	if err != nil {
		t.Fatal(err)
	}

	ortP, err := env.NewPredictor(model)
	if err != nil {
		t.Fatal(err)
	}
	defer ortP.Close()
	goP, err := gonnx.New(model)
	if err != nil {
		t.Fatal(err)
	}
	defer goP.Close()
	for _, b := range []struct {
		name string
		p    Predictor
		tol  float64
	}{{"ort", ortP, 1e-4}, {"go", goP, 1e-3}} {
		t.Run(b.name, func(t *testing.T) {
			got, err := b.p.Predict(x, test.Len())
			if err != nil {
				t.Fatal(err)
			}
			var d float64
			for i := range want {
				d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
			}
			if len(got) != len(want) || !(d < b.tol) {
				t.Errorf("max |export − Net.Predict| = %.3g over %d logits; want < %g", d, len(want), b.tol)
			}
			t.Logf("max |export − Net.Predict| = %.3g", d)
			// eval_batch 7 leaves a remainder batch, as real test sets do.
			f, err := EvaluateModel(cfg, b.p, info, 7)
			if err != nil {
				t.Fatal(err)
			}
			if f.Top1 != res.Final.Top1 || !slices.Equal(f.PerClass, res.Final.PerClass) || f.Epoch != res.Final.Epoch ||
				!slices.Equal(f.TrainCounts, res.Final.TrainCounts) || f.SD != res.Final.SD {
				t.Errorf("EvaluateModel: top-1 %v per class %v epoch %d; final.json %v %v %d", f.Top1, f.PerClass, f.Epoch, res.Final.Top1, res.Final.PerClass, res.Final.Epoch)
			}
		})
	}
}

func TestExportErrors(t *testing.T) {
	needORT(t)
	res, cfg, model, info := exportedRun(t)
	// A checkpoint of another config is refused, naming the key.
	other := tinyConfig(t, "optim.lr=0.05")
	if _, err := Export(other, res.Dir, ExportOptions{}); !errors.Is(err, ErrCheckpointMismatch) || !strings.Contains(err.Error(), "optim.lr") {
		t.Errorf("export under another config: %v", err)
	}
	if _, err := Export(cfg, res.Dir, ExportOptions{Checkpoint: filepath.Join(res.Dir, "none.ckpt")}); err == nil {
		t.Error("export of a missing checkpoint: no error")
	}
	// The model against data it does not fit.
	env, err := runtime.Open(runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	p, err := env.NewPredictor(model)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	five := tinyConfig(t, "data.synthetic.classes=5")
	if _, err := EvaluateModel(five, p, info, 8); !errors.Is(err, ErrModelData) || !strings.Contains(err.Error(), "classes") {
		t.Errorf("4-class model on 5-class data: %v", err)
	}
	// A model of 16×16 inputs with the same classes on the 32×32 test set.
	s := graphs.Spec{Depth: 8, Width: 4, Classes: 4, Channels: 3, Height: 16, ImageWidth: 16}
	m, err := graphs.BuildExport(s, graphs.Init(s.Params(), 1), &graphs.ExportOptions{Classes: info.Classes, Mean: info.Mean, Std: info.Std})
	if err != nil {
		t.Fatal(err)
	}
	small, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	smallInfo, err := graphs.ParseExport(small)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := env.NewPredictor(small)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if _, err := EvaluateModel(cfg, sp, smallInfo, 8); !errors.Is(err, ErrModelData) || !strings.Contains(err.Error(), "3×16×16 images; the test set's are 3×32×32") {
		t.Errorf("16×16 model on 32×32 data: %v", err)
	}
}
