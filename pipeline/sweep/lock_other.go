//go:build !unix

package sweep

// lockRun does not lock where flock is missing: one process per sweep
// directory, or disjoint shards, is then the user's to ensure.
func lockRun(sweepDir, name string) (unlock func(), err error) {
	return func() {}, nil
}
