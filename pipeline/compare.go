package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// CompareRun trains every variant of base's compare list, one after the
// other, in dir/<name>, then writes compare.txt (CompareTable) and
// compare.png. With resume it continues the compare run in dir: finished
// variants are kept, an interrupted one resumes from its checkpoint, the
// rest start. src is what base was loaded from (for a resume, dir's
// config.yaml); each variant is LoadVariant(src, ...).
func CompareRun(ctx context.Context, src Sources, base *Config, dir string, opts Options, resume bool) ([]*Result, error) {
	if len(base.Compare) == 0 {
		return nil, fmt.Errorf("pipeline: %s: the config has no compare list", dir)
	}
	if !resume {
		if err := createRunDir(dir); err != nil {
			return nil, err
		}
		y, err := base.YAML()
		if err != nil {
			return nil, err
		}
		if err := WriteFileAtomic(filepath.Join(dir, ConfigFile), y); err != nil {
			return nil, err
		}
	}
	log := opts.Log
	var results []*Result
	for i, v := range base.Compare {
		cfg, err := LoadVariant(src, v, i)
		if err != nil {
			return nil, err
		}
		vdir := filepath.Join(dir, v.Name)
		o := opts
		o.Title = v.Name
		if log != nil {
			o.Log = log.With("variant", v.Name)
		}
		var res *Result
		switch {
		case resume && exists(filepath.Join(vdir, FinalFile)):
			res, err = readResult(vdir)
		case resume && exists(filepath.Join(vdir, CheckpointFile)):
			res, err = Resume(ctx, cfg, vdir, o)
		default:
			res, err = Train(ctx, cfg, vdir, o)
		}
		if err != nil {
			if errors.Is(err, ErrInterrupted) {
				return nil, fmt.Errorf("%w; continue the comparison with `longtail train --resume %s`", err, dir)
			}
			return nil, fmt.Errorf("pipeline: variant %s: %w", v.Name, err)
		}
		results = append(results, res)
	}
	var table bytes.Buffer
	names := make([]string, len(results))
	finals := make([]*Final, len(results))
	series := make([]Series, len(results))
	for i, r := range results {
		names[i], finals[i] = base.Compare[i].Name, r.Final
		series[i] = Series{Name: names[i], PerClass: r.Final.PerClass}
	}
	if err := CompareTable(&table, names, finals); err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(filepath.Join(dir, CompareFile), table.Bytes()); err != nil {
		return nil, err
	}
	title := filepath.Base(dir)
	if err := WritePerClassPlot(filepath.Join(dir, "compare.png"), title, finals[0].Classes, series); err != nil {
		return nil, err
	}
	return results, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// readResult loads a finished run's result from its directory.
func readResult(dir string) (*Result, error) {
	f, err := ReadFinal(dir)
	if err != nil {
		return nil, err
	}
	recs, err := ReadMetrics(dir)
	if err != nil {
		return nil, err
	}
	return &Result{Dir: dir, Final: f, Records: recs}, nil
}

// CompareTable writes the per-class test accuracy (recall) of runs side by
// side, in percent, with each class's training images, then top-1, the
// standard deviation of per-class accuracy (the paper's SD), the worst
// class's accuracy, the shot groups (with the first run's thresholds) and
// the expected calibration error. The last column is the last run minus the
// first. A single run gets a column of per-class precision as well. The
// runs must share the classes and training counts.
func CompareTable(w io.Writer, names []string, finals []*Final) error {
	if len(finals) == 0 || len(names) != len(finals) {
		return fmt.Errorf("pipeline: compare table: %d names for %d runs", len(names), len(finals))
	}
	ref := finals[0]
	for i, f := range finals[1:] {
		if len(f.PerClass) != len(ref.PerClass) || fmt.Sprint(f.TrainCounts) != fmt.Sprint(ref.TrainCounts) {
			return fmt.Errorf("pipeline: compare table: run %s has other classes or training counts than %s", names[i+1], names[0])
		}
	}
	className := func(c int) string { return fmt.Sprintf("%d %s", c, ref.Classes[c]) }
	// The worst class is named in its row when every run has the same one.
	worstLabel := "worst class"
	if slices.IndexFunc(finals, func(f *Final) bool { return f.WorstClass != ref.WorstClass }) < 0 {
		worstLabel = fmt.Sprintf("worst class (%s)", className(ref.WorstClass))
	}
	shots := ref.ShotThresholds().Labels()
	nameW := max(len("SD of per-class accuracy"), utf8.RuneCountInString(worstLabel))
	for c := range ref.Classes {
		nameW = max(nameW, len(className(c)))
	}
	colW := make([]int, len(names))
	for i, n := range names {
		colW[i] = max(7, len(n))
	}
	delta := len(finals) > 1
	prec := !delta && len(ref.Precision) == len(ref.PerClass)
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s %6s", nameW, "class", "train")
	for i, n := range names {
		fmt.Fprintf(&b, " %*s", colW[i], n)
	}
	if delta {
		fmt.Fprintf(&b, " %7s", "Δ")
	}
	if prec {
		fmt.Fprintf(&b, " %9s", "precision")
	}
	b.WriteString("\n")
	row := func(label, count string, vals []*float64, extra *float64) {
		fmt.Fprintf(&b, "%-*s %6s", nameW+len(label)-utf8.RuneCountInString(label), label, count)
		for i, v := range vals {
			if v == nil {
				fmt.Fprintf(&b, " %*s", colW[i], "-")
			} else {
				fmt.Fprintf(&b, " %*.1f", colW[i], 100**v)
			}
		}
		if delta && vals[0] != nil && vals[len(vals)-1] != nil {
			fmt.Fprintf(&b, " %+7.1f", 100*(*vals[len(vals)-1]-*vals[0]))
		}
		if extra != nil {
			fmt.Fprintf(&b, " %9.1f", 100**extra)
		}
		b.WriteString("\n")
	}
	pick := func(get func(*Final) *float64) []*float64 {
		out := make([]*float64, len(finals))
		for i, f := range finals {
			out[i] = get(f)
		}
		return out
	}
	for c := range ref.PerClass {
		var p *float64
		if prec {
			p = &ref.Precision[c]
		}
		row(className(c), fmt.Sprint(ref.TrainCounts[c]), pick(func(f *Final) *float64 { return &f.PerClass[c] }), p)
	}
	b.WriteString(strings.Repeat("-", nameW+7+len(names)+sum(colW)+map[bool]int{true: 8}[delta]+map[bool]int{true: 10}[prec]) + "\n")
	row("top-1", "", pick(func(f *Final) *float64 { return &f.Top1 }), nil)
	row("SD of per-class accuracy", "", pick(func(f *Final) *float64 { return &f.SD }), nil)
	row(worstLabel, "", pick(func(f *Final) *float64 { return &f.Worst }), nil)
	row(shots[0], "", pick(func(f *Final) *float64 { return f.Many }), nil)
	row(shots[1], "", pick(func(f *Final) *float64 { return f.Medium }), nil)
	row(shots[2], "", pick(func(f *Final) *float64 { return f.Few }), nil)
	row(fmt.Sprintf("ECE (%d bins)", CalibrationBins), "", pick(func(f *Final) *float64 {
		if !f.HasCalibration() {
			return nil
		}
		return &f.ECE
	}), nil)
	fmt.Fprintf(&b, "test accuracy in %%, epoch %d", ref.Epoch)
	if prec {
		b.WriteString("; per class: recall (accuracy) and precision")
	}
	if delta {
		fmt.Fprintf(&b, "; Δ = %s − %s", names[len(names)-1], names[0])
	}
	b.WriteString("\n")
	if !strings.HasPrefix(worstLabel, "worst class (") {
		parts := make([]string, len(finals))
		for i, f := range finals {
			parts[i] = names[i] + ": " + className(f.WorstClass)
		}
		b.WriteString("worst class: " + strings.Join(parts, "; ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}
