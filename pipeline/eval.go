package pipeline

import (
	"path/filepath"
)

// EvaluateCheckpoint evaluates a checkpoint of the run in dir, whose stored
// config is cfg, on the run's test set; path empty means the run's latest
// checkpoint. The checkpoint must verify and match cfg and the data. Epoch in
// the result is the number of epochs the checkpoint had completed.
func EvaluateCheckpoint(cfg *Config, dir, path string) (*Final, error) {
	if path == "" {
		path = filepath.Join(dir, CheckpointFile)
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
