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
	// SpreadFile shows the spread over replicates: every run's top-1 as a
	// point, the mean and its 95% interval, one panel per imbalance factor.
	SpreadFile = "top1_spread.png"
)

// CurvesFile names the learning-curve figure of an imbalance factor.
func CurvesFile(imbalance float64) string { return "curves_if" + formatFloat(imbalance) + ".png" }

// ErrNoResults reports a sweep none of whose runs has finished.
var ErrNoResults = errors.New("report: no finished runs")

// RunResult is a finished run of a sweep.
type RunResult struct {
	sweep.Run
	Final   *pipeline.Final
	Records []pipeline.EpochRecord
}

// Row is one cell of the report, an imbalance factor × method (×
// setting), over its replicates: the runs that differ only by train.seed
// and data.lt_seed.
type Row struct {
	Imbalance float64
	Method    string
	Setting   string
	// Planned is the number of runs the sweep has for the row; Replicates
	// are those that finished, in run order.
	Planned    int
	Replicates []Replicate
	Top1       Stat
	SD         Stat
	// Many, Medium and Few are nil when the group has no class.
	Many, Medium, Few *Stat
	// Gain compares the row with the baseline method's row of the same
	// imbalance factor and setting, paired by replicate; nil for the
	// baseline itself or without a common replicate.
	Gain *Paired
	// Unpaired counts the replicates of this row and the baseline's that
	// have no partner in the other (also when Gain is nil); 0 for the
	// baseline.
	Unpaired int
	// PerClass is the per-class accuracy averaged over replicates.
	PerClass []float64
	// TrainCounts are the training images per class (the same for every
	// replicate of a row: data.lt_seed draws other images, not other
	// counts).
	TrainCounts []int
	// Classes are the class names.
	Classes []string
	// Worst is the worst-class accuracy over the replicates, WorstClasses
	// the worst classes, each once, in replicate order.
	Worst        Stat
	WorstClasses []int
	// ECE is the expected calibration error over the replicates and
	// Reliability their reliability bins pooled; nil when a run did not
	// record its calibration.
	ECE         *Stat
	Reliability []pipeline.Bin
	// Precision is the per-class precision averaged over the replicates;
	// nil when a run did not record it.
	Precision []float64
	// Shots are the runs' shot thresholds (eval.many_shot, eval.few_shot).
	Shots pipeline.Shots
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
	// StalePosthoc names the runs whose posthoc.json is not of the
	// checkpoint they report (posthoc.Report.Current); their post-hoc
	// results are left out, and so among Missing.
	StalePosthoc []string
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
	if err := rep.addPosthoc(s, runDirs); err != nil {
		return nil, err
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
		p, ok := pair(byKey[key{r.Imbalance, r.Method, r.Setting}], byKey[key{r.Imbalance, rep.Baseline, r.Setting}])
		r.Unpaired = p.Unpaired
		if ok {
			r.Gain = &p
		}
	}
	return nil
}

// unpaired counts the replicates left out of the comparisons: each row's
// and the baseline's without a partner, the baseline's counted once per
// row they miss.
func (rep *Report) unpaired() int {
	n := 0
	for _, r := range rep.Rows {
		n += r.Unpaired
	}
	return n
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
		// Another data.lt_seed draws other images, not other counts.
		if len(f.PerClass) != len(ref.PerClass) || !slices.Equal(f.TrainCounts, ref.TrainCounts) {
			return row, fmt.Errorf("report: runs %s and %s of one group have different classes or training counts", runs[0].Name, r.Name)
		}
		row.Replicates = append(row.Replicates, r.replicate())
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
	return row, row.addEvaluation(runs)
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
// largest imbalance factor (the paper's headline is IF 500), with their
// paired intervals.
func (rep *Report) Headline() string {
	imb := rep.Imbalances[len(rep.Imbalances)-1]
	var parts []string
	if len(rep.Methods) == 1 {
		// Nothing to compare with: the result itself.
		for _, r := range rep.Rows {
			if r.Imbalance == imb && len(r.Replicates) > 0 {
				parts = append(parts, fmt.Sprintf("%s %s%% top-1, SD of per-class accuracy %s points (%s)", r.Label(), pct(&r.Top1), pct(&r.SD), overText(r.Top1.N, "replicate")))
			}
		}
		return fmt.Sprintf("At IF %s: %s.", formatFloat(imb), strings.Join(parts, "; "))
	}
	for _, r := range rep.Rows {
		if r.Imbalance != imb || r.Gain == nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s points top-1 and %s points SD against %s (%s)",
			r.Label(), signedPct(r.Gain.Top1), signedPct(r.Gain.SD), rep.Baseline, overText(r.Gain.Top1.N, "pair")))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("At IF %s no method has finished runs to compare with %s.", formatFloat(imb), rep.Baseline)
	}
	return fmt.Sprintf("At IF %s: %s.", formatFloat(imb), strings.Join(parts, "; "))
}

// overText says what a ± is over: "mean ± 95% CI over 4 replicates", or
// "n=1, no interval".
func overText(n int, what string) string {
	if n == 1 {
		return "n=1, no interval"
	}
	return fmt.Sprintf("mean ± %g%% CI over %d %ss", 100*Level, n, what)
}

// pct writes a stat in percent, the mean ± the interval's half-width:
// "74.81 ± 0.52", or "74.81" for one replicate.
func pct(s *Stat) string {
	if s == nil || s.N == 0 {
		return "–"
	}
	if !s.HasCI() {
		return fmt.Sprintf("%.2f", 100*s.Mean)
	}
	return fmt.Sprintf("%.2f ± %.2f", 100*s.Mean, 100*s.Half)
}

func signedPct(s Stat) string {
	if s.HasCI() {
		return fmt.Sprintf("%+.2f ± %.2f", 100*s.Mean, 100*s.Half)
	}
	return fmt.Sprintf("%+.2f", 100*s.Mean)
}

// noCI marks the cell of a row's first stat when it has one value: the
// others of the row show their mean alone too.
func noCI(cell string, s Stat) string {
	if s.N == 1 {
		return cell + " (n=1, no interval)"
	}
	return cell
}

// tableRows renders the rows as cells: the Markdown table and the HTML page
// share them.
func (rep *Report) tableRows() (head []string, rows [][]string) {
	ci := fmt.Sprintf("%g%% CI", 100*Level)
	head = []string{"IF", "method"}
	settings := rep.hasSettings()
	if settings {
		head = append(head, "setting")
	}
	shots := rep.shotLabels()
	head = append(head, "n", "top-1 % ("+ci+")", "SD of per-class acc. % ("+ci+")", shots[0], shots[1], shots[2],
		"worst class % ("+ci+")", fmt.Sprintf("ECE %% (%d bins, %s)", pipeline.CalibrationBins, ci))
	gains := len(rep.Methods) > 1
	if gains {
		head = append(head, "Δ top-1 vs "+rep.Baseline+" ("+ci+")", "Δ SD vs "+rep.Baseline+" ("+ci+")", "pairs")
	}
	for _, r := range rep.Rows {
		row := []string{formatFloat(r.Imbalance), r.Method}
		if settings {
			row = append(row, r.Setting)
		}
		n := fmt.Sprintf("%d/%d", len(r.Replicates), r.Planned)
		row = append(row, n, noCI(pct(&r.Top1), r.Top1), pct(&r.SD), pct(r.Many), pct(r.Medium), pct(r.Few), r.worstCell(), pct(r.ECE))
		if gains {
			switch {
			case r.Gain != nil:
				pairs := strconv.Itoa(r.Gain.Top1.N)
				if r.Unpaired > 0 {
					pairs += fmt.Sprintf(" (%d unpaired)", r.Unpaired)
				}
				row = append(row, noCI(signedPct(r.Gain.Top1), r.Gain.Top1), signedPct(r.Gain.SD), pairs)
			case r.Method == rep.Baseline:
				row = append(row, "–", "–", "–")
			default:
				row = append(row, "–", "–", fmt.Sprintf("0 (%d unpaired)", r.Unpaired))
			}
		}
		rows = append(rows, row)
	}
	return head, rows
}

// Notes explains the table's numbers.
func (rep *Report) Notes() string {
	s := fmt.Sprintf("%d of %d runs finished (%s). Test accuracy after the last epoch (%s; not the best epoch) on the balanced test set, in %%: "+
		"mean ± the half-width of its %g%% confidence interval (Student t, t·s/√n with n−1 degrees of freedom) over the replicates of a cell, "+
		"the runs that differ only by train.seed and data.lt_seed (n = finished/planned); a cell of one run shows its value alone (n=1, no interval), "+
		"and %s holds the sample standard deviations and the intervals' ends. SD is the standard deviation of per-class accuracy, "+
		"the seed paper's measure of (non-)uniformity; %s %s",
		len(rep.Runs), rep.Planned, rep.Counts, rep.epochs(), 100*Level, CSVFile, rep.shotNote(), evalNote())
	if len(rep.Methods) > 1 {
		s += fmt.Sprintf(" Δ columns compare with %s at the same IF and setting, paired by (train.seed, data.lt_seed): the mean difference ± the half-width of "+
			"its paired t interval over the pairs (negative Δ SD = more uniform).", rep.Baseline)
		switch n := rep.unpaired(); {
		case n == 1:
			s += " 1 replicate without a partner in the other cell is left out of the Δ columns (see pairs)."
		case n > 1:
			s += fmt.Sprintf(" %d replicates without a partner in the other cell are left out of the Δ columns (see pairs; counted once per comparison).", n)
		}
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
	markdownTable(&b, head, rows, func(i int) bool { return i == 1 || i == 2 && rep.hasSettings() })
	if len(rep.Missing) > 0 {
		fmt.Fprintf(&b, "\nNot finished (%d): %s\n", len(rep.Missing), strings.Join(rep.Missing, ", "))
	}
	if len(rep.StalePosthoc) > 0 {
		fmt.Fprintf(&b, "\n%s\n", rep.staleNote())
	}
	if head, rows := rep.perClassTable(); head != nil {
		fmt.Fprintf(&b, "\n## Per class\n\n%s\n\n", perClassNote)
		markdownTable(&b, head, rows, func(i int) bool { return i == 1 })
	}
	fmt.Fprintf(&b, "\nFigures: %s (Figure 2), %s (Figure 3), %s (the spread over replicates), %s (reliability diagrams); learning curves: curves_if*.png; all in %s.\n",
		Figure2File, Figure3File, SpreadFile, ReliabilityFile, HTMLFile)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCSV writes one row per imbalance factor × method (× setting),
// accuracies as fractions. n is the number of finished replicates, seeds
// and lt_seeds their train.seed and data.lt_seed; each stat has its mean,
// sample standard deviation and the ends of its confidence interval at
// Level (ci_lo, ci_hi), which are empty for one replicate, as is the
// standard deviation; a group's columns are empty when it has no class.
// The gain columns are the paired differences to the baseline over pairs
// replicates, unpaired the replicates left out. Then the worst-class
// accuracy and ECE (empty for runs that did not record it) as stats, the
// worst classes (indices) and the shot thresholds.
func (rep *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"imbalance", "method", "setting", "planned", "n", "seeds", "lt_seeds"}
	for _, s := range []string{"top1", "sd", "many", "medium", "few", "gain_top1", "gain_sd"} {
		head = append(head, s+"_mean", s+"_std", s+"_ci_lo", s+"_ci_hi")
	}
	head = append(head, "pairs", "unpaired")
	for _, s := range []string{"worst", "ece"} {
		head = append(head, s+"_mean", s+"_std", s+"_ci_lo", s+"_ci_hi")
	}
	head = append(head, "worst_classes", "many_shot", "few_shot")
	if err := cw.Write(head); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	stat := func(s *Stat) []string {
		switch {
		case s == nil || s.N == 0:
			return []string{"", "", "", ""}
		case !s.HasCI():
			return []string{f(s.Mean), "", "", ""}
		}
		return []string{f(s.Mean), f(s.Std), f(s.Lo()), f(s.Hi())}
	}
	for _, r := range rep.Rows {
		seeds := make([]string, len(r.Replicates))
		lt := make([]string, len(r.Replicates))
		for i, x := range r.Replicates {
			seeds[i], lt[i] = strconv.FormatInt(x.Seed, 10), strconv.FormatInt(x.LTSeed, 10)
		}
		row := []string{formatFloat(r.Imbalance), r.Method, r.Setting, strconv.Itoa(r.Planned), strconv.Itoa(len(r.Replicates)),
			strings.Join(seeds, " "), strings.Join(lt, " ")}
		var gt, gs *Stat
		pairs := ""
		if r.Gain != nil {
			gt, gs = &r.Gain.Top1, &r.Gain.SD
			pairs = strconv.Itoa(gt.N)
		} else if r.Method != rep.Baseline {
			pairs = "0"
		}
		for _, s := range []*Stat{&r.Top1, &r.SD, r.Many, r.Medium, r.Few, gt, gs} {
			row = append(row, stat(s)...)
		}
		row = append(row, pairs, strconv.Itoa(r.Unpaired))
		var worst *Stat
		if r.Worst.N > 0 {
			worst = &r.Worst
		}
		row = append(row, stat(worst)...)
		row = append(row, stat(r.ECE)...)
		worstClasses := make([]string, len(r.WorstClasses))
		for i, c := range r.WorstClasses {
			worstClasses[i] = strconv.Itoa(c)
		}
		shots := []string{"", ""}
		if r.Worst.N > 0 {
			shots = []string{strconv.Itoa(r.Shots.Many), strconv.Itoa(r.Shots.Few)}
		}
		row = append(row, strings.Join(worstClasses, " "))
		row = append(row, shots...)
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
		{SpreadFile, fmt.Sprintf("Top-1 of every run, with each cell's mean and %g%% confidence interval", 100*Level), rep.Spread},
		{ReliabilityFile, fmt.Sprintf("Reliability diagrams: accuracy per confidence bin (%d equal-width bins, the cell's runs pooled) against the diagonal of perfect calibration", pipeline.CalibrationBins), rep.Reliability},
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
