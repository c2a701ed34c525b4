package pipeline

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, t.TempDir(), "c.yaml", "optim:\n  lr: 0.2\ntrain:\n  epochs: 7\n")
	for _, tc := range []struct {
		name   string
		src    Sources
		lr     float64
		epochs int
	}{
		{"defaults", Sources{}, 0.1, 200},
		{"file", Sources{File: file}, 0.2, 7},
		{"env over file", Sources{File: file, Env: []string{"LONGTAIL_OPTIM_LR=0.3", "PATH=/bin"}}, 0.3, 7},
		{"set over env", Sources{File: file, Env: []string{"LONGTAIL_OPTIM_LR=0.3"}, Set: []string{"optim.lr=0.4"}}, 0.4, 7},
		{"last set wins", Sources{Set: []string{"train.epochs=3", "train.epochs=4"}}, 0.1, 4},
		{"whole float is an integer", Sources{Set: []string{"train.epochs=5.0"}}, 0.1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if c.Optim.LR != tc.lr || c.Train.Epochs != tc.epochs {
				t.Errorf("lr %v epochs %d; want %v %d", c.Optim.LR, c.Train.Epochs, tc.lr, tc.epochs)
			}
		})
	}
}

func TestLoadTypes(t *testing.T) {
	c, err := Load(Sources{
		Env: []string{"LONGTAIL_AUGMENT_FLIP=false", "LONGTAIL_OPTIM_MILESTONES=160,180"},
		Set: []string{"optim.schedule=step", "optim.weight_decay=2e-4", "output.name=123", "loss.name=weighted_ce"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Augment.Flip || c.Optim.WeightDecay != 2e-4 || c.Output.Name != "123" || c.Loss.Name != "weighted_ce" {
		t.Errorf("got %+v %+v %+v", c.Augment, c.Optim, c.Output)
	}
	if len(c.Optim.Milestones) != 2 || c.Optim.Milestones[0] != 160 || c.Optim.Milestones[1] != 180 {
		t.Errorf("milestones %v; want [160 180]", c.Optim.Milestones)
	}
}

// TestLoadErrors checks that each bad config fails with one message that
// names the key, where the value came from, and what is expected.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		yaml string // written to c.yaml when not empty
		env  []string
		set  []string
		want []string // substrings of the error
	}{
		{name: "misspelled key in file", yaml: "optim:\n  lrr: 0.1\n", want: []string{"optim.lrr", "c.yaml", "did you mean optim.lr?"}},
		{name: "transposed section", yaml: "trian:\n  epochs: 3\n", want: []string{"trian.epochs", "did you mean train.epochs?"}},
		{name: "key without section", set: []string{"epochs=3"}, want: []string{"epochs", "--set", "did you mean train.epochs?"}},
		{name: "far-off key", set: []string{"colour=red"}, want: []string{"unknown key", "configs/README.md"}},
		{name: "section as value", yaml: "optim: 3\n", want: []string{"optim", "is a section", "optim.lr"}},
		{name: "wrong type string", yaml: "train:\n  epochs: many\n", want: []string{"train.epochs", `"many" is not an integer`}},
		{name: "wrong type fraction", set: []string{"train.epochs=2.5"}, want: []string{"train.epochs", "2.5 is not an integer"}},
		{name: "wrong type bool", yaml: "augment:\n  flip: 3\n", want: []string{"augment.flip", "not true or false"}},
		{name: "wrong type mapping", yaml: "optim:\n  lr: {a: 1}\n", want: []string{"optim.lr"}},
		{name: "bad env value", env: []string{"LONGTAIL_OPTIM_LR=fast"}, want: []string{"optim.lr", "$LONGTAIL_OPTIM_LR", `"fast" is not a number`}},
		{name: "misspelled env", env: []string{"LONGTAIL_OPTIM_LRR=0.1"}, want: []string{"LONGTAIL_OPTIM_LRR", "did you mean LONGTAIL_OPTIM_LR"}},
		{name: "negative lr", set: []string{"optim.lr=-0.1"}, want: []string{"optim.lr", "-0.1", "> 0"}},
		{name: "zero epochs", yaml: "train:\n  epochs: 0\n", want: []string{"train.epochs", "c.yaml", "at least 1"}},
		{name: "balanced batch mismatch", set: []string{"sampling.name=balanced", "sampling.per_class=13", "sampling.batch=128"},
			want: []string{"sampling.batch", "128", "130"}},
		{name: "no data path", set: []string{"data.source=folder"}, want: []string{"data.path", "empty"}},
		{name: "unknown source", set: []string{"data.source=imagenet"}, want: []string{"data.source", "synthetic, cifar10"}},
		{name: "unknown loss", set: []string{"loss.name=softmax"}, want: []string{"loss.name", "weighted_ce"}},
		{name: "bad depth", set: []string{"model.depth=30"}, want: []string{"model.depth", "6n+2"}},
		{name: "bad runtime", set: []string{"runtime.opt_level=max"}, want: []string{"runtime.opt_level", "extended"}},
		{name: "warm-up too long", set: []string{"train.epochs=5", "optim.warmup_epochs=5"}, want: []string{"optim.warmup_epochs"}},
		{name: "set without =", set: []string{"optim.lr"}, want: []string{"--set", "key=value"}},
		{name: "bad yaml", yaml: "optim:\n lr: [\n", want: []string{"c.yaml", "not valid YAML"}},
		{name: "duplicate variant", yaml: "compare:\n  - name: a\n  - name: a\n", want: []string{"compare[1].name", "twice"}},
		{name: "negative few_shot", set: []string{"eval.few_shot=-1"}, want: []string{"eval.few_shot", "--set", "-1 is negative"}},
		{name: "many_shot below few_shot", yaml: "eval:\n  many_shot: 10\n  few_shot: 20\n", want: []string{"eval.many_shot", "c.yaml", "below eval.few_shot 20", "many_shot ≥ few_shot"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := Sources{Env: tc.env, Set: tc.set}
			if tc.yaml != "" {
				src.File = writeFile(t, dir, "c.yaml", tc.yaml)
			}
			_, err := Load(src)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %q does not match ErrConfig", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(Sources{File: filepath.Join(t.TempDir(), "none.yaml")})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("got %v; want a config error naming none.yaml", err)
	}
}

func TestUnrelatedEnvIgnored(t *testing.T) {
	if _, err := Load(Sources{Env: []string{"LONGTAIL_LONG=1", "LONGTAIL_ORT_LIBRARY=/x.so", "LONGTAIL_CIFAR10=/data",
		"LONGTAIL_REQUIRE_ORT=1", "LONGTAIL_THREADS=2", "LONGTAIL_OPT_LEVEL=all", "LONGTAIL_DATA_DIR=/d", "LONGTAIL_BENCH_STEPS=3"}}); err != nil {
		t.Fatal(err)
	}
}

func TestLoadVariant(t *testing.T) {
	file := writeFile(t, t.TempDir(), "q.yaml", `
train:
  epochs: 3
compare:
  - name: base
  - name: ours
    set:
      loss.name: weighted_ce
      sampling.name: balanced
      train.epochs: 4
`)
	src := Sources{File: file, Set: []string{"train.epochs=5"}}
	base, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(base.Compare) != 2 || base.Compare[1].Name != "ours" {
		t.Fatalf("compare %+v", base.Compare)
	}
	v0, err := LoadVariant(src, base.Compare[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := LoadVariant(src, base.Compare[1], 1)
	if err != nil {
		t.Fatal(err)
	}
	if v0.Loss.Name != "ce" || v1.Loss.Name != "weighted_ce" || v1.Sampling.Name != "balanced" {
		t.Errorf("variants %q/%q, %q/%q", v0.Loss.Name, v0.Sampling.Name, v1.Loss.Name, v1.Sampling.Name)
	}
	// --set overrides the variant's own setting.
	if v0.Train.Epochs != 5 || v1.Train.Epochs != 5 {
		t.Errorf("epochs %d %d; want 5 5", v0.Train.Epochs, v1.Train.Epochs)
	}
	if len(v0.Compare) != 0 || len(v1.Compare) != 0 {
		t.Errorf("variants keep a compare list")
	}
	bad := Variant{Name: "x", Set: map[string]any{"loss.nmae": "ce"}}
	if _, err := LoadVariant(src, bad, 2); err == nil || !strings.Contains(err.Error(), "did you mean loss.name?") || !strings.Contains(err.Error(), "compare[2]") {
		t.Errorf("got %v; want the misspelled variant key named", err)
	}
}

// TestYAMLRoundTrip checks that a stored config loads back to the same
// config, as resuming from a run directory needs.
func TestYAMLRoundTrip(t *testing.T) {
	c, err := Load(Sources{Set: []string{"optim.lr=0.05", "optim.schedule=step", "optim.milestones=[3, 6]", "loss.name=cb", "runtime.threads=2"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(Sources{File: writeFile(t, t.TempDir(), "config.yaml", string(b))})
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	before, err := Fingerprint(c)
	if err != nil {
		t.Fatal(err)
	}
	after, err := Fingerprint(back)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 || len(before) != len(after) {
		t.Errorf("fingerprint has %d keys before the round trip and %d after", len(before), len(after))
	}
	for _, k := range slices.Sorted(maps.Keys(before)) {
		if v, ok := after[k]; !ok || v != before[k] {
			t.Errorf("%s: %s before the round trip; after: %s (present %v)", k, before[k], v, ok)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s: only after the round trip", k)
		}
	}
	if before["optim.lr"] != "0.05" || before["loss.name"] != `"cb"` {
		t.Errorf("fingerprint optim.lr %s, loss.name %s; want the --set values 0.05 and \"cb\"", before["optim.lr"], before["loss.name"])
	}
	if back.Runtime.Threads != 2 {
		t.Errorf("runtime.threads %d; want 2", back.Runtime.Threads)
	}
	if !strings.HasPrefix(string(b), "data:\n  source: synthetic\n") {
		t.Errorf("stored config does not start with the data section:\n%s", b)
	}
}

// TestKeysMatchDefaults checks that every key has a default entry, so the
// defaults table and the key list cannot drift apart.
func TestKeysMatchDefaults(t *testing.T) {
	c := Default()
	flat, err := c.Flat()
	if err != nil {
		t.Fatal(err)
	}
	keys := Keys()
	if len(flat) != len(keys) {
		t.Errorf("%d defaults for %d keys", len(flat), len(keys))
	}
	for _, k := range keys {
		if _, ok := flat[k]; !ok {
			t.Errorf("key %s has no default", k)
		}
	}
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"optim.lr":                       "LONGTAIL_OPTIM_LR",
		"data.synthetic.train_per_class": "LONGTAIL_DATA_SYNTHETIC_TRAIN_PER_CLASS",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q; want %q", key, got, want)
		}
	}
}

func TestClosest(t *testing.T) {
	known := []string{"optim.lr", "optim.momentum", "train.epochs", "train.eval_every", "sampling.per_class"}
	for _, tc := range []struct{ in, want string }{
		{"optim.lrr", "optim.lr"},
		{"optim.momentun", "optim.momentum"},
		{"trian.epochs", "train.epochs"},
		{"epochs", "train.epochs"},
		{"sampling.perclass", "sampling.per_class"},
		{"model.depth", ""},
	} {
		if got := closest(tc.in, known); got != tc.want {
			t.Errorf("closest(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"ab", "ba", 1}, {"train", "trian", 1}, {"lr", "lrr", 1},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d; want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
