//go:build !unix

package dataset

// lockDownloads cannot tell a killed download's temporary files from a
// running one's without flock: it never cleans.
func lockDownloads(string) (clean bool, release func()) { return false, func() {} }
