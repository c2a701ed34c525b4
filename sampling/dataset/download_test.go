package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDownload(t *testing.T) {
	body := []byte(strings.Repeat("cifar ", 1000))
	sum := sha256.Sum256(body)
	good := hex.EncodeToString(sum[:])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/data.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	dir := t.TempDir()
	dest := filepath.Join(dir, "data.tar.gz")

	if err := Download(context.Background(), srv.URL+"/data.tar.gz", dest, strings.ToUpper(good)); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); string(got) != string(body) {
		t.Fatal("downloaded file differs from the served body")
	}

	bad := filepath.Join(dir, "bad.tar.gz")
	err := Download(context.Background(), srv.URL+"/data.tar.gz", bad, strings.Repeat("0", 64))
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), good) {
		t.Errorf("wrong checksum: %v; want ErrChecksum naming the actual %s", err, good)
	}
	if _, err := os.Stat(bad); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file with the wrong checksum was left at %s", bad)
	}
	if err := Download(context.Background(), srv.URL+"/nope", bad, ""); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing file: %v; want an HTTP 404 error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Download(ctx, srv.URL+"/data.tar.gz", bad, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v; want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the folder; want only the good download", len(entries))
	}
}
