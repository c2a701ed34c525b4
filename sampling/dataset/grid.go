package dataset

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
)

// Grid geometry: each image is drawn gridScale times enlarged, with
// gridGap background pixels around it.
const (
	gridScale = 2
	gridGap   = 2
)

// WriteGrid writes a PNG contact sheet of s to path (atomically): one row
// per class in label order, holding that class's first perClass images
// (fewer cells stay blank), each enlarged twice. s must have 1 (grey) or 3
// (RGB) channels.
func WriteGrid(path string, s *Set, perClass int) error {
	img, err := Grid(s, perClass)
	if err != nil {
		return fmt.Errorf("write grid %s: %w", path, err)
	}
	return writeAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// Grid renders the contact sheet that WriteGrid writes.
func Grid(s *Set, perClass int) (*image.RGBA, error) {
	if perClass < 1 {
		return nil, fmt.Errorf("grid images per class %d; want >= 1: %w", perClass, ErrArgument)
	}
	if s.C != 1 && s.C != 3 {
		return nil, fmt.Errorf("grid of %d-channel images; want 1 or 3: %w", s.C, ErrArgument)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("grid: %w", err)
	}
	cw, ch := s.W*gridScale+gridGap, s.H*gridScale+gridGap
	rows := max(len(s.Classes), 1)
	img := image.NewRGBA(image.Rect(0, 0, perClass*cw+gridGap, rows*ch+gridGap))
	for i := range img.Pix {
		img.Pix[i] = 255 // white gutters and blank cells
	}
	plane := s.H * s.W
	placed := make([]int, len(s.Classes))
	for i, l := range s.Labels {
		col := placed[l]
		if col >= perClass {
			continue
		}
		placed[l]++
		pix := s.Image(i)
		x0, y0 := gridGap+col*cw, gridGap+int(l)*ch
		for y := range s.H * gridScale {
			for x := range s.W * gridScale {
				o := (y/gridScale)*s.W + x/gridScale
				var c color.RGBA
				if s.C == 1 {
					c = color.RGBA{pix[o], pix[o], pix[o], 255}
				} else {
					c = color.RGBA{pix[o], pix[plane+o], pix[2*plane+o], 255}
				}
				img.SetRGBA(x0+x, y0+y, c)
			}
		}
	}
	return img, nil
}
