//go:build unix

package sweep

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir holds a sweep's run locks.
const lockDir = ".locks"

// lockRun takes sweepDir/.locks/<name>.lock with flock, so that two
// processes sharing a sweep directory never train the same run at once; the
// kernel drops the lock when the process dies, so a killed sweep leaves no
// stale lock. ErrRunBusy means another process holds it.
func lockRun(sweepDir, name string) (unlock func(), err error) {
	dir := filepath.Join(sweepDir, lockDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sweep: run lock: %w", err)
	}
	path := filepath.Join(dir, name+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sweep: run lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked (%s)", ErrRunBusy, name, path)
		}
		return nil, fmt.Errorf("sweep: run lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
