package dataset

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// imageFolderHint says, for a path a CIFAR reader could not use, whether it
// is an image folder (or its .tar.gz) instead: "" when it is not, else a
// sentence naming an image in it and the source that reads it. Only the
// first entries of an archive are looked at.
func imageFolderHint(p string) string {
	example := ""
	if isDir(p) {
		if root, err := imageRoot(p); err == nil {
			example = firstImage(root)
		}
	} else {
		example = firstArchivedImage(p, 512)
	}
	if example == "" {
		return ""
	}
	return "it holds images in train/ or test/ class folders (" + example + "), an image folder: did you mean data.source=folder?"
}

// firstImage returns the first image under root/{train,test}/<class>/.
func firstImage(root string) string {
	for _, split := range splits {
		classes, _ := os.ReadDir(filepath.Join(root, split))
		for _, c := range classes {
			if !c.IsDir() {
				continue
			}
			imgs, _ := os.ReadDir(filepath.Join(root, split, c.Name()))
			for _, f := range imgs {
				if isImageName(f.Name()) {
					return filepath.Join(root, split, c.Name(), f.Name())
				}
			}
		}
	}
	return ""
}

// firstArchivedImage returns the first member of the .tar.gz archive that
// is an image in a {train,test}/<class>/ folder, reading at most limit
// headers.
func firstArchivedImage(archive string, limit int) string {
	f, err := os.Open(archive)
	if err != nil {
		return ""
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return ""
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for range limit {
		hdr, err := tr.Next()
		if err != nil {
			return ""
		}
		parts := strings.Split(strings.Trim(path.Clean(hdr.Name), "/"), "/")
		n := len(parts)
		if hdr.Typeflag == tar.TypeReg && isImageName(parts[n-1]) && slices.Contains(splits[:], partAt(parts, n-3)) {
			return hdr.Name
		}
	}
	return ""
}
