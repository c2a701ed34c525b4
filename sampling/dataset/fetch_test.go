package dataset

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// archiveServer serves body at /cifar-10-binary.tar.gz; with truncate it
// announces the whole length but sends only half. It counts requests.
func archiveServer(t *testing.T, body []byte, truncate bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/cifar-10-binary.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if truncate {
			w.Write(body[:len(body)/2])
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestArchiveFetch fetches a small generated CIFAR-10 archive from a local
// server: written whole and readable, a no-op when intact, fetched again
// when damaged; a wrong checksum, a truncated body or a missing file fail
// with a clear error and leave nothing behind.
func TestArchiveFetch(t *testing.T) {
	gz := tarGz(t, "cifar-10-batches-bin", fakeCIFAR(smallSpec(cifar10Spec(), 2, 3)))
	good := Archive{Name: "CIFAR-10", File: "cifar-10-binary.tar.gz", MD5: md5Hex(gz), Size: int64(len(gz))}
	srv, hits := archiveServer(t, gz, false)
	url := srv.URL + "/cifar-10-binary.tar.gz"

	dir := filepath.Join(t.TempDir(), "data")
	var last, total int64
	path, fetched, err := good.Fetch(context.Background(), dir, url, func(d, n int64) { last, total = d, n })
	if err != nil || !fetched || path != filepath.Join(dir, good.File) {
		t.Fatalf("Fetch: %s, fetched %v, %v", path, fetched, err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(gz) {
		t.Fatal("the fetched archive differs from the served one")
	}
	if last != int64(len(gz)) || total != int64(len(gz)) {
		t.Errorf("progress ended at %d of %d; want %d of %d", last, total, len(gz), len(gz))
	}
	sp := smallSpec(cifar10Spec(), 2, 3)
	sp.md5 = good.MD5
	if train, _, err := readCIFAR(path, sp); err != nil || train.Len() != 10 {
		t.Errorf("reading the fetched archive: %v", err)
	}

	before := hits.Load()
	if _, fetched, err := good.Fetch(context.Background(), dir, url, nil); err != nil || fetched || hits.Load() != before {
		t.Errorf("second Fetch: fetched %v, %v, %d requests; want a no-op", fetched, err, hits.Load()-before)
	}
	if err := os.WriteFile(path, gz[:10], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, fetched, err := good.Fetch(context.Background(), dir, url, nil); err != nil || !fetched {
		t.Errorf("Fetch over a damaged archive: fetched %v, %v; want it fetched again", fetched, err)
	}
	if ok, err := good.Intact(path); !ok || err != nil {
		t.Errorf("after the refetch: intact %v, %v", ok, err)
	}

	truncSrv, _ := archiveServer(t, gz, true)
	wrong := good
	wrong.MD5 = strings.Repeat("0", 32)
	for _, tc := range []struct {
		name   string
		a      Archive
		url    string
		target error
		want   []string
	}{
		{"wrong checksum", wrong, url, ErrChecksum, []string{"CIFAR-10", url, "MD5 " + good.MD5, "want " + wrong.MD5}},
		{"truncated body", good, truncSrv.URL + "/cifar-10-binary.tar.gz", io.ErrUnexpectedEOF, []string{"CIFAR-10", "after"}},
		{"missing file", good, srv.URL + "/nope.tar.gz", nil, []string{"404", "want 200 OK"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "data")
			_, fetched, err := tc.a.Fetch(context.Background(), dir, tc.url, nil)
			if err == nil || fetched {
				t.Fatalf("fetched %v, err %v; want an error", fetched, err)
			}
			if tc.target != nil && !errors.Is(err, tc.target) {
				t.Errorf("%v; want it to wrap %v", err, tc.target)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}
