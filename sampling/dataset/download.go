package dataset

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Download fetches url into the file dest (atomically: dest appears only
// once complete and verified). If sha256Hex is not empty the body's SHA-256
// must equal it, or dest is left untouched and the error wraps ErrChecksum.
// The request stops when ctx is cancelled.
func Download(ctx context.Context, url, dest, sha256Hex string) error {
	return DownloadWith(ctx, url, dest, DownloadOptions{SHA256: sha256Hex})
}

// DownloadOptions say how to check a download and report its progress.
type DownloadOptions struct {
	// SHA256 and MD5 are the expected digests in hex; empty ones are not
	// checked.
	SHA256, MD5 string
	// Size is the expected length in bytes; 0 means not checked.
	Size int64
	// Progress, when set, is called as bytes arrive with the bytes so far
	// and the total (-1 when the server does not say).
	Progress func(done, total int64)
}

// DownloadWith is Download with the checks and progress of o. A body shorter
// than the server announced, a wrong size or a wrong digest leave dest
// untouched and no temporary file behind; a wrong digest wraps ErrChecksum.
func DownloadWith(ctx context.Context, url, dest string, o DownloadOptions) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: HTTP status %s; want 200 OK", url, resp.Status)
	}
	total := resp.ContentLength
	if total < 0 && o.Size > 0 {
		total = o.Size
	}
	return writeAtomic(dest, func(w io.Writer) error {
		sums := map[string]hash.Hash{}
		want := map[string]string{"SHA-256": o.SHA256, "MD5": o.MD5}
		writers := []io.Writer{w}
		for name, h := range map[string]hash.Hash{"SHA-256": sha256.New(), "MD5": md5.New()} {
			if want[name] != "" {
				sums[name] = h
				writers = append(writers, h)
			}
		}
		var body io.Reader = resp.Body
		if o.Progress != nil {
			body = &progressReader{r: body, total: total, report: o.Progress}
		}
		n, err := io.Copy(io.MultiWriter(writers...), body)
		if err != nil {
			return fmt.Errorf("download %s after %d bytes: %w", url, n, err)
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return fmt.Errorf("download %s: %d bytes; the server announced %d: %w", url, n, resp.ContentLength, io.ErrUnexpectedEOF)
		}
		if o.Size > 0 && n != o.Size {
			return fmt.Errorf("download %s: %d bytes; want %d: %w", url, n, o.Size, ErrChecksum)
		}
		for _, name := range []string{"MD5", "SHA-256"} {
			h, ok := sums[name]
			if !ok {
				continue
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(want[name]) {
				return fmt.Errorf("download %s: %s %s; want %s: %w", url, name, got, strings.ToLower(want[name]), ErrChecksum)
			}
		}
		return nil
	})
}

// progressReader reports the bytes read so far.
type progressReader struct {
	r           io.Reader
	done, total int64
	report      func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	p.report(p.done, p.total)
	return n, err
}

// Archive is a data set's official archive: what `longtail data download`
// fetches.
type Archive struct {
	// Name is the data set's name in messages, e.g. CIFAR-10.
	Name string
	// File is the archive's file name, e.g. cifar-10-binary.tar.gz.
	File string
	// URL is where the dataset's authors publish it.
	URL string
	// MD5 is the published checksum; Size (bytes) is checked when not 0.
	MD5  string
	Size int64
}

// Archives are the official binary archives by data.source name. The MD5s
// are the ones the readers check (ReadCIFAR10, ReadCIFAR100).
var Archives = map[string]Archive{
	"cifar10": {Name: "CIFAR-10", File: "cifar-10-binary.tar.gz", URL: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
		MD5: CIFAR10MD5, Size: 170052171},
	"cifar100": {Name: "CIFAR-100", File: "cifar-100-binary.tar.gz", URL: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
		MD5: CIFAR100MD5},
}

// Intact reports whether path holds the archive, checked by its MD5 (and
// size). A missing file is (false, nil).
func (a Archive) Intact(path string) (bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s archive %s: %w", a.Name, path, err)
	}
	if a.Size > 0 && st.Size() != a.Size {
		return false, nil
	}
	sum, err := fileMD5(path)
	if err != nil {
		return false, fmt.Errorf("%s archive %s: %w", a.Name, path, err)
	}
	return sum == a.MD5, nil
}

// Fetch makes dir/File the intact archive: when it is there and its MD5
// matches it does nothing and returns fetched false; otherwise it downloads
// from url (a.URL when empty), checks the MD5 and size, and replaces the
// file atomically. On failure nothing is left in dir but what was there.
// Temporary files that a killed download of the same archive left in dir
// (.File.tmp*) are removed first, unless another download into dir is
// running (lockDownloads).
func (a Archive) Fetch(ctx context.Context, dir, url string, progress func(done, total int64)) (path string, fetched bool, err error) {
	path = filepath.Join(dir, a.File)
	ok, err := a.Intact(path)
	if err != nil {
		return path, false, err
	}
	if ok {
		return path, false, nil
	}
	if url == "" {
		url = a.URL
	}
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return path, false, fmt.Errorf("%s archive: %w", a.Name, err)
	}
	clean, release := lockDownloads(dir)
	defer release()
	if clean {
		removeStaleTemps(path)
	}
	if err := DownloadWith(ctx, url, path, DownloadOptions{MD5: a.MD5, Size: a.Size, Progress: progress}); err != nil {
		if errors.Is(statErr, os.ErrNotExist) {
			os.Remove(dir) // made for the download; removed only when empty
		}
		return path, false, fmt.Errorf("%s archive: %w", a.Name, err)
	}
	return path, true, nil
}

// removeStaleTemps removes the temporary files that writeAtomic leaves
// beside path when its process is killed: .<name>.tmp<random>.
func removeStaleTemps(path string) {
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp*"))
	for _, p := range stale {
		os.Remove(p)
	}
}
