package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/longtail-ml/longtail/pipeline"
)

// Report figures: one panel per imbalance factor, at most panelCols
// panels a row.
const (
	panelCols   = 4
	panelWidth  = 3.6 * vg.Inch
	panelHeight = 3.4 * vg.Inch
	figureDPI   = 120
)

// panels lays out plots in rows of panelCols and renders them as a PNG.
func panels(plots []*plot.Plot, width, height vg.Length) ([]byte, error) {
	cols := min(len(plots), panelCols)
	rows := (len(plots) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
		for j := range cols {
			if k := i*cols + j; k < len(plots) {
				grid[i][j] = plots[k]
			}
		}
	}
	img := vgimg.NewWith(vgimg.UseWH(width*vg.Length(cols), height*vg.Length(rows)), vgimg.UseDPI(figureDPI))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 3}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&b); err != nil {
		return nil, fmt.Errorf("report: figure: %w", err)
	}
	return b.Bytes(), nil
}

// rowsAt returns the rows of one imbalance factor that have results.
func (rep *Report) rowsAt(imb float64) []Row {
	var out []Row
	for _, r := range rep.Rows {
		if r.Imbalance == imb && len(r.Replicates) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// colour gives a method the same colour in every figure.
func (rep *Report) colour(method string) color.RGBA {
	for i, m := range rep.Methods {
		if m == method {
			return pipeline.Palette(i)
		}
	}
	return pipeline.Palette(0)
}

// tint mixes c with white: share 1 is c itself. The result is opaque, so
// grid lines stay behind a box.
func tint(c color.RGBA, share float64) color.RGBA {
	mix := func(v uint8) uint8 { return uint8(math.Round(share*float64(v) + (1-share)*255)) }
	return color.RGBA{R: mix(c.R), G: mix(c.G), B: mix(c.B), A: 0xff}
}

// niceTicks labels about five round values (steps of 1, 2, 2.5 or 5 times a
// power of ten).
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	dec := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	if math.Abs(step/math.Pow(10, math.Floor(math.Log10(step)+1e-9))-2.5) < 1e-9 {
		dec++
	}
	var t []plot.Tick
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi+step*1e-9; i++ {
		v := i * step
		if v == 0 {
			v = 0 // not -0
		}
		t = append(t, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', dec, 64)})
	}
	return t
}

// legendPanel is a plot that shows only a legend, for figures whose panels
// have no free corner.
func legendPanel() *plot.Plot {
	p := plot.New()
	p.HideAxes()
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Legend.ThumbnailWidth = vg.Points(28)
	return p
}

func accuracyAxis(p *plot.Plot, label string) {
	p.Y.Min, p.Y.Max = 0, 1.08
	p.Y.Label.Text = label
	p.Y.Tick.Marker = plot.ConstantTicks(ticks01())
	p.Add(plotter.NewGrid())
}

func ticks01() []plot.Tick {
	var t []plot.Tick
	for v := 0; v <= 10; v++ {
		label := ""
		if v%2 == 0 {
			label = fmt.Sprintf("%.1f", float64(v)/10)
		}
		t = append(t, plot.Tick{Value: float64(v) / 10, Label: label})
	}
	return t
}

// Figure2 is the paper's Figure 2 as a PNG: for each imbalance factor a
// panel with a box plot of each method's per-class accuracy (averaged over
// seeds), the mean as a diamond and "top-1 / SD" above it.
func (rep *Report) Figure2() ([]byte, error) {
	var plots []*plot.Plot
	for _, imb := range rep.Imbalances {
		rows := rep.rowsAt(imb)
		p := plot.New()
		p.Title.Text = "IF " + formatFloat(imb)
		accuracyAxis(p, "per-class test accuracy")
		p.Y.Min = -0.02
		p.Y.Max = 1.16
		names := make([]string, len(rows))
		for i, r := range rows {
			b, err := plotter.NewBoxPlot(vg.Points(22), float64(i), plotter.Values(r.PerClass))
			if err != nil {
				return nil, fmt.Errorf("report: figure 2: %w", err)
			}
			b.FillColor = tint(rep.colour(r.Method), 0.55)
			p.Add(b)
			mean, err := plotter.NewScatter(plotter.XYs{{X: float64(i), Y: r.Top1.Mean}})
			if err != nil {
				return nil, fmt.Errorf("report: figure 2: %w", err)
			}
			mean.GlyphStyle.Shape = draw.PyramidGlyph{}
			mean.GlyphStyle.Radius = vg.Points(3.5)
			mean.GlyphStyle.Color = color.Black
			p.Add(mean)
			text, y := fmt.Sprintf("%.1f / %.1f", 100*r.Top1.Mean, 100*r.SD.Mean), 1.03
			if len(rows) > 5 { // side by side they would overlap
				text, y = fmt.Sprintf("%.1f\n%.1f", 100*r.Top1.Mean, 100*r.SD.Mean), 1.01
			}
			lab, err := plotter.NewLabels(plotter.XYLabels{
				XYs:    plotter.XYs{{X: float64(i), Y: y}},
				Labels: []string{text},
			})
			if err != nil {
				return nil, fmt.Errorf("report: figure 2: %w", err)
			}
			for j := range lab.TextStyle {
				lab.TextStyle[j].XAlign = draw.XCenter
				lab.TextStyle[j].Font.Size = vg.Points(8.5)
			}
			p.Add(lab)
			names[i] = r.Label()
		}
		p.NominalX(names...)
		slantCrowded(p, names)
		p.X.Label.Text = "top-1 / SD (%) above; ▲ = top-1"
		p.X.Label.TextStyle.Font.Size = vg.Points(9)
		plots = append(plots, p)
	}
	return panels(plots, panelWidth, panelHeight)
}

// manyClasses is the class count above which Figure 3 draws each method's
// per-class accuracy thin and light, under a moving mean (CIFAR-100: one
// noisy line per method cannot be told apart from the others).
const manyClasses = 30

// smoothWindow is the moving mean's width for n classes: about a tenth of
// them, odd so that it is centred.
func smoothWindow(n int) int { return n/20*2 + 1 }

// movingMean averages v over a centred window of w values, shrunk at the
// ends to the values there are.
func movingMean(v []float64, w int) []float64 {
	out := make([]float64, len(v))
	for i := range v {
		lo, hi := max(0, i-w/2), min(len(v), i+w/2+1)
		var sum float64
		for _, x := range v[lo:hi] {
			sum += x
		}
		out[i] = sum / float64(hi-lo)
	}
	return out
}

// shotBounds returns the first class index that is not many-shot and the
// first that is few-shot (len(counts) when there is none), for classes
// sorted head to tail, with the thresholds s.
func shotBounds(counts []int, s pipeline.Shots) (medium, few int) {
	medium, few = len(counts), len(counts)
	for c := len(counts) - 1; c >= 0; c-- {
		if counts[c] <= s.Many {
			medium = c
		}
		if counts[c] < s.Few {
			few = c
		}
	}
	return medium, few
}

// Figure3 is the paper's Figure 3 as a PNG: for each imbalance factor a
// panel of per-class accuracy (averaged over seeds) against class index,
// head to tail, one line per method, with dashed lines where the many-,
// medium- and few-shot classes meet. Above manyClasses classes each
// method's per-class line is drawn thin and light under its moving mean
// over smoothWindow classes.
func (rep *Report) Figure3() ([]byte, error) {
	var plots []*plot.Plot
	for _, imb := range rep.Imbalances {
		p := plot.New()
		p.Title.Text = "IF " + formatFloat(imb)
		accuracyAxis(p, "per-class test accuracy")
		p.X.Label.Text = "class index (head → tail)"
		rows := rep.rowsAt(imb)
		classes := 0
		for _, r := range rows {
			classes = max(classes, len(r.PerClass))
		}
		if len(rows) > 0 {
			if err := shotLines(p, rows[0].TrainCounts, rows[0].Shots); err != nil {
				return nil, err
			}
		}
		var means []plot.Plotter // drawn over every method's light lines
		for _, r := range rows {
			c := rep.colour(r.Method)
			xy := func(v []float64) plotter.XYs {
				out := make(plotter.XYs, len(v))
				for i, a := range v {
					out[i] = plotter.XY{X: float64(i), Y: a}
				}
				return out
			}
			if len(r.PerClass) > manyClasses {
				raw, err := plotter.NewLine(xy(r.PerClass))
				if err != nil {
					return nil, fmt.Errorf("report: figure 3: %w", err)
				}
				raw.Color, raw.Width = tint(c, 0.4), vg.Points(0.7)
				mean, err := plotter.NewLine(xy(movingMean(r.PerClass, smoothWindow(len(r.PerClass)))))
				if err != nil {
					return nil, fmt.Errorf("report: figure 3: %w", err)
				}
				mean.Color, mean.Width = c, vg.Points(2.2)
				p.Add(raw)
				means = append(means, mean)
				p.Legend.Add(r.Label(), mean)
				continue
			}
			line, points, err := plotter.NewLinePoints(xy(r.PerClass))
			if err != nil {
				return nil, fmt.Errorf("report: figure 3: %w", err)
			}
			line.Color, line.Width = c, vg.Points(1.6)
			points.Color, points.Radius = c, vg.Points(2.2)
			p.Add(line, points)
			p.Legend.Add(r.Label(), line, points)
		}
		p.Add(means...)
		if classes > manyClasses {
			p.X.Label.Text = fmt.Sprintf("class index (head → tail); thick: mean over %d adjacent classes", smoothWindow(classes))
			p.X.Label.TextStyle.Font.Size = vg.Points(9)
		}
		// Room above 1.0 for the legend, clear of the lines.
		p.Y.Max = 1.06 + 0.075*float64(len(rows))
		p.X.Min, p.X.Max = -0.3, float64(classes)-0.7
		var t []plot.Tick
		switch {
		case classes <= 20:
			for c := range classes {
				t = append(t, plot.Tick{Value: float64(c), Label: fmt.Sprint(c)})
			}
		default:
			step := 10 * max(1, classes/100)
			for c := 0; c < classes; c += step / 2 {
				label := ""
				if c%step == 0 {
					label = fmt.Sprint(c)
				}
				t = append(t, plot.Tick{Value: float64(c), Label: label})
			}
		}
		p.X.Tick.Marker = plot.ConstantTicks(t)
		p.Legend.Top, p.Legend.Left = true, true
		p.Legend.XOffs = vg.Millimeter * 2
		p.Legend.TextStyle.Font.Size = vg.Points(9)
		plots = append(plots, p)
	}
	return panels(plots, panelWidth, panelHeight)
}

// shotLines draws a dashed line where the many-, medium- and few-shot
// classes meet, and names the groups just above 1.0.
func shotLines(p *plot.Plot, counts []int, s pipeline.Shots) error {
	medium, few := shotBounds(counts, s)
	bounds := []int{0, medium, few, len(counts)}
	names := []string{"many", "medium", "few"}
	var lab plotter.XYLabels
	for g := range names {
		lo, hi := bounds[g], bounds[g+1]
		if hi <= lo {
			continue
		}
		lab.XYs = append(lab.XYs, plotter.XY{X: (float64(lo+hi) - 1) / 2, Y: 1.01})
		lab.Labels = append(lab.Labels, names[g])
		if lo == 0 {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: float64(lo) - 0.5, Y: 0}, {X: float64(lo) - 0.5, Y: 1}})
		if err != nil {
			return fmt.Errorf("report: figure 3: %w", err)
		}
		l.Color, l.Width, l.Dashes = color.Gray{Y: 0x80}, vg.Points(0.8), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
	}
	if len(lab.Labels) < 2 {
		return nil // one group: nothing to tell apart
	}
	labels, err := plotter.NewLabels(lab)
	if err != nil {
		return fmt.Errorf("report: figure 3: %w", err)
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].XAlign = draw.XCenter
		labels.TextStyle[i].Font.Size = vg.Points(8)
		labels.TextStyle[i].Color = color.Gray{Y: 0x60}
	}
	p.Add(labels)
	return nil
}

// Curves is the learning curves of every run at one imbalance factor as a
// PNG: training loss and test top-1 against epoch, one line per run, the
// colour the method's and the dash pattern the replicate's (train.seed and
// data.lt_seed).
func (rep *Report) Curves(imb float64) ([]byte, error) {
	loss, top := plot.New(), plot.New()
	loss.Title.Text = fmt.Sprintf("training loss, IF %s", formatFloat(imb))
	loss.X.Label.Text, loss.Y.Label.Text = "epoch", "mean training loss"
	top.Title.Text = fmt.Sprintf("test top-1, IF %s", formatFloat(imb))
	top.X.Label.Text = "epoch"
	accuracyAxis(top, "test top-1 accuracy")
	top.Y.Max = 1
	loss.Add(plotter.NewGrid())
	loss.Y.Min = 0
	loss.Y.Tick.Marker = niceTicks{}
	legend := legendPanel()
	dashes := [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}, {vg.Points(8), vg.Points(2), vg.Points(2), vg.Points(2)}}
	repIdx := map[Replicate]int{}
	lt := slices.ContainsFunc(rep.Runs, func(r RunResult) bool { return r.LTSeed != rep.Runs[0].LTSeed })
	maxEpoch := 1
	for _, r := range rep.Runs {
		if r.Imbalance != imb {
			continue
		}
		if _, ok := repIdx[r.replicate()]; !ok {
			repIdx[r.replicate()] = len(repIdx)
		}
		var lxy, txy plotter.XYs
		for _, e := range r.Records {
			lxy = append(lxy, plotter.XY{X: float64(e.Epoch), Y: e.Loss})
			if e.Eval != nil {
				txy = append(txy, plotter.XY{X: float64(e.Epoch), Y: e.Eval.Top1})
			}
			maxEpoch = max(maxEpoch, e.Epoch)
		}
		label := r.Method
		if r.Setting != "" {
			label += " " + r.Setting
		}
		label += fmt.Sprintf(" seed %d", r.Seed)
		if lt {
			label += fmt.Sprintf(" lt %d", r.LTSeed)
		}
		c := rep.colour(r.Method)
		for _, pair := range []struct {
			p  *plot.Plot
			xy plotter.XYs
		}{{loss, lxy}, {top, txy}} {
			if len(pair.xy) == 0 {
				continue
			}
			l, pts, err := plotter.NewLinePoints(pair.xy)
			if err != nil {
				return nil, fmt.Errorf("report: learning curves: %w", err)
			}
			l.Color, l.Width, l.Dashes = c, vg.Points(1.4), dashes[repIdx[r.replicate()]%len(dashes)]
			pts.Color, pts.Radius = c, vg.Points(1.8)
			if len(pair.xy) > 40 {
				pts.Radius = 0
			}
			pair.p.Add(l, pts)
			if pair.p == top {
				legend.Legend.Add(label, l, pts)
			}
		}
	}
	for _, p := range []*plot.Plot{loss, top} {
		p.X.Min, p.X.Max = 0.5, float64(maxEpoch)+0.5
		if maxEpoch <= 10 {
			var t []plot.Tick
			for e := 1; e <= maxEpoch; e++ {
				t = append(t, plot.Tick{Value: float64(e), Label: fmt.Sprint(e)})
			}
			p.X.Tick.Marker = plot.ConstantTicks(t)
		}
	}
	return panels([]*plot.Plot{loss, top, legend}, panelWidth, panelHeight)
}

// Spread shows the spread over replicates as a PNG: for each imbalance
// factor a panel with, per method (and setting), every finished run's
// top-1 as a light point on the left, spread sideways in run order so that
// equal values stay apart, and on the right the mean as a short bar with
// its Level confidence interval (Student t) as an error bar, cut at 0 and
// 1; one run has a mean and no interval.
func (rep *Report) Spread() ([]byte, error) {
	var plots []*plot.Plot
	for _, imb := range rep.Imbalances {
		rows := rep.rowsAt(imb)
		p := plot.New()
		p.Title.Text = "IF " + formatFloat(imb)
		p.Y.Label.Text = "test top-1 accuracy"
		p.Y.Tick.Marker = niceTicks{}
		p.Add(plotter.NewGrid())
		lo, hi := math.Inf(1), math.Inf(-1)
		names := make([]string, len(rows))
		for i, r := range rows {
			c := rep.colour(r.Method)
			var pts plotter.XYs
			for _, run := range rep.Runs {
				if run.Imbalance != r.Imbalance || run.Method != r.Method || run.Setting != r.Setting {
					continue
				}
				pts = append(pts, plotter.XY{Y: run.Final.Top1})
			}
			for j := range pts {
				// Offsets in (−0.35, −0.05), left of the mean.
				pts[j].X = float64(i) - 0.35 + 0.3*(float64(j)+0.5)/float64(len(pts))
				lo, hi = min(lo, pts[j].Y), max(hi, pts[j].Y)
			}
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, fmt.Errorf("report: spread figure: %w", err)
			}
			sc.GlyphStyle.Shape = draw.CircleGlyph{}
			sc.GlyphStyle.Radius = vg.Points(3)
			sc.GlyphStyle.Color = tint(c, 0.5)
			p.Add(sc)
			x := float64(i) + 0.2
			mean, err := plotter.NewLine(plotter.XYs{{X: x - 0.12, Y: r.Top1.Mean}, {X: x + 0.12, Y: r.Top1.Mean}})
			if err != nil {
				return nil, fmt.Errorf("report: spread figure: %w", err)
			}
			mean.Color, mean.Width = c, vg.Points(2.5)
			p.Add(mean)
			if r.Top1.HasCI() {
				// An accuracy lies in [0, 1]; so does what is drawn of its
				// interval.
				l, h := max(0, r.Top1.Lo()), min(1, r.Top1.Hi())
				bar := errorBar{XYs: plotter.XYs{{X: x, Y: r.Top1.Mean}}, YErrors: plotter.YErrors{{Low: r.Top1.Mean - l, High: h - r.Top1.Mean}}}
				eb, err := plotter.NewYErrorBars(bar)
				if err != nil {
					return nil, fmt.Errorf("report: spread figure: %w", err)
				}
				eb.Color, eb.Width, eb.CapWidth = c, vg.Points(2), vg.Points(10)
				p.Add(eb)
				lo, hi = min(lo, l), max(hi, h)
			}
			names[i] = r.Label()
		}
		if len(rows) > 0 {
			pad := max(0.02, 0.08*(hi-lo))
			p.Y.Min, p.Y.Max = lo-pad, hi+pad
			p.NominalX(names...)
			slantCrowded(p, names)
			p.X.Min, p.X.Max = -0.55, float64(len(rows))-0.45
		}
		p.X.Label.Text = fmt.Sprintf("● a run; bar: mean, %g%% CI (Student t)", 100*Level)
		p.X.Label.TextStyle.Font.Size = vg.Points(9)
		plots = append(plots, p)
	}
	return panels(plots, panelWidth, panelHeight)
}

// slantCrowded slants the method names under a panel when they would run
// into each other side by side (post-hoc rows make long, many names).
func slantCrowded(p *plot.Plot, names []string) {
	chars := 0
	for _, n := range names {
		chars += len(n) + 2
	}
	if chars <= 48 {
		return
	}
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
}

// errorBar is a point with its vertical error, for plotter.NewYErrorBars.
type errorBar struct {
	plotter.XYs
	plotter.YErrors
}
