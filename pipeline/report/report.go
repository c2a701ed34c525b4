package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/sweep"
)

// Files a report writes, in its directory (default SWEEP_DIR/report).
const (
	Dir          = "report"
	MarkdownFile = "report.md"
	CSVFile      = "report.csv"
	HTMLFile     = "report.html"
	// Figure2File is the paper's Figure 2: box plots of per-class accuracy
	// per method, one panel per imbalance factor.
	Figure2File = "fig2_per_class_box.png"
	// Figure3File is the paper's Figure 3: per-class accuracy against class
	// index, one line per method, one panel per imbalance factor.
	Figure3File = "fig3_per_class_lines.png"
)

// CurvesFile names the learning-curve figure of an imbalance factor.
func CurvesFile(imbalance float64) string { return "curves_if" + formatFloat(imbalance) + ".png" }

// ErrNoResults reports a sweep none of whose runs has finished.
var ErrNoResults = errors.New("report: no finished runs")

// Stat is a mean over seeds with its sample standard deviation (n−1
// denominator; 0 for one seed).
type Stat struct {
	Mean, Std float64
	N         int
}

func newStat(v []float64) Stat {
	s := Stat{N: len(v)}
	if s.N == 0 {
		return s
	}
	for _, x := range v {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		var ss float64
		for _, x := range v {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(s.N-1))
	}
	return s
}

// RunResult is a finished run of a sweep.
type RunResult struct {
	sweep.Run
	Final   *pipeline.Final
	Records []pipeline.EpochRecord
}

// ReportRow is one imbalance factor × method (× setting) over its seeds.
type Row struct {
	Imbalance float64
	Method    string
	Setting   string
	// Planned is the number of runs the sweep has for the row; Seeds are
	// the seeds that finished.
	Planned int
	Seeds   []int64
	Top1    Stat
	SD      Stat
	// Many, Medium and Few are nil when the group has no class.
	Many, Medium, Few *Stat
	// GainTop1 and GainSD are the differences to the baseline method with
	// the same imbalance factor and setting, paired by seed; nil for the
	// baseline itself or without a common seed.
	GainTop1, GainSD *Stat
	// PerClass is the per-class accuracy averaged over seeds.
	PerClass []float64
	// TrainCounts are the training images per class (the same for every
	// seed of a row).
	TrainCounts []int
	// Classes are the class names.
	Classes []string
}

// Label names the row's method and setting.
func (r *Row) Label() string {
	if r.Setting == "" {
		return r.Method
	}
	return r.Method + " " + r.Setting
}

// Report is a sweep's results: a row per imbalance factor × method, the
// finished runs and the missing ones.
type Report struct {
	// Name is the (first) directory's base name.
	Name string
	// Kind is what the directories hold: KindSweep, KindRun,
	// KindComparison or KindRuns; Title names it and them ("Sweep
	// paper-sweep").
	Kind, Title string
	Baseline    string
	Methods     []string
	Imbalances  []float64
	Counts      string
	Rows        []Row
	Runs        []RunResult
	// Planned is the number of runs in the sweep; Missing names those
	// without final.json.
	Planned int
	Missing []string
	// Provenance is what the runs trained on and with which longtail.
	Provenance *Provenance
}

// Build reads the runs of dirs and groups them into rows. dirs are either
// sweep directories (sweep.json; several are shards of one sweep that did
// not share a directory, and each run is taken from the first directory
// that finished it) or run directories as `longtail train` leaves them (a
// run, or a comparison's variants, each its own method; the first is the
// baseline). baseline, when not empty, replaces the sweep's.
func Build(baseline string, dirs ...string) (*Report, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("report: no sweep or run directory")
	}
	src, err := readSource(dirs)
	if err != nil {
		return nil, err
	}
	s := src.sweep
	if baseline == "" {
		baseline = s.Baseline
	}
	if !slices.Contains(s.Methods, baseline) {
		return nil, fmt.Errorf("report: baseline %q is not a method of the sweep; want one of %s", baseline, strings.Join(s.Methods, ", "))
	}
	rep := &Report{Name: filepath.Base(filepath.Clean(dirs[0])), Kind: src.kind, Title: title(src.kind, dirs),
		Baseline: baseline, Methods: s.Methods, Planned: len(s.Runs)}
	rep.Counts = s.Counts()
	runDirs := map[string]string{}
	for _, r := range s.Runs {
		var res *RunResult
		for _, rd := range src.dirs(r) {
			if sweep.StateOf(rd) != sweep.RunDone {
				continue
			}
			f, err := pipeline.ReadFinal(rd)
			if err != nil {
				return nil, err
			}
			recs, err := pipeline.ReadMetrics(rd)
			if err != nil {
				return nil, err
			}
			res = &RunResult{Run: r, Final: f, Records: recs}
			runDirs[r.Name] = rd
			break
		}
		if res == nil {
			rep.Missing = append(rep.Missing, r.Name)
			continue
		}
		rep.Runs = append(rep.Runs, *res)
		if !slices.Contains(rep.Imbalances, r.Imbalance) {
			rep.Imbalances = append(rep.Imbalances, r.Imbalance)
		}
	}
	if len(rep.Runs) == 0 {
		first := "run `longtail sweep` first"
		if src.kind != KindSweep {
			first = "finish the training first (`longtail train --resume DIR` continues it)"
		}
		return nil, fmt.Errorf("%w: none of the %d runs in %s has final.json; %s", ErrNoResults, len(s.Runs), strings.Join(dirs, ", "), first)
	}
	slices.Sort(rep.Imbalances)
	if err := rep.group(s); err != nil {
		return nil, err
	}
	if err := rep.provenance(s.File, runDirs); err != nil {
		return nil, err
	}
	return rep, nil
}

// group builds the rows: imbalance factors ascending, then methods in the
// sweep's order, then settings in run order.
func (rep *Report) group(s *sweep.Sweep) error {
	type key struct {
		imb     float64
		method  string
		setting string
	}
	var settings []string
	planned := map[key]int{}
	for _, r := range s.Runs {
		if !slices.Contains(settings, r.Setting) {
			settings = append(settings, r.Setting)
		}
		planned[key{r.Imbalance, r.Method, r.Setting}]++
	}
	byKey := map[key][]RunResult{}
	for _, r := range rep.Runs {
		k := key{r.Imbalance, r.Method, r.Setting}
		byKey[k] = append(byKey[k], r)
	}
	for _, imb := range rep.Imbalances {
		for _, m := range rep.Methods {
			for _, set := range settings {
				k := key{imb, m, set}
				if planned[k] == 0 {
					continue
				}
				row, err := newRow(imb, m, set, planned[k], byKey[k])
				if err != nil {
					return err
				}
				rep.Rows = append(rep.Rows, row)
			}
		}
	}
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if r.Method == rep.Baseline {
			continue
		}
		runs, base := byKey[key{r.Imbalance, r.Method, r.Setting}], byKey[key{r.Imbalance, rep.Baseline, r.Setting}]
		var dTop, dSD []float64
		for _, a := range runs {
			for _, b := range base {
				if a.Seed == b.Seed {
					dTop = append(dTop, a.Final.Top1-b.Final.Top1)
					dSD = append(dSD, a.Final.SD-b.Final.SD)
				}
			}
		}
		if len(dTop) > 0 {
			gt, gs := newStat(dTop), newStat(dSD)
			r.GainTop1, r.GainSD = &gt, &gs
		}
	}
	return nil
}

func newRow(imb float64, method, setting string, planned int, runs []RunResult) (Row, error) {
	row := Row{Imbalance: imb, Method: method, Setting: setting, Planned: planned}
	if len(runs) == 0 {
		return row, nil
	}
	ref := runs[0].Final
	row.Classes, row.TrainCounts = ref.Classes, ref.TrainCounts
	row.PerClass = make([]float64, len(ref.PerClass))
	var top, sd []float64
	var groups [3][]float64
	for _, r := range runs {
		f := r.Final
		if len(f.PerClass) != len(ref.PerClass) || !slices.Equal(f.TrainCounts, ref.TrainCounts) {
			return row, fmt.Errorf("report: runs %s and %s of one group have different classes or training counts", runs[0].Name, r.Name)
		}
		row.Seeds = append(row.Seeds, r.Seed)
		top = append(top, f.Top1)
		sd = append(sd, f.SD)
		for c, a := range f.PerClass {
			row.PerClass[c] += a / float64(len(runs))
		}
		for g, v := range []*float64{f.Many, f.Medium, f.Few} {
			if v != nil {
				groups[g] = append(groups[g], *v)
			}
		}
	}
	row.Top1, row.SD = newStat(top), newStat(sd)
	for g, p := range []**Stat{&row.Many, &row.Medium, &row.Few} {
		if len(groups[g]) > 0 {
			s := newStat(groups[g])
			*p = &s
		}
	}
	return row, nil
}

// hasSettings reports whether rows differ by more than method and
// imbalance factor.
func (rep *Report) hasSettings() bool {
	return slices.ContainsFunc(rep.Rows, func(r Row) bool { return r.Setting != "" })
}

// epochs describes the runs' last epoch: "200", or "1-3" when they differ.
func (rep *Report) epochs() string {
	lo, hi := math.MaxInt, 0
	for _, r := range rep.Runs {
		lo, hi = min(lo, r.Final.Epoch), max(hi, r.Final.Epoch)
	}
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

// Headline states each method's top-1 and SD gain over the baseline at the
// largest imbalance factor (the paper's headline is IF 500).
func (rep *Report) Headline() string {
	imb := rep.Imbalances[len(rep.Imbalances)-1]
	var parts []string
	if len(rep.Methods) == 1 {
		// Nothing to compare with: the result itself.
		for _, r := range rep.Rows {
			if r.Imbalance == imb && len(r.Seeds) > 0 {
				parts = append(parts, fmt.Sprintf("%s %s%% top-1, SD of per-class accuracy %s points (%s)", r.Label(), pct(&r.Top1), pct(&r.SD), seedsText(r.Top1.N)))
			}
		}
		return fmt.Sprintf("At IF %s: %s.", formatFloat(imb), strings.Join(parts, "; "))
	}
	for _, r := range rep.Rows {
		if r.Imbalance != imb || r.GainTop1 == nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s points top-1 and %s points SD against %s (%s)",
			r.Label(), signedPct(*r.GainTop1), signedPct(*r.GainSD), rep.Baseline, seedsText(r.GainTop1.N)))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("At IF %s no method has finished runs to compare with %s.", formatFloat(imb), rep.Baseline)
	}
	return fmt.Sprintf("At IF %s: %s.", formatFloat(imb), strings.Join(parts, "; "))
}

func seedsText(n int) string {
	if n == 1 {
		return "1 seed"
	}
	return fmt.Sprintf("mean ± std over %d seeds", n)
}

// pct writes a stat in percent: "74.81 ± 0.52", or "74.81" for one seed.
func pct(s *Stat) string {
	if s == nil || s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return fmt.Sprintf("%.2f", 100*s.Mean)
	}
	return fmt.Sprintf("%.2f ± %.2f", 100*s.Mean, 100*s.Std)
}

func signedPct(s Stat) string {
	if s.N > 1 {
		return fmt.Sprintf("%+.2f ± %.2f", 100*s.Mean, 100*s.Std)
	}
	return fmt.Sprintf("%+.2f", 100*s.Mean)
}

func signedPctPtr(s *Stat) string {
	if s == nil {
		return "–"
	}
	return signedPct(*s)
}

// tableRows renders the rows as cells: the Markdown table and the HTML page
// share them.
func (rep *Report) tableRows() (head []string, rows [][]string) {
	head = []string{"IF", "method"}
	settings := rep.hasSettings()
	if settings {
		head = append(head, "setting")
	}
	head = append(head, "seeds", "top-1 (%)", "SD of per-class acc. (%)",
		fmt.Sprintf("many-shot (>%d)", pipeline.ManyShot), fmt.Sprintf("medium-shot (%d-%d)", pipeline.FewShot, pipeline.ManyShot), fmt.Sprintf("few-shot (<%d)", pipeline.FewShot),
		"Δ top-1 vs "+rep.Baseline, "Δ SD vs "+rep.Baseline)
	gains := len(rep.Methods) > 1
	if !gains {
		head = head[:len(head)-2]
	}
	for _, r := range rep.Rows {
		row := []string{formatFloat(r.Imbalance), r.Method}
		if settings {
			row = append(row, r.Setting)
		}
		seeds := fmt.Sprintf("%d/%d", len(r.Seeds), r.Planned)
		top, sd := &r.Top1, &r.SD
		row = append(row, seeds, pct(top), pct(sd), pct(r.Many), pct(r.Medium), pct(r.Few))
		if gains {
			row = append(row, signedPctPtr(r.GainTop1), signedPctPtr(r.GainSD))
		}
		rows = append(rows, row)
	}
	return head, rows
}

// Notes explains the table's numbers.
func (rep *Report) Notes() string {
	s := fmt.Sprintf("%d of %d runs finished (%s). Test accuracy after the last epoch (%s; not the best epoch) on the balanced test set, in %%: "+
		"mean ± sample standard deviation over seeds (seeds = finished/planned). SD is the standard deviation of per-class accuracy, "+
		"the seed paper's measure of (non-)uniformity; many/medium/few-shot average the classes with >%d, %d-%d and <%d training images.",
		len(rep.Runs), rep.Planned, rep.Counts, rep.epochs(), pipeline.ManyShot, pipeline.FewShot, pipeline.ManyShot, pipeline.FewShot)
	if len(rep.Methods) > 1 {
		s += fmt.Sprintf(" Δ columns are paired by seed against %s at the same IF (negative Δ SD = more uniform).", rep.Baseline)
	}
	return s
}

// WriteMarkdown writes the table with its notes and headline.
func (rep *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", rep.Title)
	for _, l := range rep.Provenance.lines(rep.Methods) {
		fmt.Fprintf(&b, "- **%s**: %s\n", l.Label, l.Markdown())
	}
	fmt.Fprintf(&b, "\n%s\n\n**%s**\n\n", rep.Notes(), rep.Headline())
	head, rows := rep.tableRows()
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for i := range head {
		if i == 1 || i == 2 && rep.hasSettings() {
			b.WriteString("---|")
		} else {
			b.WriteString("---:|")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	if len(rep.Missing) > 0 {
		fmt.Fprintf(&b, "\nNot finished (%d): %s\n", len(rep.Missing), strings.Join(rep.Missing, ", "))
	}
	fmt.Fprintf(&b, "\nFigures: %s (Figure 2), %s (Figure 3); learning curves: curves_if*.png; all in %s.\n", Figure2File, Figure3File, HTMLFile)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCSV writes one row per imbalance factor × method, accuracies as
// fractions; a standard deviation is empty for one seed, a group's columns
// are empty when it has no class.
func (rep *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"imbalance", "method", "setting", "planned", "finished", "seeds"}
	for _, s := range []string{"top1", "sd", "many", "medium", "few", "gain_top1", "gain_sd"} {
		head = append(head, s+"_mean", s+"_std")
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	stat := func(s *Stat) []string {
		if s == nil || s.N == 0 {
			return []string{"", ""}
		}
		if s.N == 1 {
			return []string{f(s.Mean), ""}
		}
		return []string{f(s.Mean), f(s.Std)}
	}
	for _, r := range rep.Rows {
		seeds := make([]string, len(r.Seeds))
		for i, s := range r.Seeds {
			seeds[i] = strconv.FormatInt(s, 10)
		}
		row := []string{formatFloat(r.Imbalance), r.Method, r.Setting, strconv.Itoa(r.Planned), strconv.Itoa(len(r.Seeds)), strings.Join(seeds, " ")}
		for _, s := range []*Stat{&r.Top1, &r.SD, r.Many, r.Medium, r.Few, r.GainTop1, r.GainSD} {
			row = append(row, stat(s)...)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Write writes the report into dir: report.md, report.csv, the figures and
// report.html; it returns the paths written.
func (rep *Report) Write(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var paths []string
	add := func(name string, write func(io.Writer) error) error {
		p := filepath.Join(dir, name)
		paths = append(paths, p)
		return pipeline.WriteAtomic(p, write)
	}
	if err := add(MarkdownFile, rep.WriteMarkdown); err != nil {
		return nil, err
	}
	if err := add(CSVFile, rep.WriteCSV); err != nil {
		return nil, err
	}
	figs := []struct {
		name, title string
		png         func() ([]byte, error)
	}{
		{Figure2File, "Per-class accuracy per method (Figure 2)", rep.Figure2},
		{Figure3File, "Per-class accuracy against class index (Figure 3)", rep.Figure3},
	}
	for _, imb := range rep.Imbalances {
		figs = append(figs, struct {
			name, title string
			png         func() ([]byte, error)
		}{CurvesFile(imb), "Learning curves, IF " + formatFloat(imb), func() ([]byte, error) { return rep.Curves(imb) }})
	}
	var images []htmlFigure
	for _, f := range figs {
		png, err := f.png()
		if err != nil {
			return nil, err
		}
		if err := add(f.name, func(w io.Writer) error { _, err := w.Write(png); return err }); err != nil {
			return nil, err
		}
		images = append(images, htmlFigure{Title: f.title, File: f.name, PNG: png})
	}
	if err := add(HTMLFile, func(w io.Writer) error { return rep.WriteHTML(w, images) }); err != nil {
		return nil, err
	}
	return paths, nil
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
