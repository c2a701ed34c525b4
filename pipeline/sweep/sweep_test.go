package sweep

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/longtail-ml/longtail/runtime"
	"github.com/longtail-ml/longtail/runtime/ortest"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/posthoc"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tinySweep is a sweep of 2 methods × 2 imbalance factors of a run of about
// a second each; extra is appended to the file.
func tinySweep(t *testing.T, dir, extra string) string {
	t.Helper()
	return writeFile(t, dir, "tiny-sweep.yaml", `
base:
  data:
    synthetic: {classes: 4, train_per_class: 60, test_per_class: 10}
  model: {depth: 8, width: 4}
  train: {epochs: 1, eval_every: 0}
  runtime: {threads: 1}
methods:
  - name: ce_rs
    set: {loss.name: ce, sampling.name: random, sampling.batch: 16}
  - name: ours_bs
    set: {loss.name: weighted_ce, sampling.name: balanced, sampling.per_class: 3}
grid:
  data.imbalance: [2, 4]
dir: `+filepath.Join(dir, "sweep")+"\n"+extra)
}

func TestLoadSweep(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "base.yaml", "model: {depth: 8, width: 4}\noptim: {lr: 0.2}\n")
	file := writeFile(t, dir, "s.yaml", `
base: base.yaml
set: {train.epochs: 3}
methods:
  - name: ce
    set: {loss.name: ce}
  - name: cb
    set: {loss: {name: cb, beta: 0.99}}
grid:
  train.seed: [0, 7]
  data:
    imbalance: [10, 100]
  optim.lr: [0.05]
baseline: cb
`)
	s, err := Load(file, Sources{Set: []string{"runtime.threads=1"}})
	if err != nil {
		t.Fatal(err)
	}
	// Seed outermost, then IF, then method, then the other keys.
	want := []string{
		"if10-ce-lr0.05-seed0", "if10-cb-lr0.05-seed0", "if100-ce-lr0.05-seed0", "if100-cb-lr0.05-seed0",
		"if10-ce-lr0.05-seed7", "if10-cb-lr0.05-seed7", "if100-ce-lr0.05-seed7", "if100-cb-lr0.05-seed7",
	}
	var got []string
	for i, r := range s.Runs {
		got = append(got, r.Name)
		c := r.Config
		if r.Index != i || c.Loss.Name != r.Method || c.Data.Imbalance != r.Imbalance || c.Train.Seed != r.Seed {
			t.Errorf("run %d %s: index %d, loss %s, IF %g, seed %d", i, r.Name, r.Index, c.Loss.Name, c.Data.Imbalance, c.Train.Seed)
		}
		// The grid wins over the base file; set and --set reach every run.
		if c.Optim.LR != 0.05 || c.Train.Epochs != 3 || c.Model.Depth != 8 || c.Runtime.Threads != 1 {
			t.Errorf("%s: lr %g epochs %d depth %d threads %d", r.Name, c.Optim.LR, c.Train.Epochs, c.Model.Depth, c.Runtime.Threads)
		}
		if r.Method == "cb" && c.Loss.Beta != 0.99 {
			t.Errorf("%s: beta %g; the method's nested set says 0.99", r.Name, c.Loss.Beta)
		}
		if c.Output.Dir != filepath.Join("runs", "s") || c.Output.Name != r.Name {
			t.Errorf("%s: output %+v", r.Name, c.Output)
		}
		if r.Setting != "lr0.05" {
			t.Errorf("%s: setting %q", r.Name, r.Setting)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("runs\n%v\nwant\n%v", got, want)
	}
	if s.Baseline != "cb" || !slices.Equal(s.Methods, []string{"ce", "cb"}) || s.Dir != filepath.Join("runs", "s") {
		t.Errorf("baseline %s methods %v dir %s", s.Baseline, s.Methods, s.Dir)
	}
	if g := s.Runs[3].Group(); g != "if100 cb lr0.05" {
		t.Errorf("group %q", g)
	}
	if c := s.Counts(); c != "2 methods × 2 imbalance factors × 1 optim.lr × 2 seeds" {
		t.Errorf("counts %q", c)
	}
}

// TestLTSeedReplicates: a grid over train.seed and data.lt_seed makes
// replicates of one group, named by both seeds, not settings.
func TestLTSeedReplicates(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "s.yaml", `
methods:
  - name: ce
    set: {loss.name: ce}
  - name: cb
    set: {loss.name: cb}
grid:
  data.lt_seed: [0, 3]
  train.seed: [0, 1]
  optim.lr: [0.05]
`)
	s, err := Load(file, Sources{Dir: filepath.Join(dir, "sweep")})
	if err != nil {
		t.Fatal(err)
	}
	// train.seed outermost, then data.lt_seed, then IF, method, others.
	want := []string{
		"if100-ce-lr0.05-seed0-lt0", "if100-cb-lr0.05-seed0-lt0", "if100-ce-lr0.05-seed0-lt3", "if100-cb-lr0.05-seed0-lt3",
		"if100-ce-lr0.05-seed1-lt0", "if100-cb-lr0.05-seed1-lt0", "if100-ce-lr0.05-seed1-lt3", "if100-cb-lr0.05-seed1-lt3",
	}
	var got []string
	groups := map[string]int{}
	for _, r := range s.Runs {
		got = append(got, r.Name)
		groups[r.Group()]++
		if r.LTSeed != r.Config.Data.LTSeed || r.Seed != r.Config.Train.Seed || r.Setting != "lr0.05" {
			t.Errorf("%s: seed %d lt_seed %d setting %q; config %d, %d", r.Name, r.Seed, r.LTSeed, r.Setting, r.Config.Train.Seed, r.Config.Data.LTSeed)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("runs\n%v\nwant\n%v", got, want)
	}
	if len(groups) != 2 || groups["if100 ce lr0.05"] != 4 || groups["if100 cb lr0.05"] != 4 {
		t.Errorf("groups %v; want 4 replicates of each method", groups)
	}
	if c := s.Counts(); c != "2 methods × 1 optim.lr × 2 data.lt_seed × 2 seeds" {
		t.Errorf("counts %q", c)
	}
	if err := s.WriteManifest(); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(s.Dir)
	if err != nil || !m.SameRuns(s) || m.Runs[2].LTSeed != 3 {
		t.Fatalf("manifest: %v", err)
	}
	m.Runs[2].LTSeed = 0
	if m.SameRuns(s) {
		t.Error("runs with another lt_seed are the same runs")
	}
}

// TestPaperSweep checks that the shipped sweeps expand to their run configs,
// key for key: configs/paper-sweep.yaml to the 12 of configs/paper/ and
// configs/cifar100-sweep.yaml to the 9 of configs/cifar100/.
func TestPaperSweep(t *testing.T) {
	fake := writeFile(t, t.TempDir(), "cifar-binary.tar.gz", "")
	for _, tc := range []struct {
		sweep, configs string
		runs, classes  int
		imbalances     []float64
	}{
		{"paper-sweep.yaml", "paper", 12, 10, []float64{10, 50, 100, 500}},
		{"cifar100-sweep.yaml", "cifar100", 9, 100, []float64{10, 50, 100}},
	} {
		t.Run(tc.sweep, func(t *testing.T) {
			s, err := Load("../../configs/"+tc.sweep, Sources{Set: []string{"data.path=" + fake}})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Runs) != tc.runs || s.Baseline != "softmax_rs" || fmt.Sprint(s.Grid[KeyImbalance]) != fmt.Sprint(tc.imbalances) {
				t.Fatalf("%d runs, baseline %s, IFs %v; want %d, softmax_rs, %v", len(s.Runs), s.Baseline, s.Grid[KeyImbalance], tc.runs, tc.imbalances)
			}
			files, err := filepath.Glob("../../configs/" + tc.configs + "/*.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != tc.runs {
				t.Errorf("configs/%s holds %d configs; want one per run, %d", tc.configs, len(files), tc.runs)
			}
			for _, r := range s.Runs {
				file := fmt.Sprintf("../../configs/%s/if%g_%s.yaml", tc.configs, r.Imbalance, r.Method)
				want, err := pipeline.Load(pipeline.Sources{File: file, Set: []string{"data.path=" + fake}})
				if err != nil {
					t.Fatal(err)
				}
				got := *r.Config
				for _, c := range []*pipeline.Config{want, &got} {
					if err := c.Complete(tc.classes); err != nil {
						t.Fatal(err)
					}
				}
				a, err := pipeline.Fingerprint(want)
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				b, err := pipeline.Fingerprint(&got)
				if err != nil {
					t.Fatalf("%s: %v", r.Name, err)
				}
				if len(a) == 0 {
					t.Fatalf("%s: empty fingerprint", file)
				}
				for _, k := range slices.Sorted(maps.Keys(a)) {
					if v, ok := b[k]; !ok || v != a[k] {
						t.Errorf("%s: %s is %s (present %v); %s says %s", r.Name, k, v, ok, file, a[k])
					}
				}
				for k := range b {
					if _, ok := a[k]; !ok {
						t.Errorf("%s: %s is set to %s by the sweep; %s lacks it", r.Name, k, b[k], file)
					}
				}
				if r.Name != fmt.Sprintf("if%g-%s-seed0", r.Imbalance, r.Method) {
					t.Errorf("run name %s", r.Name)
				}
				if classes, err := got.Data.Classes(); err != nil || classes != tc.classes {
					t.Errorf("%s: %d classes (%v); want %d", r.Name, classes, err, tc.classes)
				}
			}
		})
	}
}

func TestSweepErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "cmp.yaml", "compare:\n  - name: a\n")
	const methods = "methods:\n  - name: a\n    set: {loss.name: ce}\n  - name: b\n    set: {loss.name: cb}\n"
	for _, tc := range []struct {
		name string
		yaml string
		src  Sources
		want []string
	}{
		{"unknown key", "grdi: {train.seed: [0]}\n", Sources{}, []string{"grdi", "did you mean grid?"}},
		{"run key at top", "train: {epochs: 1}\n", Sources{}, []string{"train", "put it under set"}},
		{"grid value not a list", "grid: {train.seed: 3}\n", Sources{}, []string{"grid.train.seed", "want a non-empty list"}},
		{"unknown grid key", "grid: {data.imbalanse: [10]}\n", Sources{}, []string{"data.imbalanse", "grid in", "did you mean data.imbalance?"}},
		{"bad grid value", "grid: {data.imbalance: [10, 0.5]}\n", Sources{}, []string{"data.imbalance", "0.5", "run 1"}},
		{"duplicate method", "methods:\n  - name: a\n  - name: a\n", Sources{}, []string{"methods[1].name", "twice"}},
		{"bad method key", "methods:\n  - name: a\n    set: {loss.nme: ce}\n", Sources{}, []string{"loss.nme", "methods a", "did you mean loss.name?"}},
		{"baseline", methods + "baseline: c\n", Sources{}, []string{"baseline", `"c" is not a method`, "a, b"}},
		{"same names", "grid: {optim.lr: [0.1, '0.1']}\n", Sources{}, []string{"both named", "if100-base-lr0.1-seed0"}},
		{"base with compare", "base: cmp.yaml\n", Sources{}, []string{"cmp.yaml", "compare list"}},
		{"missing base", "base: none.yaml\n", Sources{}, []string{"none.yaml", "cannot read"}},
		{"parallel", "parallel: -1\n", Sources{}, []string{"parallel", "-1"}},
		{"wrong type", "parallel: two\n", Sources{}, []string{"parallel", "two"}},
		{"env overrides the grid", "grid: {train.seed: [0, 1]}\n", Sources{Env: []string{"LONGTAIL_TRAIN_SEED=3"}},
			[]string{"train.seed", "$LONGTAIL_TRAIN_SEED", "varies"}},
		{"lt_seed under a pinned subset", "set: {data.subset: pinned.json}\ngrid: {data.lt_seed: [0, 1]}\n", Sources{},
			[]string{"grid.data.lt_seed", "pinned.json", "run 0"}},
		{"lt_seed with lt_pick first", "set: {data.lt_pick: first}\ngrid: {data.lt_seed: [0, 1]}\n", Sources{},
			[]string{"grid.data.lt_seed", "lt_pick first", "run 0"}},
		{"--set overrides a method", methods, Sources{Set: []string{"loss.name=ce"}}, []string{"loss.name", "--set", "methods[0].set"}},
		{"unknown posthoc method", "set: {data.val_per_class: 5}\nposthoc: [knn]\n", Sources{}, []string{"posthoc", `"knn"`, "tau_norm"}},
		{"posthoc without val", "posthoc: [ncm]\n", Sources{}, []string{"posthoc", "no validation split", "data.val_per_class"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, dir, "s.yaml", tc.yaml)
			_, err := Load(file, tc.src)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, pipeline.ErrConfig) {
				t.Errorf("%v does not match pipeline.ErrConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestSplitCores(t *testing.T) {
	cores := goruntime.GOMAXPROCS(0)
	for _, tc := range []struct {
		threads, workers, k      int
		wantThreads, wantWorkers int
	}{
		{8, 0, 1, 8, 0},               // one run: untouched
		{8, 0, 3, 2, max(1, cores/3)}, // 8 threads in three
		{1, 0, 4, 1, max(1, cores/4)}, // never below one
		{0, 6, 2, max(1, cores/2), 6}, // all cores split; given workers kept
		{0, 0, 2, max(1, cores/2), max(1, cores/2)},
	} {
		c := pipeline.Config{Runtime: runtime.Options{Threads: tc.threads}, Sampling: pipeline.SamplingConfig{Workers: tc.workers}}
		splitCores(&c, tc.k)
		if c.Runtime.Threads != tc.wantThreads || c.Sampling.Workers != tc.wantWorkers {
			t.Errorf("threads %d workers %d k %d: got %d, %d; want %d, %d", tc.threads, tc.workers, tc.k,
				c.Runtime.Threads, c.Sampling.Workers, tc.wantThreads, tc.wantWorkers)
		}
	}
}

func ExampleParseShard() {
	// The third task of a Kubernetes Indexed Job: shard 2 of 3 takes every
	// third run from run 2.
	s, err := ParseShard("env/3", []string{"JOB_COMPLETION_INDEX=2"}, 8)
	if err != nil {
		panic(err)
	}
	for i := range 8 {
		if s.Has(i) {
			fmt.Print(i, " ")
		}
	}
	fmt.Println()
	// Output: 2 5
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		spec string
		env  []string
		want Shard
		err  string
	}{
		{"", nil, Shard{}, ""},
		{"1/3", nil, Shard{1, 3}, ""},
		{"0/1", nil, Shard{0, 1}, ""},
		{"env/4", []string{"SLURM_ARRAY_TASK_ID=3"}, Shard{3, 4}, ""},
		{"env", []string{"JOB_COMPLETION_INDEX=11"}, Shard{11, 12}, ""},
		{"env", []string{"JOB_COMPLETION_INDEX=1", "SLURM_ARRAY_TASK_ID=1"}, Shard{1, 12}, ""},
		{"env", []string{"JOB_COMPLETION_INDEX=1", "SLURM_ARRAY_TASK_ID=2"}, Shard{}, "disagree"},
		{"env", nil, Shard{}, "neither $JOB_COMPLETION_INDEX"},
		{"env", []string{"JOB_COMPLETION_INDEX=12"}, Shard{}, "index 12 is out of range for 12 shards"},
		{"3/3", nil, Shard{}, "out of range"},
		{"3", nil, Shard{}, "want i/N"},
		{"a/3", nil, Shard{}, `index "a"`},
		{"1/0", nil, Shard{}, "shard count"},
		{"-1/2", nil, Shard{}, `index "-1"`},
	} {
		got, err := ParseShard(tc.spec, tc.env, 12)
		if tc.err != "" {
			if err == nil || !errors.Is(err, ErrShard) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q %v: error %v; want one with %q", tc.spec, tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q %v: %+v, %v; want %+v", tc.spec, tc.env, got, err, tc.want)
		}
	}
}

// TestShardsPartition checks that N shards take every run exactly once.
func TestShardsPartition(t *testing.T) {
	for n := 1; n <= 13; n++ {
		taken := make([]int, 12)
		for i := range n {
			s, err := ParseShard(fmt.Sprintf("%d/%d", i, n), nil, 12)
			if err != nil {
				t.Fatal(err)
			}
			for r := range taken {
				if s.Has(r) {
					taken[r]++
				}
			}
		}
		for r, k := range taken {
			if k != 1 {
				t.Errorf("%d shards: run %d taken %d times", n, r, k)
			}
		}
	}
}

// TestRunSweep trains a tiny sweep two runs at a time, reruns it (nothing
// trains), leaves a locked run alone, and refuses finished runs whose config
// the sweep has since changed.
func TestRunSweep(t *testing.T) {
	ortest.Require(t)
	dir := t.TempDir()
	file := tinySweep(t, dir, "")
	s, err := Load(file, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"if2-ce_rs-seed0", "if2-ours_bs-seed0", "if4-ce_rs-seed0", "if4-ours_bs-seed0"}
	sum, err := Train(context.Background(), s, Options{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sum.Trained, names) || len(sum.Skipped)+len(sum.Resumed)+len(sum.Failed) != 0 {
		t.Errorf("first pass: %+v", sum)
	}
	for _, n := range names {
		run := filepath.Join(s.Dir, n)
		if StateOf(run) != RunDone {
			t.Errorf("%s: %s", n, StateOf(run))
		}
		stored, err := pipeline.Load(pipeline.Sources{File: filepath.Join(run, pipeline.ConfigFile)})
		if err != nil {
			t.Fatal(err)
		}
		// Two at a time on one thread each: the split leaves one thread.
		if stored.Runtime.Threads != 1 || stored.Sampling.Workers < 1 {
			t.Errorf("%s: threads %d workers %d", n, stored.Runtime.Threads, stored.Sampling.Workers)
		}
	}
	m, err := ReadManifest(s.Dir)
	if err != nil || !m.SameRuns(s) {
		t.Fatalf("manifest: %v", err)
	}

	unlock, err := lockRun(s.Dir, names[1])
	if err != nil {
		t.Fatal(err)
	}
	sum, err = Train(context.Background(), s, Options{})
	unlock()
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Trained)+len(sum.Resumed) != 0 || !slices.Equal(sum.Busy, names[1:2]) || len(sum.Skipped) != 3 {
		t.Errorf("second pass: %+v", sum)
	}

	// A changed config makes the finished runs stale: the sweep names them
	// and the key, trains nothing, and trains them again only when asked,
	// keeping the old directories.
	changed, err := Load(file, Sources{Set: []string{"optim.lr=0.05"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range changed.Runs {
		state, diffs, err := changed.State(r)
		if err != nil || state != RunStale || !slices.Equal(diffs, []string{"optim.lr: run 0.1, sweep 0.05"}) {
			t.Errorf("%s: state %s, diffs %q, %v; want stale, optim.lr", r.Name, state, diffs, err)
		}
	}
	shard := Shard{1, 2}
	sum, err = Train(context.Background(), changed, Options{Shard: shard})
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), names[1]+" (optim.lr: run 0.1, sweep 0.05)") ||
		!strings.Contains(err.Error(), "--retrain-stale") || sum != nil {
		t.Errorf("stale runs: %v %+v; want ErrStale naming %s and the key", err, sum, names[1])
	}
	before, err := os.ReadFile(filepath.Join(s.Dir, names[1], pipeline.FinalFile))
	if err != nil {
		t.Fatal(err)
	}
	sum, err = Train(context.Background(), changed, Options{Shard: shard, RetrainStale: true})
	if err != nil || !slices.Equal(sum.Trained, []string{names[1], names[3]}) {
		t.Fatalf("--retrain-stale: %v %+v", err, sum)
	}
	for _, n := range []string{names[1], names[3]} {
		if st, _, _ := changed.State(changed.Runs[slices.Index(names, n)]); st != RunDone {
			t.Errorf("%s after retraining: %s", n, st)
		}
		old, _ := filepath.Glob(filepath.Join(s.Dir, n+".stale-*"))
		if len(old) != 1 {
			t.Fatalf("%s: moved-aside directories %v; want one", n, old)
		}
		if n == names[1] {
			kept, err := os.ReadFile(filepath.Join(old[0], pipeline.FinalFile))
			if err != nil || string(kept) != string(before) {
				t.Errorf("the stale run's final.json was not kept: %v", err)
			}
		}
	}
	if st, _, _ := changed.State(changed.Runs[0]); st != RunStale {
		t.Errorf("%s (another shard) is %s; want still stale", names[0], st)
	}
}

// TestSweepFailureSaysWhetherRetryHelps: a run whose config fails once the
// data is loaded fails the same way on every rerun, and the error names the
// key to change instead of suggesting a rerun.
func TestSweepFailureSaysWhetherRetryHelps(t *testing.T) {
	ortest.Require(t)
	dir := t.TempDir()
	// An image folder of 4 classes: 3 per class × 4 classes is 12, not the
	// 10 asked for, which shows only once the data is read (it is written
	// after the sweep loads, as on a cluster whose data is elsewhere).
	folder := filepath.Join(dir, "folder")
	file := tinySweep(t, dir, "")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "sampling.per_class: 3}", "sampling.per_class: 3, sampling.batch: 10}", 1)
	text = strings.Replace(text, "  data:\n", "  data:\n    source: folder\n    path: "+folder+"\n", 1)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(file, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := dataset.Synthetic(dataset.SyntheticOptions{Classes: 4, TrainPerClass: 20, TestPerClass: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := dataset.WriteImageFolder(folder, train, test); err != nil {
		t.Fatal(err)
	}
	sum, err := Train(context.Background(), s, Options{Shard: Shard{1, 2}})
	if !errors.Is(err, ErrRunsFailed) || !errors.Is(err, pipeline.ErrConfig) || len(sum.Failed) != 2 {
		t.Fatalf("got %v %+v; want both ours_bs runs failed with a config error", err, sum)
	}
	msg := err.Error()
	if !strings.Contains(msg, "fails the same way on every rerun: change config key sampling.batch") || strings.Contains(msg, "rerun the same command to retry") {
		t.Errorf("error %q; want it to name sampling.batch and not suggest a rerun", msg)
	}
	if !Permanent(err) {
		t.Errorf("Permanent(%v) = false", err)
	}
}

// TestTrainRefusesSweepFile checks that a sweep file given as a run config
// is named as such, whichever sweep key it holds: package pipeline keeps its
// own list of them, which must cover this package's.
func TestTrainRefusesSweepFile(t *testing.T) {
	_, err := pipeline.Load(pipeline.Sources{File: "../../configs/paper-sweep.yaml"})
	if err == nil || !strings.Contains(err.Error(), "`longtail sweep -c ../../configs/paper-sweep.yaml`") {
		t.Errorf("a sweep file as a run config: %v", err)
	}
	dir := t.TempDir()
	for _, k := range fileKeys {
		if k == "set" { // a run config's error for it is "unknown key"
			continue
		}
		file := writeFile(t, dir, k+".yaml", k+": x\n")
		_, err := pipeline.Load(pipeline.Sources{File: file})
		if err == nil || !strings.Contains(err.Error(), "a sweep file's key") {
			t.Errorf("run config with the sweep key %s: %v; want it named as a sweep file", k, err)
		}
	}
}

// TestSweepWithoutData checks that the paper's sweep loads without its data
// (a dry run and an emitted job need none), that MissingData names the
// missing archive once with the command that fetches it, and that Train
// refuses to start, leaving no sweep directory behind.
func TestSweepWithoutData(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "data", "cifar-10-binary.tar.gz")
	dir := filepath.Join(t.TempDir(), "sweep")
	s, err := Load("../../configs/paper-sweep.yaml", Sources{Set: []string{"data.path=" + missing}, Dir: dir})
	if err != nil {
		t.Fatalf("Load without the data: %v", err)
	}
	if len(s.Runs) != 12 {
		t.Fatalf("%d runs; want 12", len(s.Runs))
	}
	errs := s.MissingData()
	if len(errs) != 1 || !errors.Is(errs[0], pipeline.ErrNoData) || !strings.Contains(errs[0].Error(), "longtail data download cifar10 --dir "+filepath.Dir(missing)) {
		t.Fatalf("MissingData: %v; want one ErrNoData naming the download command", errs)
	}
	_, err = Train(context.Background(), s, Options{})
	if !errors.Is(err, pipeline.ErrNoData) || !strings.Contains(err.Error(), s.Runs[0].Name) {
		t.Errorf("Train without the data: %v; want ErrNoData naming run %s", err, s.Runs[0].Name)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Train without the data left %s behind (%v)", dir, err)
	}
	present := writeFile(t, filepath.Dir(dir), "cifar-10-binary.tar.gz", "")
	s, err = Load("../../configs/paper-sweep.yaml", Sources{Set: []string{"data.path=" + present}, Dir: dir})
	if err != nil || len(s.MissingData()) != 0 {
		t.Errorf("with the data: %v, missing %v; want none", err, s.MissingData())
	}
}

// TestSweepPosthoc: a sweep's posthoc list runs on every finished run,
// writing posthoc.json; a rerun leaves it alone, and a longer list on the
// finished sweep adds the new method without training again, keeping the
// methods `longtail posthoc` added for the same checkpoint.
func TestSweepPosthoc(t *testing.T) {
	ortest.Require(t)
	dir := t.TempDir()
	sweepFile := func(methods string) string {
		return writeFile(t, dir, "ph-sweep.yaml", `
base:
  data:
    synthetic: {classes: 3, train_per_class: 40, test_per_class: 4}
    val_per_class: 4
  model: {depth: 8, width: 4}
  train: {epochs: 1, eval_every: 0}
  runtime: {threads: 1}
set: {loss.name: ce, sampling.name: random, sampling.batch: 16}
grid:
  data.imbalance: [4]
posthoc: `+methods+`
dir: `+filepath.Join(dir, "sweep")+"\n")
	}
	run := func(methods string) *Summary {
		t.Helper()
		s, err := Load(sweepFile(methods), Sources{})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Train(context.Background(), s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	runDir := filepath.Join(dir, "sweep", "if4-base-seed0")
	report := func() ([]string, time.Time) {
		t.Helper()
		r, err := posthoc.ReadReport(runDir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range r.Methods {
			names = append(names, m.Method)
		}
		st, err := os.Stat(filepath.Join(runDir, posthoc.ReportFile))
		if err != nil {
			t.Fatal(err)
		}
		return names, st.ModTime()
	}
	if sum := run("[logit_adjust, ncm]"); !slices.Equal(sum.Trained, []string{"if4-base-seed0"}) {
		t.Fatalf("first pass: %+v", sum)
	}
	names, mod := report()
	if !slices.Equal(names, []string{posthoc.Plain, posthoc.LogitAdjust, posthoc.NCM}) {
		t.Errorf("posthoc.json has %v", names)
	}
	if sum := run("[logit_adjust, ncm]"); len(sum.Skipped) != 1 {
		t.Fatalf("second pass: %+v", sum)
	}
	if _, again := report(); !again.Equal(mod) {
		t.Error("a rerun of the sweep rewrote posthoc.json")
	}
	// `longtail posthoc RUN_DIR --set posthoc.methods=[lws]`: its own rows.
	cfg, err := pipeline.Load(pipeline.Sources{File: filepath.Join(runDir, pipeline.ConfigFile)})
	if err != nil {
		t.Fatal(err)
	}
	lws := posthoc.Config{Methods: []string{posthoc.LWS}, Train: posthoc.TrainConfig{LR: []float64{0.1}, Epochs: []int{1}, PerClass: 4}}
	if _, err := posthoc.Run(cfg, runDir, posthoc.Options{Config: lws}); err != nil {
		t.Fatal(err)
	}
	if sum := run("[logit_adjust, ncm, tau_norm]"); len(sum.Skipped) != 1 {
		t.Fatalf("third pass: %+v", sum)
	}
	if names, _ := report(); !slices.Equal(names, []string{posthoc.Plain, posthoc.LWS, posthoc.LogitAdjust, posthoc.NCM, posthoc.TauNorm}) {
		t.Errorf("after adding tau_norm posthoc.json has %v; want lws, added with longtail posthoc, kept", names)
	}
}
