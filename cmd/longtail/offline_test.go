package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/sampling/dataset"
)

// TestDownloadOffline downloads from a server that is gone, as an offline
// machine sees every server: the error says what works without a network
// (copying the archive in, --url for a mirror, the folder source).
func TestDownloadOffline(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	gone := srv.URL + "/cifar-10-binary.tar.gz"
	srv.Close()
	a := dataset.Archives["cifar10"]
	a.URL = gone
	t.Chdir(t.TempDir())
	_, _, err := cliWith(t, map[string]dataset.Archive{"cifar10": a}, "data", "download", "cifar10")
	if err == nil {
		t.Fatal("download from a closed server succeeded")
	}
	for _, w := range []string{"connection refused", "fetch " + gone + " on another machine and copy it to data/cifar-10-binary.tar.gz",
		"--url URL fetches it from a mirror", "--set data.source=folder --set data.path=DIR"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}
