package posthoc

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/longtail-ml/longtail/pipeline"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		p := filepath.Join(dir, "ph.yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := LoadConfig(file("posthoc:\n  methods: [crt, lws]\n  train:\n    lr: [0.1]\n"), []string{"posthoc.tau=[0, 0.5, 1]", "posthoc.train.loss=focal"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Methods, []string{CRT, LWS}) || !slices.Equal(c.Tau, []float64{0, 0.5, 1}) || !slices.Equal(c.Train.LR, []float64{0.1}) ||
		c.Train.Loss != "focal" || !slices.Equal(c.Train.Epochs, Default().Train.Epochs) || c.Train.Sampler != "balanced" {
		t.Errorf("resolved %+v", c)
	}
	d, err := LoadConfig("", nil)
	if err != nil || !slices.Equal(d.Methods, Names()) || len(d.Tau) != 21 {
		t.Errorf("defaults: %+v, %v", d, err)
	}
	// configs/posthoc/defaults.yaml writes the defaults out.
	if shipped, err := LoadConfig(filepath.Join("..", "..", "configs", "posthoc", "defaults.yaml"), nil); err != nil || !reflect.DeepEqual(shipped, d) {
		t.Errorf("configs/posthoc/defaults.yaml: %+v, %v; want the defaults %+v", shipped, err, d)
	}
	for _, tc := range []struct {
		name, file string
		set        []string
		want       string
	}{
		{"unknown method", "", []string{"posthoc.methods=[crt, knn]"}, `posthoc.methods (from --set): "knn"; want some of tau_norm`},
		{"negative tau", "posthoc:\n  tau: [0, -1]\n", nil, "posthoc.tau (from " + filepath.Join(dir, "ph.yaml") + "): -1"},
		{"unknown key", "posthoc:\n  taus: [1]\n", nil, "taus"},
		{"run key in the file", "optim:\n  lr: 0.1\n", nil, "key optim.lr"},
		{"bad loss", "", []string{"posthoc.train.loss=hinge"}, `posthoc.train.loss (from --set): "hinge"; want one of`},
		{"bad sampler", "", []string{"posthoc.train.sampler=cycle"}, "posthoc.train.sampler"},
		{"momentum 1", "", []string{"posthoc.train.momentum=1"}, "posthoc.train.momentum"},
		{"epochs of the wrong type", "", []string{"posthoc.train.epochs=ten"}, "posthoc.train.epochs"},
		{"a set without posthoc.", "", []string{"tau=1"}, "want posthoc.key=value"},
	} {
		f := ""
		if tc.file != "" {
			f = file(tc.file)
		}
		_, err := LoadConfig(f, tc.set)
		if !errors.Is(err, pipeline.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want a config error with %q", tc.name, err, tc.want)
		}
	}
}

// TestLoadConfigExplicitZero: a 0 written out is a setting, not the
// default, and stays 0 through WithDefaults (which Run and Fit apply again);
// a key left out keeps its default.
func TestLoadConfigExplicitZero(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ph.yaml")
	if err := os.WriteFile(file, []byte("posthoc:\n  train:\n    weight_decay: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		file         string
		set          []string
		momentum, wd float64
	}{
		{"defaults", "", nil, 0.9, 5e-4},
		{"weight_decay=0", "", []string{"posthoc.train.weight_decay=0"}, 0.9, 0},
		{"weight_decay: 0 in the file", file, nil, 0.9, 0},
		{"momentum=0", "", []string{"posthoc.train.momentum=0"}, 0, 5e-4},
		{"both 0", "", []string{"posthoc.train.momentum=0.0", "posthoc.train.weight_decay=0"}, 0, 0},
		{"the file's 0 overridden", file, []string{"posthoc.train.weight_decay=1e-3"}, 0.9, 1e-3},
	} {
		c, err := LoadConfig(tc.file, tc.set)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		for _, r := range []Config{c, c.WithDefaults(), c.WithDefaults().WithDefaults()} {
			if r.Train.Momentum == nil || *r.Train.Momentum != tc.momentum || r.Train.WeightDecay == nil || *r.Train.WeightDecay != tc.wd {
				t.Errorf("%s: momentum %v, weight_decay %v; want %g, %g", tc.name, deref(r.Train.Momentum), deref(r.Train.WeightDecay), tc.momentum, tc.wd)
			}
		}
	}
	for _, tc := range []struct {
		set  string
		want string
	}{
		{"posthoc.train.weight_decay=-1e-4", "posthoc.train.weight_decay (from --set): -0.0001; want a number ≥ 0"},
		{"posthoc.train.momentum=-0.1", "posthoc.train.momentum (from --set): -0.1; want 0 ≤ momentum < 1"},
		{"posthoc.train.weight_decay=lots", "posthoc.train.weight_decay"},
	} {
		if _, err := LoadConfig("", []string{tc.set}); !errors.Is(err, pipeline.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want a config error with %q", tc.set, err, tc.want)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
