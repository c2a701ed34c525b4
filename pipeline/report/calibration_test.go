package report

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/sweep"
)

// writeFinals writes a sweep of one method at IF 100 whose run i has
// finals[i] as final.json, seed i.
func writeFinals(t *testing.T, dir string, finals []*pipeline.Final) {
	t.Helper()
	s := &sweep.Sweep{File: "fake.yaml", Dir: dir, Baseline: "ce", Methods: []string{"ce"}, Grid: map[string][]any{}}
	for i, f := range finals {
		name := "if100-ce-seed" + formatFloat(float64(i))
		s.Runs = append(s.Runs, sweep.Run{Index: i, Name: name, Method: "ce", Imbalance: 100, Seed: int64(i),
			Params: map[string]any{sweep.KeyImbalance: 100.0, sweep.KeySeed: int64(i)}})
		rd := filepath.Join(dir, name)
		if err := os.MkdirAll(rd, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := pipeline.WriteFinal(rd, name, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteManifest(); err != nil {
		t.Fatal(err)
	}
}

// testImage is one test image: its label, the predicted class and the
// confidence of the prediction.
type testImage struct {
	label, pred int
	conf        float64
}

// tallied evaluates images of 3 classes through pipeline.Tally: the
// predicted class gets logit log(conf/(1−conf)), the next class 0 and the
// third −1000, so the softmax gives the prediction probability conf.
func tallied(t *testing.T, shots pipeline.Shots, images ...testImage) *pipeline.Final {
	t.Helper()
	tl := pipeline.NewTally(3)
	for _, im := range images {
		z := []float32{-1000, -1000, -1000}
		z[im.pred] = float32(math.Log(im.conf / (1 - im.conf)))
		z[(im.pred+1)%3] = 0
		tl.Add(z, []int32{int32(im.label)})
	}
	m, err := tl.Summarize(fakeTrainCounts, shots)
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline.Final{Metrics: m, Epoch: 2, Classes: []string{"a", "b", "c"}, TrainCounts: fakeTrainCounts}
}

// TestReportCalibration checks the wider evaluation of a cell of two runs
// worked by hand: worst class, ECE, pooled reliability bins, precision, the
// per-class table, the thresholds in the headings and the figure.
func TestReportCalibration(t *testing.T) {
	shots := pipeline.Shots{Many: 150, Few: 20}
	// Seed 0: a right at 0.9 (bin 13), b right at 0.7 and c taken for a
	// at 0.7 (bin 10). ECE = (|1 − 0.9| + 2·|0.5 − 0.7|)/3 = 0.5/3.
	// Recall 1, 1, 0 (worst c); precision 1/2, 1, 0 (c never predicted).
	s0 := tallied(t, shots, testImage{0, 0, 0.9}, testImage{1, 1, 0.7}, testImage{2, 0, 0.7})
	// Seed 1: a right at 0.9, b taken for c at 0.9 (bin 13), c right at
	// 0.7 (bin 10). ECE = (2·|0.5 − 0.9| + |1 − 0.7|)/3 = 1.1/3.
	// Recall 1, 0, 1 (worst b); precision 1, 0, 1/2.
	s1 := tallied(t, shots, testImage{0, 0, 0.9}, testImage{1, 2, 0.9}, testImage{2, 2, 0.7})
	dir := filepath.Join(t.TempDir(), "cal")
	writeFinals(t, dir, []*pipeline.Final{s0, s1})
	rep, err := Build("", dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 1 {
		t.Fatalf("%d rows; want 1", len(rep.Rows))
	}
	r := rep.Rows[0]
	const tol = 1e-6 // float32 logits
	if r.ECE == nil || r.ECE.N != 2 || math.Abs(r.ECE.Mean-(0.5/3+1.1/3)/2) > tol {
		t.Errorf("ECE %+v; want the mean of 0.5/3 and 1.1/3 over 2 runs", r.ECE)
	}
	if r.Worst.N != 2 || r.Worst.Mean != 0 || !slices.Equal(r.WorstClasses, []int{2, 1}) {
		t.Errorf("worst %+v, classes %v; want 0 over 2 runs, classes [2 1]", r.Worst, r.WorstClasses)
	}
	for c, want := range []float64{0.75, 0.5, 0.25} {
		if math.Abs(r.Precision[c]-want) > 1e-12 {
			t.Errorf("precision[%d] %v; want %v", c, r.Precision[c], want)
		}
	}
	// Pooled: bin 13 has 3 images (1 + 2), 2 right, all at 0.9; bin 10 has
	// 3 (2 + 1), 2 right, at 0.7.
	for b, bin := range r.Reliability {
		var count int64
		var conf, acc float64
		switch b {
		case 13:
			count, conf, acc = 3, 0.9, 2.0/3
		case 10:
			count, conf, acc = 3, 0.7, 2.0/3
		}
		if bin.Count != count || math.Abs(bin.Confidence-conf) > tol || math.Abs(bin.Accuracy-acc) > tol {
			t.Errorf("pooled bin %d: %+v; want %d images at %v, accuracy %v", b, bin, count, conf, acc)
		}
	}

	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| many-shot (>150) | medium-shot (20-150) | few-shot (<20) | worst class % (95% CI) | ECE % (15 bins, 95% CI) |",
		"| 0.00 ± 0.00 (2 c, 1 b) | 26.67 ± ",
		"with >150, 20-150 and <20 training images",
		"## Per class",
		"| class | name | train images | recall (%) | precision (%) |",
		"| 0 | a | 200 | 100.00 | 75.00 |",
		"| 1 | b | 50 | 50.00 | 50.00 |",
		"| 2 | c | 10 | 50.00 | 25.00 |",
		ReliabilityFile,
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md.String())
		}
	}

	var cb bytes.Buffer
	if err := rep.WriteCSV(&cb); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&cb).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("report.csv: %v, %v", recs, err)
	}
	col := map[string]string{}
	for i, h := range recs[0] {
		col[h] = recs[1][i]
	}
	if col["ece_mean"] != "0.266667" || col["worst_mean"] != "0" || col["worst_classes"] != "2 1" || col["many_shot"] != "150" || col["few_shot"] != "20" {
		t.Errorf("report.csv ece_mean %q, worst_mean %q, worst_classes %q, many_shot %q, few_shot %q; want 0.266667, 0, 2 1, 150, 20",
			col["ece_mean"], col["worst_mean"], col["worst_classes"], col["many_shot"], col["few_shot"])
	}

	// One panel; the bars are filled with the method's colour, tinted.
	out := t.TempDir()
	if _, err := rep.Write(out); err != nil {
		t.Fatal(err)
	}
	px := func(l float64) int { return int(math.Round(l / 72 * figureDPI)) } // vg lengths are points
	img := decodePNG(t, filepath.Join(out, ReliabilityFile), px(float64(panelWidth)), px(float64(panelHeight)))
	n := pixels(img, tint(rep.colour("ce"), 0.75))
	html, err := os.ReadFile(filepath.Join(out, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h2>Per class</h2>", `<td class="">c</td><td class="num">10</td><td class="num">50.00</td><td class="num">25.00</td>`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// Two bars a fifteenth of the axis wide, 2/3 high: thousands of pixels.
	if n < 1000 {
		t.Errorf("%d pixels of the bars' colour; want the two bars drawn", n)
	}
}

// TestReportWithoutCalibration reads runs whose final.json predates ECE,
// precision and the thresholds: ECE is "–", precision and the worst class
// come from the confusion matrix, the groups use the defaults.
func TestReportWithoutCalibration(t *testing.T) {
	m, err := pipeline.Summarize(pipeline.Confusion{{9, 1, 0}, {0, 5, 5}, {0, 0, 10}}, fakeTrainCounts, pipeline.DefaultShots())
	if err != nil {
		t.Fatal(err)
	}
	m.Precision, m.Worst, m.WorstClass, m.Shots = nil, 0, 0, nil
	dir := filepath.Join(t.TempDir(), "old")
	writeFinals(t, dir, []*pipeline.Final{{Metrics: m, Epoch: 2, Classes: []string{"a", "b", "c"}, TrainCounts: fakeTrainCounts}})
	rep, err := Build("", dir)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Rows[0]
	if r.ECE != nil || r.Reliability != nil || r.Worst.Mean != 0.5 || !slices.Equal(r.WorstClasses, []int{1}) || r.Shots != pipeline.DefaultShots() {
		t.Errorf("ECE %v, %d bins, worst %v (classes %v), shots %v; want none, 0.5 (class 1), the defaults",
			r.ECE, len(r.Reliability), r.Worst.Mean, r.WorstClasses, r.Shots)
	}
	// Precision from the confusion matrix: a 9/9, b 5/6, c 10/15.
	for c, want := range []float64{1, 5.0 / 6, 10.0 / 15} {
		if math.Abs(r.Precision[c]-want) > 1e-12 {
			t.Errorf("precision[%d] %v; want %v", c, r.Precision[c], want)
		}
	}
	head, rows := rep.tableRows()
	i := slices.Index(head, "ECE % (15 bins, 95% CI)")
	if i < 0 || rows[0][i] != "–" || rows[0][i-1] != "50.00 (1 b)" || !slices.Contains(head, "many-shot (>100)") {
		t.Errorf("table %v %v; want ECE –, worst 50.00 (1 b), default thresholds", head, rows)
	}
	if _, err := rep.Reliability(); err != nil {
		t.Errorf("reliability figure without calibration: %v", err)
	}
}

func TestReportMixedThresholds(t *testing.T) {
	a := tallied(t, pipeline.DefaultShots(), testImage{0, 0, 0.9}, testImage{1, 1, 0.7}, testImage{2, 2, 0.7})
	b := tallied(t, pipeline.Shots{Many: 40, Few: 5}, testImage{0, 0, 0.9}, testImage{1, 1, 0.7}, testImage{2, 2, 0.7})
	dir := filepath.Join(t.TempDir(), "mixed")
	writeFinals(t, dir, []*pipeline.Final{a, b})
	_, err := Build("", dir)
	if err == nil || !strings.Contains(err.Error(), "different shot thresholds") || !strings.Contains(err.Error(), "eval.many_shot") {
		t.Errorf("error %v; want one naming the different thresholds and the keys", err)
	}
}
