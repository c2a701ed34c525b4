package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/posthoc"
)

type posthocCmd struct {
	app        *app
	set        []string
	config     string
	checkpoint string
	asJSON     bool
}

func newPosthocCmd(a *app) *cobra.Command {
	c := &posthocCmd{app: a}
	cmd := &cobra.Command{
		Use:   "posthoc RUN_DIR [-c CONFIG]",
		Short: "Rebalance a trained run's classifier after training (τ-norm, logit adjustment, cRT, LWS, NCM)",
		Long: `posthoc rebalances the classifier of a finished run without retraining the
network: it computes the pooled features of the run's checkpoint once with ONNX
Runtime (cached in RUN_DIR/posthoc/, recomputed when the checkpoint or the data
change), then fits each method on them:

  tau_norm      each weight row divided by ‖w_j‖^τ, the bias kept or dropped
  logit_adjust  the bias shifted by −τ·log(prior), the prior from the training counts
  crt           the classifier re-trained from scratch on the frozen features
  lws           one learned scale per class on the frozen classifier
  ncm           nearest class mean of the L2-normalised features

Each method's τ (from posthoc.tau) or schedule (posthoc.train.lr ×
posthoc.train.epochs, SGD with momentum and a cosine rate, balanced sampling
and cross-entropy by default) is chosen by top-1 on the run's validation split
(data.val_per_class, or an image folder's val/), never on the test set, which
is read only for the final numbers. A run without a validation split is
refused: train it with data.val_per_class set. So is a run that has not
finished (no final.json), unless --checkpoint FILE names the checkpoint to
rebalance; a checkpoint taken mid-epoch is rebalanced with a warning, and
the table's heading names the checkpoint's epoch.

The table (method × top-1, SD of per-class accuracy, many/medium/few-shot and
the worst class, on validation and test) is printed and written to
RUN_DIR/posthoc.json with each method's choice and classifier; longtail report
RUN_DIR shows it beside the run, and longtail export --posthoc METHOD folds a
method into the exported model.

-c CONFIG is a YAML file with a posthoc: section (configs/README.md lists its
keys); --set posthoc.KEY=VALUE overrides one, and --set of any other key
overrides the run's config where that does not change the result (runtime.*,
data.path).`,
		Example: `  longtail posthoc runs/softmax-if100
  longtail posthoc runs/softmax-if100 --set posthoc.methods=[tau_norm,logit_adjust] --json
  longtail posthoc runs/softmax-if100 -c configs/posthoc/defaults.yaml --set runtime.threads=2
  longtail export runs/softmax-if100 --posthoc logit_adjust -o softmax-la.onnx`,
		Args: cobra.ExactArgs(1),
		RunE: c.run,
	}
	cmd.Flags().StringVarP(&c.config, "config", "c", "", "YAML `CONFIG` with a posthoc: section (methods, tau, train)")
	cmd.Flags().StringArrayVar(&c.set, "set", nil, "override a posthoc key (posthoc.tau=[0,0.5,1]) or a run key that does not change the result (runtime.threads=1)")
	cmd.Flags().StringVar(&c.checkpoint, "checkpoint", "", "checkpoint `FILE` to rebalance (default the run's selected model, which needs a finished run)")
	cmd.Flags().BoolVar(&c.asJSON, "json", false, "print posthoc.json instead of the table")
	return cmd
}

func (c *posthocCmd) run(cmd *cobra.Command, args []string) error {
	dir := args[0]
	var runSet, phSet []string
	for _, s := range c.set {
		if posthoc.IsKey(s) {
			phSet = append(phSet, s)
		} else {
			runSet = append(runSet, s)
		}
	}
	mc, err := posthoc.LoadConfig(c.config, phSet)
	if err != nil {
		return err
	}
	cfg, err := pipeline.Load((&configFlags{set: runSet}).sources(cmd, filepath.Join(dir, pipeline.ConfigFile)))
	if err != nil {
		return err
	}
	if len(cfg.Compare) > 0 {
		return fmt.Errorf("%w: %s is a comparison; rebalance one of its variants, e.g. %s", errUsage, dir, filepath.Join(dir, cfg.Compare[0].Name))
	}
	log, err := c.app.logger()
	if err != nil {
		return err
	}
	rep, err := posthoc.Run(cfg, dir, posthoc.Options{Config: mc, Checkpoint: c.checkpoint, Log: log})
	if err != nil {
		return err
	}
	if c.asJSON {
		enc := json.NewEncoder(c.app.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	if err := posthoc.WriteTable(c.app.stdout, rep); err != nil {
		return err
	}
	fmt.Fprintf(c.app.stdout, "written to %s\n", filepath.Join(dir, posthoc.ReportFile))
	return nil
}
