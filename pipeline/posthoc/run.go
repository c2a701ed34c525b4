package posthoc

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/longtail-ml/longtail/graphs"
	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/runtime"
)

// ReportFile is the table Run writes into the run directory.
const ReportFile = "posthoc.json"

// ErrNoVal: the run has no validation split to choose τ on.
var ErrNoVal = errors.New("posthoc: the run has no validation split")

// ErrUnfinished: the run has no final.json and no checkpoint was named;
// its latest checkpoint is not the model it will report.
var ErrUnfinished = errors.New("posthoc: the run has not finished")

// Options configure Run.
type Options struct {
	// Config chooses the methods and grids; the zero value means defaults.
	Config Config
	// Checkpoint is the checkpoint file; empty means the model the run
	// reports (pipeline.SelectedCheckpoint), which needs a finished run
	// (final.json), else ErrUnfinished.
	Checkpoint string
	// Merge keeps the rows of the posthoc.json already in the run directory
	// when it is of the same checkpoint (its SHA-256) and data: those of
	// methods Config does not list stay, the others are replaced (Merge).
	Merge bool
	// Log receives progress; nil discards.
	Log *slog.Logger
	// Selected, when set, receives the fitted methods once every choice is
	// made, before the test split is read.
	Selected func([]Fitted)

	// data replaces the data the config describes (tests).
	data *pipeline.Data
}

// Report is posthoc.json: every method's choice, classifier, and metrics on
// the validation and test splits.
type Report struct {
	// Checkpoint is the checkpoint file, relative to the run directory when
	// inside it, and CheckpointSHA256 the hex SHA-256 of its bytes; export
	// folds a method only into that checkpoint.
	Checkpoint       string `json:"checkpoint"`
	CheckpointSHA256 string `json:"checkpoint_sha256"`
	// Epoch is the epochs the checkpoint had completed, and Step the steps
	// of the next one it had done: 0 but for a checkpoint taken mid-epoch
	// (an interrupted run's, rebalanced with Options.Checkpoint).
	Epoch       int      `json:"epoch"`
	Step        int      `json:"step,omitempty"`
	Classes     []string `json:"classes"`
	TrainCounts []int    `json:"train_counts"`
	ValCounts   []int    `json:"val_counts"`
	// Config is the resolved method config of the latest Run; after a
	// merge (Options.Merge) its Methods lists every row's method, and the
	// rows kept were chosen on the grids of the Run that made them.
	Config Config `json:"config"`
	// FeatureSeconds is the time spent on features, computing them or
	// reading them from the cache; Computed lists the splits computed.
	FeatureSeconds float64  `json:"feature_seconds"`
	Computed       []string `json:"computed"`
	// Methods starts with the plain model.
	Methods []Result `json:"methods"`
}

// Result is one method's row.
type Result struct {
	Method string           `json:"method"`
	Choice Choice           `json:"choice"`
	Val    pipeline.Metrics `json:"val"`
	Test   pipeline.Metrics `json:"test"`
	// Seconds is the time the method took (fitting and choosing).
	Seconds    float64     `json:"seconds"`
	Classifier *Classifier `json:"classifier"`
}

// Method returns the row of the named method.
func (r *Report) Method(name string) (*Result, bool) {
	for i := range r.Methods {
		if r.Methods[i].Method == name {
			return &r.Methods[i], true
		}
	}
	return nil, false
}

// Run rebalances the classifier of the run in dir, whose stored config is
// cfg: it computes (or reads from RUN_DIR/posthoc/) the pooled features of
// the training and validation splits, fits and chooses every method on them
// (Fit), then computes the test split's features, scores every method on
// validation and test, and writes posthoc.json. The checkpoint must verify
// and match cfg and the data; the run needs a validation split
// (data.val_per_class, or a folder's val/), else ErrNoVal. Without
// Options.Checkpoint the run must have finished (ErrUnfinished); a
// checkpoint taken mid-epoch is rebalanced with a warning in the log.
func Run(cfg *pipeline.Config, dir string, o Options) (*Report, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mc := o.Config.WithDefaults()
	if err := mc.Validate(); err != nil {
		return nil, err
	}
	path := o.Checkpoint
	if path == "" {
		if _, err := os.Stat(filepath.Join(dir, pipeline.FinalFile)); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s has no %s, so its latest checkpoint is not the model it will report; "+
				"finish the training first (`longtail train --resume %s`), or name the checkpoint to rebalance (--checkpoint FILE)",
				ErrUnfinished, dir, pipeline.FinalFile, dir)
		}
		path = pipeline.SelectedCheckpoint(cfg, dir)
	}
	ckSum, err := fileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("posthoc: checkpoint: %w", err)
	}
	ck, err := pipeline.ReadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if ck.Step != 0 {
		log.Warn("posthoc: the checkpoint was taken mid-epoch, not at an epoch's end", "checkpoint", path, "epoch", ck.Epoch+1, "step", ck.Step)
	}
	data, c, err := pipeline.MatchData(cfg, path, ck, o.data)
	if err != nil {
		return nil, err
	}
	counts := data.Train.Counts()
	if data.Val == nil {
		return nil, fmt.Errorf("%w (%s): post-hoc methods choose τ and schedules on one, never on the test set; "+
			"train the run with data.val_per_class=N (N images per class from those the long tail leaves out), "+
			"or give an image folder with a val/ split", ErrNoVal, dir)
	}
	tr := data.Train
	spec := graphs.Spec{Depth: c.Model.Depth, Width: c.Model.Width, Classes: len(counts), Channels: tr.C, Height: tr.H, ImageWidth: tr.W}
	mean, std := data.Mean, data.Std
	if mean == nil { // augment.normalize none
		mean, std = make([]float32, tr.C), slices.Repeat([]float32{1}, tr.C)
	}
	m, err := graphs.BuildExport(spec, ck.State, &graphs.ExportOptions{Classes: tr.Classes, Mean: mean, Std: std, Features: true})
	if err != nil {
		return nil, fmt.Errorf("posthoc: %s: %w", path, err)
	}
	model, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("posthoc: %w", err)
	}
	env, err := runtime.Open(c.Runtime)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	p, err := env.NewPredictor(model)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	ex := &extractor{p: p, dir: filepath.Join(dir, Dir), checkpoint: ckSum,
		mean: mean, std: std, batch: c.Train.EvalBatch, dim: spec.Features()}

	start := time.Now()
	train, err := ex.split("train", data.Train)
	if err != nil {
		return nil, err
	}
	val, err := ex.split("val", data.Val)
	if err != nil {
		return nil, err
	}
	featSec := time.Since(start).Seconds()
	log.Info("posthoc: features", "train", train.Len(), "val", val.Len(), "dim", train.Dim, "computed", ex.computed, "seconds", round3(featSec))
	base := &Classifier{W: ck.State["linear.weight"], B: ck.State["linear.bias"]}
	fitted, err := Fit(base, train, val, counts, mc)
	if err != nil {
		return nil, err
	}
	for _, f := range fitted {
		log.Info("posthoc: chosen", "method", f.Method, "choice", f.Choice.String(), "val_top1", round3(f.ValTop1), "seconds", round3(f.Seconds))
	}
	if o.Selected != nil {
		o.Selected(fitted)
	}

	// Only now the test split: its features, then its labels.
	start = time.Now()
	test, err := ex.split("test", data.Test)
	if err != nil {
		return nil, err
	}
	featSec += time.Since(start).Seconds()
	rel := path
	if r, err := filepath.Rel(dir, path); err == nil && filepath.IsLocal(r) {
		rel = r
	}
	rep := &Report{Checkpoint: rel, CheckpointSHA256: ex.checkpoint, Epoch: ck.Epoch, Step: ck.Step, Classes: tr.Classes,
		TrainCounts: counts, ValCounts: data.Val.Counts(), Config: mc, FeatureSeconds: round3(featSec), Computed: ex.computed}
	for _, f := range fitted {
		r := Result{Method: f.Method, Choice: f.Choice, Seconds: round3(f.Seconds), Classifier: f.Classifier}
		if r.Val, err = score(f.Classifier, val, counts, c.Eval.Shots()); err != nil {
			return nil, err
		}
		if r.Test, err = score(f.Classifier, test, counts, c.Eval.Shots()); err != nil {
			return nil, err
		}
		rep.Methods = append(rep.Methods, r)
	}
	if o.Merge {
		old, err := ReadReport(dir)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			log.Warn("posthoc: replacing an unreadable "+ReportFile, "err", err)
		case !rep.Merge(old):
			log.Info("posthoc: replacing "+ReportFile+" of another checkpoint or data", "checkpoint", old.Checkpoint, "epoch", old.Epoch)
		}
	}
	if err := rep.Write(dir); err != nil {
		return nil, err
	}
	return rep, nil
}

// Merge adds to r the rows of old, an earlier report, when both are of the
// same checkpoint (CheckpointSHA256) and data (classes, training and
// validation counts): r's plain model first, then old's rows in their
// order, each replaced by r's row of the same method, then r's other
// methods in r's order; Config.Methods becomes the rows' methods. It
// reports whether it merged; when not, r is unchanged. r.Methods starts
// with the plain model, as Run makes it.
func (r *Report) Merge(old *Report) bool {
	if len(r.Methods) == 0 || old.CheckpointSHA256 != r.CheckpointSHA256 || !slices.Equal(old.Classes, r.Classes) ||
		!slices.Equal(old.TrainCounts, r.TrainCounts) || !slices.Equal(old.ValCounts, r.ValCounts) {
		return false
	}
	rows := r.Methods[:1:1] // the plain model
	for _, m := range old.Methods {
		if m.Method == Plain {
			continue
		}
		if n, ok := r.Method(m.Method); ok {
			m = *n
		}
		rows = append(rows, m)
	}
	for _, m := range r.Methods[1:] {
		if _, ok := old.Method(m.Method); !ok {
			rows = append(rows, m)
		}
	}
	r.Methods = rows
	r.Config.Methods = nil
	for _, m := range rows {
		if m.Method != Plain {
			r.Config.Methods = append(r.Config.Methods, m.Method)
		}
	}
	return true
}

// score summarises c's predictions on s; counts and shots decide the shot
// groups.
func score(c *Classifier, s *Split, counts []int, shots pipeline.Shots) (pipeline.Metrics, error) {
	t, err := c.Tally(s)
	if err != nil {
		return pipeline.Metrics{}, err
	}
	m, err := t.Summarize(counts, shots)
	if err != nil {
		return pipeline.Metrics{}, fmt.Errorf("posthoc: %s split: %w", s.Name, err)
	}
	return m, nil
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

// Write writes the report to dir/posthoc.json atomically.
func (r *Report) Write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("posthoc: %w", err)
	}
	return pipeline.WriteFileAtomic(filepath.Join(dir, ReportFile), append(b, '\n'))
}

// ReadReport reads dir/posthoc.json.
func ReadReport(dir string) (*Report, error) {
	path := filepath.Join(dir, ReportFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("posthoc: %w (run `longtail posthoc %s` first)", err, dir)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("posthoc: %s: %w", path, err)
	}
	for _, m := range r.Methods {
		if m.Classifier == nil || m.Classifier.check(m.Classifier.Dim()) != nil || len(m.Classifier.B) != len(r.Classes) {
			return nil, fmt.Errorf("posthoc: %s: method %s has no classifier of %d classes", path, m.Method, len(r.Classes))
		}
	}
	return &r, nil
}

// Done reports whether dir's posthoc.json holds every one of methods, for
// the checkpoint the run reports (Current; cfg is the run's config).
func Done(dir string, cfg *pipeline.Config, methods []string) bool {
	r, err := ReadReport(dir)
	if err != nil {
		return false
	}
	for _, m := range methods {
		if _, ok := r.Method(m); !ok {
			return false
		}
	}
	return r.Current(dir, cfg)
}

// Current reports whether r, the posthoc.json of the run in dir whose
// config is cfg, is of the checkpoint the run reports
// (pipeline.SelectedCheckpoint) as it is now: that file, with the SHA-256
// r records. A report of another file, or of the file before it changed
// (training went on, or ran again), is stale.
func (r *Report) Current(dir string, cfg *pipeline.Config) bool {
	path := pipeline.SelectedCheckpoint(cfg, dir)
	if filepath.Join(dir, r.Checkpoint) != path && r.Checkpoint != path {
		return false
	}
	sum, err := fileSHA256(path)
	return err == nil && sum == r.CheckpointSHA256
}

// fileSHA256 is the hex SHA-256 of a file's bytes.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
