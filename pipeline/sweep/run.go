package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/posthoc"
)

// Sweep outcomes other than success.
var (
	// ErrShard reports a bad shard specification.
	ErrShard = errors.New("sweep: bad shard")
	// ErrRunsFailed reports that some of a sweep's runs failed; the others
	// ran.
	ErrRunsFailed = errors.New("sweep: runs failed")
	// ErrRunBusy reports a run that another process is training.
	ErrRunBusy = errors.New("sweep: run is busy in another process")
	// ErrStale reports runs trained (or started) with another config than
	// the sweep's; Options.RetrainStale trains them again.
	ErrStale = errors.New("sweep: runs were trained with another config")
)

// Environment variables that carry a task's index on a cluster.
const (
	EnvKubernetesIndex = "JOB_COMPLETION_INDEX" // a Kubernetes Indexed Job
	EnvSlurmIndex      = "SLURM_ARRAY_TASK_ID"  // a Slurm job array
)

// Shard selects the runs of one process of a sharded sweep: run i belongs
// to shard i mod Count. The zero Shard holds every run.
type Shard struct {
	Index, Count int
}

// Has reports whether run i belongs to the shard.
func (s Shard) Has(i int) bool { return s.Count <= 1 || i%s.Count == s.Index }

func (s Shard) String() string {
	if s.Count == 0 {
		return "all"
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// ParseShard reads a shard specification: "i/N" (shard i of N, from 0),
// "env/N" (the index from $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID), or
// "env" (the same with N = runs, one run per task); "" is every run.
func ParseShard(spec string, env []string, runs int) (Shard, error) {
	if spec == "" {
		return Shard{}, nil
	}
	idx, count, hasCount := strings.Cut(spec, "/")
	if idx != "env" && !hasCount {
		return Shard{}, fmt.Errorf("%w: %q; want i/N (e.g. 0/3), env/N or env", ErrShard, spec)
	}
	var s Shard
	s.Count = runs
	if hasCount {
		n, err := strconv.Atoi(count)
		if err != nil || n < 1 {
			return Shard{}, fmt.Errorf("%w: %q: shard count %q; want an integer ≥ 1", ErrShard, spec, count)
		}
		s.Count = n
	}
	if idx == "env" {
		vals := map[string]string{}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			if k == EnvKubernetesIndex || k == EnvSlurmIndex {
				vals[k] = v
			}
		}
		switch len(vals) {
		case 0:
			return Shard{}, fmt.Errorf("%w: %q: neither $%s (Kubernetes Indexed Job) nor $%s (Slurm job array) is set", ErrShard, spec, EnvKubernetesIndex, EnvSlurmIndex)
		case 2:
			if vals[EnvKubernetesIndex] != vals[EnvSlurmIndex] {
				return Shard{}, fmt.Errorf("%w: $%s=%s and $%s=%s disagree", ErrShard, EnvKubernetesIndex, vals[EnvKubernetesIndex], EnvSlurmIndex, vals[EnvSlurmIndex])
			}
		}
		for _, k := range []string{EnvKubernetesIndex, EnvSlurmIndex} {
			if v, ok := vals[k]; ok {
				idx = v
				spec += " ($" + k + "=" + v + ")"
				break
			}
		}
	}
	i, err := strconv.Atoi(strings.TrimSpace(idx))
	if err != nil || i < 0 {
		return Shard{}, fmt.Errorf("%w: %s: index %q; want an integer ≥ 0", ErrShard, spec, idx)
	}
	if i >= s.Count {
		return Shard{}, fmt.Errorf("%w: %s: index %d is out of range for %d shards (0 to %d)", ErrShard, spec, i, s.Count, s.Count-1)
	}
	s.Index = i
	return s, nil
}

// RunState is how far a run directory has got.
type RunState int

// Run states.
const (
	RunTodo    RunState = iota // nothing trained yet
	RunPartial                 // a checkpoint without final.json: resumable
	RunDone                    // final.json written
	RunStale                   // done or partial, with another config than the sweep's
)

func (s RunState) String() string {
	return [...]string{"todo", "partial", "done", "stale"}[s]
}

// StateOf reads a run directory's state from its files alone: it never
// returns RunStale (Sweep.State compares the configs).
func StateOf(dir string) RunState {
	switch {
	case exists(filepath.Join(dir, pipeline.FinalFile)):
		return RunDone
	case exists(filepath.Join(dir, pipeline.CheckpointFile)):
		return RunPartial
	}
	return RunTodo
}

// Options are a sweep's settings that are not in its file.
type Options struct {
	// Shard selects the runs of this process; the zero value is all.
	Shard Shard
	// Parallel, when > 0, replaces the file's parallel.
	Parallel int
	// RetrainStale trains stale runs again from the start, after moving
	// their directories aside (Sweep.MoveStale); without it a sweep with a
	// stale run in its shard trains nothing and returns ErrStale.
	RetrainStale bool
	// Log receives the sweep's events and each run's, with run=<name>;
	// nil discards.
	Log *slog.Logger
	// Progress and Terminal draw each run's progress bar when one run
	// trains at a time (see Options).
	Progress io.Writer
	Terminal bool
}

// Summary is what one sweep invocation did, by run name.
type Summary struct {
	Trained, Resumed, Skipped, Busy, Failed []string
}

// Train trains the shard's runs of s into s.Dir, Parallel at a time:
// runs with final.json are skipped, runs with a checkpoint resume, the rest
// start. A failed run does not stop the others (the error, matching
// ErrRunsFailed, names them at the end); a cancelled ctx stops every run at
// a checkpoint and returns ErrInterrupted. A run another process is training
// (its lock is held) is left alone and counted as busy. A run to train or
// resume whose data.path is missing stops the sweep before any run starts
// (pipeline.ErrNoData).
func Train(ctx context.Context, s *Sweep, opts Options) (*Summary, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var todo []Run
	for _, r := range s.Runs {
		if opts.Shard.Has(r.Index) {
			todo = append(todo, r)
		}
	}
	var stale []Run
	var why []string
	for _, r := range todo {
		state, diffs, err := s.State(r)
		if err != nil {
			return nil, err
		}
		switch state {
		case RunDone:
			continue
		case RunStale:
			stale = append(stale, r)
			why = append(why, fmt.Sprintf("%s (%s)", r.Name, strings.Join(diffs, "; ")))
		}
		if err := r.Config.Data.CheckPath(); err != nil {
			return nil, fmt.Errorf("sweep: run %s: %w", r.Name, err)
		}
	}
	if len(stale) > 0 && !opts.RetrainStale {
		return nil, fmt.Errorf("%w: %s; train them again with --retrain-stale (their directories are moved aside to NAME%s…, nothing is deleted), or give the sweep another dir",
			ErrStale, strings.Join(why, ", "), staleSuffix)
	}
	for _, r := range stale {
		moved, err := s.MoveStale(r)
		if err != nil {
			return nil, err
		}
		log.Warn("stale run moved aside; training it again", "run", r.Name, "to", moved)
	}
	if err := s.WriteManifest(); err != nil {
		return nil, err
	}
	k := s.Parallel
	if opts.Parallel > 0 {
		k = opts.Parallel
	}
	k = max(1, min(k, len(todo)))
	log.Info("sweep", "dir", s.Dir, "runs", len(s.Runs), "shard", opts.Shard.String(), "this_shard", len(todo), "parallel", k)

	var (
		mu    sync.Mutex
		sum   Summary
		wg    sync.WaitGroup
		fails []*RunError
	)
	queue := make(chan Run)
	for range k {
		wg.Go(func() {
			for r := range queue {
				state, err := s.runOne(ctx, r, k, opts, log.With("run", r.Name))
				mu.Lock()
				switch {
				case errors.Is(err, ErrRunBusy):
					sum.Busy = append(sum.Busy, r.Name)
				case err != nil:
					if ctx.Err() == nil {
						sum.Failed = append(sum.Failed, r.Name)
						fails = append(fails, &RunError{Run: r.Name, Err: err})
						log.Error("run failed", "run", r.Name, "err", err, "will_repeat", Permanent(err))
					}
				case state == RunDone:
					sum.Skipped = append(sum.Skipped, r.Name)
				case state == RunPartial:
					sum.Resumed = append(sum.Resumed, r.Name)
				default:
					sum.Trained = append(sum.Trained, r.Name)
				}
				mu.Unlock()
			}
		})
	}
	for _, r := range todo {
		if ctx.Err() != nil {
			break
		}
		select {
		case queue <- r:
		case <-ctx.Done():
		}
	}
	close(queue)
	wg.Wait()
	for _, l := range []*[]string{&sum.Trained, &sum.Resumed, &sum.Skipped, &sum.Busy, &sum.Failed} {
		slices.Sort(*l)
	}
	if ctx.Err() != nil {
		return &sum, fmt.Errorf("%w: sweep %s stopped (%v); rerun the same command to continue: finished runs are skipped, interrupted ones resume",
			pipeline.ErrInterrupted, s.Dir, context.Cause(ctx))
	}
	log.Info("sweep done", "trained", len(sum.Trained), "resumed", len(sum.Resumed), "skipped", len(sum.Skipped),
		"busy", len(sum.Busy), "failed", len(sum.Failed))
	if len(fails) > 0 {
		return &sum, failedErr(fails)
	}
	return &sum, nil
}

// RunError is the failure of one run of a sweep.
type RunError struct {
	Run string
	Err error
}

func (e *RunError) Error() string { return e.Run + ": " + e.Err.Error() }
func (e *RunError) Unwrap() error { return e.Err }

// Permanent reports whether err will happen again if the run is retried
// unchanged: a bad config value (found only once the data is loaded, such as
// a batch size that contradicts balanced sampling), a missing data path, a
// checkpoint of another config, or a damaged checkpoint.
func Permanent(err error) bool {
	return errors.Is(err, pipeline.ErrConfig) || errors.Is(err, pipeline.ErrCheckpointMismatch) ||
		errors.Is(err, pipeline.ErrCorruptCheckpoint) || errors.Is(err, ErrStale)
}

// failedErr says which runs failed and, for each, whether a rerun can help:
// a permanent failure names the key to change or the file to move.
func failedErr(fails []*RunError) error {
	slices.SortFunc(fails, func(a, b *RunError) int { return strings.Compare(a.Run, b.Run) })
	var retry, parts []string
	errs := make([]error, len(fails))
	for i, re := range fails {
		errs[i] = re
		var ce *pipeline.ConfigError
		switch {
		case errors.As(re.Err, &ce) && ce.Key != "":
			parts = append(parts, fmt.Sprintf("%s fails the same way on every rerun: change config key %s (in the sweep file, or --set for keys the sweep does not vary): %v", re.Run, ce.Key, re.Err))
		case errors.Is(re.Err, pipeline.ErrCheckpointMismatch):
			parts = append(parts, fmt.Sprintf("%s fails the same way on every rerun: its checkpoint is of another config; rerun with --retrain-stale: %v", re.Run, re.Err))
		case errors.Is(re.Err, pipeline.ErrCorruptCheckpoint):
			parts = append(parts, fmt.Sprintf("%s fails the same way on every rerun: its checkpoint is damaged; move %s away to start the run again: %v", re.Run, pipeline.CheckpointFile, re.Err))
		case Permanent(re.Err):
			parts = append(parts, fmt.Sprintf("%s fails the same way on every rerun: %v", re.Run, re.Err))
		default:
			retry = append(retry, re.Run)
		}
	}
	if len(retry) > 0 {
		parts = append(parts, fmt.Sprintf("%s failed (errors in the log); rerun the same command to retry them", strings.Join(retry, ", ")))
	}
	return fmt.Errorf("%w: %w", ErrRunsFailed, &failures{msg: strings.Join(parts, "; "), errs: errs})
}

// failures joins the runs' errors under one message, so that errors.Is and
// errors.As reach each.
type failures struct {
	msg  string
	errs []error
}

func (f *failures) Error() string   { return f.msg }
func (f *failures) Unwrap() []error { return f.errs }

// staleSuffix marks a stale run's directory moved aside.
const staleSuffix = ".stale-"

// State is how far run r has got against the sweep's config: RunStale, with
// the differing keys, for a finished or partial run trained with another
// config; otherwise StateOf's answer.
func (s *Sweep) State(r Run) (RunState, []string, error) {
	dir := filepath.Join(s.Dir, r.Name)
	state := StateOf(dir)
	var diffs []string
	var err error
	switch state {
	case RunDone:
		diffs, err = finishedDiffs(r.Config, dir)
	case RunPartial:
		diffs, err = partialDiffs(r.Config, dir)
	}
	if err != nil {
		return state, nil, err
	}
	if len(diffs) > 0 {
		return RunStale, diffs, nil
	}
	return state, nil, nil
}

// MoveStale renames run r's directory to NAME.stale-<UTC time>, so that the
// run trains again from the start and the old results stay on disk; it
// returns the new path.
func (s *Sweep) MoveStale(r Run) (string, error) {
	unlock, err := lockRun(s.Dir, r.Name)
	if err != nil {
		return "", err
	}
	defer unlock()
	dir := filepath.Join(s.Dir, r.Name)
	to := dir + staleSuffix + time.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(dir, to); err != nil {
		return "", fmt.Errorf("sweep: move stale run aside: %w", err)
	}
	return to, nil
}

// runOne brings one run to the end: it returns the state it found and the
// error, if any.
func (s *Sweep) runOne(ctx context.Context, r Run, k int, opts Options, log *slog.Logger) (RunState, error) {
	dir := filepath.Join(s.Dir, r.Name)
	unlock, err := lockRun(s.Dir, r.Name)
	if err != nil {
		if errors.Is(err, ErrRunBusy) {
			log.Warn("run busy", "dir", dir)
		}
		return StateOf(dir), err
	}
	defer unlock()
	cfg := *r.Config
	splitCores(&cfg, k)
	o := pipeline.Options{Log: log, Title: r.Name}
	if k == 1 {
		o.Progress, o.Terminal = opts.Progress, opts.Terminal
	}
	state := StateOf(dir)
	start := time.Now()
	var res *pipeline.Result
	switch state {
	case RunDone:
		if err := checkFinished(&cfg, dir); err != nil {
			return state, err
		}
		log.Info("run skip", "reason", "finished", "dir", dir)
		return state, s.posthoc(&cfg, dir, log)
	case RunPartial:
		log.Info("run resume", "dir", dir)
		res, err = pipeline.Resume(ctx, &cfg, dir, o)
	default:
		// A run killed between its config and its first checkpoint trained
		// nothing: start it again.
		if err := os.Remove(filepath.Join(dir, pipeline.ConfigFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return state, fmt.Errorf("sweep: %w", err)
		}
		log.Info("run start", "dir", dir)
		res, err = pipeline.Train(ctx, &cfg, dir, o)
	}
	if err != nil {
		return state, fmt.Errorf("run %s: %w", r.Name, err)
	}
	log.Info("run done", "top1", round(res.Final.Top1, 4), "sd", round(res.Final.SD, 4), "seconds", round(time.Since(start).Seconds(), 1))
	return state, s.posthoc(&cfg, dir, log)
}

// posthoc runs the sweep's post-hoc methods on the finished run in dir,
// unless its posthoc.json already holds them for the run's checkpoint. The
// methods posthoc.json holds for that checkpoint besides (added with
// `longtail posthoc`) stay in it (posthoc.Options.Merge).
func (s *Sweep) posthoc(cfg *pipeline.Config, dir string, log *slog.Logger) error {
	if len(s.Posthoc) == 0 || posthoc.Done(dir, cfg, s.Posthoc) {
		return nil
	}
	start := time.Now()
	rep, err := posthoc.Run(cfg, dir, posthoc.Options{Config: posthoc.Config{Methods: s.Posthoc}, Merge: true, Log: log})
	if err != nil {
		return fmt.Errorf("run %s: %w", filepath.Base(dir), err)
	}
	for _, m := range rep.Methods[1:] {
		if !slices.Contains(s.Posthoc, m.Method) {
			continue // kept from posthoc.json
		}
		log.Info("posthoc done", "method", m.Method, "choice", m.Choice.String(), "top1", round(m.Test.Top1, 4), "sd", round(m.Test.SD, 4))
	}
	log.Info("posthoc", "seconds", round(time.Since(start).Seconds(), 1))
	return nil
}

// checkFinished refuses a finished run whose stored config differs from
// the sweep's in a key that changes the result.
func checkFinished(cfg *pipeline.Config, dir string) error {
	diffs, err := finishedDiffs(cfg, dir)
	if err != nil {
		return err
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: finished run %s was trained with another config (%s); rerun with --retrain-stale to train it again (it is moved aside), or give the sweep another dir",
			pipeline.ErrCheckpointMismatch, dir, strings.Join(diffs, "; "))
	}
	return nil
}

// finishedDiffs lists the keys that change the result and differ between
// the finished run in dir and cfg, as "key: run X, sweep Y".
func finishedDiffs(cfg *pipeline.Config, dir string) ([]string, error) {
	f, err := pipeline.ReadFinal(dir)
	if err != nil {
		return nil, err
	}
	// The data may have moved since (data.path does not change the result).
	stored, err := pipeline.LoadLayers(pipeline.Sources{File: filepath.Join(dir, pipeline.ConfigFile)}, pipeline.Layer{From: "the sweep", Set: map[string]any{"data.path": cfg.Data.Path}})
	if err != nil {
		return nil, fmt.Errorf("sweep: finished run %s: %w", dir, err)
	}
	a, err := pipeline.Fingerprint(stored)
	if err != nil {
		return nil, err
	}
	return fingerprintDiffs(a, cfg, len(f.Classes))
}

// partialDiffs is finishedDiffs for a run with a checkpoint, which holds
// the fingerprint it was trained with.
func partialDiffs(cfg *pipeline.Config, dir string) ([]string, error) {
	ck, err := pipeline.ReadCheckpoint(filepath.Join(dir, pipeline.CheckpointFile))
	if err != nil {
		return nil, err
	}
	diffs, err := fingerprintDiffs(ck.Config, cfg, len(ck.TrainCounts))
	if err == nil && ck.Seed != cfg.Train.Seed {
		diffs = append(diffs, fmt.Sprintf("train.seed: run %d, sweep %d", ck.Seed, cfg.Train.Seed))
	}
	return diffs, err
}

func fingerprintDiffs(run map[string]string, cfg *pipeline.Config, classes int) ([]string, error) {
	want := *cfg
	if err := want.Complete(classes); err != nil {
		return nil, err
	}
	b, err := pipeline.Fingerprint(&want)
	if err != nil {
		return nil, err
	}
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if run[k] != b[k] {
			diffs = append(diffs, fmt.Sprintf("%s: run %s, sweep %s", k, orNone(run[k]), b[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(run)) {
		if _, ok := b[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: run %s, sweep (none)", k, run[k]))
		}
	}
	return diffs, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// splitCores gives each of k concurrent runs 1/k of the cores: ORT threads
// and batch-assembly workers (neither changes a run's result).
func splitCores(cfg *pipeline.Config, k int) {
	if k <= 1 {
		return
	}
	// GOMAXPROCS follows the container's CPU limit, NumCPU does not.
	cores := goruntime.GOMAXPROCS(0)
	threads := cfg.Runtime.Threads
	if threads == 0 {
		threads = cores
	}
	cfg.Runtime.Threads = max(1, threads/k)
	if cfg.Sampling.Workers == 0 {
		cfg.Sampling.Workers = max(1, cores/k)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// round rounds v to digits decimals, for log lines.
func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
