package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/posthoc"
	"github.com/longtail-ml/longtail/pipeline/sweep"
)

// PosthocMethod names the method row of post-hoc method ph applied to the
// runs of method: "ce_rs+logit_adjust".
func PosthocMethod(method, ph string) string { return method + "+" + ph }

// addPosthoc makes the post-hoc methods of the finished runs (posthoc.json
// in their directories, package pipeline/posthoc) methods of their own,
// each placed after the method it rebalances: a post-hoc method is planned
// for every run of the sweep when the sweep lists it (posthoc:) or a run
// has it, and its result is a run RUN+POSTHOC with the test metrics
// posthoc.json holds and no learning curve; one without a result is
// missing. A posthoc.json is the run's only when it is of the checkpoint
// the run reports as that file is now (posthoc.Report.Current, the rule
// the sweep's post-hoc step follows; the run's config.yaml says which file
// that is): any other is stale, its results left out and its run named in
// StalePosthoc. runDirs gains the post-hoc results, at their run's
// directory.
func (rep *Report) addPosthoc(s *sweep.Sweep, runDirs map[string]string) error {
	found := map[string]*posthoc.Report{}
	var names []string
	for _, r := range rep.Runs {
		rd := runDirs[r.Name]
		ph, err := posthoc.ReadReport(rd)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		for _, m := range ph.Methods[1:] {
			names = append(names, m.Method)
		}
		cfg, err := pipeline.Load(pipeline.Sources{File: filepath.Join(rd, pipeline.ConfigFile)})
		if err != nil || !ph.Current(rd, cfg) {
			rep.StalePosthoc = append(rep.StalePosthoc, r.Name)
			continue
		}
		found[r.Name] = ph
	}
	names = append(names, s.Posthoc...)
	var methods []string
	for _, m := range posthoc.Names() {
		if slices.Contains(names, m) {
			methods = append(methods, m)
		}
	}
	if len(methods) == 0 {
		return nil
	}
	trained := s.Runs
	for _, r := range trained {
		for _, m := range methods {
			p := r
			p.Index, p.Name, p.Method = len(s.Runs), r.Name+"+"+m, PosthocMethod(r.Method, m)
			s.Runs = append(s.Runs, p)
		}
	}
	done := map[string]RunResult{}
	for _, r := range rep.Runs {
		done[r.Name] = r
	}
	var added []RunResult
	for _, r := range trained {
		for _, m := range methods {
			name := r.Name + "+" + m
			var res *posthoc.Result
			if ph, ok := found[r.Name]; ok {
				res, _ = ph.Method(m)
			}
			if res == nil {
				rep.Missing = append(rep.Missing, name)
				continue
			}
			p := done[r.Name]
			p.Name, p.Method, p.Records = name, PosthocMethod(r.Method, m), nil
			f := *p.Final
			f.Metrics, f.Val, f.Last = res.Test, &res.Val, nil
			p.Final = &f
			added = append(added, p)
			runDirs[name] = runDirs[r.Name] // the run's config and provenance
		}
	}
	rep.Runs = append(rep.Runs, added...)
	rep.Planned += len(trained) * len(methods)
	rep.Counts += fmt.Sprintf(" + %d post-hoc of each (%s)", len(methods), strings.Join(methods, ", "))
	var all []string
	for _, method := range rep.Methods {
		all = append(all, method)
		for _, m := range methods {
			all = append(all, PosthocMethod(method, m))
		}
	}
	rep.Methods = all
	return nil
}

// staleNote names the runs whose posthoc.json is stale; "" when none.
func (rep *Report) staleNote() string {
	if len(rep.StalePosthoc) == 0 {
		return ""
	}
	return fmt.Sprintf("Post-hoc results out of date (%d; posthoc.json is not of the checkpoint the run reports, so left out; "+
		"run `longtail posthoc RUN_DIR` again): %s", len(rep.StalePosthoc), strings.Join(rep.StalePosthoc, ", "))
}
