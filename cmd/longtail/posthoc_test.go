package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/posthoc"
)

// TestPosthocCommand runs posthoc and export --posthoc through the CLI on a
// tiny run with a validation split, and their errors: a run without one, a
// bad setting (exit 2), a method posthoc.json lacks.
func TestPosthocCommand(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	cfg := write(t, filepath.Join(dir, "tiny-val.yaml"), tinyYAML+"eval: {few_shot: 40}\n")
	if code, _, errs := cli(t, "train", "-c", cfg, "--set", "data.val_per_class=5", "--out", dir, "--name", "v"); code != 0 {
		t.Fatal(errs)
	}
	run := filepath.Join(dir, "v")
	code, out, errs := cli(t, "posthoc", run, "--set", "posthoc.methods=[logit_adjust, ncm]", "--set", "runtime.threads=1")
	if code != 0 {
		t.Fatalf("posthoc: exit %d: %s", code, errs)
	}
	for _, want := range []string{"validation (5 images per class", "\ntest\n", "logit_adjust", "ncm", "written to " + filepath.Join(run, posthoc.ReportFile)} {
		if !strings.Contains(out, want) {
			t.Errorf("posthoc output lacks %q:\n%s", want, out)
		}
	}
	model := filepath.Join(dir, "ncm.onnx")
	code, out, errs = cli(t, "export", run, "--posthoc", "ncm", "-o", model)
	if code != 0 || !strings.Contains(out, "classifier ncm") {
		t.Fatalf("export --posthoc ncm: exit %d: %s%s", code, out, errs)
	}
	_, info, err := readModel(model)
	if err != nil || !strings.Contains(info.Metadata[pipeline.MetaPosthoc], `"method":"ncm"`) {
		t.Errorf("exported model: %v, metadata %s = %q", err, pipeline.MetaPosthoc, info.Metadata[pipeline.MetaPosthoc])
	}
	if code, _, errs := cli(t, "export", run, "--posthoc", "crt", "-o", model); code != 1 || !strings.Contains(errs, `no method "crt"`) {
		t.Errorf("export --posthoc crt (not in posthoc.json): exit %d: %s", code, errs)
	}
	if code, _, errs := cli(t, "posthoc", run, "--set", "posthoc.tau=[-1]"); code != 2 || !strings.Contains(errs, "posthoc.tau") {
		t.Errorf("posthoc.tau=[-1]: exit %d: %s", code, errs)
	}
	plain := trainTiny(t, t.TempDir())
	if code, _, errs := cli(t, "posthoc", plain); code != 1 || !strings.Contains(errs, "data.val_per_class") {
		t.Errorf("posthoc of a run without a validation split: exit %d: %s", code, errs)
	}
}
