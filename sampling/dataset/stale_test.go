//go:build unix

package dataset

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFetchRemovesStaleTemps leaves what a killed download leaves, a
// temporary file beside the archive, and fetches from a local server: the
// next download removes it, unless another download into the directory is
// running, whose file it would be. Other files stay, and the archive is
// readable by all (0644).
func TestFetchRemovesStaleTemps(t *testing.T) {
	gz := tarGz(t, "cifar-10-batches-bin", fakeCIFAR(smallSpec(cifar10Spec(), 2, 3)))
	a := Archive{Name: "CIFAR-10", File: "cifar-10-binary.tar.gz", MD5: md5Hex(gz), Size: int64(len(gz))}
	srv, _ := archiveServer(t, gz, false)
	for _, tc := range []struct {
		name         string
		otherRunning bool
	}{
		{"no other download", false},
		{"another download running", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			stale := filepath.Join(dir, ".cifar-10-binary.tar.gz.tmp2716057")
			if err := os.WriteFile(stale, []byte(strings.Repeat("partial archive ", 4096)), 0o600); err != nil {
				t.Fatal(err)
			}
			keep := []string{filepath.Join(dir, ".cifar-100-binary.tar.gz.tmp1"), filepath.Join(dir, "notes.txt")}
			for _, k := range keep {
				if err := os.WriteFile(k, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.otherRunning {
				// What a running Fetch holds (another open file
				// description conflicts as another process would).
				d, err := os.Open(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				if err := syscall.Flock(int(d.Fd()), syscall.LOCK_SH); err != nil {
					t.Fatal(err)
				}
			}
			path, fetched, err := a.Fetch(context.Background(), dir, srv.URL+"/cifar-10-binary.tar.gz", nil)
			if err != nil || !fetched {
				t.Fatalf("Fetch: fetched %v, %v", fetched, err)
			}
			if _, err := os.Stat(stale); os.IsNotExist(err) == tc.otherRunning {
				t.Errorf("%s after the download: %v; want removed %v", filepath.Base(stale), err, !tc.otherRunning)
			}
			for _, k := range keep {
				if _, err := os.Stat(k); err != nil {
					t.Errorf("%s: %v; want it left alone", filepath.Base(k), err)
				}
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("%s: %v, mode %v; want 0644", path, err, fi.Mode().Perm())
			}
		})
	}
}
