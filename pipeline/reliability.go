package pipeline

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ReliabilityFile is the run directory's reliability diagram.
const ReliabilityFile = "reliability.png"

// ReliabilityPanel draws calibration bins as a reliability diagram (Guo et
// al. 2017): each non-empty bin's accuracy as a bar in colour c, the gap to
// its mean confidence shaded, and the diagonal of perfect calibration.
func ReliabilityPanel(title string, bins []Bin, c color.RGBA) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(10)
	p.X.Label.Text = "confidence (largest softmax probability)"
	p.X.Label.TextStyle.Font.Size = vg.Points(9)
	p.Y.Label.Text = "accuracy"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	var ticks []plot.Tick
	for v := 0; v <= 10; v++ {
		label := ""
		if v%2 == 0 {
			label = fmt.Sprintf("%.1f", float64(v)/10)
		}
		ticks = append(ticks, plot.Tick{Value: float64(v) / 10, Label: label})
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(ticks), plot.ConstantTicks(ticks)
	p.Add(plotter.NewGrid())
	mix := func(v uint8) uint8 { return uint8(math.Round(0.75*float64(v) + 0.25*255)) }
	fill := color.RGBA{R: mix(c.R), G: mix(c.G), B: mix(c.B), A: 0xff}
	gapFill := color.NRGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0x70}
	var bar, gap *plotter.Polygon
	for _, b := range bins {
		if b.Count == 0 {
			continue
		}
		rect := func(y0, y1 float64) (*plotter.Polygon, error) {
			return plotter.NewPolygon(plotter.XYs{{X: b.Lo, Y: y0}, {X: b.Hi, Y: y0}, {X: b.Hi, Y: y1}, {X: b.Lo, Y: y1}})
		}
		pb, err := rect(0, b.Accuracy)
		if err != nil {
			return nil, fmt.Errorf("pipeline: reliability diagram: %w", err)
		}
		pb.Color, pb.LineStyle.Color, pb.LineStyle.Width = fill, c, vg.Points(0.8)
		pg, err := rect(b.Accuracy, b.Confidence)
		if err != nil {
			return nil, fmt.Errorf("pipeline: reliability diagram: %w", err)
		}
		pg.Color, pg.LineStyle.Width = gapFill, 0
		p.Add(pb, pg)
		bar, gap = pb, pg
	}
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, fmt.Errorf("pipeline: reliability diagram: %w", err)
	}
	diag.Color, diag.Width, diag.Dashes = color.Gray{Y: 0x50}, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	if bar != nil {
		p.Legend.Add("accuracy per bin", bar)
		p.Legend.Add("gap to mean confidence", gap)
	}
	p.Legend.Add("perfect calibration", diag)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(8.5)
	p.Legend.XOffs, p.Legend.YOffs = vg.Millimeter*2, -vg.Millimeter*2
	p.Legend.ThumbnailWidth = vg.Points(16)
	return p, nil
}

// WriteReliabilityPlot writes m's reliability diagram as a PNG to path
// (atomically); it fails when m recorded no calibration.
func WriteReliabilityPlot(path, title string, m *Metrics) error {
	if !m.HasCalibration() {
		return fmt.Errorf("pipeline: reliability diagram %s: the metrics have no calibration bins", path)
	}
	p, err := ReliabilityPanel(fmt.Sprintf("%s: ECE %.2f%% (15 bins)", title, 100*m.ECE), m.Reliability, Palette(0))
	if err != nil {
		return err
	}
	img := vgimg.New(5*vg.Inch, 4.5*vg.Inch)
	p.Draw(draw.New(img))
	return WriteAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}
