package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageErrors runs command-line slips through the real CLI: each exits
// with exitConfig (2), as every usage error does, and says what was meant.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := write(t, filepath.Join(dir, "tiny.yaml"), tinyYAML)
	run := filepath.Join(dir, "runs", "r")
	write(t, filepath.Join(run, "config.yaml"), tinyYAML)
	ckpt := write(t, filepath.Join(run, "checkpoint.ckpt"), "LTCKPT\x00\x01rest of a checkpoint")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", cfg}, []string{`train takes no arguments; got "` + cfg + `"`, "a config file goes after -c: longtail train -c " + cfg}},
		{[]string{"train", run}, []string{"to continue that run: longtail train --resume " + run}},
		{[]string{"train", "-c", cfg, "--set", "train.epochs", "2"}, []string{"--set train.epochs: want key=value with no space, e.g. --set train.epochs=2"}},
		{[]string{"train", "-c", cfg, "--epoch", "1"}, []string{"unknown flag: --epoch; did you mean --epochs?"}},
		{[]string{"train", "-c", cfg, "--lr", "0.1"}, []string{"optim.lr is a config key: --set optim.lr=VALUE"}},
		{[]string{"trian"}, []string{`unknown command "trian"`, "train"}},
		{[]string{"export"}, []string{"accepts 1 arg(s), received 0", "usage: longtail export RUN_DIR"}},
		{[]string{"predict", "-m", "x.onnx"}, []string{"requires at least 1 arg(s)", "usage: longtail predict -m MODEL IMAGE..."}},
		{[]string{"doctor", "extra"}, []string{`doctor takes no arguments; got "extra"`}},
		{[]string{"predict", "-m", run, "cat.png"}, []string{"is a run directory, not a model", "`longtail export " + run + "` writes " + filepath.Join(run, "model.onnx")}},
		{[]string{"predict", "-m", ckpt, "cat.png"}, []string{"is a training checkpoint", "`longtail export " + run + " --checkpoint " + ckpt + " -o model.onnx`"}},
		{[]string{"eval", ckpt}, []string{"is a training checkpoint"}},
		{[]string{"train", "-c", cfg, "--set", "data.source=cifar10", "--set", "data.path=nowhere/cifar.tar.gz"},
			[]string{`"nowhere/cifar.tar.gz": no such file or directory (looked for in ` + dir + `, the working directory)`}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Chdir(dir)
			code, _, errs := cli(t, tc.args...)
			if code != exitConfig {
				t.Errorf("exit %d; want %d (a usage error): %s", code, exitConfig, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "runs", "tiny")); err == nil {
		t.Error("a usage error started a run")
	}
}

// TestExportOutDir checks export's -o: a file name is the model, a
// directory gets model.onnx (report's --out is always a directory).
func TestExportOutDir(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	run := trainTiny(t, dir)
	out := filepath.Join(dir, "models")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ o, want string }{
		{out, filepath.Join(out, "model.onnx")},
		{filepath.Join(out, "ours.onnx"), filepath.Join(out, "ours.onnx")},
	} {
		code, stdout, errs := cli(t, "export", run, "-o", tc.o)
		if code != 0 {
			t.Fatalf("export -o %s: exit %d: %s", tc.o, code, errs)
		}
		if fi, err := os.Stat(tc.want); err != nil || fi.Size() == 0 || !strings.HasPrefix(stdout, tc.want+":") {
			t.Errorf("export -o %s: %v; stdout %q; want %s", tc.o, err, stdout, tc.want)
		}
	}
}
