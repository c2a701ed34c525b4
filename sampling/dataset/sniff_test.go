package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCIFARReaderSuggestsFolder hands the CIFAR-10 reader an image folder,
// as its .tar.gz and as a directory (the layout of cifar10-jpeg.tar.gz):
// the error says what it holds and names data.source=folder. Other wrong
// files get the plain error.
func TestCIFARReaderSuggestsFolder(t *testing.T) {
	dir := t.TempDir()
	images := map[string][]byte{"train/cat/0000.jpg": []byte("jpeg"), "train/dog/0000.jpg": []byte("jpeg"), "test/cat/0000.jpg": []byte("jpeg")}
	jpegArchive := filepath.Join(dir, "cifar10-jpeg.tar.gz")
	if err := os.WriteFile(jpegArchive, tarGz(t, "cifar10-jpeg", images), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "notes.tar.gz")
	if err := os.WriteFile(other, tarGz(t, "notes", map[string][]byte{"a.txt": []byte("x")}), 0o644); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "pets")
	for name := range images {
		p := filepath.Join(folder, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("jpeg"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, path string
		is         error
		want       []string
		hint       bool
	}{
		{"image archive", jpegArchive, ErrChecksum, []string{"is not the official CIFAR-10 archive", "cifar10-jpeg/test/cat/0000.jpg"}, true},
		{"image folder", folder, ErrFormat, []string{"is not the CIFAR-10 folder", filepath.Join(folder, "train", "cat", "0000.jpg")}, true},
		{"another archive", other, ErrChecksum, []string{"MD5", "want c32a1d4ab5d03f1284b67883e8d87530"}, false},
		{"another folder", dir + "/pets/train", ErrFormat, []string{"no data_batch_1.bin"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadCIFAR10(tc.path)
			if !errors.Is(err, tc.is) {
				t.Fatalf("ReadCIFAR10(%s): %v; want %v", tc.path, err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if got := strings.Contains(err.Error(), "did you mean data.source=folder?"); got != tc.hint {
				t.Errorf("suggests data.source=folder: %v; want %v: %v", got, tc.hint, err)
			}
		})
	}
}
