package dataset

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// at returns channel c of pixel (x, y) of a 3×h×w image.
func at(pix []uint8, h, w, c, x, y int) uint8 { return pix[(c*h+y)*w+x] }

func TestDecodeImage(t *testing.T) {
	rgb := func(w, h int, f func(x, y int) color.NRGBA) *image.NRGBA {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				m.SetNRGBA(x, y, f(x, y))
			}
		}
		return m
	}
	noise := rgb(12, 8, func(x, y int) color.NRGBA {
		return color.NRGBA{uint8(x * 20), uint8(y * 30), uint8(x*y + 7), uint8(255 - x)} // alpha varies, colour kept
	})
	gray := image.NewGray(image.Rect(0, 0, 12, 8))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 2)
	}
	cases := []struct {
		name  string
		img   image.Image
		h, w  int
		check func(t *testing.T, pix []uint8)
	}{
		{"same size: pixels as they are, alpha dropped", noise, 8, 12, func(t *testing.T, pix []uint8) {
			for y := range 8 {
				for x := range 12 {
					c := noise.NRGBAAt(x, y)
					if at(pix, 8, 12, 0, x, y) != c.R || at(pix, 8, 12, 1, x, y) != c.G || at(pix, 8, 12, 2, x, y) != c.B {
						t.Fatalf("pixel (%d,%d) = %d,%d,%d; want %v", x, y, at(pix, 8, 12, 0, x, y), at(pix, 8, 12, 1, x, y), at(pix, 8, 12, 2, x, y), c)
					}
				}
			}
		}},
		{"grey: three equal channels", gray, 8, 12, func(t *testing.T, pix []uint8) {
			for k := range 96 {
				if pix[k] != gray.Pix[k] || pix[96+k] != gray.Pix[k] || pix[192+k] != gray.Pix[k] {
					t.Fatalf("pixel %d: %d %d %d; want %d", k, pix[k], pix[96+k], pix[192+k], gray.Pix[k])
				}
			}
		}},
		{"constant colour stays constant", rgb(50, 70, func(x, y int) color.NRGBA { return color.NRGBA{200, 100, 30, 255} }), 32, 32, func(t *testing.T, pix []uint8) {
			for k, v := range pix {
				want := [3]int{200, 100, 30}[k/1024]
				if d := int(v) - want; d < -1 || d > 1 {
					t.Fatalf("value %d at %d; want %d ± 1", v, k, want)
				}
			}
		}},
		{"wide image: the centre is kept", rgb(64, 32, func(x, y int) color.NRGBA {
			if x < 32 {
				return color.NRGBA{255, 0, 0, 255}
			}
			return color.NRGBA{0, 0, 255, 255}
		}), 16, 16, func(t *testing.T, pix []uint8) {
			// The crop is columns 16–47: red then blue, halved.
			for y := range 16 {
				for x := range 16 {
					r, b := at(pix, 16, 16, 0, x, y), at(pix, 16, 16, 2, x, y)
					if (x < 7 && (r != 255 || b != 0)) || (x > 8 && (r != 0 || b != 255)) {
						t.Fatalf("(%d,%d): red %d blue %d", x, y, r, b)
					}
				}
			}
		}},
		{"shrinking averages (no aliasing)", rgb(64, 64, func(x, y int) color.NRGBA {
			v := uint8(255 * ((x + y) % 2))
			return color.NRGBA{v, v, v, 255}
		}), 32, 32, func(t *testing.T, pix []uint8) {
			for k, v := range pix {
				if v < 100 || v > 155 {
					t.Fatalf("value %d at %d of a halved 1-pixel checkerboard; want about 128", v, k)
				}
			}
		}},
		{"enlarging interpolates monotonically", rgb(10, 10, func(x, y int) color.NRGBA { return color.NRGBA{uint8(20 * x), 0, 0, 255} }), 40, 40, func(t *testing.T, pix []uint8) {
			for y := range 40 {
				for x := 1; x < 40; x++ {
					if at(pix, 40, 40, 0, x, y) < at(pix, 40, 40, 0, x-1, y) {
						t.Fatalf("row %d falls at column %d", y, x)
					}
				}
				if lo, hi := at(pix, 40, 40, 0, 0, y), at(pix, 40, 40, 0, 39, y); lo > 5 || hi < 175 || hi > 180 {
					t.Fatalf("row %d spans %d..%d; want about 0..180", y, lo, hi)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pix, err := DecodeImage(encodePNG(t, tc.img), "x.png", tc.h, tc.w)
			if err != nil {
				t.Fatal(err)
			}
			if len(pix) != 3*tc.h*tc.w {
				t.Fatalf("%d bytes; want 3×%d×%d", len(pix), tc.h, tc.w)
			}
			tc.check(t, pix)
		})
	}
}

func TestReadImageJPEG(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := 0; i < len(m.Pix); i += 4 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = 30, 160, 220, 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "photo.jpeg")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	pix, err := ReadImage(path, 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range pix {
		if want := [3]int{30, 160, 220}[k/1024]; int(v) < want-3 || int(v) > want+3 {
			t.Fatalf("value %d at %d; want %d ± 3 (JPEG)", v, k, want)
		}
	}
}

func TestReadImageErrors(t *testing.T) {
	dir := t.TempDir()
	good := encodePNG(t, image.NewRGBA(image.Rect(0, 0, 8, 8)))
	var g bytes.Buffer
	if err := gif.Encode(&g, image.NewPaletted(image.Rect(0, 0, 8, 8), color.Palette{color.Black, color.White}), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		data []byte
		want string
	}{
		{"notes.txt", []byte("not an image\n"), "notes.txt: not a PNG or JPEG image"},
		{"empty.png", nil, "empty.png: not a PNG or JPEG image"},
		{"anim.gif", g.Bytes(), "anim.gif: not a PNG or JPEG image"},
		{"cut.png", good[:len(good)-20], "cut.png: undecodable png image"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadImage(path, 8, 8)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want ErrFormat with %q", err, tc.want)
			}
		})
	}
	if _, err := ReadImage(filepath.Join(dir, "missing.png"), 8, 8); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
