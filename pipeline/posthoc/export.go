package posthoc

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/longtail-ml/longtail/pipeline"
)

// Export builds the run's inference model (pipeline.Export) with the
// classifier of method, as posthoc.json in dir holds it, folded in: the
// exported logits are the method's, so any ONNX consumer runs the
// rebalanced model. The checkpoint is o.Checkpoint or, when empty, the one
// posthoc.json was computed from; either way its bytes must be those
// posthoc.json records (else run longtail posthoc again).
func Export(cfg *pipeline.Config, dir, method string, o pipeline.ExportOptions) ([]byte, error) {
	r, err := ReadReport(dir)
	if err != nil {
		return nil, err
	}
	m, ok := r.Method(method)
	if !ok {
		var have []string
		for _, m := range r.Methods {
			have = append(have, m.Method)
		}
		return nil, fmt.Errorf("posthoc: %s has no method %q; it has %s (longtail posthoc %s --set posthoc.methods=[%s] adds it)",
			filepath.Join(dir, ReportFile), method, strings.Join(have, ", "), dir, method)
	}
	path := o.Checkpoint
	if path == "" {
		path = r.Checkpoint
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("posthoc: checkpoint: %w", err)
	}
	if sum != r.CheckpointSHA256 {
		return nil, fmt.Errorf("posthoc: %s was computed from another checkpoint than %s (SHA-256 %.12s…, now %.12s…); run longtail posthoc %s again",
			filepath.Join(dir, ReportFile), path, r.CheckpointSHA256, sum, dir)
	}
	desc, err := json.Marshal(map[string]any{"method": m.Method, "choice": m.Choice.String(), "val_top1": m.Val.Top1, "test_top1": m.Test.Top1})
	if err != nil {
		return nil, fmt.Errorf("posthoc: %w", err)
	}
	o.Checkpoint, o.Head, o.Posthoc = path, m.Classifier.Head(), string(desc)
	return pipeline.Export(cfg, dir, o)
}
