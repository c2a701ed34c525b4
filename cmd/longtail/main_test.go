package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/runtime/ortest"

	"github.com/longtail-ml/longtail/pipeline"
)

// cli runs the command line in-process and returns the exit code and the
// two streams.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func needORT(t *testing.T) { ortest.Require(t) }

func write(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// tinyYAML is a run of a second or two: ResNet-8 of width 4 on 4 synthetic
// classes, 60 → 15 training images.
const tinyYAML = `
data:
  synthetic: {classes: 4, train_per_class: 60, test_per_class: 10}
  imbalance: 4
model: {depth: 8, width: 4}
sampling: {batch: 16}
train: {epochs: 2, eval_every: 1}
runtime: {threads: 1}
`

func TestHelp(t *testing.T) {
	for _, c := range []string{"train", "eval", "data", "graphs", "doctor", "version"} {
		code, out, _ := cli(t, c, "--help")
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "Examples:") || !strings.Contains(out, "longtail "+c) {
			t.Errorf("longtail %s --help: code %d, output lacks usage or an example:\n%s", c, code, out)
		}
	}
	code, out, _ := cli(t, "--help")
	for _, c := range []string{"train", "eval", "data", "graphs", "doctor", "version"} {
		if code != 0 || !strings.Contains(out, "  "+c+" ") {
			t.Errorf("longtail --help does not list %s", c)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := cli(t, "version")
	if code != 0 || !strings.HasPrefix(out, "longtail ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: %d %q", code, out)
	}
}

// TestBadConfigs checks acceptance 4: each bad config fails before any work,
// with exit code 2 and one line that names the problem.
func TestBadConfigs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		yaml string
		args []string
		want []string
	}{
		{"unknown key", "optim:\n  lerning_rate: 0.1\n", nil, []string{"optim.lerning_rate", "unknown key"}},
		{"misspelled key", "train:\n  epoch: 3\n", nil, []string{"train.epoch", "did you mean train.epochs?"}},
		{"wrong type", "sampling:\n  batch: big\n", nil, []string{"sampling.batch", `"big" is not an integer`}},
		{"negative lr", "optim:\n  lr: -0.1\n", nil, []string{"optim.lr", "-0.1", "> 0"}},
		{"epochs 0", "", []string{"--epochs", "0"}, []string{"train.epochs", "0; want at least 1"}},
		{"s·n against batch", "sampling:\n  name: balanced\n  per_class: 13\n  batch: 128\n", nil,
			[]string{"sampling.batch", "per_class 13", "10 classes", "130"}},
		{"missing data path", "data:\n  source: cifar10\n  path: " + filepath.Join(dir, "no-cifar") + "\n", nil,
			[]string{"data.path", "no-cifar", "no such file"}},
		{"unknown flag", "", []string{"--epoch", "3"}, []string{"usage", "--epoch"}},
		{"no config", "-", nil, []string{"usage", "-c CONFIG"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"train", "--out", filepath.Join(dir, "runs")}
			if tc.yaml != "-" {
				args = append(args, "-c", write(t, filepath.Join(dir, "bad.yaml"), tc.yaml))
			}
			code, out, errs := cli(t, append(args, tc.args...)...)
			if code != exitConfig {
				t.Errorf("exit code %d; want %d", code, exitConfig)
			}
			if out != "" || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "longtail: ") {
				t.Errorf("want one line on stderr only; got stdout %q stderr %q", out, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q lacks %q", errs, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "runs")); err == nil {
				t.Errorf("a run directory was created")
			}
		})
	}
}

// TestShippedConfigs checks that every config in configs/ resolves and
// validates (the paper's with data.path pointed at a file that exists), and
// that configs/README.md documents every key.
func TestShippedConfigs(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	paper, _ := filepath.Glob("../../configs/paper/*.yaml")
	if len(files) < 1 || len(paper) != 12 {
		t.Fatalf("configs: %d top-level, %d paper files; want quickstart and 12", len(files), len(paper))
	}
	fake := write(t, filepath.Join(t.TempDir(), "cifar-10-binary.tar.gz"), "")
	for _, f := range append(files, paper...) {
		if strings.HasSuffix(f, "-sweep.yaml") {
			// A sweep file: it expands and every run validates.
			code, out, errs := cli(t, "sweep", "-c", f, "--dry-run", "--set", "data.path="+fake)
			if code != 0 || !strings.Contains(out, " runs (") {
				t.Errorf("%s: %s%s", f, out, errs)
			}
			continue
		}
		args := []string{"train", "-c", f, "--print-config"}
		if strings.Contains(f, "paper") {
			args = append(args, "--set", "data.path="+fake)
		}
		code, out, errs := cli(t, args...)
		if code != 0 {
			t.Errorf("%s: %s", f, errs)
			continue
		}
		back := write(t, filepath.Join(t.TempDir(), "resolved.yaml"), out)
		if _, err := pipeline.Load(pipeline.Sources{File: back}); err != nil {
			t.Errorf("%s: printed config does not load back: %v", f, err)
		}
		if strings.Contains(f, "paper") {
			c, _ := pipeline.Load(pipeline.Sources{File: back})
			if c.Model.Depth != 32 || c.Optim.LR != 0.1 || c.Optim.WeightDecay != 5e-4 || c.Optim.Schedule != "cosine" || c.Train.Epochs != 200 {
				t.Errorf("%s: not the paper's protocol: %+v %+v %+v", f, c.Model, c.Optim, c.Train)
			}
			if strings.Contains(f, "ours_bs") != (c.Sampling.Name == "balanced" && c.Sampling.Batch == 130 && c.Loss.Weights == "clamped") {
				t.Errorf("%s: sampling %+v loss %+v", f, c.Sampling, c.Loss)
			}
			if !strings.Contains(f, "ours_bs") && c.Sampling.Batch != 128 {
				t.Errorf("%s: batch %d; want 128", f, c.Sampling.Batch)
			}
		}
	}
	readme, err := os.ReadFile("../../configs/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range pipeline.Keys() {
		if !strings.Contains(string(readme), "`"+k+"`") {
			t.Errorf("configs/README.md does not document %s", k)
		}
	}
}

func TestGraphs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "g")
	code, out, errs := cli(t, "graphs", "--depth", "8", "--width", "8", "--classes", "5", "--batch", "4", "--out", dir)
	if code != 0 {
		t.Fatalf("graphs: %s", errs)
	}
	for _, f := range []string{"forward.onnx", "backward.onnx", "eval.onnx"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", f, err)
		} else if st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v; want 0644 like every other output", f, st.Mode().Perm())
		}
	}
	if !strings.Contains(out, "ResNet-8") || !strings.Contains(out, "batch 4") {
		t.Errorf("output %q", out)
	}
	if code, _, errs := cli(t, "graphs", "--depth", "9", "--out", dir); code != exitConfig || !strings.Contains(errs, "model.depth") {
		t.Errorf("bad depth: %d %q", code, errs)
	}
}

func TestData(t *testing.T) {
	dir := t.TempDir()
	cfg := write(t, filepath.Join(dir, "tiny.yaml"), tinyYAML)
	grid := filepath.Join(dir, "grid.png")
	code, out, errs := cli(t, "data", "-c", cfg, "--grid", grid, "--per-class", "3")
	if code != 0 {
		t.Fatal(errs)
	}
	// int(60·(1/4)^(i/3)) for i = 0..3: 60, 37, 23, 15.
	for _, w := range []string{"4 classes", "imbalance factor 4", " 60     10  medium", " 37     10  medium", " 15     10  few", "total", "135     40", "normalisation: mean ("} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	f, err := os.Open(grid)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("grid: %v", err)
	}
}

func TestDoctor(t *testing.T) {
	needORT(t)
	code, out, errs := cli(t, "doctor")
	if code != 0 {
		t.Fatal(errs)
	}
	for _, w := range []string{"onnx rt", "library", "providers  cpu", "cpu cores", "go1.", "check      ok"} {
		if !strings.Contains(out, w) {
			t.Errorf("doctor output lacks %q:\n%s", w, out)
		}
	}
	code, _, errs = cli(t, "doctor", "--set", "runtime.library="+filepath.Join(t.TempDir(), "libnone.so"))
	if code == 0 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "./scripts/setup.sh") {
		t.Errorf("doctor with a missing library: code %d, %q; want one line naming ./scripts/setup.sh", code, errs)
	}
}

// TestTrainEval trains through the CLI, then evaluates the checkpoint and
// checks the numbers against the run's own final.json.
func TestTrainEval(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	cfg := write(t, filepath.Join(dir, "tiny.yaml"), tinyYAML)
	code, out, errs := cli(t, "train", "-c", cfg, "--out", filepath.Join(dir, "runs"), "--name", "t1", "--log-format", "json")
	if code != 0 {
		t.Fatal(errs)
	}
	run := filepath.Join(dir, "runs", "t1")
	if !strings.Contains(out, "top-1") || !strings.Contains(out, "run directory "+run) {
		t.Errorf("stdout:\n%s", out)
	}
	// Not a terminal: progress is log lines, one JSON object each.
	for _, line := range strings.Split(strings.TrimSpace(errs), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
	if !strings.Contains(errs, `"msg":"epoch"`) {
		t.Errorf("no epoch lines in the log:\n%s", errs)
	}
	final, err := pipeline.ReadFinal(run)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs = cli(t, "eval", run, "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	var got pipeline.Final
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Top1 != final.Top1 || got.Epoch != 2 || len(got.PerClass) != 4 {
		t.Errorf("eval: top-1 %v epoch %d; the run's final.json says %v after 2", got.Top1, got.Epoch, final.Top1)
	}
	// The wider metrics come back the same from the same checkpoint.
	if !got.HasCalibration() || got.ECE != final.ECE || !slices.Equal(got.Reliability, final.Reliability) ||
		!slices.Equal(got.Precision, final.Precision) || got.Worst != final.Worst || got.WorstClass != final.WorstClass {
		t.Errorf("eval: ECE %v, precision %v, worst %v (class %d); final.json %v, %v, %v (class %d)",
			got.ECE, got.Precision, got.Worst, got.WorstClass, final.ECE, final.Precision, final.Worst, final.WorstClass)
	}
	// Thresholds 0/0 make every class many-shot; they may be set on eval.
	code, out, errs = cli(t, "eval", run, "--json", "--set", "eval.many_shot=0", "--set", "eval.few_shot=0")
	if code != 0 {
		t.Fatal(errs)
	}
	got = pipeline.Final{}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	var mean float64
	for _, a := range final.PerClass {
		mean += a / float64(len(final.PerClass))
	}
	if got.Shots == nil || *got.Shots != (pipeline.Shots{}) || got.Many == nil || math.Abs(*got.Many-mean) > 1e-12 || got.Medium != nil || got.Few != nil {
		t.Errorf("eval with thresholds 0/0: shots %v, many %v, medium %v, few %v; want every class many-shot (%v)", got.Shots, got.Many, got.Medium, got.Few, mean)
	}
	diagram := filepath.Join(dir, "rel.png")
	code, out, errs = cli(t, "eval", run, "--reliability", diagram)
	if code != 0 {
		t.Fatal(errs)
	}
	// The reliability diagram, from eval and in the run directory.
	for _, p := range []string{diagram, filepath.Join(run, pipeline.ReliabilityFile)} {
		if f, err := os.Open(p); err != nil {
			t.Error(err)
		} else {
			img, err := png.Decode(f)
			f.Close()
			if err != nil || img.Bounds().Dx() < 300 {
				t.Errorf("%s: %v, %v; want a PNG diagram", p, err, img)
			}
		}
	}
	for _, w := range []string{"precision", "worst class (", "ECE (15 bins)", "many-shot (>100)"} {
		if !strings.Contains(out, w) {
			t.Errorf("eval output lacks %q:\n%s", w, out)
		}
	}
	// The same name again is refused rather than overwritten.
	code, _, errs = cli(t, "train", "-c", cfg, "--out", filepath.Join(dir, "runs"), "--name", "t1")
	if code == 0 || !strings.Contains(errs, "--resume") {
		t.Errorf("second run into t1: code %d %q", code, errs)
	}
	// Resuming a finished run reports it again.
	code, out, errs = cli(t, "train", "--resume", run)
	if code != 0 || !strings.Contains(out, "top-1") {
		t.Errorf("resume of a finished run: code %d %q %q", code, out, errs)
	}
	// Evaluation thresholds do not change training: resume takes them.
	if code, _, errs = cli(t, "train", "--resume", run, "--set", "eval.few_shot=5"); code != 0 {
		t.Errorf("resume with eval.few_shot=5: code %d %q", code, errs)
	}
	// Resume refuses a changed learning rate, naming it.
	code, _, errs = cli(t, "train", "--resume", run, "--set", "optim.lr=0.2")
	if code == 0 || !strings.Contains(errs, "optim.lr") {
		t.Errorf("resume with another lr: code %d %q", code, errs)
	}
}
