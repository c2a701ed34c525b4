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

// Series is one method's per-class accuracy, for plots and tables.
type Series struct {
	Name     string
	PerClass []float64
}

// Palette colours series in order: the i-th series of every figure gets
// the same colour.
func Palette(i int) color.RGBA {
	colours := []color.RGBA{
		{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
		{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
		{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
		{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
		{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
		{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	}
	return colours[i%len(colours)]
}

// How the per-class plot labels its classes.
const (
	axisNames   = iota // the names, level
	axisSlanted        // the names at 45°, where level ones would overlap
	axisIndex          // the class index (numeric axis)
)

// classAxis picks the labels: names up to 30 classes (CIFAR-10's
// "automobile" next to "airplane" slanted), beyond that the index.
func classAxis(classes []string) int {
	longest := 0
	for _, c := range classes {
		longest = max(longest, len(c))
	}
	switch {
	case len(classes) > 30:
		return axisIndex
	case longest*len(classes) > 80:
		return axisSlanted
	}
	return axisNames
}

// WritePerClassPlot writes a PNG with two panels: per-class accuracy as bars
// (classes in index order, which is head to tail for long-tailed data), and
// a box plot of each series' per-class accuracies, the seed paper's view of
// accuracy uniformity.
func WritePerClassPlot(path, title string, classes []string, series []Series) error {
	if len(series) == 0 {
		return fmt.Errorf("pipeline: plot %s: no series", path)
	}
	bars := plot.New()
	bars.Title.Text = title
	bars.Y.Label.Text = "test accuracy"
	bars.X.Label.Text = "class (head → tail)"
	bars.Y.Min, bars.Y.Max = 0, 1
	width := vg.Points(min(24, 360/float64(len(classes)*len(series))))
	for i, s := range series {
		b, err := plotter.NewBarChart(plotter.Values(s.PerClass), width)
		if err != nil {
			return fmt.Errorf("pipeline: plot %s: %w", path, err)
		}
		b.LineStyle.Width = 0
		b.Color = Palette(i)
		b.Offset = width * vg.Length(float64(i)-float64(len(series)-1)/2)
		bars.Add(b)
		if len(series) > 1 {
			bars.Legend.Add(s.Name, b)
		}
	}
	bars.Legend.Top = true
	if len(series) > 1 {
		bars.Y.Max = 1 + 0.06*float64(len(series)) // room for the legend
	}
	switch classAxis(classes) {
	case axisNames:
		bars.NominalX(classes...)
	case axisSlanted:
		bars.NominalX(classes...)
		bars.X.Tick.Label.Rotation = math.Pi / 4
		bars.X.Tick.Label.XAlign = draw.XRight
		bars.X.Tick.Label.YAlign = draw.YCenter
	default:
		bars.X.Label.Text = "class index (head → tail)"
	}

	box := plot.New()
	box.Title.Text = "per-class accuracy"
	box.Y.Min, box.Y.Max = 0, 1
	names := make([]string, len(series))
	for i, s := range series {
		b, err := plotter.NewBoxPlot(vg.Points(28), float64(i), plotter.Values(s.PerClass))
		if err != nil {
			return fmt.Errorf("pipeline: plot %s: %w", path, err)
		}
		b.FillColor = Palette(i)
		box.Add(b)
		names[i] = s.Name
	}
	box.NominalX(names...)

	img := vgimg.New(11*vg.Inch, 4*vg.Inch)
	dc := draw.New(img)
	// The bar panel gets three quarters of the width.
	left := draw.Crop(dc, 0, -dc.Size().X/4, 0, 0)
	right := draw.Crop(dc, 3*dc.Size().X/4, 0, 0, 0)
	bars.Draw(draw.Crop(left, vg.Millimeter*2, -vg.Millimeter*2, vg.Millimeter*2, -vg.Millimeter*2))
	box.Draw(draw.Crop(right, vg.Millimeter*2, -vg.Millimeter*2, vg.Millimeter*2, -vg.Millimeter*2))
	return WriteAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}
