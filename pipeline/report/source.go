package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/sweep"
)

// Kinds of directory a report reads.
const (
	KindSweep      = "Sweep"      // sweep.json and a run directory per run
	KindRun        = "Run"        // one run of `longtail train`
	KindComparison = "Comparison" // a config with a compare list, a run per variant
	KindRuns       = "Runs"       // several run (or comparison) directories
)

// source is what a report reads: a sweep, and the directories that may
// hold each of its runs, the first finished one winning.
type source struct {
	sweep *sweep.Sweep
	kind  string
	dirs  func(r sweep.Run) []string
}

// readSource reads dirs as the sweep a report describes. Sweep directories
// (with sweep.json) are shards of one sweep. Run directories (config.yaml,
// as `longtail train` leaves them) make an in-memory sweep of their own:
// each run is a method named after its directory, each variant of a
// comparison a method named after the variant, the first the baseline.
func readSource(dirs []string) (*source, error) {
	var runDirs, sweepDirs []string
	for _, d := range dirs {
		switch {
		case exists(filepath.Join(d, sweep.ManifestFile)):
			sweepDirs = append(sweepDirs, d)
		case exists(filepath.Join(d, pipeline.ConfigFile)):
			runDirs = append(runDirs, d)
		default:
			if _, err := os.Stat(d); err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
			return nil, fmt.Errorf("%w: %s has neither %s (a directory `longtail sweep` wrote) nor %s (a run directory `longtail train` wrote)",
				sweep.ErrNotSweep, d, sweep.ManifestFile, pipeline.ConfigFile)
		}
	}
	if len(sweepDirs) > 0 && len(runDirs) > 0 {
		return nil, fmt.Errorf("report: %s is a sweep directory and %s a run directory; report them separately", sweepDirs[0], runDirs[0])
	}
	if len(runDirs) > 0 {
		return readRuns(runDirs)
	}
	s, err := sweep.ReadManifest(dirs[0])
	if err != nil {
		return nil, err
	}
	for _, d := range dirs[1:] {
		o, err := sweep.ReadManifest(d)
		if err != nil {
			return nil, err
		}
		if !s.SameRuns(o) {
			return nil, fmt.Errorf("report: %s and %s hold different sweeps (their %s differ)", dirs[0], d, sweep.ManifestFile)
		}
	}
	return &source{sweep: s, kind: KindSweep, dirs: func(r sweep.Run) []string {
		out := make([]string, len(dirs))
		for i, d := range dirs {
			out[i] = filepath.Join(d, r.Name)
		}
		return out
	}}, nil
}

// readRuns builds the in-memory sweep of run and comparison directories.
func readRuns(dirs []string) (*source, error) {
	s := &sweep.Sweep{Dir: dirs[0], Grid: map[string][]any{}, Parallel: 1}
	runDir := map[string]string{}
	add := func(name, dir string, cfg *pipeline.Config) error {
		if prev, ok := runDir[name]; ok {
			return fmt.Errorf("report: %s and %s are both named %s; report them separately or rename one", prev, dir, name)
		}
		runDir[name] = dir
		s.Methods = append(s.Methods, name)
		s.Runs = append(s.Runs, sweep.Run{Index: len(s.Runs), Name: name, Method: name, Imbalance: cfg.Data.Imbalance, Seed: cfg.Train.Seed,
			LTSeed: cfg.Data.LTSeed, Params: map[string]any{}, Config: cfg})
		return nil
	}
	kind := KindRun
	for _, d := range dirs {
		file := filepath.Join(d, pipeline.ConfigFile)
		cfg, err := pipeline.Load(pipeline.Sources{File: file})
		if err != nil {
			return nil, fmt.Errorf("report: run directory %s: %w", d, err)
		}
		if len(cfg.Compare) == 0 {
			if err := add(filepath.Base(filepath.Clean(d)), d, cfg); err != nil {
				return nil, err
			}
			continue
		}
		kind = KindComparison
		for i, v := range cfg.Compare {
			vc, err := pipeline.LoadVariant(pipeline.Sources{File: file}, v, i)
			if err != nil {
				return nil, fmt.Errorf("report: comparison %s: %w", d, err)
			}
			name := v.Name
			if len(dirs) > 1 {
				name = filepath.Base(filepath.Clean(d)) + "/" + v.Name
			}
			if err := add(name, filepath.Join(d, v.Name), vc); err != nil {
				return nil, err
			}
		}
	}
	if len(dirs) > 1 {
		kind = KindRuns
	}
	s.Baseline = s.Methods[0]
	return &source{sweep: s, kind: kind, dirs: func(r sweep.Run) []string { return []string{runDir[r.Name]} }}, nil
}

// title names what the report describes: "Sweep paper-sweep", "Run
// if100_ours_bs-20260101-120000", "Comparison quickstart-…", "Runs a, b".
func title(kind string, dirs []string) string {
	names := make([]string, len(dirs))
	for i, d := range dirs {
		names[i] = filepath.Base(filepath.Clean(d))
	}
	if kind == KindSweep {
		// Shards of one sweep share its name.
		names = slices.Compact(names)
	}
	return kind + " " + strings.Join(names, ", ")
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, os.ErrNotExist)
}
