package pipeline

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// Files of a run directory.
const (
	ConfigFile     = "config.yaml"     // the fully resolved config
	MetricsJSONL   = "metrics.jsonl"   // one EpochRecord per line
	MetricsCSV     = "metrics.csv"     // the same, one row per epoch
	FinalFile      = "final.json"      // the Final result
	PerClassCSV    = "per_class.csv"   // class, name, training images, final accuracy (recall), precision
	PlotFile       = "per_class.png"   // per-class accuracy bars and box plot
	CheckpointFile = "checkpoint.ckpt" // the latest checkpoint
	BestFile       = "best.ckpt"       // the best validation epoch's, with train.select best_val
	CheckpointDir  = "checkpoints"     // copies kept every train.checkpoint_every epochs
	CompareFile    = "compare.txt"     // a compare run's side-by-side table
)

// ErrRunExists reports a run directory that already holds a run.
var ErrRunExists = errors.New("pipeline: run directory already holds a run")

// EpochRecord is one epoch's line of metrics.jsonl and row of metrics.csv.
type EpochRecord struct {
	// Epoch counts completed epochs, from 1.
	Epoch int `json:"epoch"`
	// Loss is the mean training loss over the epoch's steps.
	Loss float64 `json:"loss"`
	// LR is the epoch's learning rate.
	LR float64 `json:"lr"`
	// TrainAcc is the training top-1 over the epoch's (augmented) batches.
	TrainAcc float64 `json:"train_acc"`
	// ImagesPerSec is training throughput: images over step time.
	ImagesPerSec float64 `json:"images_per_s"`
	// Eval holds the test metrics on evaluation epochs; with a validation
	// split, only on the last.
	Eval *Metrics `json:"eval,omitempty"`
	// Val holds the validation metrics on evaluation epochs.
	Val *Metrics `json:"val,omitempty"`
}

// Final is final.json: the last epoch's evaluation with its context.
type Final struct {
	// Metrics are the test metrics of the selected model.
	Metrics
	// Epoch is the selected model's epoch: the last with train.select last,
	// the best validation epoch with best_val; never the best test epoch.
	Epoch int `json:"epoch"`
	// Select is train.select; empty in runs from before it existed (last).
	Select string `json:"select,omitempty"`
	// Val is the selected model's validation metrics; nil without a
	// validation split.
	Val *Metrics `json:"val,omitempty"`
	// Last is the last epoch's test metrics when another epoch is selected.
	Last *Metrics `json:"last,omitempty"`
	// DataDigest is the training data's content digest before the long
	// tail; SubsetDigest the chosen images' (subset.json in the run
	// directory); empty when not recorded.
	DataDigest   string   `json:"data_digest,omitempty"`
	SubsetDigest string   `json:"subset_digest,omitempty"`
	Classes      []string `json:"classes"`
	TrainCounts  []int    `json:"train_counts"`
	// Version is the longtail that finished the run (Version); empty in
	// runs finished before it was recorded.
	Version string `json:"longtail_version,omitempty"`
}

// createRunDir makes dir for a new run; one that holds a config or a
// checkpoint already is refused.
func createRunDir(dir string) error {
	for _, f := range []string{ConfigFile, CheckpointFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("%w: %s has %s; resume it with `longtail train --resume %s` or pick another output.name", ErrRunExists, dir, f, dir)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("pipeline: run directory: %w", err)
	}
	return nil
}

// WriteMetrics rewrites metrics.jsonl and metrics.csv with every record so
// far; each file is replaced atomically, so a crash leaves whole files.
func WriteMetrics(dir string, classes []string, recs []EpochRecord) error {
	err := WriteAtomic(filepath.Join(dir, MetricsJSONL), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return WriteAtomic(filepath.Join(dir, MetricsCSV), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		head := []string{"epoch", "loss", "lr", "train_acc", "images_per_s", "test_top1", "test_sd", "many", "medium", "few"}
		for _, c := range classes {
			head = append(head, "acc_"+c)
		}
		head = append(head, "val_top1", "val_sd")
		if err := cw.Write(head); err != nil {
			return err
		}
		for _, r := range recs {
			if err := cw.Write(r.csvRow(len(classes))); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

func (r EpochRecord) csvRow(classes int) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	opt := func(v *float64) string {
		if v == nil {
			return ""
		}
		return f(*v)
	}
	row := []string{strconv.Itoa(r.Epoch), f(r.Loss), f(r.LR), f(r.TrainAcc), strconv.FormatFloat(r.ImagesPerSec, 'f', 1, 64)}
	if r.Eval == nil {
		for range 5 + classes {
			row = append(row, "")
		}
	} else {
		row = append(row, f(r.Eval.Top1), f(r.Eval.SD), opt(r.Eval.Many), opt(r.Eval.Medium), opt(r.Eval.Few))
		for _, a := range r.Eval.PerClass {
			row = append(row, f(a))
		}
	}
	if r.Val == nil {
		return append(row, "", "")
	}
	return append(row, f(r.Val.Top1), f(r.Val.SD))
}

// ReadMetrics reads a run's metrics.jsonl; a missing file is no records.
func ReadMetrics(dir string) ([]EpochRecord, error) {
	path := filepath.Join(dir, MetricsJSONL)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	var recs []EpochRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	for line := 1; sc.Scan(); line++ {
		var r EpochRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("pipeline: %s line %d: %w", path, line, err)
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

// WriteFinal writes final.json, per_class.csv and the per-class plot of a
// finished run into dir.
func WriteFinal(dir, title string, f *Final) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("pipeline: final metrics: %w", err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, FinalFile), append(b, '\n')); err != nil {
		return err
	}
	err = WriteAtomic(filepath.Join(dir, PerClassCSV), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"class", "name", "train_images", "accuracy", "precision"}); err != nil {
			return err
		}
		for c, a := range f.PerClass {
			prec := ""
			if c < len(f.Precision) {
				prec = strconv.FormatFloat(f.Precision[c], 'g', 6, 64)
			}
			if err := cw.Write([]string{strconv.Itoa(c), f.Classes[c], strconv.Itoa(f.TrainCounts[c]), strconv.FormatFloat(a, 'g', 6, 64), prec}); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return err
	}
	if err := WritePerClassPlot(filepath.Join(dir, PlotFile), title, f.Classes, []Series{{Name: title, PerClass: f.PerClass}}); err != nil {
		return err
	}
	if !f.HasCalibration() {
		return nil
	}
	return WriteReliabilityPlot(filepath.Join(dir, ReliabilityFile), title, &f.Metrics)
}

// ReadFinal reads a run's final.json. A file written before precision and
// the worst class were recorded gets them from its confusion matrix.
func ReadFinal(dir string) (*Final, error) {
	path := filepath.Join(dir, FinalFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	var f Final
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", path, err)
	}
	f.complete()
	return &f, nil
}
