package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/sweep"
	"github.com/longtail-ml/longtail/runtime/ortest"
)

// replicateSweep is 3 methods × 2 train.seed × 2 data.lt_seed at one
// imbalance factor, each run a second or two of a ResNet-8 on the
// synthetic data.
const replicateSweep = `
base:
  data:
    synthetic: {classes: 4, train_per_class: 60, test_per_class: 10}
    imbalance: 4
  model: {depth: 8, width: 4}
  train: {epochs: 2, eval_every: 0}
  runtime: {threads: 1}
methods:
  - name: ce_rs
    set: {loss.name: ce, sampling.name: random, sampling.batch: 16}
  - name: cb_rs
    set: {loss.name: cb, loss.beta: 0.9, sampling.name: random, sampling.batch: 16}
  - name: ours_bs
    set: {loss.name: weighted_ce, sampling.name: balanced, sampling.per_class: 3}
grid:
  train.seed: [0, 1]
  data.lt_seed: [0, 5]
`

// TestReportReplicates trains a sweep over train.seed × data.lt_seed and
// checks the report's cells: n = 4 replicates each, the t intervals of
// top-1, SD, ECE and worst-class accuracy recomputed here from the runs'
// final.json with gonum's stat (not newStat), the paired comparison
// recomputed by matching run names, the provenance, and the table, CSV,
// figure and page that show them.
func TestReportReplicates(t *testing.T) {
	ortest.Require(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "rep-sweep.yaml")
	if err := os.WriteFile(file, []byte(replicateSweep), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := sweep.Load(file, sweep.Sources{Dir: filepath.Join(dir, "rep-sweep")})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) != 12 {
		t.Fatalf("%d runs; want 12", len(s.Runs))
	}
	if _, err := sweep.Train(context.Background(), s, sweep.Options{}); err != nil {
		t.Fatal(err)
	}
	rep, err := Build("", s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 3 || len(rep.Runs) != 12 {
		t.Fatalf("%d rows of %d runs; want 3 of 12", len(rep.Rows), len(rep.Runs))
	}

	// The runs by name, as the sweep names them: if4-<method>-seed<s>-lt<l>.
	top1, sd, ece, worst := map[string]float64{}, map[string]float64{}, map[string]float64{}, map[string]float64{}
	for _, r := range rep.Runs {
		top1[r.Name], sd[r.Name], ece[r.Name], worst[r.Name] = r.Final.Top1, r.Final.SD, r.Final.ECE, r.Final.Worst
	}
	name := func(method string, seed, lt int) string { return fmt.Sprintf("if4-%s-seed%d-lt%d", method, seed, lt) }
	// ci is the interval of v worked independently: gonum's sample mean and
	// SD, the tabled t_{0.975,3}.
	ci := func(v []float64) (mean, std, half float64) {
		mean, std = stat.MeanStdDev(v, nil)
		return mean, std, t3 * std / math.Sqrt(float64(len(v)))
	}
	same := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	spread := false
	for _, row := range rep.Rows {
		if len(row.Replicates) != 4 || row.Planned != 4 || row.Top1.N != 4 {
			t.Errorf("%s: %d of %d replicates; want 4 of 4", row.Method, len(row.Replicates), row.Planned)
		}
		var vt, vs, ve, vw, dt, ds []float64
		for _, seed := range []int{0, 1} {
			for _, lt := range []int{0, 5} {
				n := name(row.Method, seed, lt)
				vt, vs, ve, vw = append(vt, top1[n]), append(vs, sd[n]), append(ve, ece[n]), append(vw, worst[n])
				b := name("ce_rs", seed, lt)
				dt, ds = append(dt, top1[n]-top1[b]), append(ds, sd[n]-sd[b])
			}
		}
		for _, c := range []struct {
			what string
			got  Stat
			v    []float64
		}{{"top-1", row.Top1, vt}, {"SD", row.SD, vs}, {"ECE", *row.ECE, ve}, {"worst class", row.Worst, vw}} {
			m, s, h := ci(c.v)
			if !same(c.got.Mean, m) || !same(c.got.Std, s) || !same(c.got.Half, h) {
				t.Errorf("%s %s: %+v; want mean %g std %g half %g", row.Method, c.what, c.got, m, s, h)
			}
		}
		spread = spread || row.Top1.Std > 0 && row.ECE.Std > 0
		if row.Method == "ce_rs" {
			if row.Gain != nil || row.Unpaired != 0 {
				t.Errorf("the baseline compared with itself: %+v", row.Gain)
			}
			continue
		}
		if row.Gain == nil || row.Gain.Top1.N != 4 || row.Unpaired != 0 {
			t.Fatalf("%s: gain %+v, %d unpaired; want 4 pairs", row.Method, row.Gain, row.Unpaired)
		}
		for _, c := range []struct {
			what string
			got  Stat
			v    []float64
		}{{"Δ top-1", row.Gain.Top1, dt}, {"Δ SD", row.Gain.SD, ds}} {
			m, s, h := ci(c.v)
			if !same(c.got.Mean, m) || !same(c.got.Std, s) || !same(c.got.Half, h) {
				t.Errorf("%s %s: %+v; want mean %g std %g half %g", row.Method, c.what, c.got, m, s, h)
			}
		}
	}
	if !spread {
		t.Error("every method's replicates have the same top-1 or ECE: the sweep does not test the intervals")
	}

	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	r1 := rep.Rows[1]
	for _, w := range []string{
		"12 of 12 runs finished (3 methods × 2 data.lt_seed × 2 seeds)",
		"95% confidence interval (Student t",
		"paired by (train.seed, data.lt_seed)",
		"| IF | method | n | top-1 % (95% CI) |",
		"Δ top-1 vs ce_rs (95% CI) | Δ SD vs ce_rs (95% CI) | pairs |",
		fmt.Sprintf("| 4 | cb_rs | 4/4 | %.2f ± %.2f | %.2f ± %.2f |", 100*r1.Top1.Mean, 100*r1.Top1.Half, 100*r1.SD.Mean, 100*r1.SD.Half),
		fmt.Sprintf("| %+.2f ± %.2f | %+.2f ± %.2f | 4 |", 100*r1.Gain.Top1.Mean, 100*r1.Gain.Top1.Half, 100*r1.Gain.SD.Mean, 100*r1.Gain.SD.Half),
		fmt.Sprintf("cb_rs %+.2f ± %.2f points top-1", 100*r1.Gain.Top1.Mean, 100*r1.Gain.Top1.Half),
		"mean ± 95% CI over 4 pairs",
		// ECE, the last cell before the Δ columns.
		fmt.Sprintf("| %.2f ± %.2f | %+.2f ± %.2f |", 100*r1.ECE.Mean, 100*r1.ECE.Half, 100*r1.Gain.Top1.Mean, 100*r1.Gain.Top1.Half),
		"ECE % (15 bins, 95% CI)",
		// Provenance: what the runs trained on and with which longtail.
		"- **data**: synthetic (built in: 4 classes, 60 training and 10 test images per class before the long tail",
		"- **model**: ResNet-8 (width 4)\n", "- **epochs**: 2\n", "- **trained with**: longtail ",
		"- **model reported**: last epoch\n",
		"- **training data (content digest before the long tail)**: sha256:",
	} {
		if !strings.Contains(md.String(), w) {
			t.Errorf("report.md lacks %q:\n%s", w, md.String())
		}
	}

	if strings.Contains(md.String(), "also varied between runs") {
		t.Errorf("report.md names data.lt_seed as a setting:\n%s", md.String())
	}
	// Provenance names the subset of every run: one per data.lt_seed.
	subsets := map[string]bool{}
	for _, r := range rep.Runs {
		if r.Final.SubsetDigest == "" || !strings.Contains(md.String(), r.Final.SubsetDigest+" (data.lt_pick seeded, data.lt_seed "+fmt.Sprint(r.LTSeed)+")") {
			t.Errorf("run %s: subset %q not in the provenance", r.Name, r.Final.SubsetDigest)
		}
		subsets[r.Final.SubsetDigest] = true
	}
	if len(subsets) != 2 {
		t.Errorf("%d distinct subsets over 2 lt_seeds", len(subsets))
	}

	// The CSV: machine-readable ends of each interval and n.
	var b bytes.Buffer
	if err := rep.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(recs) != 4 {
		t.Fatalf("report.csv: %d records, %v", len(recs), err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for i, row := range rep.Rows {
		rec := recs[i+1]
		num := func(h string) float64 {
			j, ok := col[h]
			if !ok {
				t.Fatalf("report.csv has no column %s: %v", h, recs[0])
			}
			v, err := strconv.ParseFloat(rec[j], 64)
			if err != nil {
				t.Fatalf("report.csv %s %s: %v", row.Method, h, err)
			}
			return v
		}
		within := func(a, b float64) bool { return math.Abs(a-b) <= 1e-5*max(1, math.Abs(b)) } // 6 significant digits
		if num("n") != 4 || rec[col["seeds"]] != "0 0 1 1" || rec[col["lt_seeds"]] != "0 5 0 5" ||
			!within(num("top1_mean"), row.Top1.Mean) || !within(num("top1_ci_lo"), row.Top1.Lo()) || !within(num("top1_ci_hi"), row.Top1.Hi()) ||
			!within(num("sd_ci_lo"), row.SD.Lo()) || !within(num("sd_ci_hi"), row.SD.Hi()) ||
			!within(num("ece_mean"), row.ECE.Mean) || !within(num("ece_ci_lo"), row.ECE.Lo()) || !within(num("ece_ci_hi"), row.ECE.Hi()) {
			t.Errorf("report.csv row %d: %v", i, rec)
		}
		if row.Gain != nil && (num("pairs") != 4 || num("unpaired") != 0 ||
			!within(num("gain_top1_ci_lo"), row.Gain.Top1.Lo()) || !within(num("gain_top1_ci_hi"), row.Gain.Top1.Hi())) {
			t.Errorf("report.csv row %d gains: %v", i, rec)
		}
	}

	// The figure of the spread: one panel, each method's points and bar.
	out := filepath.Join(s.Dir, Dir)
	if _, err := rep.Write(out); err != nil {
		t.Fatal(err)
	}
	px := func(l float64) int { return int(math.Round(l / 72 * figureDPI)) }
	img := decodePNG(t, filepath.Join(out, SpreadFile), px(float64(panelWidth)), px(float64(panelHeight)))
	for i, m := range rep.Methods {
		if n := pixels(img, tint(pipeline.Palette(i), 0.5)); n < 30 {
			t.Errorf("spread: %d pixels of %s's points", n, m)
		}
		if n := pixels(img, pipeline.Palette(i)); n < 100 {
			t.Errorf("spread: %d pixels of %s's mean and interval", n, m)
		}
	}
	html, err := os.ReadFile(filepath.Join(out, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "<th class=\"num\">pairs</th>") || !strings.Contains(string(html), SpreadFile) {
		t.Error("report.html lacks the pairs column or the spread figure")
	}
}
