package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
)

// Checkpoint errors; ReadCheckpoint and Checkpoint.Match wrap them with the
// file and what is wrong.
var (
	ErrCorruptCheckpoint  = errors.New("pipeline: corrupt checkpoint")
	ErrCheckpointMismatch = errors.New("pipeline: checkpoint does not match the run")
)

// checkpointMagic starts every checkpoint file; the last byte is the format
// version.
const checkpointMagic = "LTCKPT\x00\x01"

// IsCheckpoint reports whether data starts as a checkpoint file does (of
// any format version), so that a command handed one where it wants another
// file can say so.
func IsCheckpoint(data []byte) bool {
	return len(data) >= len(checkpointMagic) && string(data[:len(checkpointMagic)-1]) == checkpointMagic[:len(checkpointMagic)-1]
}

// Checkpoint is the whole training state. Sampling and augmentation are pure
// functions of (seed, epoch, position), so Epoch and Step are the sampler's
// and the random streams' state.
//
// The file holds the magic, a little-endian uint32 header length, the JSON
// header, the tensors as little-endian float32 in the header's order, and the
// SHA-256 of everything before it.
type Checkpoint struct {
	// Epoch is the epoch in progress (0-based) and Step the steps of it done;
	// Step 0 means the epoch has not started.
	Epoch int `json:"epoch"`
	Step  int `json:"step"`
	// OptimizerStep counts SGD updates since the start of training.
	OptimizerStep int64 `json:"optimizer_step"`
	// Seed is train.seed.
	Seed int64 `json:"seed"`
	// Config holds the keys that decide the result (Fingerprint's keys),
	// rendered as text, so that a mismatch can name them.
	Config map[string]string `json:"config"`
	// TrainCounts is the training images per class, a fingerprint of the data.
	TrainCounts []int `json:"train_counts"`
	// Partial holds the running sums of the epoch in progress.
	Partial EpochSums `json:"partial"`
	// State is the network's parameters, momentum and BatchNorm statistics.
	State map[string][]float32 `json:"-"`
}

// EpochSums are the running sums behind an epoch's training metrics.
type EpochSums struct {
	LossSum float64 `json:"loss_sum"`
	Steps   int     `json:"steps"`
	Correct int64   `json:"correct"`
	Seen    int64   `json:"seen"`
	// Seconds is the time spent in training steps, for images/s.
	Seconds float64 `json:"seconds"`
}

type checkpointHeader struct {
	Checkpoint
	Tensors []tensorInfo `json:"tensors"`
}

type tensorInfo struct {
	Name string `json:"name"`
	Len  int    `json:"len"`
}

// neutralKeys are the config keys (and prefixes) that do not change what
// training computes; every other key must match for a checkpoint to be
// resumed. eval.* only shapes the summaries of an evaluation.
func neutralKeys() []string {
	return []string{"runtime.", "output.", "compare", "data.path", "sampling.workers", "sampling.prefetch",
		"train.eval_every", "train.eval_batch", "train.checkpoint_every", "eval."}
}

// Fingerprint renders the keys of c that decide the training result.
func Fingerprint(c *Config) (map[string]string, error) {
	flat, err := c.Flat()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range flat {
		if slices.ContainsFunc(neutralKeys(), func(p string) bool { return strings.HasPrefix(k, p) }) {
			continue
		}
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.Len() == 0 {
			v = []any{} // nil and empty lists are the same setting
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("pipeline: fingerprint %s: %w", k, err)
		}
		out[k] = string(b)
	}
	return out, nil
}

// WriteCheckpoint writes ck to path atomically.
func WriteCheckpoint(path string, ck *Checkpoint) error {
	h := checkpointHeader{Checkpoint: *ck}
	for _, name := range slices.Sorted(maps.Keys(ck.State)) {
		h.Tensors = append(h.Tensors, tensorInfo{name, len(ck.State[name])})
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("pipeline: checkpoint %s: %w", path, err)
	}
	return WriteAtomic(path, func(w io.Writer) error {
		sum := sha256.New()
		mw := io.MultiWriter(w, sum)
		var n [4]byte
		binary.LittleEndian.PutUint32(n[:], uint32(len(hdr)))
		for _, b := range [][]byte{[]byte(checkpointMagic), n[:], hdr} {
			if _, err := mw.Write(b); err != nil {
				return err
			}
		}
		buf := make([]byte, 0, 1<<16)
		for _, t := range h.Tensors {
			for _, v := range ck.State[t.Name] {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				if len(buf) == cap(buf) {
					if _, err := mw.Write(buf); err != nil {
						return err
					}
					buf = buf[:0]
				}
			}
		}
		if _, err := mw.Write(buf); err != nil {
			return err
		}
		_, err := w.Write(sum.Sum(nil))
		return err
	})
}

// ReadCheckpoint reads and verifies a checkpoint; a truncated, altered or
// foreign file is refused with ErrCorruptCheckpoint.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: checkpoint: %w", err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorruptCheckpoint, path, fmt.Sprintf(format, args...))
	}
	const fixed = len(checkpointMagic) + 4 + sha256.Size
	if len(data) < fixed {
		return nil, corrupt("%d bytes, too short for a checkpoint", len(data))
	}
	if string(data[:len(checkpointMagic)]) != checkpointMagic {
		if string(data[:6]) == checkpointMagic[:6] {
			return nil, corrupt("format version %d; this longtail reads version %d", data[7], checkpointMagic[7])
		}
		return nil, corrupt("not a longtail checkpoint (bad magic)")
	}
	body, want := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], want) {
		return nil, corrupt("checksum mismatch (stored %s…, computed %s…): the file is truncated or damaged",
			hex.EncodeToString(want[:6]), hex.EncodeToString(got[:6]))
	}
	rest := body[len(checkpointMagic):]
	n := int(binary.LittleEndian.Uint32(rest))
	rest = rest[4:]
	if n > len(rest) {
		return nil, corrupt("header length %d exceeds the file", n)
	}
	var h checkpointHeader
	if err := json.Unmarshal(rest[:n], &h); err != nil {
		return nil, corrupt("header: %v", err)
	}
	rest = rest[n:]
	total := 0
	for _, t := range h.Tensors {
		total += t.Len
	}
	if total*4 != len(rest) {
		return nil, corrupt("header lists %d floats, file holds %d bytes of them", total, len(rest))
	}
	ck := h.Checkpoint
	ck.State = make(map[string][]float32, len(h.Tensors))
	for _, t := range h.Tensors {
		v := make([]float32, t.Len)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(rest[4*i:]))
		}
		ck.State[t.Name] = v
		rest = rest[4*t.Len:]
	}
	return &ck, nil
}

// Match checks that the checkpoint was written by a run of cfg on data with
// trainCounts images per class; a mismatch names the differing keys.
func (ck *Checkpoint) Match(path string, cfg *Config, trainCounts []int) error {
	fp, err := Fingerprint(cfg)
	if err != nil {
		return err
	}
	def := Default()
	defFP, err := Fingerprint(&def)
	if err != nil {
		return err
	}
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(fp)) {
		if old, ok := ck.Config[k]; !ok {
			// A key added after the checkpoint was written matches at
			// its default, which is what the older version did.
			if d, ok := defFP[k]; !ok || d != fp[k] {
				diffs = append(diffs, fmt.Sprintf("%s (not in the checkpoint)", k))
			}
		} else if old != fp[k] {
			diffs = append(diffs, fmt.Sprintf("%s: checkpoint %s, config %s", k, old, fp[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ck.Config)) {
		if _, ok := fp[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s (only in the checkpoint)", k))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: %s was written with a different config: %s", ErrCheckpointMismatch, path, strings.Join(diffs, "; "))
	}
	if !slices.Equal(ck.TrainCounts, trainCounts) {
		return fmt.Errorf("%w: %s was written for training data with %v images per class, not %v", ErrCheckpointMismatch, path, ck.TrainCounts, trainCounts)
	}
	if cfg.Train.Seed != ck.Seed {
		return fmt.Errorf("%w: %s has seed %d, the config %d", ErrCheckpointMismatch, path, ck.Seed, cfg.Train.Seed)
	}
	return nil
}
