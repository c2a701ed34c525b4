package pipeline

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version describes the running longtail: the module version, the VCS
// commit the binary was built from (+dirty for uncommitted changes), and
// the Go toolchain and platform, e.g. "longtail (devel) (commit
// 0123456789ab+dirty) go1.26.8 linux/amd64". A run records it in
// final.json, an export in its metadata, a report beside its table.
func Version() string {
	version, commit := "(devel)", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
				if len(commit) > 12 {
					commit = commit[:12]
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty {
			commit += "+dirty"
		}
	}
	return fmt.Sprintf("longtail %s (commit %s) %s %s/%s", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
