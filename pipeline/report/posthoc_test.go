package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/posthoc"
)

// writeFakePosthoc writes posthoc.json into run directory rd: the plain
// model and each of methods with the given per-class test accuracy (10
// test images per class, as writeFakeSweep), for the run's checkpoint, or
// for ckpt in rd when not empty. It gives the run a config.yaml (the
// defaults) and the checkpoint file, unless there are.
func writeFakePosthoc(t *testing.T, rd, ckpt string, plain []float64, methods map[string][]float64) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(rd, pipeline.ConfigFile)); errors.Is(err, os.ErrNotExist) {
		writeRunConfig(t, rd)
	}
	if ckpt == "" {
		ckpt = pipeline.CheckpointFile
	}
	ck, err := os.ReadFile(filepath.Join(rd, ckpt))
	if errors.Is(err, os.ErrNotExist) {
		ck = []byte("weights of " + rd + "/" + ckpt)
		err = os.WriteFile(filepath.Join(rd, ckpt), ck, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(ck)
	metrics := func(perClass []float64) pipeline.Metrics {
		conf := pipeline.NewConfusion(len(perClass))
		for c, a := range perClass {
			right := int64(math.Round(10 * a))
			conf[c][c] = right
			conf[c][(c+1)%len(perClass)] = 10 - right
		}
		m, err := pipeline.Summarize(conf, fakeTrainCounts, pipeline.DefaultShots())
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	clf := &posthoc.Classifier{W: make([]float32, 3*4), B: make([]float32, 3)}
	r := &posthoc.Report{Checkpoint: ckpt, CheckpointSHA256: hex.EncodeToString(sum[:]), Epoch: 2, Classes: []string{"a", "b", "c"}, TrainCounts: fakeTrainCounts,
		Methods: []posthoc.Result{{Method: posthoc.Plain, Val: metrics(plain), Test: metrics(plain), Classifier: clf}}}
	for _, name := range posthoc.Names() {
		if pc, ok := methods[name]; ok {
			r.Methods = append(r.Methods, posthoc.Result{Method: name, Val: metrics(pc), Test: metrics(pc), Classifier: clf})
		}
	}
	if err := r.Write(rd); err != nil {
		t.Fatal(err)
	}
}

// TestReportPosthocRows: post-hoc results become method rows after the
// method they rebalance, with the test metrics of posthoc.json, paired
// with the baseline like any method; a run without posthoc.json leaves its
// post-hoc rows a replicate short, and a stale posthoc.json is left out and
// named: one of the run's checkpoint before it changed (of the same epoch)
// or of another checkpoint file.
func TestReportPosthocRows(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fake")
	s := writeFakeSweep(t, dir, []string{"ce", "ours"}, fakeGrid()[:6]) // both methods at IF 10 and 100, seeds 0 and 1 at IF 10
	rd := func(i int) string { return filepath.Join(dir, s.Runs[i].Name) }
	writeFakePosthoc(t, rd(0), "", []float64{0.9, 0.6, 0.3}, map[string][]float64{posthoc.LogitAdjust: {0.8, 0.6, 0.7}, posthoc.NCM: {0.7, 0.7, 0.7}})
	writeFakePosthoc(t, rd(4), "", []float64{0.9, 0.5, 0.1}, map[string][]float64{posthoc.LogitAdjust: {0.8, 0.6, 0.5}})
	writeFakePosthoc(t, rd(1), "", []float64{0.8, 0.7, 0.6}, map[string][]float64{posthoc.LogitAdjust: {0, 0, 0}})
	if err := os.WriteFile(filepath.Join(rd(1), pipeline.CheckpointFile), []byte("retrained"), 0o644); err != nil { // stale
		t.Fatal(err)
	}
	writeFakePosthoc(t, rd(5), "", []float64{0.8, 0.7, 0.6}, nil)
	writeFakePosthoc(t, rd(5), "other.ckpt", []float64{0.8, 0.7, 0.6}, map[string][]float64{posthoc.LogitAdjust: {0, 0, 0}}) // stale
	rep, err := Build("", dir)
	if err != nil {
		t.Fatal(err)
	}
	wantMethods := []string{"ce", "ce+logit_adjust", "ce+ncm", "ours", "ours+logit_adjust", "ours+ncm"}
	if !slices.Equal(rep.Methods, wantMethods) {
		t.Fatalf("methods %v; want %v", rep.Methods, wantMethods)
	}
	if want := []string{s.Runs[1].Name, s.Runs[5].Name}; !slices.Equal(rep.StalePosthoc, want) {
		t.Errorf("stale posthoc.json: %v; want %v", rep.StalePosthoc, want)
	}
	var labels []string
	for _, r := range rep.Rows[:6] { // IF 10; IF 100 follows, without posthoc.json
		labels = append(labels, r.Label())
	}
	if !slices.Equal(labels, wantMethods) {
		t.Fatalf("rows %v; want %v", labels, wantMethods)
	}
	for _, tc := range []struct {
		row          int
		replicates   int
		top1, few    float64
		gain         float64
		hasGain      bool
		planned      int
		perClassHead float64
	}{
		// ce+logit_adjust: top-1 0.7 and 0.6333, few-shot 0.7 and 0.5; Δ
		// against ce (0.6, 0.5) by seed 0.1 and 0.1333.
		{1, 2, (0.7 + 1.9/3) / 2, 0.6, (0.1 + 0.4/3) / 2, true, 2, 0.8},
		// ce+ncm: only seed 0 has it.
		{2, 1, 0.7, 0.7, 0.1, true, 2, 0.7},
		// ours' posthoc.json files are stale.
		{4, 0, 0, 0, 0, false, 2, 0},
	} {
		r := rep.Rows[tc.row]
		if len(r.Replicates) != tc.replicates || r.Planned != tc.planned {
			t.Errorf("%s: %d of %d replicates; want %d of %d", r.Label(), len(r.Replicates), r.Planned, tc.replicates, tc.planned)
			continue
		}
		if tc.replicates == 0 {
			continue
		}
		if !near(r.Top1.Mean, tc.top1) || !near(r.Few.Mean, tc.few) || !near(r.PerClass[0], tc.perClassHead) {
			t.Errorf("%s: top-1 %v few %v per class %v; want %g, %g, head %g", r.Label(), r.Top1.Mean, r.Few.Mean, r.PerClass, tc.top1, tc.few, tc.perClassHead)
		}
		if (r.Gain != nil) != tc.hasGain || r.Gain != nil && !near(r.Gain.Top1.Mean, tc.gain) {
			t.Errorf("%s: gain %+v; want %g", r.Label(), r.Gain, tc.gain)
		}
	}
	// 6 runs and 2 post-hoc methods of each; 3 post-hoc results.
	if rep.Planned != 18 || len(rep.Missing) != 9 || !slices.Contains(rep.Missing, "if10-ce-seed1+ncm") || len(rep.Runs) != 9 {
		t.Errorf("planned %d, %d runs, missing %v", rep.Planned, len(rep.Runs), rep.Missing)
	}
	var md strings.Builder
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| ce+logit_adjust |") || !strings.Contains(md.String(), "9 of 18 runs finished (2 methods + 2 post-hoc of each (logit_adjust, ncm))") {
		t.Errorf("the Markdown table has no post-hoc row:\n%s", md.String())
	}
	stale := "Post-hoc results out of date (2; posthoc.json is not of the checkpoint the run reports"
	if !strings.Contains(md.String(), stale) || !strings.Contains(md.String(), "again): if10-ours-seed0, if10-ours-seed1\n") {
		t.Errorf("the Markdown report does not name the stale posthoc.json:\n%s", md.String())
	}
	var html bytes.Buffer
	if err := rep.WriteHTML(&html, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html.String(), stale) {
		t.Errorf("the HTML report does not name the stale posthoc.json")
	}
}
