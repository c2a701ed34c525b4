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
