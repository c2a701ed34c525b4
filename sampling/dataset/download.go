package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Download fetches url into the file dest (atomically: dest appears only
// once complete and verified). If sha256Hex is not empty the body's SHA-256
// must equal it, or dest is left untouched and the error wraps ErrChecksum.
// The request stops when ctx is cancelled.
func Download(ctx context.Context, url, dest, sha256Hex string) error {
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
	return writeAtomic(dest, func(w io.Writer) error {
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
		if err != nil {
			return fmt.Errorf("download %s after %d bytes: %w", url, n, err)
		}
		if sha256Hex == "" {
			return nil
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(sha256Hex) {
			return fmt.Errorf("download %s: SHA-256 %s; want %s: %w", url, got, strings.ToLower(sha256Hex), ErrChecksum)
		}
		return nil
	})
}
