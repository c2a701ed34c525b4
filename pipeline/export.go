package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/longtail-ml/longtail/graphs"
)

// Metadata keys an exported run adds to graphs' own (see graphs.BuildExport).
const (
	// MetaTrainCounts is the JSON list of training images per class; it
	// decides the many/medium/few-shot groups when the model is evaluated.
	MetaTrainCounts = "train_counts"
	// MetaImbalance is JSON {"factor", "profile", "lt_seed"}: how the
	// training split was made long-tailed.
	MetaImbalance = "imbalance"
	// MetaMethod is JSON {"loss", "weights", "sampling", "batch"}.
	MetaMethod = "method"
	// MetaConfig is the run's fully resolved config as YAML, and
	// MetaConfigSHA256 the hex SHA-256 of exactly that text.
	MetaConfig       = "config"
	MetaConfigSHA256 = "config_sha256"
	// MetaEpoch is the epochs the exported checkpoint had completed, and
	// MetaStep the steps of the next one (0 for an epoch boundary).
	MetaEpoch = "epoch"
	MetaStep  = "step"
	// MetaTestTop1 is the run's final test top-1 (final.json), when the
	// checkpoint is the run's last.
	MetaTestTop1 = "test_top1"
	// MetaVersion is the longtail version that exported the model.
	MetaVersion = "longtail_version"
	// MetaPosthoc is JSON {"method", "choice", "val_top1", "test_top1"}
	// when a post-hoc classifier (pipeline/posthoc) replaces the trained
	// one; the model then has no MetaTestTop1, which is the run's.
	MetaPosthoc = "posthoc"
)

// ErrModelData: an exported model and the data it is evaluated on do not fit.
var ErrModelData = errors.New("pipeline: model does not fit the data")

// Predictor is what evaluation needs of a model: Network has it, and so do
// the inference backends (runtime.Predictor, runtime/gonnx.Predictor).
type Predictor interface {
	Classes() int
	// Predict returns n×Classes logits for n normalised N×C×H×W images.
	Predict(x []float32, n int) ([]float32, error)
}

// ExportOptions configure Export; the zero value exports the latest
// checkpoint with BatchNorm folded.
type ExportOptions struct {
	// Checkpoint is the checkpoint file; empty means the model the run
	// reports (SelectedCheckpoint).
	Checkpoint string
	// KeepBatchNorm keeps BatchNormalization nodes (graphs.ExportOptions).
	KeepBatchNorm bool
	// Version is recorded as MetaVersion; empty means graphs.Version.
	Version string
	// Head, when set, replaces the trained classifier (graphs.Head), and
	// Posthoc, its description, is recorded as MetaPosthoc; package
	// pipeline/posthoc fills both from posthoc.json.
	Head    *graphs.Head
	Posthoc string
}

// Export builds the inference model of the run in dir, whose stored config
// is cfg, from its checkpoint and returns it serialised. The checkpoint must
// verify and match cfg and the data, which are loaded for the class names,
// the normalisation and the training counts. The result is a function of
// the run: exporting twice gives the same bytes.
func Export(cfg *Config, dir string, o ExportOptions) ([]byte, error) {
	path := o.Checkpoint
	if path == "" {
		path = SelectedCheckpoint(cfg, dir)
	}
	ck, err := ReadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	data, c, err := MatchData(cfg, path, ck, nil)
	if err != nil {
		return nil, err
	}
	counts := data.Train.Counts()
	tr := data.Train
	spec := graphs.Spec{Depth: c.Model.Depth, Width: c.Model.Width, Classes: len(counts), Channels: tr.C, Height: tr.H, ImageWidth: tr.W}
	mean, std := data.Mean, data.Std
	if mean == nil { // augment.normalize none
		mean, std = make([]float32, tr.C), slices.Repeat([]float32{1}, tr.C)
	}
	y, err := c.YAML()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(y)
	jsonOf := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err) // plain values always marshal
		}
		return string(b)
	}
	version := o.Version
	if version == "" {
		version = graphs.Version
	}
	meta := map[string]string{
		MetaTrainCounts:  jsonOf(counts),
		MetaImbalance:    jsonOf(map[string]any{"factor": c.Data.Imbalance, "profile": c.Data.Profile, "lt_seed": c.Data.LTSeed}),
		MetaMethod:       jsonOf(map[string]any{"loss": c.Loss.Name, "weights": c.Loss.Weights, "sampling": c.Sampling.Name, "batch": c.Sampling.Batch}),
		MetaConfig:       string(y),
		MetaConfigSHA256: hex.EncodeToString(sum[:]),
		MetaEpoch:        strconv.Itoa(ck.Epoch),
		MetaStep:         strconv.Itoa(ck.Step),
		MetaVersion:      version,
	}
	if f, err := ReadFinal(dir); err == nil && f.Epoch == ck.Epoch && ck.Step == 0 && o.Head == nil {
		meta[MetaTestTop1] = strconv.FormatFloat(f.Top1, 'g', -1, 64)
	}
	if o.Head != nil {
		meta[MetaPosthoc] = o.Posthoc
	}
	m, err := graphs.BuildExport(spec, ck.State, &graphs.ExportOptions{
		Classes: tr.Classes, Mean: mean, Std: std, KeepBatchNorm: o.KeepBatchNorm, Metadata: meta, Head: o.Head})
	if err != nil {
		return nil, fmt.Errorf("pipeline: export %s: %w", path, err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("pipeline: export %s: %w", path, err)
	}
	return b, nil
}

// MatchData loads cfg's data (unless data is given), completes a copy of
// cfg for its class count and checks that ck, read from path, was written
// under that config and data.
func MatchData(cfg *Config, path string, ck *Checkpoint, data *Data) (*Data, *Config, error) {
	if data == nil {
		var err error
		if data, err = LoadData(cfg.Data, cfg.Augment.Normalize); err != nil {
			return nil, nil, err
		}
	}
	counts := data.Train.Counts()
	c := *cfg
	if err := c.Complete(len(counts)); err != nil {
		return nil, nil, err
	}
	if err := ck.Match(path, &c, counts); err != nil {
		return nil, nil, err
	}
	return data, &c, nil
}

// EmbeddedConfig returns the config embedded in an exported run's model
// (MetaConfig) written to a temporary file, for Load; remove deletes it.
func EmbeddedConfig(info *graphs.ExportInfo) (path string, remove func(), err error) {
	y, ok := info.Metadata[MetaConfig]
	if !ok {
		return "", nil, fmt.Errorf("pipeline: the model has no %q metadata (not exported from a run); give the data with -c CONFIG", MetaConfig)
	}
	f, err := os.CreateTemp("", "longtail-model-config-*.yaml")
	if err != nil {
		return "", nil, fmt.Errorf("pipeline: %w", err)
	}
	remove = func() { os.Remove(f.Name()) }
	_, err = f.WriteString(y)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		remove()
		return "", nil, fmt.Errorf("pipeline: %w", err)
	}
	return f.Name(), remove, nil
}

// EvaluateModel evaluates p, an exported model that info describes, on the
// test split of cfg's data, batch images at a time, with the metrics of
// training. The images are normalised as the model's metadata says; the
// shot groups follow the model's training counts (MetaTrainCounts), or the
// data's when the model has none, and cfg's eval thresholds. The test set must have the model's
// classes, in order, and its input size.
func EvaluateModel(cfg *Config, p Predictor, info *graphs.ExportInfo, batch int) (*Final, error) {
	data, err := LoadData(cfg.Data, cfg.Augment.Normalize)
	if err != nil {
		return nil, err
	}
	test := data.Test
	if test.C != info.Channels || test.H != info.Height || test.W != info.Width {
		return nil, fmt.Errorf("%w: the model takes %d×%d×%d images; the test set's are %d×%d×%d",
			ErrModelData, info.Channels, info.Height, info.Width, test.C, test.H, test.W)
	}
	if !slices.Equal(test.Classes, info.Classes) {
		return nil, fmt.Errorf("%w: the model's classes are %q; the test set's %q", ErrModelData, info.Classes, test.Classes)
	}
	if p.Classes() != len(info.Classes) {
		return nil, fmt.Errorf("%w: the model has %d logits for %d classes", ErrModelData, p.Classes(), len(info.Classes))
	}
	counts := data.Train.Counts()
	if s, ok := info.Metadata[MetaTrainCounts]; ok {
		if err := json.Unmarshal([]byte(s), &counts); err != nil || len(counts) != len(info.Classes) {
			return nil, fmt.Errorf("pipeline: model metadata %s %q: want one count per class (%d)", MetaTrainCounts, s, len(info.Classes))
		}
	}
	m, _, err := evaluate(p, test, info.Mean, info.Std, counts, cfg.Eval.Shots(), batch, nil)
	if err != nil {
		return nil, err
	}
	f := &Final{Metrics: m, Classes: info.Classes, TrainCounts: counts}
	if s, ok := info.Metadata[MetaEpoch]; ok {
		if f.Epoch, err = strconv.Atoi(s); err != nil {
			return nil, fmt.Errorf("pipeline: model metadata %s %q: %w", MetaEpoch, s, err)
		}
	}
	return f, nil
}
