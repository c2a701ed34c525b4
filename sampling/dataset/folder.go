package dataset

import (
	"archive/tar"
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// splits are an image folder's split folders; val (the last) is optional.
var splits = [3]string{"train", "test", "val"}

const valSplit = 2

// imageFile is one image of an image folder, from listing to decoded pixels.
type imageFile struct {
	split int    // index into splits
	class string // class folder name
	base  string // file name, the sort key within a class
	name  string // path (or archive:member) for messages
	data  []byte // encoded bytes when read from an archive; nil: read name

	pix  []uint8 // decoded C×H×W, C = 3
	w, h int
	err  error
}

// ReadImageFolder reads an image-folder dataset laid out as
// root/{train,test}/<class>/*.{png,jpg,jpeg}: path is root, a folder whose
// only subfolder is root, or a gzipped tar of either (such as the project's
// cifar10-jpeg.tar.gz). Classes are the class folder names, sorted; train
// and test must have the same ones, and every class folder must hold an
// image. Images are ordered by class, then file name. Every image is
// converted to RGB (C = 3) and all must have the same width and height: a
// different size is an error naming the file (nothing is resized). Files
// with other extensions and hidden files are ignored. Decoding runs on
// GOMAXPROCS goroutines.
func ReadImageFolder(p string) (train, test *Set, err error) {
	sets, err := ReadImageFolderSplits(p)
	if err != nil {
		return nil, nil, err
	}
	return sets.Train, sets.Test, nil
}

// FolderSplits are an image folder's sets; Val is nil when it has no val/.
type FolderSplits struct {
	Train, Test, Val *Set
}

// ReadImageFolderSplits is ReadImageFolder that also reads an optional
// root/val/<class>/ split, which must have the classes of train/.
func ReadImageFolderSplits(p string) (*FolderSplits, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("read image folder: %w", err)
	}
	var files []*imageFile
	var classDirs [3]map[string]bool
	if fi.IsDir() {
		files, classDirs, err = listImageFolder(p)
	} else {
		files, classDirs, err = readImageArchive(p)
	}
	if err != nil {
		return nil, err
	}
	return assembleImageFolder(p, files, classDirs)
}

// isImageName reports whether name is an image file to read: a .png, .jpg
// or .jpeg (any case) that is not hidden (macOS's ._ files are not images).
func isImageName(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// imageRoot finds the folder holding train/ and test/: p or its only subfolder.
func imageRoot(p string) (string, error) {
	if isDir(filepath.Join(p, "train")) || isDir(filepath.Join(p, "test")) {
		return p, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return "", fmt.Errorf("read image folder: %w", err)
	}
	var subs []string
	for _, e := range entries {
		if e.IsDir() {
			subs = append(subs, e.Name())
		}
	}
	if len(subs) == 1 && isDir(filepath.Join(p, subs[0], "train")) {
		return filepath.Join(p, subs[0]), nil
	}
	return "", fmt.Errorf("%s: no train/ folder; want root/{train,test}/<class>/*.{png,jpg,jpeg}: %w", p, ErrFormat)
}

func listImageFolder(p string) ([]*imageFile, [3]map[string]bool, error) {
	var classDirs [3]map[string]bool
	root, err := imageRoot(p)
	if err != nil {
		return nil, classDirs, err
	}
	var files []*imageFile
	for s, split := range splits {
		classDirs[s] = map[string]bool{}
		dir := filepath.Join(root, split)
		entries, err := os.ReadDir(dir)
		if s == valSplit && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, classDirs, fmt.Errorf("read image folder: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			classDirs[s][e.Name()] = true
			cdir := filepath.Join(dir, e.Name())
			imgs, err := os.ReadDir(cdir)
			if err != nil {
				return nil, classDirs, fmt.Errorf("read image folder: %w", err)
			}
			for _, f := range imgs {
				if f.Type().IsRegular() && isImageName(f.Name()) {
					files = append(files, &imageFile{split: s, class: e.Name(), base: f.Name(), name: filepath.Join(cdir, f.Name())})
				}
			}
		}
	}
	decodeAll(files, nil)
	return files, classDirs, nil
}

// readImageArchive streams a .tar.gz, decoding images on a worker pool as
// they are read.
func readImageArchive(archive string) (files []*imageFile, classDirs [3]map[string]bool, err error) {
	classDirs = [3]map[string]bool{{}, {}, {}}
	f, err := os.Open(archive)
	if err != nil {
		return nil, classDirs, fmt.Errorf("read image folder: %w", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return nil, classDirs, fmt.Errorf("%s: not a gzip file (%v); want a folder or a .tar.gz of root/{train,test}/<class>/*: %w",
			archive, err, ErrFormat)
	}
	defer zr.Close()
	work := make(chan *imageFile, 256)
	done := make(chan struct{})
	go func() {
		decodeAll(nil, work)
		close(done)
	}()
	defer func() {
		close(work)
		<-done
	}()
	tr := tar.NewReader(zr)
	prefix, prefixFrom := "", ""
	checkPrefix := func(member, pre string) error {
		if prefixFrom == "" {
			prefix, prefixFrom = pre, member
			return nil
		}
		if pre != prefix {
			return fmt.Errorf("%s:%s: under %q but %s is under %q; want one root/{train,test}: %w",
				archive, member, pre, prefixFrom, prefix, ErrFormat)
		}
		return nil
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, classDirs, fmt.Errorf("%s: read archive: %w (%w)", archive, err, ErrFormat)
		}
		parts := strings.Split(strings.Trim(path.Clean(hdr.Name), "/"), "/")
		n := len(parts)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if s := slices.Index(splits[:], partAt(parts, n-2)); s >= 0 {
				if err := checkPrefix(hdr.Name, strings.Join(parts[:n-2], "/")); err != nil {
					return nil, classDirs, err
				}
				classDirs[s][parts[n-1]] = true
			}
		case tar.TypeReg:
			s := slices.Index(splits[:], partAt(parts, n-3))
			if s < 0 {
				continue
			}
			if err := checkPrefix(hdr.Name, strings.Join(parts[:n-3], "/")); err != nil {
				return nil, classDirs, err
			}
			classDirs[s][parts[n-2]] = true // the file's folder exists, image or not
			if !isImageName(parts[n-1]) {
				continue
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, classDirs, fmt.Errorf("%s:%s: %w (%w)", archive, hdr.Name, err, ErrFormat)
			}
			im := &imageFile{split: s, class: parts[n-2], base: parts[n-1], name: archive + ":" + hdr.Name, data: data}
			files = append(files, im)
			work <- im
		}
	}
	return files, classDirs, nil
}

func partAt(parts []string, i int) string {
	if i < 0 {
		return ""
	}
	return parts[i]
}

// decodeAll decodes files, or the files received from work until it is
// closed, on GOMAXPROCS goroutines; each file's result lands in its fields.
func decodeAll(files []*imageFile, work chan *imageFile) {
	if work == nil {
		work = make(chan *imageFile)
		go func() {
			for _, f := range files {
				work <- f
			}
			close(work)
		}()
	}
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for f := range work {
				f.decode()
			}
		})
	}
	wg.Wait()
}

func (f *imageFile) decode() {
	data := f.data
	if data == nil {
		var err error
		if data, err = os.ReadFile(f.name); err != nil {
			f.err = fmt.Errorf("read image folder: %w", err)
			return
		}
	}
	var img image.Image
	var err error
	if strings.ToLower(path.Ext(f.base)) == ".png" {
		img, err = png.Decode(bytes.NewReader(data))
	} else {
		img, err = jpeg.Decode(bytes.NewReader(data))
	}
	f.data = nil
	if err != nil {
		f.err = fmt.Errorf("%s: undecodable image (%v): %w", f.name, err, ErrFormat)
		return
	}
	f.pix, f.w, f.h = toCHW(img)
}

// toCHW converts img to RGB planes.
func toCHW(img image.Image) ([]uint8, int, int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	plane := w * h
	pix := make([]uint8, 3*plane)
	r, g, bl := pix[:plane], pix[plane:2*plane], pix[2*plane:]
	switch m := img.(type) {
	case *image.YCbCr:
		for y := range h {
			for x := range w {
				yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				k := y*w + x
				r[k], g[k], bl[k] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.Gray:
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			copy(r[y*w:], row)
			copy(g[y*w:], row)
			copy(bl[y*w:], row)
		}
	case *image.NRGBA:
		rgbaPlanes(m.Pix, m.Stride, w, h, r, g, bl)
	case *image.RGBA:
		rgbaPlanes(m.Pix, m.Stride, w, h, r, g, bl)
	default:
		for y := range h {
			for x := range w {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				k := y*w + x
				r[k], g[k], bl[k] = c.R, c.G, c.B
			}
		}
	}
	return pix, w, h
}

func rgbaPlanes(src []uint8, stride, w, h int, r, g, b []uint8) {
	for y := range h {
		row := src[y*stride : y*stride+4*w]
		for x := range w {
			k := y*w + x
			r[k], g[k], b[k] = row[4*x], row[4*x+1], row[4*x+2]
		}
	}
}

// assembleImageFolder checks the decoded files and packs them into Sets.
func assembleImageFolder(src string, files []*imageFile, classDirs [3]map[string]bool) (*FolderSplits, error) {
	slices.SortFunc(files, func(a, b *imageFile) int {
		return cmp.Or(cmp.Compare(a.split, b.split), strings.Compare(a.class, b.class), strings.Compare(a.base, b.base))
	})
	var classes [3][]string
	present := [3]bool{true, true, len(classDirs[valSplit]) > 0}
	for s := range splits {
		classes[s] = slices.Sorted(maps.Keys(classDirs[s]))
		if len(classes[s]) == 0 && present[s] {
			return nil, fmt.Errorf("%s: no class folder under %s/; want root/{train,test}/<class>/*.{png,jpg,jpeg}: %w",
				src, splits[s], ErrFormat)
		}
	}
	for s := 1; s < len(splits); s++ {
		if present[s] && !slices.Equal(classes[0], classes[s]) {
			return nil, fmt.Errorf("%s: %s/ classes %v differ from train/ classes %v; want the same class folders: %w",
				src, splits[s], classes[s], classes[0], ErrFormat)
		}
	}
	perClass := [3]map[string]int{{}, {}, {}}
	for _, f := range files {
		if f.err != nil {
			return nil, f.err
		}
		perClass[f.split][f.class]++
	}
	for s, split := range splits {
		for _, c := range classes[s] {
			if perClass[s][c] == 0 {
				return nil, fmt.Errorf("%s: class folder %s/%s holds no .png, .jpg or .jpeg image: %w", src, split, c, ErrFormat)
			}
		}
	}
	ref := files[0]
	label := map[string]int32{}
	for i, c := range classes[0] {
		label[c] = int32(i)
	}
	var sets [3]*Set
	for s := range splits {
		if !present[s] {
			continue
		}
		n := 0
		for _, c := range classes[s] {
			n += perClass[s][c]
		}
		sets[s] = &Set{
			Pix: make([]uint8, 0, n*3*ref.w*ref.h), Labels: make([]int32, 0, n),
			Classes: slices.Clone(classes[0]), C: 3, H: ref.h, W: ref.w,
		}
	}
	for _, f := range files {
		if f.w != ref.w || f.h != ref.h {
			return nil, fmt.Errorf("%s: %d×%d image; want %d×%d like %s (images are not resized): %w",
				f.name, f.w, f.h, ref.w, ref.h, ref.name, ErrFormat)
		}
		set := sets[f.split]
		set.Pix = append(set.Pix, f.pix...)
		set.Labels = append(set.Labels, label[f.class])
		f.pix = nil
	}
	return &FolderSplits{Train: sets[0], Test: sets[1], Val: sets[valSplit]}, nil
}
