package pipeline

import (
	"path/filepath"
)

// SelectedCheckpoint is the checkpoint of the model the run in dir reports:
// best.ckpt for a finished train.select best_val run whose best epoch was
// not the last, else the latest checkpoint.
func SelectedCheckpoint(cfg *Config, dir string) string {
	if cfg.Train.Select == SelectBestVal {
		if f, err := ReadFinal(dir); err == nil && f.Last != nil {
			return filepath.Join(dir, BestFile)
		}
	}
	return filepath.Join(dir, CheckpointFile)
}

// EvaluateCheckpoint evaluates a checkpoint of the run in dir, whose stored
// config is cfg, on the run's test set; path empty means the selected
// checkpoint (SelectedCheckpoint). The checkpoint must verify and match cfg
// and the data. Epoch in the result is the number of epochs the checkpoint
// had completed.
func EvaluateCheckpoint(cfg *Config, dir, path string) (*Final, error) {
	if path == "" {
		path = SelectedCheckpoint(cfg, dir)
	}
	t, ck, err := restore(cfg, dir, path, Options{})
	if err != nil {
		return nil, err
	}
	defer t.close()
	m, err := t.evaluate()
	if err != nil {
		return nil, err
	}
	return &Final{Metrics: m, Epoch: ck.Epoch, Classes: t.data.Train.Classes, TrainCounts: t.counts}, nil
}
