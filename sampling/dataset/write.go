package dataset

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
)

// WriteImageFolder writes train and test as an image folder that
// ReadImageFolder reads back to the same pixels and labels:
// dir/{train,test}/<NN>-<class>/<NNNNNN>.png, class folders prefixed with the
// class index so that their sorted order is the sets' class order. The
// folder is built beside dir and renamed into place, so dir is whole or
// absent; an existing dir is refused.
func WriteImageFolder(dir string, train, test *Set) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%w: write image folder: %s exists; want a new directory", ErrArgument, dir)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("write image folder: %w", err)
	}
	if len(train.Classes) != len(test.Classes) {
		return fmt.Errorf("%w: write image folder: %d training classes, %d test classes", ErrArgument, len(train.Classes), len(test.Classes))
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("write image folder: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp*")
	if err != nil {
		return fmt.Errorf("write image folder: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("write image folder: %w", err)
	}
	for i, s := range []*Set{train, test} {
		if err := writeSplit(filepath.Join(tmp, splits[i]), s); err != nil {
			os.RemoveAll(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("write image folder: %w", err)
	}
	return nil
}

func writeSplit(dir string, s *Set) error {
	if s.C != 1 && s.C != 3 {
		return fmt.Errorf("%w: write image folder: %d channels; want 1 or 3", ErrArgument, s.C)
	}
	width := len(fmt.Sprint(len(s.Classes) - 1))
	folders := make([]string, len(s.Classes))
	for c, name := range s.Classes {
		folders[c] = filepath.Join(dir, fmt.Sprintf("%0*d-%s", width, c, name))
		if err := os.MkdirAll(folders[c], 0o755); err != nil {
			return fmt.Errorf("write image folder: %w", err)
		}
	}
	plane := s.H * s.W
	for i := range s.Len() {
		pix := s.Image(i)
		var img image.Image
		if s.C == 1 {
			g := image.NewGray(image.Rect(0, 0, s.W, s.H))
			copy(g.Pix, pix)
			img = g
		} else {
			rgba := image.NewNRGBA(image.Rect(0, 0, s.W, s.H))
			for p := range plane {
				rgba.Pix[4*p], rgba.Pix[4*p+1], rgba.Pix[4*p+2], rgba.Pix[4*p+3] = pix[p], pix[plane+p], pix[2*plane+p], 255
			}
			img = rgba
		}
		path := filepath.Join(folders[s.Labels[i]], fmt.Sprintf("%06d.png", i))
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("write image folder: %w", err)
		}
		err = png.Encode(f, img)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write image folder: %s: %w", path, err)
		}
	}
	return nil
}
