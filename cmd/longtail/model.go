package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/longtail-ml/longtail/graphs"
	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/runtime"
	"github.com/longtail-ml/longtail/runtime/gonnx"
)

// Inference backends of predict and eval.
const (
	backendORT = "ort" // ONNX Runtime, the shared library
	backendGo  = "go"  // onnx-go's gorgonia backend, pure Go
)

// goEvalBatch caps the evaluation batch of the Go backend, whose static
// graphs hold every activation of a batch at once.
const goEvalBatch = 64

// classifier is an exported model opened with one of the backends:
// runtime.Predictor or gonnx.Predictor.
type classifier interface {
	Classes() int
	Predict(x []float32, n int) ([]float32, error)
	Close() error
}

// ortClassifier owns the Env its predictor runs in.
type ortClassifier struct {
	*runtime.Predictor
	env *runtime.Env
}

func (o ortClassifier) Close() error {
	err := o.Predictor.Close()
	if cerr := o.env.Close(); err == nil {
		err = cerr
	}
	return err
}

// readModel reads and checks the exported model at path. A run directory
// or a checkpoint, which are not models, fail with the export command
// that makes one.
func readModel(path string) ([]byte, *graphs.ExportInfo, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		if !exists(filepath.Join(path, pipeline.ConfigFile)) {
			return nil, nil, fmt.Errorf("%w: model %s is a directory; want a model file that `longtail export RUN_DIR -o model.onnx` writes", errUsage, path)
		}
		if m := filepath.Join(path, "model.onnx"); exists(m) {
			return nil, nil, fmt.Errorf("%w: model %s is a run directory; its exported model is %s", errUsage, path, m)
		}
		return nil, nil, fmt.Errorf("%w: model %s is a run directory, not a model; `longtail export %s` writes %s",
			errUsage, path, path, filepath.Join(path, "model.onnx"))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("model: %w", err)
	}
	if pipeline.IsCheckpoint(data) {
		run := filepath.Dir(path)
		if filepath.Base(run) == pipeline.CheckpointDir {
			run = filepath.Dir(run)
		}
		return nil, nil, fmt.Errorf("%w: model %s is a training checkpoint, not an exported model; `longtail export %s --checkpoint %s -o model.onnx` makes one",
			errUsage, path, run, path)
	}
	info, err := graphs.ParseExport(data)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", path, err)
	}
	return data, info, nil
}

// checkBackend validates a --backend value.
func checkBackend(backend string) error {
	if backend != backendORT && backend != backendGo {
		return fmt.Errorf("%w: --backend %q; want %s (ONNX Runtime) or %s (pure Go)", errUsage, backend, backendORT, backendGo)
	}
	return nil
}

// openModel opens the model read from path with backend; rt configures
// ONNX Runtime.
func openModel(path string, data []byte, backend string, rt runtime.Options) (classifier, error) {
	if err := checkBackend(backend); err != nil {
		return nil, err
	}
	if backend == backendGo {
		p, err := gonnx.New(data)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", path, err)
		}
		return p, nil
	}
	env, err := runtime.Open(rt)
	if err != nil {
		return nil, fmt.Errorf("%w (or use --backend go, which needs no library)", err)
	}
	p, err := env.NewPredictor(data)
	if err != nil {
		env.Close()
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return ortClassifier{p, env}, nil
}
