package sampling

import (
	"fmt"

	"github.com/longtail-ml/longtail/sampling/dataset"
)

// DefaultPad is the crop padding used when Augment.Pad is 0.
const DefaultPad = 4

// Augment is the training-time augmentation and normalisation, applied as
// the PyTorch reference does: zero-pad the uint8 image by Pad pixels per
// side, take a random crop of the original size (offsets 0..2·Pad on each
// axis), mirror it horizontally with probability 1/2, then map each value v
// to (v/255 − Mean[c]) / Std[c]. Padding is black in pixel space, so it
// becomes (0 − Mean[c]) / Std[c] after normalisation.
type Augment struct {
	Crop bool      // random pad-and-crop
	Pad  int       // padding for Crop; 0 means DefaultPad (4)
	Flip bool      // random horizontal mirror
	Mean []float32 // per channel, [0,1] units; nil means 0 for every channel
	Std  []float32 // per channel, [0,1] units, > 0; nil means 1
}

// pad returns the crop padding in effect (0 without Crop).
func (a *Augment) pad() int {
	switch {
	case !a.Crop:
		return 0
	case a.Pad == 0:
		return DefaultPad
	}
	return a.Pad
}

// table maps a channel's uint8 values to normalised float32.
type table [256]float32

// tables builds one table per channel from mean and std (nil: 0 and 1).
func tables(channels int, mean, std []float32) ([]table, error) {
	if mean != nil && len(mean) != channels {
		return nil, fmt.Errorf("augment.mean: %d values; want one per channel, %d: %w", len(mean), channels, ErrConfig)
	}
	if std != nil && len(std) != channels {
		return nil, fmt.Errorf("augment.std: %d values; want one per channel, %d: %w", len(std), channels, ErrConfig)
	}
	out := make([]table, channels)
	for c := range out {
		m, s := 0.0, 1.0
		if mean != nil {
			m = float64(mean[c])
		}
		if std != nil {
			s = float64(std[c])
		}
		if !(s > 0) {
			return nil, fmt.Errorf("augment.std: channel %d is %v; want > 0: %w", c, s, ErrConfig)
		}
		for v := range out[c] {
			out[c][v] = float32((float64(v)/255 - m) / s)
		}
	}
	return out, nil
}

// apply writes the normalised C×H×W image src, shifted by (dx, dy) (the
// crop offset minus the padding) and optionally mirrored, into dst.
// Pixels from outside src take the normalised value of 0.
func apply(lut []table, src []uint8, dst []float32, h, w, dx, dy int, flip bool) {
	for c := range lut {
		t := &lut[c]
		fill := t[0]
		for y := range h {
			o := (c*h + y) * w
			drow := dst[o : o+w]
			sy := y + dy
			if sy < 0 || sy >= h {
				for x := range drow {
					drow[x] = fill
				}
				continue
			}
			srow := src[(c*h+sy)*w : (c*h+sy+1)*w]
			if !flip {
				// drow[x] = src[x+dx]
				x0 := min(max(0, -dx), w)
				x1 := max(min(w, w-dx), x0)
				for x := range x0 {
					drow[x] = fill
				}
				if x1 > x0 {
					for x, v := range srow[x0+dx : x1+dx] {
						drow[x0+x] = t[v]
					}
				}
				for x := x1; x < w; x++ {
					drow[x] = fill
				}
				continue
			}
			// drow[x] = src[w-1-x+dx]
			x0 := min(max(0, dx), w)
			x1 := max(min(w, w+dx), x0)
			for x := range x0 {
				drow[x] = fill
			}
			for x := x0; x < x1; x++ {
				drow[x] = t[srow[w-1-x+dx]]
			}
			for x := x1; x < w; x++ {
				drow[x] = fill
			}
		}
	}
}

// Assemble writes images idx of set, normalised by mean and std (nil: 0
// and 1) without augmentation, into dst as len(idx)×C×H×W float32 (NCHW);
// it is the evaluation-time counterpart of a Loader batch. It panics if dst
// is shorter than len(idx)·C·H·W or mean or std has the wrong length:
// those are programming errors.
func Assemble(set *dataset.Set, idx []int, mean, std []float32, dst []float32) {
	lut, err := tables(set.C, mean, std)
	if err != nil {
		panic(fmt.Sprintf("sampling.Assemble: %v", err))
	}
	n := set.ImageSize()
	if len(dst) < len(idx)*n {
		panic(fmt.Sprintf("sampling.Assemble: dst holds %d floats; want >= %d images × %d", len(dst), len(idx), n))
	}
	for j, i := range idx {
		apply(lut, set.Image(i), dst[j*n:(j+1)*n], set.H, set.W, 0, 0, false)
	}
}
