package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/report"
	"github.com/longtail-ml/longtail/pipeline/sweep"
)

// sweepYAML is a sweep of 2 methods × 2 imbalance factors, 1 epoch each;
// perClass sets the synthetic training images per class (60: about a
// second a run; 400: 73 steps, long enough to stop in the middle).
func sweepYAML(perClass int) string {
	return fmt.Sprintf(`
base:
  data:
    synthetic: {classes: 4, train_per_class: %d, test_per_class: 10}
  model: {depth: 8, width: 4}
  train: {epochs: 1, eval_every: 0}
  runtime: {threads: 1}
methods:
  - name: ce_rs
    set: {loss.name: ce, sampling.name: random, sampling.batch: 16}
  - name: ours_bs
    set: {loss.name: weighted_ce, sampling.name: balanced, sampling.per_class: 4}
grid:
  data.imbalance: [2, 4]
`, perClass)
}

// sweepRuns are sweepYAML's runs in order.
var sweepRuns = []string{"if2-ce_rs-seed0", "if2-ours_bs-seed0", "if4-ce_rs-seed0", "if4-ours_bs-seed0"}

// buildBinary builds the longtail binary into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "longtail")
	if out, err := command(t, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestSweepHelp(t *testing.T) {
	for _, args := range [][]string{{"sweep"}, {"sweep", "emit"}, {"report"}} {
		code, out, _ := cli(t, append(args, "--help")...)
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "longtail "+strings.Join(args, " ")) {
			t.Errorf("longtail %s --help: code %d:\n%s", strings.Join(args, " "), code, out)
		}
	}
	_, out, _ := cli(t, "--help")
	for _, c := range []string{"sweep", "report"} {
		if !strings.Contains(out, "  "+c+" ") {
			t.Errorf("longtail --help does not list %s", c)
		}
	}
}

func TestSweepDryRun(t *testing.T) {
	dir := t.TempDir()
	file := write(t, filepath.Join(dir, "s.yaml"), sweepYAML(60))
	sweepDir := filepath.Join(dir, "out")
	code, out, errs := cli(t, "sweep", "-c", file, "--dir", sweepDir, "--dry-run", "--shard", "0/3")
	if code != 0 {
		t.Fatal(errs)
	}
	for _, w := range []string{"4 runs (2 methods × 2 imbalance factors)", "shard 0/3: 2 runs", "0  if2-ce_rs-seed0    ce_rs    2   0     todo",
		"3  if4-ours_bs-seed0  ours_bs  4   0     todo"} {
		if !strings.Contains(out, w) {
			t.Errorf("dry run lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, sweepRuns[1]) {
		t.Errorf("shard 0/3 lists run 1:\n%s", out)
	}
	if _, err := os.Stat(sweepDir); err == nil {
		t.Error("a dry run created the sweep directory")
	}
	// data.lt_seed in the grid: replicates named by it, with a column.
	lt := write(t, filepath.Join(dir, "lt.yaml"), sweepYAML(60)+"  data.lt_seed: [0, 3]\n")
	if code, out, errs := cli(t, "sweep", "-c", lt, "--dir", sweepDir, "--dry-run"); code != 0 ||
		!strings.Contains(out, "8 runs (2 methods × 2 imbalance factors × 2 data.lt_seed)") || !strings.Contains(out, "IF  seed  lt_seed  state") ||
		!strings.Contains(out, "5  if2-ours_bs-seed0-lt3  ours_bs  2   0     3        todo") {
		t.Errorf("dry run over lt_seed: %d %s\n%s", code, errs, out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--shard", "3/3"}, "out of range"},
		{[]string{"--shard", "env"}, "JOB_COMPLETION_INDEX"},
		{[]string{"--set", "data.imbalance=8"}, "the sweep varies this key (grid)"},
	} {
		code, _, errs := cli(t, append([]string{"sweep", "-c", file, "--dry-run"}, tc.args...)...)
		if code != exitConfig || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: code %d, %q; want %d and %q", tc.args, code, errs, exitConfig, tc.want)
		}
	}
	if code, _, errs := cli(t, "sweep", "--dry-run"); code != exitConfig || !strings.Contains(errs, "-c SWEEP") {
		t.Errorf("no file: %d %q", code, errs)
	}
}

// sweepProcess runs the built binary on a sweep and stops it with sig once
// a log line contains stopAt ("" runs it to the end). It returns the log.
func sweepProcess(t *testing.T, bin string, args []string, stopAt string, sig syscall.Signal) (string, error) {
	t.Helper()
	cmd := command(t, bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	sent := false
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if !sent && stopAt != "" && strings.Contains(sc.Text(), stopAt) {
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			sent = true
		}
	}
	err = cmd.Wait()
	if stopAt != "" && !sent {
		t.Fatalf("the sweep never logged %q:\n%s", stopAt, log.String())
	}
	return log.String(), err
}

// TestSweepInterruptedAndKilled is acceptance 1: a tiny grid is stopped by
// SIGTERM in its second run and killed (SIGKILL) in its third; rerunning
// the same command finishes it, every run finished exactly once, and no
// finished run is trained again.
func TestSweepInterruptedAndKilled(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	file := write(t, filepath.Join(dir, "s.yaml"), sweepYAML(400))
	sweepDir := filepath.Join(dir, "sweep")
	args := []string{"sweep", "-c", file, "--dir", sweepDir, "--log-level", "debug"}
	step := func(run string) string { return "msg=step run=" + run + " epoch=1 step=5 " }

	log1, err := sweepProcess(t, bin, args, step(sweepRuns[1]), syscall.SIGTERM)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted {
		t.Fatalf("SIGTERM: %v; want exit code %d\n%s", err, exitInterrupted, log1)
	}
	if !strings.Contains(log1, "rerun the same command to continue") {
		t.Errorf("the interruption does not say how to continue:\n%s", log1)
	}
	first := filepath.Join(sweepDir, sweepRuns[0], pipeline.FinalFile)
	before, err := os.Stat(first)
	if err != nil {
		t.Fatal(err)
	}
	content, _ := os.ReadFile(first)
	for i, want := range []sweep.RunState{sweep.RunDone, sweep.RunPartial, sweep.RunTodo, sweep.RunTodo} {
		if got := sweep.StateOf(filepath.Join(sweepDir, sweepRuns[i])); got != want {
			t.Errorf("after SIGTERM, %s is %s; want %s", sweepRuns[i], got, want)
		}
	}

	log2, err := sweepProcess(t, bin, args, step(sweepRuns[2]), syscall.SIGKILL)
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("SIGKILL: %v\n%s", err, log2)
	}
	log3, err := sweepProcess(t, bin, args, "", 0)
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, log3)
	}

	for _, l := range []struct {
		log  string
		want []string
	}{
		{log2, []string{`msg="run skip" run=` + sweepRuns[0], `msg="run resume" run=` + sweepRuns[1], `msg="run start" run=` + sweepRuns[2]}},
		{log3, []string{`msg="run skip" run=` + sweepRuns[0], `msg="run skip" run=` + sweepRuns[1], `msg="run resume" run=` + sweepRuns[2], `msg="run start" run=` + sweepRuns[3]}},
	} {
		for _, w := range l.want {
			if !strings.Contains(l.log, w) {
				t.Errorf("log lacks %q:\n%s", w, l.log)
			}
		}
	}
	all := log1 + log2 + log3
	for _, r := range sweepRuns {
		if n := strings.Count(all, `msg="run done" run=`+r+" "); n != 1 {
			t.Errorf("%s finished %d times; want once", r, n)
		}
		if sweep.StateOf(filepath.Join(sweepDir, r)) != sweep.RunDone {
			t.Errorf("%s is not finished", r)
		}
	}
	after, err := os.Stat(first)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(first)
	if !after.ModTime().Equal(before.ModTime()) || !bytes.Equal(content, again) {
		t.Errorf("%s was rewritten by a rerun", first)
	}
}

// TestSweepShards is acceptance 2: three processes, each given its index
// by $JOB_COMPLETION_INDEX, share a sweep directory; the report of what they
// wrote equals the report of the same sweep run in one process, file for
// file.
func TestSweepShards(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	file := write(t, filepath.Join(dir, "s.yaml"), sweepYAML(60))
	sharded, whole := filepath.Join(dir, "sharded", "s"), filepath.Join(dir, "whole", "s")

	type result struct {
		out []byte
		err error
	}
	results := make([]chan result, 3)
	for i := range results {
		results[i] = make(chan result, 1)
		cmd := command(t, bin, "sweep", "-c", file, "--dir", sharded, "--shard", "env/3")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", sweep.EnvKubernetesIndex, i))
		go func() {
			out, err := cmd.CombinedOutput()
			results[i] <- result{out, err}
		}()
	}
	for i, ch := range results {
		r := <-ch
		if r.err != nil {
			t.Fatalf("shard %d: %v\n%s", i, r.err, r.out)
		}
		// Run i mod 3: shard 0 has runs 0 and 3, the others one each.
		want := map[int]string{0: "2 trained", 1: "1 trained", 2: "1 trained"}[i]
		if !strings.Contains(string(r.out), fmt.Sprintf("shard %d/3: %s, 0 resumed, 0 skipped", i, want)) {
			t.Errorf("shard %d:\n%s", i, r.out)
		}
	}
	if code, _, errs := cli(t, "sweep", "-c", file, "--dir", whole); code != 0 {
		t.Fatal(errs)
	}
	for _, d := range []string{sharded, whole} {
		code, out, errs := cli(t, "report", d)
		if code != 0 {
			t.Fatal(errs)
		}
		if !strings.Contains(out, "4 of 4 runs finished") || !strings.Contains(out, "| 4 | ours_bs | 1/1 |") {
			t.Errorf("report %s:\n%s", d, out)
		}
	}
	files, err := os.ReadDir(filepath.Join(whole, report.Dir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
		a, errA := os.ReadFile(filepath.Join(whole, report.Dir, f.Name()))
		b, errB := os.ReadFile(filepath.Join(sharded, report.Dir, f.Name()))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between the sharded and the single-process sweep (%v, %v)", f.Name(), errA, errB)
		}
	}
	want := []string{"curves_if2.png", "curves_if4.png", "fig2_per_class_box.png", "fig3_per_class_lines.png", "reliability.png", "report.csv", "report.html", "report.md", "top1_spread.png"}
	if !slices.Equal(names, want) {
		t.Errorf("report files %v; want %v", names, want)
	}
}

// TestSweepEmit checks the command line of 'sweep emit': flags reach the
// job (pipeline/sweep's tests decode it into the Kubernetes API types and
// scripts/slurm-test.sh runs it on a real Slurm).
func TestSweepEmit(t *testing.T) {
	dir := t.TempDir()
	file := write(t, filepath.Join(dir, "s.yaml"), sweepYAML(60)+"  train.seed: [0, 1, 2]\n")
	code, out, errs := cli(t, "sweep", "emit", "k8s", "-c", file, "--image", "example/longtail:1", "--cpus", "2",
		"--set", "data.path=/data/x", "--data-pvc", "cifar", "--memory", "6Gi")
	if code != 0 {
		t.Fatal(errs)
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			break
		}
		docs = append(docs, d)
	}
	if len(docs) != 2 || docs[0]["kind"] != "ConfigMap" || docs[1]["kind"] != "Job" {
		t.Fatalf("want a ConfigMap and a Job:\n%s", out)
	}
	for _, w := range []string{"- env/12\n", "- --set\n", "- data.path=/data/x\n", "claimName: cifar\n", "memory: 6Gi\n", "image: example/longtail:1\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("the manifest lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(out, "#   task 11: if4-ours_bs-seed2") {
		t.Errorf("the manifest does not list the runs by task:\n%s", out)
	}

	script := filepath.Join(dir, "s.sbatch")
	code, _, errs = cli(t, "sweep", "emit", "slurm", "-c", file, "-o", script, "--parallelism", "4", "--partition", "cpu", "--mem", "3G")
	if code != 0 {
		t.Fatal(errs)
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(file)
	wd, _ := os.Getwd()
	for _, w := range []string{"#!/bin/bash\n", "\n#SBATCH --array=0-11%4\n", "\n#SBATCH --partition=cpu\n", "\n#SBATCH --mem=3G\n",
		"\n#SBATCH --chdir=" + wd + "\n", "--shard env/12", "longtail sweep -c " + abs} {
		if !strings.Contains(string(b), w) {
			t.Errorf("the Slurm script lacks %q:\n%s", w, b)
		}
	}
	if fi, err := os.Stat(script); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the script's mode: %v %v; want 0755", fi.Mode(), err)
	}
	code, out, errs = cli(t, "sweep", "emit", "slurm", "-c", file)
	if code != 0 || !strings.Contains(out, "\n#SBATCH --array=0-11\n") {
		t.Errorf("the Slurm script without --parallelism: %d %s\n%s", code, errs, out)
	}
	if code, _, errs := cli(t, "sweep", "emit", "nomad", "-c", file); code != exitConfig || !strings.Contains(errs, "k8s or slurm") {
		t.Errorf("unknown target: %d %q", code, errs)
	}
}

// TestReportCLI checks report's errors on the command line.
func TestReportCLI(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := cli(t, "report", dir)
	if code == 0 || !strings.Contains(errs, "sweep.json") {
		t.Errorf("report of a non-sweep: %d %q", code, errs)
	}
	if code, _, _ := cli(t, "report"); code != exitConfig {
		t.Errorf("report without a directory: %d", code)
	}
}
