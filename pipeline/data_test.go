package pipeline

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMissingDataPath checks that a config whose data.path names nothing
// loads (a dry run needs no data), and that checking or loading the data
// then fails with an error that names the key, the path and the command
// that fetches it.
func TestMissingDataPath(t *testing.T) {
	dir := t.TempDir()
	existing := writeFile(t, dir, "cifar-10-binary.tar.gz", "")
	for _, tc := range []struct {
		name, source, path string
		want               []string // substrings of the error; nil: no error
	}{
		{"cifar10 archive in data/", "cifar10", "data/cifar-10-binary.tar.gz",
			[]string{"data.path", `"data/cifar-10-binary.tar.gz"`, "no such file", "`longtail data download cifar10` fetches it"}},
		{"cifar10 archive elsewhere", "cifar10", filepath.Join(dir, "x", "cifar-10-binary.tar.gz"),
			[]string{"`longtail data download cifar10 --dir " + filepath.Join(dir, "x") + "` fetches it"}},
		{"cifar100 folder", "cifar100", filepath.Join(dir, "cifar-100-binary"),
			[]string{"cifar100", "`longtail data download cifar100` fetches it to data/cifar-100-binary.tar.gz, then set data.path to that"}},
		{"image folder", "folder", filepath.Join(dir, "jpegs"), []string{"data.path", "jpegs", "want the folder data set"}},
		{"present", "cifar10", existing, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(Sources{Set: []string{"data.source=" + tc.source, "data.path=" + tc.path}})
			if err != nil {
				t.Fatalf("Load: %v; want a config without reading the data", err)
			}
			err = cfg.Data.CheckPath()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckPath: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNoData) || !errors.Is(err, ErrConfig) {
				t.Errorf("CheckPath: %v; want ErrNoData and ErrConfig", err)
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("CheckPath: %v; want it to contain %q", err, w)
				}
			}
			if _, err := LoadData(cfg.Data, cfg.Augment.Normalize); !errors.Is(err, ErrNoData) {
				t.Errorf("LoadData: %v; want ErrNoData", err)
			}
		})
	}
	syn := Default()
	if err := syn.Data.CheckPath(); err != nil {
		t.Errorf("synthetic data: %v; want no path needed", err)
	}
}

// TestLoadDataLTSeed checks that data.lt_seed, read through Load like any
// key, decides which images each class keeps: the same seed gives the same
// long-tailed training split, another seed another split of the same
// per-class counts.
func TestLoadDataLTSeed(t *testing.T) {
	load := func(seed string) *Data {
		t.Helper()
		cfg, err := Load(Sources{Set: []string{"data.synthetic.classes=3", "data.synthetic.train_per_class=40",
			"data.synthetic.test_per_class=2", "data.imbalance=4", "data.lt_seed=" + seed}})
		if err != nil {
			t.Fatal(err)
		}
		d, err := LoadData(cfg.Data, cfg.Augment.Normalize)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ref := load("0")
	for _, tc := range []struct {
		seed string
		same bool
	}{
		{"0", true},
		{"1", false},
		{"12345", false},
	} {
		t.Run("lt_seed="+tc.seed, func(t *testing.T) {
			d := load(tc.seed)
			if !slices.Equal(d.Train.Counts(), ref.Train.Counts()) {
				t.Fatalf("per-class counts %v; want %v whatever the seed", d.Train.Counts(), ref.Train.Counts())
			}
			if same := bytes.Equal(d.Train.Pix, ref.Train.Pix); same != tc.same {
				t.Errorf("data.lt_seed %s keeps the same images as data.lt_seed 0: %v; want %v", tc.seed, same, tc.same)
			}
			if !bytes.Equal(d.Test.Pix, ref.Test.Pix) {
				t.Errorf("data.lt_seed %s changed the test split; want it untouched", tc.seed)
			}
		})
	}
}
