package pipeline

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func testCheckpoint(t *testing.T, cfg *Config) *Checkpoint {
	t.Helper()
	fp, err := Fingerprint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Checkpoint{
		Epoch: 3, Step: 7, OptimizerStep: 37, Seed: cfg.Train.Seed, Config: fp, TrainCounts: []int{50, 5},
		Partial: EpochSums{LossSum: 12.5, Steps: 7, Correct: 40, Seen: 70, Seconds: 1.5},
		State: map[string][]float32{
			"conv.w":          {1, -2.5, float32(math.Inf(1)), 3e-38},
			"conv.w.momentum": {0.25, 0, 0, -0},
			"bn.mean":         {7},
		},
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	cfg := Default()
	ck := testCheckpoint(t, &cfg)
	path := filepath.Join(t.TempDir(), CheckpointFile)
	if err := WriteCheckpoint(path, ck); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Epoch != 3 || got.Step != 7 || got.OptimizerStep != 37 || got.Partial != ck.Partial || !slices.Equal(got.TrainCounts, ck.TrainCounts) {
		t.Errorf("header %+v; want %+v", got, ck)
	}
	for name, v := range ck.State {
		if !slices.Equal(got.State[name], v) {
			t.Errorf("%s = %v; want %v", name, got.State[name], v)
		}
	}
	if len(got.State) != len(ck.State) {
		t.Errorf("%d tensors; want %d", len(got.State), len(ck.State))
	}
	if err := got.Match(path, &cfg, []int{50, 5}); err != nil {
		t.Errorf("match: %v", err)
	}
	// Settings that do not change the result may differ.
	cfg.Runtime.Threads, cfg.Train.EvalEvery, cfg.Output.Dir = 1, 3, "elsewhere"
	cfg.Eval = EvalConfig{ManyShot: 50, FewShot: 10}
	if err := got.Match(path, &cfg, []int{50, 5}); err != nil {
		t.Errorf("match after neutral changes: %v", err)
	}
}

func TestCheckpointCorrupt(t *testing.T) {
	cfg := Default()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ckpt")
	if err := WriteCheckpoint(good, testCheckpoint(t, &cfg)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"flipped bit in a tensor", func(b []byte) []byte { b[len(b)-40] ^= 1; return b }, "checksum mismatch"},
		{"flipped bit in the header", func(b []byte) []byte { b[20] ^= 4; return b }, "checksum mismatch"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-5] }, "checksum mismatch"},
		{"tiny", func(b []byte) []byte { return b[:10] }, "too short"},
		{"other file", func(b []byte) []byte { copy(b, "PK\x03\x04zip!"); return b }, "bad magic"},
		{"newer version", func(b []byte) []byte { b[7] = 9; return b }, "format version 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(p, tc.edit(slices.Clone(data)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadCheckpoint(p)
			if !errors.Is(err, ErrCorruptCheckpoint) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("got %v; want ErrCorruptCheckpoint naming %s and %q", err, p, tc.want)
			}
		})
	}
}

func TestCheckpointMismatch(t *testing.T) {
	cfg := Default()
	path := filepath.Join(t.TempDir(), CheckpointFile)
	if err := WriteCheckpoint(path, testCheckpoint(t, &cfg)); err != nil {
		t.Fatal(err)
	}
	ck, err := ReadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		edit   func(*Config)
		counts []int
		want   []string
	}{
		{"learning rate", func(c *Config) { c.Optim.LR = 0.05 }, []int{50, 5}, []string{"optim.lr: checkpoint 0.1, config 0.05"}},
		{"two keys", func(c *Config) { c.Model.Depth = 8; c.Loss.Name = "cb" }, []int{50, 5}, []string{"model.depth", "loss.name"}},
		{"seed", func(c *Config) { c.Train.Seed = 4 }, []int{50, 5}, []string{"train.seed"}},
		{"data", func(c *Config) {}, []int{50, 6}, []string{"[50 5]", "[50 6]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(&c)
			err := ck.Match(path, &c, tc.counts)
			if !errors.Is(err, ErrCheckpointMismatch) {
				t.Fatalf("got %v; want ErrCheckpointMismatch", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	for _, content := range []string{"first", "second, longer"} {
		if err := WriteFileAtomic(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Errorf("read %q, %v; want %q", got, err, content)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries; want only f.txt (no temporary files)", len(entries))
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "f"), nil); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}
