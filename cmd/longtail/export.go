package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/graphs"
	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/posthoc"
)

type exportCmd struct {
	app        *app
	set        []string
	out        string
	checkpoint string
	keepBN     bool
	posthoc    string
}

func newExportCmd(a *app) *cobra.Command {
	c := &exportCmd{app: a}
	cmd := &cobra.Command{
		Use:   "export RUN_DIR [-o model.onnx]",
		Short: "Export a trained run as an ONNX inference model",
		Long: `export turns the checkpoint of the model the run reports (its latest, or
best.ckpt with train.select best_val; or --checkpoint FILE) into a plain
inference model that any ONNX runtime loads: the evaluation-mode network, with
each BatchNorm's running statistics folded into the convolution before it
(--keep-batchnorm keeps them as BatchNormalization nodes), a dynamic batch,
ONNX opset 9 (the lowest that has every op it uses, for the widest support).

Input "x": float32 N×C×H×W (NCHW; RGB for 3 channels), each value
(pixel/255 − mean[c]) / std[c]. Output "logits": float32 N×classes, in the
order of the class names; softmax gives probabilities. The model's metadata
(metadata_props) holds: classes, mean, std (JSON), input and output in words,
train_counts, imbalance, method, config (the run's resolved YAML) and
config_sha256, epoch, test_top1, longtail_version, graph_sha256 (checked when
longtail reads the model) and format.

--posthoc METHOD folds a post-hoc classifier that longtail posthoc RUN_DIR
chose (tau_norm, logit_adjust, crt, lws or ncm, from RUN_DIR/posthoc.json) into
the model in place of the trained one: a rescaled, shifted or re-trained
linear layer, with the L2 normalisation of the features before it for ncm. The
output is still "logits", so predict and any ONNX consumer run the rebalanced
model with no extra code; the metadata key posthoc describes it.

The default output is RUN_DIR/model.onnx; -o names the model file, or a
directory to write model.onnx into. The file is replaced atomically.
Exporting the same checkpoint twice gives the same bytes.`,
		Example: `  longtail export runs/ours-if100 -o ours-if100.onnx
  longtail export runs/ours-if100 --checkpoint runs/ours-if100/checkpoints/epoch-0100.ckpt -o e100.onnx
  longtail export runs/softmax-if100 --posthoc logit_adjust -o softmax-la.onnx
  longtail predict -m ours-if100.onnx cat.png`,
		Args: cobra.ExactArgs(1),
		RunE: c.run,
	}
	cmd.Flags().StringVarP(&c.out, "output", "o", "", "model `FILE` to write, or a directory for model.onnx (default RUN_DIR/model.onnx)")
	cmd.Flags().StringVar(&c.checkpoint, "checkpoint", "", "checkpoint `FILE` to export (default the run's reported model: checkpoint.ckpt, or best.ckpt with train.select best_val)")
	cmd.Flags().BoolVar(&c.keepBN, "keep-batchnorm", false, "keep BatchNormalization nodes instead of folding them into the convolutions")
	cmd.Flags().StringVar(&c.posthoc, "posthoc", "", "fold the post-hoc `METHOD` of RUN_DIR/posthoc.json into the model (longtail posthoc writes it)")
	cmd.Flags().StringArrayVar(&c.set, "set", nil, "override a key that does not change the result, e.g. --set data.path=DIR")
	return cmd
}

func (c *exportCmd) run(cmd *cobra.Command, args []string) error {
	dir := args[0]
	src := (&configFlags{set: c.set}).sources(cmd, filepath.Join(dir, pipeline.ConfigFile))
	cfg, err := pipeline.Load(src)
	if err != nil {
		return err
	}
	if len(cfg.Compare) > 0 {
		return fmt.Errorf("%w: %s is a comparison; export one of its variants, e.g. %s", errUsage, dir, filepath.Join(dir, cfg.Compare[0].Name))
	}
	out := c.out
	if out == "" {
		out = filepath.Join(dir, "model.onnx")
	} else if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		out = filepath.Join(out, "model.onnx")
	}
	o := pipeline.ExportOptions{Checkpoint: c.checkpoint, KeepBatchNorm: c.keepBN, Version: versionString()}
	var model []byte
	if c.posthoc != "" {
		model, err = posthoc.Export(cfg, dir, c.posthoc, o)
	} else {
		model, err = pipeline.Export(cfg, dir, o)
	}
	if err != nil {
		return err
	}
	info, err := graphs.ParseExport(model)
	if err != nil {
		return fmt.Errorf("export: the model just built does not read back: %w", err)
	}
	if err := pipeline.WriteFileAtomic(out, model); err != nil {
		return err
	}
	epochs := info.Metadata[pipeline.MetaEpoch] + " epochs"
	if epochs == "1 epochs" {
		epochs = "1 epoch"
	}
	if c.posthoc != "" {
		epochs += ", classifier " + c.posthoc
	}
	fmt.Fprintf(c.app.stdout, "%s: ResNet-%d (width %d) after %s, %d classes, input %d×%d×%d normalised by mean %v std %v; ONNX opset %d, %d bytes\n",
		out, cfg.Model.Depth, cfg.Model.Width, epochs, len(info.Classes),
		info.Channels, info.Height, info.Width, info.Mean, info.Std, info.Opset, len(model))
	return nil
}
