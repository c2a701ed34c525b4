package dataset

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/longtail-ml/longtail/sampling/internal/rng"
)

// SyntheticOptions configures Synthetic. A zero field takes its default.
type SyntheticOptions struct {
	Classes       int   // number of classes; default 10, at most SyntheticMaxClasses
	TrainPerClass int   // training images per class; default 5000
	TestPerClass  int   // test images per class; default 1000
	Seed          int64 // fixes every image; the class definitions do not depend on it
}

// The synthetic vocabulary. A class is one (colour, texture, shape) triple.
var (
	synthShapes   = [...]string{"disc", "ring", "square", "triangle", "cross", "bar"}
	synthTextures = [...]string{"plain", "striped", "checked", "dotted", "banded"}
	synthColours  = [...]string{"red", "yellow", "green", "cyan", "blue", "magenta"}
)

// SyntheticMaxClasses is the number of distinct classes Synthetic can make.
const SyntheticMaxClasses = len(synthShapes) * len(synthTextures) * len(synthColours)

// Difficulty knobs of the synthetic images.
const (
	synthSwap    = 0.12 // per image and attribute: chance it is redrawn at random
	synthHueJit  = 10.0 // degrees, s.d. of the object's hue around its class hue
	synthMinR    = 5.0  // object radius range, pixels
	synthMaxR    = 12.5 //
	synthMinSig  = 0.06 // per-image pixel noise s.d. range, [0,1] units
	synthMaxSig  = 0.16 //
	synthShade   = 0.35 // brightness of a texture's dark parts
	synthNormLen = 4096 // entries of the normal-quantile table used for noise
)

type synthClass struct{ shape, texture, colour int }

// synthClasses returns the first n classes of a fixed shuffle of all
// (shape, texture, colour) triples: random triples from a small vocabulary,
// so classes partly share attributes and some pairs differ in one only.
func synthClasses(n int) []synthClass {
	all := make([]synthClass, 0, SyntheticMaxClasses)
	for s := range synthShapes {
		for t := range synthTextures {
			for c := range synthColours {
				all = append(all, synthClass{s, t, c})
			}
		}
	}
	r := rng.New(tagSynthClass)
	rng.Shuffle(&r, all)
	return all[:n]
}

// Synthetic returns a built-in image-classification task generated
// deterministically from o.Seed: 32×32 RGB images whose class is a
// (colour, texture, shape) triple, e.g. "red-striped-disc". Each image draws
// a random background (colour and gradient), places one object at a random
// position, scale, rotation and aspect, fills it with the class texture at a
// random period and phase, jitters its hue, saturation and brightness, and
// adds Gaussian pixel noise of random strength. With probability 0.12 per
// attribute an image's shape, texture or colour is redrawn at random, so a
// class's images partly look like classes that share its other attributes:
// the classes overlap, which under imbalance costs the tail classes. Labels
// are interleaved (image i has class i mod Classes). Generation runs on
// GOMAXPROCS goroutines and the result does not depend on their number.
func Synthetic(o SyntheticOptions) (train, test *Set, err error) {
	for _, f := range []struct {
		key string
		v   int
	}{{"Classes", o.Classes}, {"TrainPerClass", o.TrainPerClass}, {"TestPerClass", o.TestPerClass}} {
		if f.v < 0 {
			return nil, nil, fmt.Errorf("synthetic %s %d; want >= 0 (0 for the default): %w", f.key, f.v, ErrArgument)
		}
	}
	o.Classes = cmpOr(o.Classes, 10)
	o.TrainPerClass = cmpOr(o.TrainPerClass, 5000)
	o.TestPerClass = cmpOr(o.TestPerClass, 1000)
	if o.Classes > SyntheticMaxClasses {
		return nil, nil, fmt.Errorf("synthetic Classes %d; want <= %d: %w", o.Classes, SyntheticMaxClasses, ErrArgument)
	}
	g := newSynthGen(synthClasses(o.Classes))
	names := make([]string, o.Classes)
	for i, c := range g.classes {
		names[i] = synthColours[c.colour] + "-" + synthTextures[c.texture] + "-" + synthShapes[c.shape]
	}
	train = g.generate(o.Seed, 0, o.Classes*o.TrainPerClass, names)
	test = g.generate(o.Seed, 1, o.Classes*o.TestPerClass, names)
	return train, test, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

type synthGen struct {
	classes []synthClass
	norm    [synthNormLen]float32 // standard normal quantiles at (k+0.5)/len
}

func newSynthGen(classes []synthClass) *synthGen {
	g := &synthGen{classes: classes}
	for k := range g.norm {
		p := (float64(k) + 0.5) / synthNormLen
		g.norm[k] = float32(math.Sqrt2 * math.Erfinv(2*p-1))
	}
	return g
}

func (g *synthGen) generate(seed int64, split uint64, n int, names []string) *Set {
	const size = 3 * 32 * 32
	s := &Set{Pix: make([]uint8, n*size), Labels: make([]int32, n), Classes: append([]string(nil), names...), C: 3, H: 32, W: 32}
	workers := runtime.GOMAXPROCS(0)
	const chunk = 256
	var wg sync.WaitGroup
	next := make(chan int, workers)
	for range workers {
		wg.Go(func() {
			for lo := range next {
				for i := lo; i < min(lo+chunk, n); i++ {
					label := i % len(g.classes)
					s.Labels[i] = int32(label)
					r := rng.New(tagSynthImage, uint64(seed), split, uint64(i))
					g.render(&r, g.classes[label], s.Pix[i*size:(i+1)*size])
				}
			}
		})
	}
	for lo := 0; lo < n; lo += chunk {
		next <- lo
	}
	close(next)
	wg.Wait()
	return s
}

// hsv converts hue (degrees), saturation and value in [0,1] to RGB in [0,1].
func hsv(h, s, v float64) (r, g, b float32) {
	h = math.Mod(h, 360)
	if h < 0 {
		h += 360
	}
	c := v * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	m := v - c
	var rr, gg, bb float64
	switch int(h / 60) {
	case 0:
		rr, gg = c, x
	case 1:
		rr, gg = x, c
	case 2:
		gg, bb = c, x
	case 3:
		gg, bb = x, c
	case 4:
		rr, bb = x, c
	default:
		rr, bb = c, x
	}
	return float32(rr + m), float32(gg + m), float32(bb + m)
}

func uniform(r *rng.Stream, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// render draws one image of class c into dst (3×32×32, CHW).
func (g *synthGen) render(r *rng.Stream, c synthClass, dst []uint8) {
	if r.Float64() < synthSwap {
		c.shape = r.IntN(len(synthShapes))
	}
	if r.Float64() < synthSwap {
		c.texture = r.IntN(len(synthTextures))
	}
	if r.Float64() < synthSwap {
		c.colour = r.IntN(len(synthColours))
	}
	// Object colour: the class hue, jittered.
	fr, fg, fb := hsv(60*float64(c.colour)+synthHueJit*r.Norm(), uniform(r, 0.55, 1), uniform(r, 0.5, 1))
	// Background: a dull colour with a linear brightness gradient.
	br, bgc, bb := hsv(uniform(r, 0, 360), uniform(r, 0, 0.35), uniform(r, 0.15, 0.85))
	ga := float32(uniform(r, -0.3, 0.3) / 32)
	gt := uniform(r, 0, 2*math.Pi)
	gx, gy := ga*float32(math.Cos(gt)), ga*float32(math.Sin(gt))
	// Object placement.
	cx, cy := float32(uniform(r, 6, 26)), float32(uniform(r, 6, 26))
	rad := uniform(r, synthMinR, synthMaxR)
	th := uniform(r, 0, 2*math.Pi)
	asp := uniform(r, 0.85, 1.15)
	cos, sin := float32(math.Cos(th)), float32(math.Sin(th))
	ax, ay := float32(1/(rad*asp)), float32(asp/rad)
	period := uniform(r, 3, 5.5)
	tf := float32(rad / period) // texture cycles per object radius
	p1, p2 := float32(r.Float64()), float32(r.Float64())
	sigma := float32(uniform(r, synthMinSig, synthMaxSig))

	var bits uint64
	var left int
	noise := func() float32 {
		if left == 0 {
			bits, left = r.Uint64(), 5
		}
		v := g.norm[bits&(synthNormLen-1)]
		bits >>= 12
		left--
		return v * sigma
	}
	for y := range 32 {
		for x := range 32 {
			dx, dy := float32(x)+0.5-cx, float32(y)+0.5-cy
			u := (cos*dx + sin*dy) * ax
			v := (-sin*dx + cos*dy) * ay
			var pr, pg, pb float32
			if inShape(c.shape, u, v) {
				k := float32(1)
				if !texOn(c.texture, u*tf, v*tf, p1, p2) {
					k = synthShade
				}
				pr, pg, pb = fr*k, fg*k, fb*k
			} else {
				d := gx*dx + gy*dy
				pr, pg, pb = br+d, bgc+d, bb+d
			}
			o := y*32 + x
			dst[o] = toByte(pr + noise())
			dst[1024+o] = toByte(pg + noise())
			dst[2048+o] = toByte(pb + noise())
		}
	}
}

func toByte(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 1:
		return 255
	}
	return uint8(v*255 + 0.5)
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

func frac32(v float32) float32 { return v - float32(math.Floor(float64(v))) }

// inShape reports whether (u, v), in units of the object radius, lies in shape s.
func inShape(s int, u, v float32) bool {
	au, av := abs32(u), abs32(v)
	r2 := u*u + v*v
	switch s {
	case 0: // disc
		return r2 <= 1
	case 1: // ring
		return r2 <= 1 && r2 >= 0.36
	case 2: // square
		return au <= 0.8 && av <= 0.8
	case 3: // triangle, pointing to +v
		return v >= -0.5 && v <= 1-1.7320508*au
	case 4: // cross
		return (au <= 0.3 && av <= 0.95) || (av <= 0.3 && au <= 0.95)
	default: // bar
		return au <= 1 && av <= 0.35
	}
}

// texOn reports whether texture t is bright at (u, v), in texture periods.
func texOn(t int, u, v, p1, p2 float32) bool {
	switch t {
	case 0: // plain
		return true
	case 1: // striped
		return frac32(u+p1) < 0.5
	case 2: // checked
		return (frac32(u+p1) < 0.5) == (frac32(v+p2) < 0.5)
	case 3: // dotted
		du, dv := frac32(u+p1)-0.5, frac32(v+p2)-0.5
		return du*du+dv*dv > 0.09
	default: // banded: concentric rings
		return frac32(float32(math.Sqrt(float64(u*u+v*v)))+p1) < 0.5
	}
}
