package report

import (
	"fmt"
	"image/color"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/longtail-ml/longtail/pipeline"
)

// ReliabilityFile is the reliability diagram: for each imbalance factor ×
// method (× setting) a panel of accuracy against confidence in the
// CalibrationBins equal-width bins (Guo et al. 2017), pooled over the
// cell's runs.
const ReliabilityFile = "reliability.png"

// addEvaluation fills in the row's wider evaluation from its runs (which
// share classes and training counts): the worst class's accuracy, the
// worst classes, the expected calibration error, per-class precision
// averaged over the runs and the reliability bins pooled over them. The
// runs must share their shot thresholds (eval.many_shot, eval.few_shot):
// the groups are averaged over runs.
func (row *Row) addEvaluation(runs []RunResult) error {
	if len(runs) == 0 {
		return nil
	}
	var worst, ece []float64
	row.Shots = runs[0].Final.ShotThresholds()
	calibrated, precise := true, true
	for _, r := range runs {
		f := r.Final
		if s := f.ShotThresholds(); s != row.Shots {
			return fmt.Errorf("report: runs %s and %s of one group have different shot thresholds (many > %d, few < %d against many > %d, few < %d); evaluate them alike (eval.many_shot, eval.few_shot)",
				runs[0].Name, r.Name, row.Shots.Many, row.Shots.Few, s.Many, s.Few)
		}
		worst = append(worst, f.Worst)
		if !slices.Contains(row.WorstClasses, f.WorstClass) {
			row.WorstClasses = append(row.WorstClasses, f.WorstClass)
		}
		calibrated = calibrated && len(f.Reliability) == pipeline.CalibrationBins
		precise = precise && len(f.Precision) == len(f.PerClass)
		ece = append(ece, f.ECE)
	}
	row.Worst = newStat(worst)
	if calibrated {
		s := newStat(ece)
		row.ECE = &s
		row.Reliability = poolBins(runs)
	}
	if precise {
		row.Precision = make([]float64, len(runs[0].Final.Precision))
		for _, r := range runs {
			for c, p := range r.Final.Precision {
				row.Precision[c] += p / float64(len(runs))
			}
		}
	}
	return nil
}

// poolBins adds the runs' reliability bins: counts summed, mean confidence
// and accuracy weighted by each run's count in the bin.
func poolBins(runs []RunResult) []pipeline.Bin {
	out := make([]pipeline.Bin, pipeline.CalibrationBins)
	for b := range out {
		out[b].Lo, out[b].Hi = runs[0].Final.Reliability[b].Lo, runs[0].Final.Reliability[b].Hi
		var conf, acc float64
		for _, r := range runs {
			x := r.Final.Reliability[b]
			out[b].Count += x.Count
			conf += float64(x.Count) * x.Confidence
			acc += float64(x.Count) * x.Accuracy
		}
		if out[b].Count > 0 {
			out[b].Confidence = conf / float64(out[b].Count)
			out[b].Accuracy = acc / float64(out[b].Count)
		}
	}
	return out
}

// worstCell is the worst-class accuracy with the class (or classes, when
// the runs differ): "12.30 (3 truck)".
func (row *Row) worstCell() string {
	if row.Worst.N == 0 {
		return "–"
	}
	names := make([]string, len(row.WorstClasses))
	for i, c := range row.WorstClasses {
		names[i] = strconv.Itoa(c)
		if c < len(row.Classes) {
			names[i] += " " + row.Classes[c]
		}
	}
	return pct(&row.Worst) + " (" + strings.Join(names, ", ") + ")"
}

// shots are the thresholds of the rows with results, and whether they
// all share them (otherwise the defaults are returned).
func (rep *Report) shots() (pipeline.Shots, bool) {
	var s *pipeline.Shots
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if len(r.PerClass) == 0 {
			continue
		}
		if s == nil {
			s = &r.Shots
		} else if *s != r.Shots {
			return pipeline.DefaultShots(), false
		}
	}
	if s == nil {
		return pipeline.DefaultShots(), true
	}
	return *s, true
}

// shotNote says which classes the shot groups average.
func (rep *Report) shotNote() string {
	s, ok := rep.shots()
	if !ok {
		return "many/medium/few-shot average the classes of each shot group, with thresholds (eval.many_shot, eval.few_shot) that differ between rows."
	}
	return fmt.Sprintf("many/medium/few-shot average the classes with >%d, %d-%d and <%d training images.", s.Many, s.Few, s.Many, s.Few)
}

// shotLabels head the shot-group columns: with the runs' thresholds when
// they share them.
func (rep *Report) shotLabels() [3]string {
	if s, ok := rep.shots(); ok {
		return s.Labels()
	}
	return [3]string{"many-shot", "medium-shot", "few-shot"}
}

// evalNote explains the worst-class and ECE columns.
func evalNote() string {
	return fmt.Sprintf("Worst class is the lowest per-class accuracy (its class in brackets; several when the replicates differ). "+
		"ECE is the expected calibration error over %d equal-width bins of the largest softmax probability (Guo et al. 2017), "+
		"in %%; – for runs that did not record it.", pipeline.CalibrationBins)
}

// perClassNote explains the per-class table.
const perClassNote = "Recall is the per-class test accuracy (the share of a class's test images predicted as the class), " +
	"precision the share of the images predicted as a class that are of it (0 for a class never predicted); " +
	"both in %, averaged over the cell's runs."

// perClassTable is the per-class table of a report with one row of
// results (a single run, or one method's replicates): training images,
// recall (per-class accuracy) and precision, in percent, averaged over the
// replicates; nil otherwise.
func (rep *Report) perClassTable() (head []string, rows [][]string) {
	var only *Row
	for i := range rep.Rows {
		if len(rep.Rows[i].PerClass) == 0 {
			continue
		}
		if only != nil {
			return nil, nil
		}
		only = &rep.Rows[i]
	}
	if only == nil {
		return nil, nil
	}
	head = []string{"class", "name", "train images", "recall (%)", "precision (%)"}
	for c, a := range only.PerClass {
		prec := "–"
		if c < len(only.Precision) {
			prec = fmt.Sprintf("%.2f", 100*only.Precision[c])
		}
		rows = append(rows, []string{strconv.Itoa(c), only.Classes[c], strconv.Itoa(only.TrainCounts[c]), fmt.Sprintf("%.2f", 100*a), prec})
	}
	return head, rows
}

// markdownTable writes head and rows as a Markdown table, text columns
// (text[i]) left-aligned and the others right-aligned.
func markdownTable(b *strings.Builder, head []string, rows [][]string, text func(i int) bool) {
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for i := range head {
		if text(i) {
			b.WriteString("---|")
		} else {
			b.WriteString("---:|")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
}

// Reliability is the reliability diagram as a PNG: a panel for each row
// with calibration bins (pooled over its runs), the accuracy of each
// confidence bin as a bar, the gap to the bin's mean confidence shaded
// above or below it, and the diagonal of perfect calibration. Rows of runs
// that did not record calibration are left out; with none, the figure says
// so.
func (rep *Report) Reliability() ([]byte, error) {
	var plots []*plot.Plot
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if len(r.Reliability) == 0 {
			continue
		}
		p, err := reliabilityPanel(r, rep.colour(r.Method))
		if err != nil {
			return nil, err
		}
		if len(plots) == 0 {
			p.Legend.Top, p.Legend.Left = true, true
			p.Legend.TextStyle.Font.Size = vg.Points(8.5)
		} else {
			p.Legend = plot.NewLegend()
		}
		plots = append(plots, p)
	}
	if len(plots) == 0 {
		p := plot.New()
		p.Title.Text = "no run recorded its calibration"
		p.HideAxes()
		plots = append(plots, p)
	}
	return panels(plots, panelWidth, panelHeight)
}

func reliabilityPanel(r *Row, c color.RGBA) (*plot.Plot, error) {
	title := fmt.Sprintf("IF %s %s: ECE %s%%", formatFloat(r.Imbalance), r.Label(), pct(r.ECE))
	return pipeline.ReliabilityPanel(title, r.Reliability, c)
}
