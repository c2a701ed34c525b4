package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func ExampleCompareTable() {
	few, many := 0.5, 0.9
	rs := &Final{Metrics: Metrics{Top1: 0.7, PerClass: []float64{0.9, 0.5}, SD: 0.2, Worst: 0.5, WorstClass: 1, Many: &many, Few: &few,
		ECE: 0.12, Reliability: make([]Bin, CalibrationBins)},
		Epoch: 30, Classes: []string{"cat", "dog"}, TrainCounts: []int{300, 10}}
	few2, many2 := 0.75, 0.85
	bs := &Final{Metrics: Metrics{Top1: 0.8, PerClass: []float64{0.85, 0.75}, SD: 0.05, Worst: 0.75, WorstClass: 1, Many: &many2, Few: &few2,
		ECE: 0.05, Reliability: make([]Bin, CalibrationBins)},
		Epoch: 30, Classes: []string{"cat", "dog"}, TrainCounts: []int{300, 10}}
	_ = CompareTable(os.Stdout, []string{"ce_rs", "ours_bs"}, []*Final{rs, bs})
	// Output:
	// class                     train   ce_rs ours_bs       Δ
	// 0 cat                       300    90.0    85.0    -5.0
	// 1 dog                        10    50.0    75.0   +25.0
	// -------------------------------------------------------
	// top-1                              70.0    80.0   +10.0
	// SD of per-class accuracy           20.0     5.0   -15.0
	// worst class (1 dog)                50.0    75.0   +25.0
	// many-shot (>100)                   90.0    85.0    -5.0
	// medium-shot (20-100)                  -       -
	// few-shot (<20)                     50.0    75.0   +25.0
	// ECE (15 bins)                      12.0     5.0    -7.0
	// test accuracy in %, epoch 30; Δ = ours_bs − ce_rs
}

// TestCompareTableOneRun checks the single-run table: a precision column,
// the worst class named, thresholds and ECE from the run's metrics.
func TestCompareTableOneRun(t *testing.T) {
	m, err := Summarize(Confusion{{9, 1}, {5, 5}}, []int{300, 10}, Shots{Many: 200, Few: 50})
	if err != nil {
		t.Fatal(err)
	}
	f := &Final{Metrics: m, Epoch: 4, Classes: []string{"cat", "dog"}, TrainCounts: []int{300, 10}}
	var out strings.Builder
	if err := CompareTable(&out, []string{"run"}, []*Final{f}); err != nil {
		t.Fatal(err)
	}
	// Precision: cat 9 of 14 predicted, dog 5 of 6.
	for _, want := range []string{
		"class                     train     run precision\n",
		"0 cat                       300    90.0      64.3\n",
		"1 dog                        10    50.0      83.3\n",
		"worst class (1 dog)                50.0\n",
		"many-shot (>200)                   90.0\n",
		"few-shot (<50)                     50.0\n",
		"ECE (15 bins)                         -\n",
		"per class: recall (accuracy) and precision",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCompareTableRefusesMismatch(t *testing.T) {
	run := func(counts ...int) *Final {
		f := &Final{Metrics: Metrics{PerClass: make([]float64, len(counts))}, TrainCounts: counts}
		for i := range counts {
			f.Classes = append(f.Classes, fmt.Sprint(i))
		}
		return f
	}
	tests := []struct {
		name   string
		names  []string
		finals []*Final
		want   string
	}{
		{"other training counts", []string{"a", "b"}, []*Final{run(5, 1), run(5, 2)},
			"pipeline: compare table: run b has other classes or training counts than a"},
		{"other classes", []string{"a", "b", "c"}, []*Final{run(5, 1), run(5, 1), run(5, 1, 1)},
			"pipeline: compare table: run c has other classes or training counts than a"},
		{"names and runs differ", []string{"a"}, []*Final{run(5, 1), run(5, 1)},
			"pipeline: compare table: 1 names for 2 runs"},
		{"no runs", nil, nil, "pipeline: compare table: 0 names for 0 runs"},
	}
	for _, tc := range tests {
		var out strings.Builder
		err := CompareTable(&out, tc.names, tc.finals)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v; want %q", tc.name, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%s: wrote %q before refusing", tc.name, out.String())
		}
	}
}

// TestCompareRun trains a two-variant comparison, interrupts the second
// variant, resumes the whole comparison and checks the table.
func TestCompareRun(t *testing.T) {
	needORT(t)
	file := writeFile(t, t.TempDir(), "cmp.yaml", `
data:
  synthetic: {classes: 4, train_per_class: 60, test_per_class: 10}
  imbalance: 4
model: {depth: 8, width: 4}
train: {epochs: 2, eval_every: 0}
runtime: {threads: 1}
compare:
  - name: ce_rs
    set: {loss.name: ce, sampling.name: random, sampling.batch: 16}
  - name: ours_bs
    set: {loss.name: weighted_ce, sampling.name: balanced, sampling.per_class: 3}
`)
	src := Sources{File: file}
	base, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "cmp")
	ctx, cancel := context.WithCancel(context.Background())
	_, err = CompareRun(ctx, src, base, dir, Options{OnStep: func(e, s int) {
		if e == 1 && s == 2 && exists(filepath.Join(dir, "ce_rs", FinalFile)) {
			cancel()
		}
	}}, false)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "--resume "+dir) {
		t.Fatalf("got %v; want an interruption naming the resume command", err)
	}
	stored := Sources{File: filepath.Join(dir, ConfigFile)}
	base2, err := Load(stored)
	if err != nil {
		t.Fatal(err)
	}
	res, err := CompareRun(context.Background(), stored, base2, dir, Options{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Final.Epoch != 2 || res[1].Final.Epoch != 2 {
		t.Fatalf("results %+v", res)
	}
	table, err := os.ReadFile(filepath.Join(dir, CompareFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(table), "\n")
	footer := 1 // and a line naming each run's worst class when they differ
	if res[0].Final.WorstClass != res[1].Final.WorstClass {
		footer++
	}
	if !strings.Contains(lines[0], "ce_rs") || !strings.Contains(lines[0], "ours_bs") || len(lines) != 1+4+1+7+footer+1 || // header, classes, rule, summary rows, footer, final newline
		!strings.HasPrefix(lines[12], "ECE (15 bins)") {
		t.Errorf("table:\n%s", table)
	}
	for _, f := range []string{"compare.png", filepath.Join("ce_rs", FinalFile), filepath.Join("ours_bs", PlotFile)} {
		if !exists(filepath.Join(dir, f)) {
			t.Errorf("missing %s", f)
		}
	}
	stc, err := Load(Sources{File: filepath.Join(dir, "ours_bs", ConfigFile)})
	if err != nil {
		t.Fatal(err)
	}
	if stc.Sampling.Batch != 12 || stc.Loss.Name != "weighted_ce" || stc.Loss.Weights != "clamped" {
		t.Errorf("ours_bs config: sampling %+v loss %+v", stc.Sampling, stc.Loss)
	}
}
