package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/graphs"
	"github.com/longtail-ml/longtail/pipeline"
)

type graphsCmd struct {
	app      *app
	cf       configFlags
	out      string
	classes  int
	channels int
	size     int
}

func newGraphsCmd(a *app) *cobra.Command {
	c := &graphsCmd{app: a}
	cmd := &cobra.Command{
		Use:   "graphs --out DIR",
		Short: "Write the ONNX graphs of a training step and of evaluation",
		Long: `graphs writes forward.onnx (training-mode forward pass, BatchNorm on batch
statistics), backward.onnx (gradients and the SGD update) and eval.onnx
(inference with running statistics) for the config's model, optimiser and batch
size, so they can be inspected (e.g. with Netron) or run elsewhere. The model
comes from model.depth and model.width, the optimiser constants from optim.*, the
batch from sampling.batch (0 means 128); the class count defaults to the data
config's.`,
		Example: `  longtail graphs --depth 32 --classes 10 --out /tmp/resnet32
  longtail graphs -c configs/quickstart.yaml --batch 60 --out /tmp/quick`,
		Args: cobra.NoArgs,
		RunE: c.run,
	}
	c.cf.register(cmd)
	c.cf.bindInt(cmd, "depth", "model.depth", "ResNet depth, 6n+2")
	c.cf.bindInt(cmd, "width", "model.width", "stem channels")
	c.cf.bindInt(cmd, "batch", "sampling.batch", "training batch size")
	cmd.Flags().StringVar(&c.out, "out", "", "directory to write the graphs to (required)")
	cmd.Flags().IntVar(&c.classes, "classes", 0, "number of classes (default: the data config's)")
	cmd.Flags().IntVar(&c.channels, "channels", 3, "image channels")
	cmd.Flags().IntVar(&c.size, "size", 32, "image height and width")
	return cmd
}

func (c *graphsCmd) run(cmd *cobra.Command, _ []string) error {
	if c.out == "" {
		return fmt.Errorf("%w: graphs needs --out DIR", errUsage)
	}
	cfg, err := pipeline.Load(c.cf.sources(cmd, c.cf.file))
	if err != nil {
		return err
	}
	classes := c.classes
	if classes == 0 {
		if classes, err = cfg.Data.Classes(); err != nil {
			return err
		}
	}
	batch, err := cfg.Sampling.BatchSize(classes)
	if err != nil {
		return err
	}
	spec := graphs.Spec{Depth: cfg.Model.Depth, Width: cfg.Model.Width, Classes: classes, Channels: c.channels, Height: c.size, ImageWidth: c.size}
	o := graphs.Optim{Momentum: cfg.Optim.Momentum, WeightDecay: cfg.Optim.WeightDecay, SkipNormAndBias: !cfg.Optim.DecayNormAndBias}
	if err := graphs.WriteAll(c.out, spec, batch, o); err != nil {
		return err
	}
	fmt.Fprintf(c.app.stdout, "ResNet-%d (width %d, %d classes, %d×%d×%d input), batch %d: %s, %s, %s\n",
		spec.Depth, spec.Width, classes, c.channels, c.size, c.size, batch,
		filepath.Join(c.out, "forward.onnx"), filepath.Join(c.out, "backward.onnx"), filepath.Join(c.out, "eval.onnx"))
	return nil
}
