package dataset

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pixel is the value the fake CIFAR files hold at byte k of record rec's
// pixels in file f.
func pixel(f, rec, k int) uint8 { return uint8(f*31 + rec*7 + k*3 + k/1024) }

// fakeRecords builds file f's records: one per label tuple.
func fakeRecords(f int, labels [][]byte) []byte {
	var b []byte
	for rec, l := range labels {
		b = append(b, l...)
		for k := range cifarPixels {
			b = append(b, pixel(f, rec, k))
		}
	}
	return b
}

// smallSpec is sp with trainRecs records per train file and testRecs in
// the test file, so that tests need not write 180 MB.
func smallSpec(sp *cifarSpec, trainRecs, testRecs int) *cifarSpec {
	sp.trainRecs, sp.testRecs = trainRecs, testRecs
	return sp
}

// fakeCIFAR returns the files of a small CIFAR in sp's layout: record r of
// train file k has label tuple (r+k) mod limit for each label byte.
func fakeCIFAR(sp *cifarSpec) map[string][]byte {
	files := map[string][]byte{}
	label := func(r int) []byte {
		var l []byte
		for _, lim := range sp.limits {
			l = append(l, byte(r%int(lim)))
		}
		return l
	}
	for k, name := range sp.trainFiles {
		var labels [][]byte
		for r := range sp.trainRecs {
			labels = append(labels, label(r+k))
		}
		files[name] = fakeRecords(k, labels)
	}
	var labels [][]byte
	for r := range sp.testRecs {
		labels = append(labels, label(r+3))
	}
	files[sp.testFile] = fakeRecords(9, labels)
	names := sp.names
	files[sp.namesFile] = []byte(strings.Join(names, "\n") + "\n\n")
	return files
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tarGz returns a .tar.gz holding files under folder/, sorted by name; a
// name ending in / is a folder entry.
func tarGz(t *testing.T, folder string, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if folder != "" {
		if err := tw.WriteHeader(&tar.Header{Name: folder + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	}) {
		full := name
		if folder != "" {
			full = folder + "/" + name
		}
		if strings.HasSuffix(name, "/") { // a folder entry
			if err := tw.WriteHeader(&tar.Header{Name: full, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: full, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[name]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func md5Hex(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}

// checkFakeSet compares a set read from fakeCIFAR's files with the values
// they were built from.
func checkFakeSet(t *testing.T, what string, s *Set, sp *cifarSpec, files []int, recs int, labelOffset int) {
	t.Helper()
	if s.Len() != len(files)*recs || s.C != 3 || s.H != 32 || s.W != 32 || !slices.Equal(s.Classes, sp.names) {
		t.Fatalf("%s: %d images %d×%d×%d, %d classes; want %d of 3×32×32, %d classes",
			what, s.Len(), s.C, s.H, s.W, len(s.Classes), len(files)*recs, len(sp.names))
	}
	for fi, f := range files {
		for r := range recs {
			i := fi*recs + r
			if want := int32((r + labelOffset + fi) % sp.classes()); s.Labels[i] != want {
				t.Fatalf("%s: image %d label %d; want %d", what, i, s.Labels[i], want)
			}
			img := s.Image(i)
			for _, k := range []int{0, 1, 1023, 1024, 2047, 2048, 3071} {
				if img[k] != pixel(f, r, k) {
					t.Fatalf("%s: image %d byte %d = %d; want %d", what, i, k, img[k], pixel(f, r, k))
				}
			}
		}
	}
}

func TestReadCIFARFolderAndArchive(t *testing.T) {
	for _, tc := range []struct {
		name string
		sp   func() *cifarSpec
	}{{"cifar10", cifar10Spec}, {"cifar100", cifar100Spec}} {
		t.Run(tc.name, func(t *testing.T) {
			sp := smallSpec(tc.sp(), 4, 3)
			files := fakeCIFAR(sp)
			dir := t.TempDir()
			writeFiles(t, filepath.Join(dir, sp.folder), files)
			archive := filepath.Join(dir, "data.tar.gz")
			gz := tarGz(t, sp.folder, files)
			if err := os.WriteFile(archive, gz, 0o644); err != nil {
				t.Fatal(err)
			}
			sp.md5 = md5Hex(gz)
			trainFiles := make([]int, len(sp.trainFiles))
			for k := range trainFiles {
				trainFiles[k] = k
			}
			for _, path := range []string{filepath.Join(dir, sp.folder), dir, archive} {
				train, test, err := readCIFAR(path, sp)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				// train file k's record r has label (r+k) mod classes;
				// checkFakeSet adds the file position.
				checkFakeSet(t, path+" train", train, sp, trainFiles, sp.trainRecs, 0)
				checkFakeSet(t, path+" test", test, sp, []int{9}, sp.testRecs, 3)
			}
		})
	}
}

func TestCIFAR100UsesFineLabels(t *testing.T) {
	sp := smallSpec(cifar100Spec(), 2, 1)
	files := fakeCIFAR(sp)
	// Record 1 of train.bin: coarse 19, fine 42.
	files["train.bin"][sp.recSize()] = 19
	files["train.bin"][sp.recSize()+1] = 42
	dir := t.TempDir()
	writeFiles(t, dir, files)
	train, _, err := readCIFAR(dir, sp)
	if err != nil {
		t.Fatal(err)
	}
	if train.Labels[1] != 42 || train.Classes[42] != "leopard" {
		t.Fatalf("label %d (%s); want fine label 42 (leopard)", train.Labels[1], train.Classes[train.Labels[1]])
	}
}

func TestCIFAR100NamesAreTheFineLabels(t *testing.T) {
	if len(cifar100Names) != 100 || !slices.IsSorted(cifar100Names) {
		t.Fatalf("%d names, sorted %v; want CIFAR-100's 100 fine labels in alphabetical order", len(cifar100Names), slices.IsSorted(cifar100Names))
	}
}

func TestReadCIFARRejectsBadFiles(t *testing.T) {
	sp := smallSpec(cifar10Spec(), 2, 2)
	rs := sp.recSize()
	tests := []struct {
		name   string
		edit   func(files map[string][]byte)
		want   []string
		target error
	}{
		{"truncated", func(f map[string][]byte) { f["data_batch_2.bin"] = f["data_batch_2.bin"][:rs] },
			[]string{"data_batch_2.bin: truncated: 3073 bytes = 1 records; want 2 records = 6146 bytes"}, ErrFormat},
		{"partial record", func(f map[string][]byte) { f["data_batch_3.bin"] = f["data_batch_3.bin"][:rs+100] },
			[]string{"data_batch_3.bin: 3173 bytes end inside record 1", "from byte 3073"}, ErrFormat},
		{"oversized", func(f map[string][]byte) {
			f["test_batch.bin"] = append(f["test_batch.bin"], f["test_batch.bin"][:rs]...)
		},
			[]string{"test_batch.bin: oversized: 9219 bytes = 3 records; want 2 records"}, ErrFormat},
		{"label", func(f map[string][]byte) { f["data_batch_4.bin"][rs] = 10 },
			[]string{"data_batch_4.bin: record 1, byte 3073: label 10; want 0..9"}, ErrFormat},
		{"names", func(f map[string][]byte) { f["batches.meta.txt"] = []byte("cat\ndog\n") },
			[]string{"batches.meta.txt: 2 class names; want 10"}, ErrFormat},
		{"missing", func(f map[string][]byte) { delete(f, "data_batch_5.bin") },
			[]string{"data_batch_5.bin"}, os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := fakeCIFAR(sp)
			tc.edit(files)
			dir := t.TempDir()
			writeFiles(t, dir, files)
			_, _, err := readCIFAR(dir, sp)
			checkErr(t, "folder", err, tc.target, tc.want...)
			// The same fault inside an archive.
			gz := tarGz(t, "cifar-10-batches-bin", files)
			archive := filepath.Join(dir, "c.tar.gz")
			if err := os.WriteFile(archive, gz, 0o644); err != nil {
				t.Fatal(err)
			}
			arch := *sp
			arch.md5 = md5Hex(gz)
			_, _, err = readCIFAR(archive, &arch)
			target := tc.target
			if target == os.ErrNotExist {
				target, tc.want = ErrFormat, []string{"no data_batch_5.bin in the archive"}
			}
			checkErr(t, "archive", err, target, append(tc.want, archive)...)
		})
	}
}

func checkErr(t *testing.T, what string, err, target error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error; want %v", what, want)
	}
	if !errors.Is(err, target) {
		t.Errorf("%s: %v; want it to wrap %v", what, err, target)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %q; want it to contain %q", what, err, w)
		}
	}
}

func TestReadCIFAR10ChecksArchiveChecksum(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "cifar-10-binary.tar.gz")
	gz := tarGz(t, "cifar-10-batches-bin", fakeCIFAR(smallSpec(cifar10Spec(), 1, 1)))
	if err := os.WriteFile(archive, gz, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := ReadCIFAR10(archive)
	checkErr(t, "CIFAR-10", err, ErrChecksum, archive, "MD5 "+md5Hex(gz), "want "+CIFAR10MD5)
	_, _, err = ReadCIFAR100(archive)
	checkErr(t, "CIFAR-100", err, ErrChecksum, archive, "want "+CIFAR100MD5)
}

func TestReadCIFAR10RejectsWrongInputs(t *testing.T) {
	dir := t.TempDir()
	notGz := filepath.Join(dir, "cifar.tar.gz")
	if err := os.WriteFile(notGz, []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	sp := cifar10Spec()
	sp.md5 = ""
	_, _, err := readCIFAR(notGz, sp)
	checkErr(t, "not gzip", err, ErrFormat, notGz, "not a gzip file")
	_, _, err = ReadCIFAR10(dir)
	checkErr(t, "empty folder", err, ErrFormat, dir, "no data_batch_1.bin")
	// The public reader wants 10,000 records per file: a small file is
	// reported as truncated, naming it.
	writeFiles(t, dir, fakeCIFAR(smallSpec(cifar10Spec(), 2, 2)))
	_, _, err = ReadCIFAR10(dir)
	checkErr(t, "small files", err, ErrFormat, filepath.Join(dir, "data_batch_1.bin"), "truncated: 6146 bytes = 2 records; want 10000 records")
}

// FuzzDecodeCIFAR feeds arbitrary bytes to the record decoder: it must not
// panic, and whatever it accepts must be exactly recs well-formed records.
func FuzzDecodeCIFAR(f *testing.F) {
	sp10, sp100 := cifar10Spec(), cifar100Spec()
	f.Add(fakeRecords(0, [][]byte{{3}, {9}}), uint8(2), false)
	f.Add(fakeRecords(1, [][]byte{{3, 4}}), uint8(1), true)
	f.Add(fakeRecords(0, [][]byte{{10}}), uint8(1), false)
	f.Add(fakeRecords(0, [][]byte{{1}, {2}})[:5000], uint8(2), false)
	f.Add([]byte{}, uint8(0), true)
	f.Fuzz(func(t *testing.T, data []byte, recs uint8, hundred bool) {
		sp := sp10
		if hundred {
			sp = sp100
		}
		n := int(recs)
		pix := make([]uint8, n*cifarPixels)
		labels := make([]int32, n)
		err := decodeCIFAR("fuzz.bin", bytes.NewReader(data), int64(len(data)), sp, n, pix, labels)
		if err != nil {
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "fuzz.bin") {
				t.Fatalf("error %v; want ErrFormat naming the file", err)
			}
			return
		}
		rs := sp.recSize()
		if len(data) != n*rs {
			t.Fatalf("accepted %d bytes as %d records of %d", len(data), n, rs)
		}
		for i := range n {
			rec := data[i*rs : (i+1)*rs]
			if labels[i] != int32(rec[sp.labelAt]) || labels[i] >= int32(sp.classes()) {
				t.Fatalf("record %d: label %d from byte %d", i, labels[i], rec[sp.labelAt])
			}
			if !bytes.Equal(pix[i*cifarPixels:(i+1)*cifarPixels], rec[len(sp.limits):]) {
				t.Fatalf("record %d: pixels differ", i)
			}
		}
	})
}
