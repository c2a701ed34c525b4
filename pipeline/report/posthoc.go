package report

import (
	"errors"
	"os"
	"slices"

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
// has it, and its result is the test metrics posthoc.json holds, with no
// learning curve. A posthoc.json of another epoch than the run's final
// model is stale and left out.
func (rep *Report) addPosthoc(s *sweep.Sweep, runDirs map[string]string) error {
	found := map[string]*posthoc.Report{}
	var names []string
	for _, r := range rep.Runs {
		ph, err := posthoc.ReadReport(runDirs[r.Name])
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if ph.Epoch != r.Final.Epoch {
			continue
		}
		found[r.Name] = ph
		for _, m := range ph.Methods[1:] {
			names = append(names, m.Method)
		}
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
	var added []RunResult
	for _, r := range rep.Runs {
		ph, ok := found[r.Name]
		if !ok {
			continue
		}
		for _, m := range methods {
			res, ok := ph.Method(m)
			if !ok {
				continue
			}
			p := r
			p.Name, p.Method, p.Records = r.Name+"+"+m, PosthocMethod(r.Method, m), nil
			f := *r.Final
			f.Metrics, f.Val, f.Last = res.Test, &res.Val, nil
			p.Final = &f
			added = append(added, p)
		}
	}
	rep.Runs = append(rep.Runs, added...)
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
