package dataset

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rgbImage returns a w×h NRGBA image whose pixel (x, y) is (base+x, base+y, base+x+y).
func rgbImage(w, h int, base uint8) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{base + uint8(x), base + uint8(y), base + uint8(x+y), 255})
		}
	}
	return img
}

// wantCHW is rgbImage's content as C×H×W planes.
func wantCHW(w, h int, base uint8) []uint8 {
	out := make([]uint8, 3*w*h)
	for y := range h {
		for x := range w {
			k := y*w + x
			out[k], out[w*h+k], out[2*w*h+k] = base+uint8(x), base+uint8(y), base+uint8(x+y)
		}
	}
	return out
}

// folderFiles returns a small image folder (paths relative to its root):
// classes made out of order, PNG (RGB, grey, paletted) and JPEG images,
// and a stray text file that must be ignored.
func folderFiles(t *testing.T) map[string][]byte {
	const w, h = 4, 3
	grey := image.NewGray(image.Rect(0, 0, w, h))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(100 + i)
	}
	pal := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.NRGBA{1, 2, 3, 255}, color.NRGBA{200, 100, 50, 255}})
	pal.Pix[5] = 1
	flat := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(flat.Pix); i += 4 {
		copy(flat.Pix[i:], []uint8{200, 40, 90, 255})
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, flat, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"train/dog/b.png":   encodePNG(t, rgbImage(w, h, 30)),
		"train/dog/a.png":   encodePNG(t, rgbImage(w, h, 20)),
		"train/cat/1.PNG":   encodePNG(t, grey),
		"train/bird/x.jpg":  jb.Bytes(),
		"train/bird/y.png":  encodePNG(t, pal),
		"train/notes.txt":   []byte("ignored"),
		"test/dog/t.png":    encodePNG(t, rgbImage(w, h, 50)),
		"test/cat/t.jpeg":   jb.Bytes(),
		"test/bird/t.png":   encodePNG(t, rgbImage(w, h, 60)),
		"test/bird/Thumbs":  []byte("ignored"),
		"train/cat/readme":  []byte("ignored"),
		"train/dog/c.txt":   []byte("ignored"),
		"test/cat/._t.jpeg": []byte("ignored"),
		"test/dog/u.jpg.gz": []byte("ignored"),
	}
}

func writeTree(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadImageFolder(t *testing.T) {
	files := folderFiles(t)
	dir := t.TempDir()
	writeTree(t, filepath.Join(dir, "mydata"), files)
	archive := filepath.Join(dir, "mydata.tar.gz")
	if err := os.WriteFile(archive, tarGz(t, "mydata", files), 0o644); err != nil {
		t.Fatal(err)
	}
	flatArchive := filepath.Join(dir, "flat.tgz")
	if err := os.WriteFile(flatArchive, tarGz(t, "", files), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "mydata"), dir, archive, flatArchive} {
		train, test, err := ReadImageFolder(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		classes := []string{"bird", "cat", "dog"}
		if !slices.Equal(train.Classes, classes) || !slices.Equal(test.Classes, classes) {
			t.Fatalf("%s: classes %v / %v; want %v", path, train.Classes, test.Classes, classes)
		}
		if !slices.Equal(train.Labels, []int32{0, 0, 1, 2, 2}) || !slices.Equal(test.Labels, []int32{0, 1, 2}) {
			t.Fatalf("%s: labels %v / %v", path, train.Labels, test.Labels)
		}
		if train.C != 3 || train.H != 3 || train.W != 4 {
			t.Fatalf("%s: %d×%d×%d; want 3×3×4", path, train.C, train.H, train.W)
		}
		// bird: x.jpg (flat colour), y.png (paletted); cat: grey; dog: a, b.
		for k, v := range train.Image(0) {
			want := []int{200, 40, 90}[k/12]
			if d := int(v) - want; d < -3 || d > 3 {
				t.Fatalf("%s: JPEG byte %d = %d; want %d ± 3", path, k, v, want)
			}
		}
		pal := train.Image(1)
		if pal[0] != 1 || pal[12] != 2 || pal[24] != 3 || pal[5] != 200 || pal[12+5] != 100 || pal[24+5] != 50 {
			t.Fatalf("%s: paletted image %v", path, pal)
		}
		grey := train.Image(2)
		for k := range 12 {
			if grey[k] != uint8(100+k) || grey[12+k] != grey[k] || grey[24+k] != grey[k] {
				t.Fatalf("%s: grey image %v; want each plane 100..111", path, grey)
			}
		}
		if !slices.Equal(train.Image(3), wantCHW(4, 3, 20)) || !slices.Equal(train.Image(4), wantCHW(4, 3, 30)) {
			t.Fatalf("%s: dog images out of order or wrong", path)
		}
		if !slices.Equal(test.Image(0), wantCHW(4, 3, 60)) || !slices.Equal(test.Image(2), wantCHW(4, 3, 50)) {
			t.Fatalf("%s: test images wrong", path)
		}
	}
}

func TestReadImageFolderRejectsBadTrees(t *testing.T) {
	small := encodePNG(t, rgbImage(4, 3, 0))
	tests := []struct {
		name  string
		files map[string][]byte
		want  []string
	}{
		{"empty class", map[string][]byte{"train/a/1.png": small, "train/b/": nil, "test/a/1.png": small, "test/b/1.png": small},
			[]string{"class folder train/b holds no .png, .jpg or .jpeg image"}},
		{"only non-images", map[string][]byte{"train/a/1.png": small, "test/a/1.txt": []byte("x")},
			[]string{"class folder test/a holds no"}},
		{"undecodable", map[string][]byte{"train/a/1.png": small, "train/a/2.png": []byte("garbage"), "test/a/1.png": small},
			[]string{"2.png: undecodable image"}},
		{"size", map[string][]byte{"train/a/1.png": small, "test/a/1.png": encodePNG(t, rgbImage(5, 3, 0))},
			[]string{"1.png: 5×3 image; want 4×3 like", "not resized"}},
		{"classes differ", map[string][]byte{"train/a/1.png": small, "train/b/1.png": small, "test/a/1.png": small},
			[]string{"test/ classes [a] differ from train/ classes [a b]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, filepath.Join(dir, "root"), tc.files)
			_, _, err := ReadImageFolder(filepath.Join(dir, "root"))
			checkErr(t, "folder", err, ErrFormat, tc.want...)
			archive := filepath.Join(dir, "root.tar.gz")
			if err := os.WriteFile(archive, tarGz(t, "root", tc.files), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err = ReadImageFolder(archive)
			checkErr(t, "archive", err, ErrFormat, append(tc.want, archive)...)
		})
	}
	dir := t.TempDir()
	_, _, err := ReadImageFolder(dir)
	checkErr(t, "no train", err, ErrFormat, dir, "no train/ folder")
}

// repoRoot walks up from the working directory to the folder with go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// TestReadImageFolderRealCIFAR10 loads ../shared/data/cifar10-jpeg.tar.gz
// (CIFAR-10 as JPEGs) when the shared folder is present: about 2.5 s on
// 2 cores.
func TestReadImageFolderRealCIFAR10(t *testing.T) {
	archive := filepath.Join(repoRoot(t), "..", "shared", "data", "cifar10-jpeg.tar.gz")
	if _, err := os.Stat(archive); err != nil {
		t.Skipf("real CIFAR-10 not available (%v); it lives in the project's shared folder", err)
	}
	start := time.Now()
	train, test, err := ReadImageFolder(archive)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d + %d images in %v", train.Len(), test.Len(), time.Since(start))
	want := []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
	if !slices.Equal(train.Classes, want) {
		t.Fatalf("classes %v; want %v", train.Classes, want)
	}
	for c := range want {
		if train.Counts()[c] != 5000 || test.Counts()[c] != 1000 {
			t.Fatalf("class %s: %d train, %d test; want 5000 and 1000", want[c], train.Counts()[c], test.Counts()[c])
		}
	}
	if train.C != 3 || train.H != 32 || train.W != 32 {
		t.Fatalf("%d×%d×%d images; want 3×32×32", train.C, train.H, train.W)
	}
	// The JPEGs are slightly lossy: the channel means stay within 0.005 of
	// the usual CIFAR-10 constants.
	mean, _ := MeanStd(train)
	for c, m := range mean {
		if d := float64(m - CIFARMean[c]); d < -0.005 || d > 0.005 {
			t.Errorf("channel %d mean %.4f; want %.4f ± 0.005", c, m, CIFARMean[c])
		}
	}
}

// TestReadImageFolderVal reads an optional val/ split, from a folder and
// from an archive, and refuses one whose classes differ from train/'s.
func TestReadImageFolderVal(t *testing.T) {
	files := folderFiles(t)
	files["val/dog/v.png"] = encodePNG(t, rgbImage(4, 3, 70))
	files["val/bird/v.png"] = encodePNG(t, rgbImage(4, 3, 80))
	files["val/cat/v.png"] = encodePNG(t, rgbImage(4, 3, 90))
	dir := t.TempDir()
	writeTree(t, filepath.Join(dir, "d"), files)
	archive := filepath.Join(dir, "d.tar.gz")
	if err := os.WriteFile(archive, tarGz(t, "d", files), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "d"), archive} {
		s, err := ReadImageFolderSplits(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if s.Val == nil || !slices.Equal(s.Val.Labels, []int32{0, 1, 2}) || !slices.Equal(s.Val.Image(0), wantCHW(4, 3, 80)) {
			t.Fatalf("%s: val split %+v", p, s.Val)
		}
	}
	noVal := t.TempDir()
	writeTree(t, noVal, folderFiles(t))
	if s, err := ReadImageFolderSplits(noVal); err != nil || s.Val != nil {
		t.Fatalf("no val/: %v, val %v; want nil", err, s.Val)
	}
	delete(files, "val/cat/v.png")
	files["val/cow/v.png"] = encodePNG(t, rgbImage(4, 3, 90))
	bad := t.TempDir()
	writeTree(t, bad, files)
	if _, err := ReadImageFolderSplits(bad); err == nil || !strings.Contains(err.Error(), "val/ classes [bird cow dog] differ from train/ classes [bird cat dog]") {
		t.Fatalf("val/ with other classes: %v", err)
	}
}
