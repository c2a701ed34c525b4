package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline"
)

type evalCmd struct {
	app        *app
	set        []string
	config     string
	checkpoint string
	backend    string
	asJSON     bool
	diagram    string
}

func newEvalCmd(a *app) *cobra.Command {
	c := &evalCmd{app: a}
	cmd := &cobra.Command{
		Use:   "eval RUN_DIR | MODEL.onnx",
		Short: "Evaluate a run's checkpoint or an exported model on a balanced test set",
		Long: `eval evaluates a network on the test set and prints top-1, per-class accuracy
(recall) and precision, the standard deviation of per-class accuracy, the
worst class's accuracy, many/medium/few-shot accuracy (classes with > 100,
20-100 and < 20 training images; eval.many_shot and eval.few_shot move the
bounds) and the expected calibration error (15 equal-width confidence bins);
--json prints them with the reliability bins and the confusion matrix instead;
--reliability FILE also draws the reliability diagram.

Given a run directory, eval loads the run's stored config and the checkpoint
of the model the run reports: its latest, or best.ckpt for a train.select
best_val run whose best validation epoch was not the last (or --checkpoint
FILE, e.g. one of RUN_DIR/checkpoints/). Only
settings that do not change the result (runtime.*, train.eval_batch, eval.*)
may be overridden with --set.

Given a model written by longtail export, eval runs it with --backend ort (ONNX
Runtime) or go (pure Go) on the test set of the run it came from: the data
config embedded in the model, or -c CONFIG, with --set overrides (e.g.
data.path where the data lives on this machine). Images are normalised with
the model's mean and std and the shot groups follow its training counts, so
the numbers are the run's own. The Go backend evaluates at most 64 images at
a time.`,
		Example: `  longtail eval runs/quickstart-20260101-120000/ours_bs
  longtail eval runs/ours-if100 --checkpoint runs/ours-if100/checkpoints/epoch-0100.ckpt --json
  longtail eval runs/ours-if100 --set runtime.threads=1
  longtail eval runs/ours-if100 --set eval.many_shot=50 --set eval.few_shot=10
  longtail eval ours-if100.onnx --set data.path=data/cifar-10-batches-bin
  longtail eval ours-if100.onnx --backend go --json`,
		Args: cobra.ExactArgs(1),
		RunE: c.run,
	}
	cmd.Flags().StringArrayVar(&c.set, "set", nil, "override a config key, e.g. --set runtime.threads=1")
	cmd.Flags().StringVar(&c.checkpoint, "checkpoint", "", "checkpoint `FILE` to evaluate (default the run's reported model: checkpoint.ckpt, or best.ckpt with train.select best_val)")
	cmd.Flags().StringVarP(&c.config, "config", "c", "", "with a model: `CONFIG` whose data to evaluate on (default the model's own)")
	cmd.Flags().StringVar(&c.backend, "backend", backendORT, "with a model: ort (ONNX Runtime) or go (pure Go)")
	cmd.Flags().BoolVar(&c.asJSON, "json", false, "print the metrics as JSON")
	cmd.Flags().StringVar(&c.diagram, "reliability", "", "also write the reliability diagram (15 confidence bins) as a PNG to `FILE`")
	return cmd
}

func (c *evalCmd) run(cmd *cobra.Command, args []string) error {
	path := args[0]
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if !st.IsDir() {
		return c.runModel(cmd, path)
	}
	for _, f := range []string{"config", "backend"} {
		if cmd.Flags().Changed(f) {
			return fmt.Errorf("%w: --%s applies to a model file; %s is a run directory", errUsage, f, path)
		}
	}
	src := (&configFlags{set: c.set}).sources(cmd, filepath.Join(path, pipeline.ConfigFile))
	cfg, err := pipeline.Load(src)
	if err != nil {
		return err
	}
	if len(cfg.Compare) > 0 {
		return fmt.Errorf("%w: %s is a comparison; evaluate one of its variants, e.g. %s", errUsage, path, filepath.Join(path, cfg.Compare[0].Name))
	}
	f, err := pipeline.EvaluateCheckpoint(cfg, path, c.checkpoint)
	if err != nil {
		return err
	}
	return c.print(filepath.Base(path), f)
}

// runModel evaluates an exported model.
func (c *evalCmd) runModel(cmd *cobra.Command, path string) error {
	if c.checkpoint != "" {
		return fmt.Errorf("%w: --checkpoint applies to a run directory; %s is a model file", errUsage, path)
	}
	if err := checkBackend(c.backend); err != nil {
		return err
	}
	data, info, err := readModel(path)
	if err != nil {
		return err
	}
	file := c.config
	if file == "" {
		tmp, remove, err := pipeline.EmbeddedConfig(info)
		if err != nil {
			return fmt.Errorf("model %s: %w", path, err)
		}
		defer remove()
		file = tmp
	}
	cfg, err := pipeline.Load((&configFlags{set: c.set}).sources(cmd, file))
	if err != nil {
		return err
	}
	p, err := openModel(path, data, c.backend, cfg.Runtime)
	if err != nil {
		return err
	}
	defer p.Close()
	batch := cfg.Train.EvalBatch
	if c.backend == backendGo {
		batch = min(batch, goEvalBatch)
	}
	f, err := pipeline.EvaluateModel(cfg, p, info, batch)
	if err != nil {
		return err
	}
	return c.print(filepath.Base(path), f)
}

func (c *evalCmd) print(name string, f *pipeline.Final) error {
	if c.diagram != "" {
		if err := pipeline.WriteReliabilityPlot(c.diagram, name, &f.Metrics); err != nil {
			return err
		}
	}
	if c.asJSON {
		enc := json.NewEncoder(c.app.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(f)
	}
	return pipeline.CompareTable(c.app.stdout, []string{name}, []*pipeline.Final{f})
}
