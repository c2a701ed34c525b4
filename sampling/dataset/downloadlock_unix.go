//go:build unix

package dataset

import (
	"os"
	"syscall"
)

// lockDownloads marks a download into dir: it holds a shared flock on the
// directory until release. clean is true when no other process held one, so
// that temporary files left in dir are a killed download's, not a running
// one's: the exclusive lock that tells so is taken without waiting, then
// turned into the shared one. The kernel drops the lock of a process that
// dies. Where dir cannot be locked, clean is false and nothing is held.
func lockDownloads(dir string) (clean bool, release func()) {
	f, err := os.Open(dir)
	if err != nil {
		return false, func() {}
	}
	fd := int(f.Fd())
	clean = syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) == nil
	if err := syscall.Flock(fd, syscall.LOCK_SH); err != nil {
		f.Close()
		return false, func() {}
	}
	return clean, func() { f.Close() }
}
