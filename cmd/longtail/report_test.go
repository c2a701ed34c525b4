package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/report"
)

// TestReportRunDirs trains a run and a comparison with the real CLI and
// reports each, and the run beside another, as `longtail report` does a
// sweep: the table, the figures and the HTML page, with the provenance.
func TestReportRunDirs(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	cfg := write(t, filepath.Join(dir, "tiny.yaml"), tinyYAML)
	cmp := write(t, filepath.Join(dir, "cmp.yaml"), tinyYAML+`
compare:
  - {name: softmax_rs, set: {loss.name: ce, sampling.name: random}}
  - {name: ours_bs, set: {loss.name: weighted_ce, sampling.name: balanced, sampling.per_class: 4, sampling.batch: 0}}
`)
	for _, args := range [][]string{
		{"train", "-c", cfg, "--out", runs, "--name", "one"},
		{"train", "-c", cfg, "--out", runs, "--name", "lr", "--set", "optim.lr=0.05"},
		{"train", "-c", cmp, "--out", runs, "--name", "cmp"},
	} {
		if code, _, errs := cli(t, args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
	}
	for _, tc := range []struct {
		name string
		dirs []string
		want []string // in report.md and on stdout
	}{
		{"a run", []string{"one"}, []string{"# Run one\n", "| 4 | one | 1/1 |", "At IF 4: one ",
			"- **data**: synthetic (built in: 4 classes, 60 training and 10 test images per class before the long tail, seed 1)\n",
			"- **model**: ResNet-8 (width 4)\n", "- **epochs**: 2\n", "`data.imbalance=4`", "- **trained with**: longtail "}},
		{"a comparison", []string{"cmp"}, []string{"# Comparison cmp\n", "| 4 | softmax_rs | 1/1 |", "| 4 | ours_bs | 1/1 |",
			"Δ top-1 vs softmax_rs", "- **settings of ours_bs**: `loss.name=weighted_ce`"}},
		{"two runs", []string{"one", "lr"}, []string{"# Runs one, lr\n", "| 4 | lr | 1/1 |", "- **settings of lr**: `optim.lr=0.05`"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			for _, d := range tc.dirs {
				args = append(args, filepath.Join(runs, d))
			}
			code, out, errs := cli(t, append([]string{"report"}, args...)...)
			if code != 0 {
				t.Fatalf("report %s: exit %d: %s", strings.Join(tc.dirs, " "), code, errs)
			}
			outDir := filepath.Join(args[0], report.Dir)
			md, err := os.ReadFile(filepath.Join(outDir, report.MarkdownFile))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(md), w) || !strings.Contains(out, w) {
					t.Errorf("report.md or stdout lacks %q:\n%s", w, md)
				}
			}
			for _, f := range []string{report.CSVFile, report.HTMLFile, report.Figure2File, report.Figure3File, report.CurvesFile(4)} {
				if fi, err := os.Stat(filepath.Join(outDir, f)); err != nil || fi.Size() == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
			html, _ := os.ReadFile(filepath.Join(outDir, report.HTMLFile))
			if title := strings.Split(tc.want[0], "\n")[0][2:]; !strings.Contains(string(html), "<title>"+title+": longtail report</title>") {
				t.Errorf("report.html's title is not %q", title)
			}
		})
	}
	// A run that has not finished is named, with how to finish it.
	if err := os.Remove(filepath.Join(runs, "one", pipeline.FinalFile)); err != nil {
		t.Fatal(err)
	}
	code, _, errs := cli(t, "report", filepath.Join(runs, "one"))
	if code != exitError || !strings.Contains(errs, "none of the 1 runs") || !strings.Contains(errs, "longtail train --resume") {
		t.Errorf("report of an unfinished run: exit %d, %q", code, errs)
	}
	// Neither a sweep nor a run: both files are named.
	code, _, errs = cli(t, "report", dir)
	if code == 0 || !strings.Contains(errs, "sweep.json") || !strings.Contains(errs, "config.yaml") {
		t.Errorf("report of a plain directory: exit %d, %q", code, errs)
	}
	// --out is a directory.
	code, _, errs = cli(t, "report", filepath.Join(runs, "lr"), "--out", cfg)
	if code != exitConfig || !strings.Contains(errs, "takes a directory") {
		t.Errorf("report --out FILE: exit %d, %q", code, errs)
	}
}
