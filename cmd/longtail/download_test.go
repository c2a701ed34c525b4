package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

// cliWith runs the command line in-process with a's archives, as run does
// with the official ones; it returns the two streams and the error.
func cliWith(t *testing.T, archives map[string]dataset.Archive, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newAppCmd(&app{stdout: &out, stderr: &errb, archives: archives})
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

// TestFreshCloneWithoutData runs the README's sweep lines where there is no
// data: the dry run lists the paper's 12 runs with a warning that names the
// download command, and emit writes the Kubernetes job.
func TestFreshCloneWithoutData(t *testing.T) {
	sweepFile, err := filepath.Abs("../../configs/paper-sweep.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	code, out, errs := cli(t, "sweep", "-c", sweepFile, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, errs)
	}
	for _, w := range []string{"12 runs (3 methods × 4 imbalance factors × 1 seed)", "if500-ours_bs-seed0",
		`warning: `, `"data/cifar-10-binary.tar.gz": no such file`, "`longtail data download cifar10` fetches it"} {
		if !strings.Contains(out, w) {
			t.Errorf("dry run output lacks %q:\n%s", w, out)
		}
	}
	if strings.Count(out, "  todo") != 12 {
		t.Errorf("dry run lists %d runs to do; want 12:\n%s", strings.Count(out, "  todo"), out)
	}
	code, out, errs = cli(t, "sweep", "emit", "k8s", "-c", sweepFile, "-o", "job.yaml")
	if code != 0 {
		t.Fatalf("emit k8s: exit %d: %s", code, errs)
	}
	job, err := os.ReadFile("job.yaml")
	if err != nil || !bytes.Contains(job, []byte("completions: 12")) || !bytes.Contains(job, []byte("completionMode: Indexed")) {
		t.Errorf("emit k8s wrote %q (%v); want an Indexed Job of 12 completions", job, err)
	}
	if !strings.Contains(errs, "data not found here") {
		t.Errorf("emit k8s does not warn about the data: %q", errs)
	}
	if _, err := os.Stat("runs"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dry run or emit created runs/ (%v)", err)
	}
	code, _, errs = cli(t, "sweep", "-c", sweepFile)
	if code != exitConfig || !strings.Contains(errs, "longtail data download cifar10") {
		t.Errorf("sweep without the data: exit %d, %q; want exit %d naming the download command", code, errs, exitConfig)
	}
}

// TestDataDownload fetches a small generated archive from a local server as
// `longtail data download cifar10` does, then checks that the paper config
// finds it without --set; a second download is a no-op, and a wrong checksum
// fails and leaves nothing behind.
func TestDataDownload(t *testing.T) {
	body := []byte(strings.Repeat("not really CIFAR ", 5000))
	sum := md5.Sum(body)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cifar-10-binary.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	a := dataset.Archives["cifar10"]
	a.URL, a.MD5, a.Size = srv.URL+"/cifar-10-binary.tar.gz", hex.EncodeToString(sum[:]), int64(len(body))
	archives := map[string]dataset.Archive{"cifar10": a}
	paper, err := filepath.Abs("../../configs/paper/if100_ours_bs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sweepFile, _ := filepath.Abs("../../configs/paper-sweep.yaml")
	t.Chdir(t.TempDir())

	out, errs, err := cliWith(t, archives, "data", "download", "cifar10")
	if err != nil {
		t.Fatalf("download: %v\n%s", err, errs)
	}
	if !strings.Contains(out, "written to data/cifar-10-binary.tar.gz (MD5 "+a.MD5+" checked)") {
		t.Errorf("download output: %q", out)
	}
	if got, err := os.ReadFile("data/cifar-10-binary.tar.gz"); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("data/cifar-10-binary.tar.gz: %v; want the served archive", err)
	}
	if !strings.Contains(errs, "percent=100") {
		t.Errorf("no progress on stderr: %q", errs)
	}
	out, _, err = cliWith(t, archives, "data", "download", "cifar10")
	if err != nil || !strings.Contains(out, "already in data/cifar-10-binary.tar.gz") {
		t.Errorf("second download: %v %q; want a no-op", err, out)
	}

	// The paper config and sweep find the archive where download wrote it.
	code, out, errs := cli(t, "sweep", "-c", sweepFile, "--dry-run")
	if code != 0 || strings.Contains(out, "warning") {
		t.Errorf("dry run after the download: exit %d, %s%s; want no warning", code, out, errs)
	}
	// The served archive is not the official one, so reading it fails its
	// MD5 check: past the path, at the file download wrote.
	_, _, err = cliWith(t, archives, "data", "-c", paper)
	if err == nil || errors.Is(err, pipeline.ErrNoData) || !errors.Is(err, dataset.ErrChecksum) ||
		!strings.Contains(err.Error(), "data/cifar-10-binary.tar.gz") {
		t.Errorf("data -c %s: %v; want the MD5 check of data/cifar-10-binary.tar.gz", paper, err)
	}

	bad := a
	bad.MD5 = strings.Repeat("f", 32)
	_, _, err = cliWith(t, map[string]dataset.Archive{"cifar10": bad}, "data", "download", "cifar10", "--dir", "elsewhere")
	if !errors.Is(err, dataset.ErrChecksum) || !strings.Contains(err.Error(), "want "+bad.MD5) {
		t.Errorf("wrong checksum: %v; want ErrChecksum naming the expected MD5", err)
	}
	if _, err := os.Stat("elsewhere"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed download left elsewhere/ behind (%v)", err)
	}
	code, _, errs = cli(t, "data", "download", "imagenet")
	if code != exitConfig || !strings.Contains(errs, "cifar10 or cifar100") {
		t.Errorf("download imagenet: exit %d %q; want a usage error listing the data sets", code, errs)
	}
}
