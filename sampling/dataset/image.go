package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"

	"golang.org/x/image/draw"
)

// ReadImage reads a PNG or JPEG file as 3×h×w RGB bytes (CHW, as Set holds
// them), fitted to h×w the way torchvision's evaluation transform
// Resize + CenterCrop does: the largest centred region of the image with
// h:w proportions is scaled to h×w by bilinear filtering (its support
// widened when shrinking, so that every source pixel counts, as PIL does).
// An image of size h×w already is taken as it is, pixel for pixel as
// ReadImageFolder reads it. Grey and paletted images become RGB; alpha is
// dropped (the colour is kept, as PIL's convert("RGB") does). A file that is
// not a whole PNG or JPEG gives an error wrapping ErrFormat and naming it.
func ReadImage(path string, h, w int) ([]uint8, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read image: %w", err)
	}
	return DecodeImage(data, path, h, w)
}

// DecodeImage is ReadImage for the encoded bytes of a file called name.
func DecodeImage(data []byte, name string, h, w int) ([]uint8, error) {
	if h < 1 || w < 1 {
		return nil, fmt.Errorf("%s: target size %d×%d: %w", name, h, w, ErrArgument)
	}
	_, format, err := image.DecodeConfig(bytes.NewReader(data))
	if errors.Is(err, image.ErrFormat) || (err == nil && format != "png" && format != "jpeg") {
		return nil, fmt.Errorf("%s: not a PNG or JPEG image: %w", name, ErrFormat)
	}
	var img image.Image
	if err == nil {
		if format == "png" {
			img, err = png.Decode(bytes.NewReader(data))
		} else {
			img, err = jpeg.Decode(bytes.NewReader(data))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: undecodable %s image (%v): %w", name, format, err, ErrFormat)
	}
	pix, sw, sh := toCHW(img)
	if sw == w && sh == h {
		return pix, nil
	}
	return fit(pix, sw, sh, h, w), nil
}

// fit scales the centred h:w region of the 3×sh×sw image pix to 3×h×w.
func fit(pix []uint8, sw, sh, h, w int) []uint8 {
	// The crop: the whole of one side, the middle of the other, rounded.
	cw, ch := sw, sh
	if sw*h > sh*w {
		cw = max(1, (sh*w+h/2)/h)
	} else {
		ch = max(1, (sw*h+w/2)/w)
	}
	x0, y0 := (sw-cw)/2, (sh-ch)/2
	src := image.NewRGBA(image.Rect(0, 0, sw, sh))
	plane := sw * sh
	for k := range plane {
		o := 4 * k
		src.Pix[o], src.Pix[o+1], src.Pix[o+2], src.Pix[o+3] = pix[k], pix[plane+k], pix[2*plane+k], 0xff
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.BiLinear.Scale(dst, dst.Bounds(), src, image.Rect(x0, y0, x0+cw, y0+ch), draw.Src, nil)
	out, _, _ := toCHW(dst)
	return out
}
