package dataset

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

// TestWriteImageFolderRoundTrip writes synthetic data as an image folder and
// reads it back: the same classes in the same order, each with the same
// images in the same order (the folder lists images class by class).
func TestWriteImageFolderRoundTrip(t *testing.T) {
	train, test, err := Synthetic(SyntheticOptions{Classes: 11, TrainPerClass: 3, TestPerClass: 2, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out", "folder")
	if err := WriteImageFolder(dir, train, test); err != nil {
		t.Fatal(err)
	}
	gotTrain, gotTest, err := ReadImageFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		want, got *Set
	}{{"train", train, gotTrain}, {"test", test, gotTest}} {
		if c.got.C != c.want.C || c.got.H != c.want.H || c.got.W != c.want.W || !slices.Equal(c.got.Counts(), c.want.Counts()) {
			t.Fatalf("%s: read back %d×%d×%d images, counts %v; want %d×%d×%d, %v",
				c.name, c.got.C, c.got.H, c.got.W, c.got.Counts(), c.want.C, c.want.H, c.want.W, c.want.Counts())
		}
		gotBy, wantBy := c.got.ByClass(), c.want.ByClass()
		for k := range wantBy {
			for j := range wantBy[k] {
				if !bytes.Equal(c.got.Image(gotBy[k][j]), c.want.Image(wantBy[k][j])) {
					t.Errorf("%s: class %d image %d differs", c.name, k, j)
				}
			}
		}
		for i, n := range c.got.Classes {
			if want := c.want.Classes[i]; n != fmtIndex(i)+"-"+want {
				t.Errorf("%s: class %d is %q; want %q", c.name, i, n, fmtIndex(i)+"-"+want)
			}
		}
	}
	if err := WriteImageFolder(dir, train, test); !errors.Is(err, ErrArgument) {
		t.Errorf("writing over an existing folder: %v; want ErrArgument", err)
	}
}

func fmtIndex(i int) string { return string([]byte{'0' + byte(i/10), '0' + byte(i%10)}) }
