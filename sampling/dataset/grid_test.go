package dataset

import (
	"errors"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteGrid(t *testing.T) {
	// Class 0 has 3 images, class 1 one; 2 columns.
	s := &Set{Pix: make([]uint8, 4*3*2*2), Labels: []int32{0, 1, 0, 0}, Classes: []string{"a", "b"}, C: 3, H: 2, W: 2}
	for i := range 4 {
		for c := range 3 {
			for k := range 4 {
				s.Pix[i*12+c*4+k] = uint8(10*i + 3*c + k)
			}
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "grid.png")
	if err := WriteGrid(path, s, 2); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	cell := 2*gridScale + gridGap
	if b := img.Bounds(); b.Dx() != 2*cell+gridGap || b.Dy() != 2*cell+gridGap {
		t.Fatalf("grid %v; want %d×%d", b, 2*cell+gridGap, 2*cell+gridGap)
	}
	// Cell (row, col) shows image i; its pixel (x, y) spans gridScale² grid pixels.
	at := func(row, col, x, y int) color.NRGBA {
		return color.NRGBAModel.Convert(img.At(gridGap+col*cell+x*gridScale+1, gridGap+row*cell+y*gridScale+1)).(color.NRGBA)
	}
	for _, tc := range []struct{ row, col, image int }{{0, 0, 0}, {0, 1, 2}, {1, 0, 1}} {
		for y := range 2 {
			for x := range 2 {
				k := y*2 + x
				want := color.NRGBA{uint8(10*tc.image + k), uint8(10*tc.image + 3 + k), uint8(10*tc.image + 6 + k), 255}
				if got := at(tc.row, tc.col, x, y); got != want {
					t.Fatalf("cell (%d,%d) pixel (%d,%d) = %v; want image %d's %v", tc.row, tc.col, x, y, got, tc.image, want)
				}
			}
		}
	}
	if got := at(1, 1, 0, 0); got != (color.NRGBA{255, 255, 255, 255}) {
		t.Errorf("class b's second cell is %v; want blank white", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files in the folder; want only grid.png (no temporary left)", len(entries))
	}
	if err := WriteGrid(path, s, 0); !errors.Is(err, ErrArgument) {
		t.Errorf("perClass 0: %v; want ErrArgument", err)
	}
	if err := WriteGrid(filepath.Join(dir, "missing", "g.png"), s, 1); err == nil {
		t.Error("writing into a missing folder: no error")
	}
}
