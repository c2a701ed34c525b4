package dataset

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Official MD5 checksums of the CIFAR binary archives (from the dataset
// authors' page) and the SHA-256 of the CIFAR-10 one.
const (
	CIFAR10MD5    = "c32a1d4ab5d03f1284b67883e8d87530"
	CIFAR10SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
	CIFAR100MD5   = "03b5dce01913d631647c71ecec9e9cb8"
)

// cifarPixels is the number of pixel bytes of a CIFAR record: 3 planes of 32×32.
const cifarPixels = 3 * 32 * 32

// cifarSpec describes one of the CIFAR binary layouts.
type cifarSpec struct {
	name       string   // for messages
	folder     string   // the folder the archive extracts to
	limits     []uint8  // one per label byte: labels must be below it
	labelAt    int      // which label byte is the class
	trainFiles []string // in order
	testFile   string
	trainRecs  int // records per train file
	testRecs   int
	namesFile  string
	names      []string // used when namesFile is absent from a folder
	md5        string
}

func (sp *cifarSpec) recSize() int    { return len(sp.limits) + cifarPixels }
func (sp *cifarSpec) classes() int    { return int(sp.limits[sp.labelAt]) }
func (sp *cifarSpec) trainTotal() int { return len(sp.trainFiles) * sp.trainRecs }

var cifar10Names = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

func cifar10Spec() *cifarSpec {
	return &cifarSpec{
		name:       "CIFAR-10",
		folder:     "cifar-10-batches-bin",
		limits:     []uint8{10},
		trainFiles: []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
		testFile:   "test_batch.bin",
		trainRecs:  10000,
		testRecs:   10000,
		namesFile:  "batches.meta.txt",
		names:      cifar10Names,
		md5:        CIFAR10MD5,
	}
}

func cifar100Spec() *cifarSpec {
	return &cifarSpec{
		name:       "CIFAR-100",
		folder:     "cifar-100-binary",
		limits:     []uint8{20, 100},
		labelAt:    1,
		trainFiles: []string{"train.bin"},
		testFile:   "test.bin",
		trainRecs:  50000,
		testRecs:   10000,
		namesFile:  "fine_label_names.txt",
		names:      cifar100Names,
		md5:        CIFAR100MD5,
	}
}

// ReadCIFAR10 reads CIFAR-10's binary version from path: the official
// cifar-10-binary.tar.gz (its MD5 is checked first) or the extracted
// cifar-10-batches-bin folder (or a folder holding it). Train holds
// data_batch_1..5 in order (50,000 images), test test_batch (10,000).
func ReadCIFAR10(path string) (train, test *Set, err error) {
	return readCIFAR(path, cifar10Spec())
}

// ReadCIFAR100 reads CIFAR-100's binary version, with its 100 fine labels,
// from the official cifar-100-binary.tar.gz (MD5 checked first) or the
// extracted cifar-100-binary folder (or a folder holding it).
func ReadCIFAR100(path string) (train, test *Set, err error) {
	return readCIFAR(path, cifar100Spec())
}

func readCIFAR(p string, sp *cifarSpec) (train, test *Set, err error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", sp.name, err)
	}
	train = &Set{
		Pix: make([]uint8, sp.trainTotal()*cifarPixels), Labels: make([]int32, sp.trainTotal()),
		C: 3, H: 32, W: 32,
	}
	test = &Set{
		Pix: make([]uint8, sp.testRecs*cifarPixels), Labels: make([]int32, sp.testRecs),
		C: 3, H: 32, W: 32,
	}
	var names []string
	if fi.IsDir() {
		names, err = readCIFARFolder(p, sp, train, test)
	} else {
		names, err = readCIFARArchive(p, sp, train, test)
	}
	if err != nil {
		return nil, nil, err
	}
	train.Classes, test.Classes = names, append([]string(nil), names...)
	return train, test, nil
}

// slot returns where a CIFAR file's records go, or ok == false if the file
// is not one of sp's record files.
func (sp *cifarSpec) slot(base string, train, test *Set) (pix []uint8, labels []int32, recs int, ok bool) {
	if base == sp.testFile {
		return test.Pix, test.Labels, sp.testRecs, true
	}
	for k, f := range sp.trainFiles {
		if base == f {
			lo, hi := k*sp.trainRecs, (k+1)*sp.trainRecs
			return train.Pix[lo*cifarPixels : hi*cifarPixels], train.Labels[lo:hi], sp.trainRecs, true
		}
	}
	return nil, nil, 0, false
}

func readCIFARFolder(dir string, sp *cifarSpec, train, test *Set) ([]string, error) {
	first := sp.trainFiles[0]
	if _, err := os.Stat(filepath.Join(dir, first)); err != nil {
		sub := filepath.Join(dir, sp.folder)
		if _, err2 := os.Stat(filepath.Join(sub, first)); err2 != nil {
			if hint := imageFolderHint(dir); hint != "" {
				return nil, fmt.Errorf("%s is not the %s folder (no %s): %s: %w", dir, sp.name, first, hint, ErrFormat)
			}
			return nil, fmt.Errorf("%s: no %s nor %s/%s; want the %s folder, a folder holding it or its .tar.gz: %w",
				dir, first, sp.folder, first, sp.name, ErrFormat)
		}
		dir = sub
	}
	for _, base := range append(append([]string(nil), sp.trainFiles...), sp.testFile) {
		pix, labels, recs, _ := sp.slot(base, train, test)
		if err := decodeCIFARFile(filepath.Join(dir, base), sp, recs, pix, labels); err != nil {
			return nil, err
		}
	}
	namesPath := filepath.Join(dir, sp.namesFile)
	b, err := os.ReadFile(namesPath)
	if errors.Is(err, os.ErrNotExist) {
		return append([]string(nil), sp.names...), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s names: %w", sp.name, err)
	}
	return parseCIFARNames(namesPath, b, sp.classes())
}

func decodeCIFARFile(name string, sp *cifarSpec, recs int, pix []uint8, labels []int32) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("read %s: %w", sp.name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read %s: %w", sp.name, err)
	}
	return decodeCIFAR(name, bufio.NewReaderSize(f, 1<<16), fi.Size(), sp, recs, pix, labels)
}

// decodeCIFAR reads recs records of size bytes from r into pix (recs·3072
// bytes) and labels (recs). name is for messages.
func decodeCIFAR(name string, r io.Reader, size int64, sp *cifarSpec, recs int, pix []uint8, labels []int32) error {
	rs := int64(sp.recSize())
	want := int64(recs) * rs
	switch {
	case size%rs != 0:
		return fmt.Errorf("%s: %d bytes end inside record %d (records are %d bytes, from byte %d); want %d records = %d bytes: %w",
			name, size, size/rs, rs, size/rs*rs, recs, want, ErrFormat)
	case size < want:
		return fmt.Errorf("%s: truncated: %d bytes = %d records; want %d records = %d bytes: %w",
			name, size, size/rs, recs, want, ErrFormat)
	case size > want:
		return fmt.Errorf("%s: oversized: %d bytes = %d records; want %d records = %d bytes: %w",
			name, size, size/rs, recs, want, ErrFormat)
	}
	buf := make([]byte, rs)
	nl := len(sp.limits)
	for i := range recs {
		off := int64(i) * rs
		if n, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("%s: record %d: read at byte %d: %w", name, i, off+int64(n), err)
		}
		for k, lim := range sp.limits {
			if buf[k] >= lim {
				return fmt.Errorf("%s: record %d, byte %d: label %d; want 0..%d: %w",
					name, i, off+int64(k), buf[k], lim-1, ErrFormat)
			}
		}
		labels[i] = int32(buf[sp.labelAt])
		copy(pix[i*cifarPixels:], buf[nl:])
	}
	return nil
}

func parseCIFARNames(name string, b []byte, classes int) ([]string, error) {
	var names []string
	for line := range strings.Lines(string(b)) {
		if s := strings.TrimSpace(line); s != "" {
			names = append(names, s)
		}
	}
	if len(names) != classes {
		return nil, fmt.Errorf("%s: %d class names; want %d: %w", name, len(names), classes, ErrFormat)
	}
	return names, nil
}

// fileMD5 returns the hex MD5 of the file at path.
func fileMD5(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readCIFARArchive(archive string, sp *cifarSpec, train, test *Set) ([]string, error) {
	if sp.md5 != "" {
		sum, err := fileMD5(archive)
		if err != nil {
			return nil, fmt.Errorf("checksum %s archive: %w", sp.name, err)
		}
		if sum != sp.md5 {
			if hint := imageFolderHint(archive); hint != "" {
				return nil, fmt.Errorf("%s is not the official %s archive (MD5 %s; want %s): %s: %w",
					archive, sp.name, sum, sp.md5, hint, ErrChecksum)
			}
			return nil, fmt.Errorf("%s: MD5 %s; want %s (the official %s archive): %w",
				archive, sum, sp.md5, sp.name, ErrChecksum)
		}
	}
	f, err := os.Open(archive)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", sp.name, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("%s: not a gzip file (%v); want %s's .tar.gz or its extracted %s folder: %w",
			archive, err, sp.name, sp.folder, ErrFormat)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	seen := map[string]bool{}
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read archive: %w (%w)", archive, err, ErrFormat)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		base := path.Base(hdr.Name)
		member := archive + ":" + hdr.Name
		if base == sp.namesFile {
			b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return nil, fmt.Errorf("%s: %w (%w)", member, err, ErrFormat)
			}
			if names, err = parseCIFARNames(member, b, sp.classes()); err != nil {
				return nil, err
			}
			continue
		}
		pix, labels, recs, ok := sp.slot(base, train, test)
		if !ok {
			continue
		}
		if seen[base] {
			return nil, fmt.Errorf("%s: second copy of %s: %w", member, base, ErrFormat)
		}
		seen[base] = true
		if err := decodeCIFAR(member, tr, hdr.Size, sp, recs, pix, labels); err != nil {
			return nil, err
		}
	}
	for _, base := range append(append([]string(nil), sp.trainFiles...), sp.testFile) {
		if !seen[base] {
			return nil, fmt.Errorf("%s: no %s in the archive; want %s's binary .tar.gz: %w", archive, base, sp.name, ErrFormat)
		}
	}
	if names == nil {
		return nil, fmt.Errorf("%s: no %s in the archive; want %s's binary .tar.gz: %w", archive, sp.namesFile, sp.name, ErrFormat)
	}
	return names, nil
}

// CIFAR10Classes and CIFAR100Classes return the class names in label
// order, as the binary archives' meta files list them.
func CIFAR10Classes() []string  { return slices.Clone(cifar10Names) }
func CIFAR100Classes() []string { return slices.Clone(cifar100Names) }
