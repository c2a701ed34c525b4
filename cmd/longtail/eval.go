package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline"
)

type evalCmd struct {
	app        *app
	set        []string
	checkpoint string
	asJSON     bool
}

func newEvalCmd(a *app) *cobra.Command {
	c := &evalCmd{app: a}
	cmd := &cobra.Command{
		Use:   "eval RUN_DIR",
		Short: "Evaluate a run's checkpoint on its balanced test set",
		Long: `eval loads the run's stored config and its latest checkpoint (or --checkpoint
FILE, e.g. one of RUN_DIR/checkpoints/), evaluates the network on the test set
and prints top-1, per-class accuracy, the standard deviation of per-class
accuracy, and many/medium/few-shot accuracy (classes with > 100, 20-100 and
< 20 training images); --json prints them with the confusion matrix instead.
Only settings that do not change the result (runtime.*, train.eval_batch) may
be overridden with --set.`,
		Example: `  longtail eval runs/quickstart-20260101-120000/ours_bs
  longtail eval runs/ours-if100 --checkpoint runs/ours-if100/checkpoints/epoch-0100.ckpt --json
  longtail eval runs/ours-if100 --set runtime.threads=1`,
		Args: cobra.ExactArgs(1),
		RunE: c.run,
	}
	cmd.Flags().StringArrayVar(&c.set, "set", nil, "override a key that does not change the result, e.g. --set runtime.threads=1")
	cmd.Flags().StringVar(&c.checkpoint, "checkpoint", "", "checkpoint `FILE` to evaluate (default RUN_DIR/checkpoint.ckpt)")
	cmd.Flags().BoolVar(&c.asJSON, "json", false, "print the metrics as JSON")
	return cmd
}

func (c *evalCmd) run(cmd *cobra.Command, args []string) error {
	dir := args[0]
	src := (&configFlags{set: c.set}).sources(cmd, filepath.Join(dir, pipeline.ConfigFile))
	cfg, err := pipeline.Load(src)
	if err != nil {
		return err
	}
	if len(cfg.Compare) > 0 {
		return fmt.Errorf("%w: %s is a comparison; evaluate one of its variants, e.g. %s", errUsage, dir, filepath.Join(dir, cfg.Compare[0].Name))
	}
	f, err := pipeline.EvaluateCheckpoint(cfg, dir, c.checkpoint)
	if err != nil {
		return err
	}
	if c.asJSON {
		enc := json.NewEncoder(c.app.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(f)
	}
	return pipeline.CompareTable(c.app.stdout, []string{filepath.Base(dir)}, []*pipeline.Final{f})
}
