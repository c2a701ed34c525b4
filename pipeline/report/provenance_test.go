package report

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/pipeline"
)

// writeRunConfig stores the config that set resolves to as dir's
// config.yaml, as a trained run leaves it.
func writeRunConfig(t *testing.T, dir string, set ...string) {
	t.Helper()
	cfg, err := pipeline.Load(pipeline.Sources{Set: set})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Complete(3); err != nil {
		t.Fatal(err)
	}
	y, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, pipeline.ConfigFile), y, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReportProvenance checks what a report says about where its numbers
// come from: the data, the model, the epochs, the settings off the
// defaults (common, per method, varied within a method) and the longtail
// builds, in report.md and report.html.
func TestReportProvenance(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "prov")
	runs := []fakeRun{
		{"ce", 10, 0, []float64{0.9, 0.6, 0.3}},
		{"ours", 10, 0, []float64{0.8, 0.7, 0.6}},
		{"ce", 10, 1, []float64{0.9, 0.5, 0.1}},
		{"ours", 10, 1, []float64{0.8, 0.8, 0.5}},
	}
	s := writeFakeSweep(t, dir, []string{"ce", "ours"}, runs)
	for i, r := range s.Runs {
		set := []string{"data.source=folder", "data.path=data/pets.tar.gz", "data.imbalance=10", "model.depth=20",
			"train.epochs=50", "optim.lr=0.05", "train.seed=" + formatFloat(float64(r.Seed))}
		if r.Method == "ours" {
			set = append(set, "loss.name=weighted_ce", "sampling.name=balanced")
		}
		if i == 3 {
			set = append(set, "optim.momentum=0.8") // varies within a method
		}
		writeRunConfig(t, filepath.Join(dir, r.Name), set...)
	}
	rep, err := Build("", dir)
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Provenance
	for _, tc := range []struct {
		what      string
		got, want []string
	}{
		{"data", p.Data, []string{"folder from data/pets.tar.gz"}},
		{"model", p.Model, []string{"ResNet-20 (width 16)"}},
		{"epochs", p.Epochs, []string{"50"}},
		{"common settings", p.Common, []string{"data.imbalance=10", "optim.lr=0.05"}},
		{"ce's settings", p.ByMethod["ce"], []string{"loss.name=ce", "loss.weights=none", "sampling.batch=128", "sampling.name=random"}},
		{"ours' settings", p.ByMethod["ours"], []string{"loss.name=weighted_ce", "loss.weights=clamped", "sampling.batch=39", "sampling.name=balanced"}},
		{"varied", p.Varied, []string{"optim.momentum"}},
		// The fake runs' final.json predate the version field.
		{"versions", p.Versions, []string{"not recorded"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: %q; want %q", tc.what, tc.got, tc.want)
		}
	}
	if p.Reporter != pipeline.Version() || rep.Title != "Sweep prov" || p.Source != "fake.yaml" {
		t.Errorf("reporter %q, title %q, source %q", p.Reporter, rep.Title, p.Source)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	var html bytes.Buffer
	if err := rep.WriteHTML(&html, nil); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"# Sweep prov\n", "- **data**: folder from data/pets.tar.gz\n", "- **model**: ResNet-20 (width 16)\n",
		"- **epochs**: 50\n", "`data.imbalance=10`, `optim.lr=0.05`", "- **settings of ours**: `loss.name=weighted_ce`",
		"- **also varied between runs**: optim.momentum", "- **trained with**: not recorded\n", "- **report written by**: longtail "} {
		if !strings.Contains(md.String(), w) {
			t.Errorf("report.md lacks %q:\n%s", w, md.String())
		}
	}
	for _, w := range []string{"<title>Sweep prov: longtail report</title>", "<h1>Sweep prov</h1>", "<b>model</b>: ResNet-20 (width 16)",
		"<code>optim.lr=0.05</code>"} {
		if !strings.Contains(html.String(), w) {
			t.Errorf("report.html lacks %q", w)
		}
	}
	if strings.Contains(html.String(), "sweep.Sweep") {
		t.Error("report.html names a Go type")
	}
}
