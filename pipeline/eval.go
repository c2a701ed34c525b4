package pipeline

import (
	"fmt"
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
	ck, err := ReadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	t, err := newTrainer(cfg, dir, Options{})
	if err != nil {
		return nil, err
	}
	defer t.close()
	if err := ck.Match(path, t.cfg, t.counts); err != nil {
		return nil, err
	}
	if err := t.build(); err != nil {
		return nil, err
	}
	if err := t.net.SetState(ck.State); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCheckpointMismatch, path, err)
	}
	m, err := t.evaluate()
	if err != nil {
		return nil, err
	}
	return &Final{Metrics: m, Epoch: ck.Epoch, Classes: t.data.Train.Classes, TrainCounts: t.counts}, nil
}
