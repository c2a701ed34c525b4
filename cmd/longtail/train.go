package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/runtime"
)

type trainCmd struct {
	app         *app
	cf          configFlags
	resume      string
	printConfig bool
}

func newTrainCmd(a *app) *cobra.Command {
	c := &trainCmd{app: a}
	cmd := &cobra.Command{
		Use:   "train -c CONFIG | --resume RUN_DIR",
		Short: "Train a model (or each variant of a comparison) and evaluate it",
		Long: `train resolves the config (the YAML file, then LONGTAIL_* environment variables,
then the flags and --set overrides), checks it, and trains in a new run directory,
output.dir/output.name (default runs/<config name>-<time>). Bad settings fail
before any work with one message that names the key.

Each step draws a batch (prefetched on other cores) and, by default, runs one
fused graph: forward pass, loss gradient, backward pass and SGD update in a
single ONNX Runtime run, into which Go injects the loss as per-sample weights
and logit offsets (train.fused_step; Go still reports the loss and accuracy).
The focal loss, or train.fused_step false, takes the split step instead: the
forward graph, the loss and dL/dlogits computed in Go, then the backward graph,
which applies the update. Both give the same update.

Progress shows each epoch's steps with the epoch's ETA and the run's (the
remaining epochs at the speed so far, evaluations included). The test set is
evaluated every train.eval_every epochs and after the last; with a validation
split (data.val_per_class) the evaluations during training run on it and the
test set is read once, after the last epoch. The run directory receives
config.yaml (the fully resolved config), subset.json (the images trained on),
metrics.jsonl and metrics.csv (one row per epoch), final.json, per_class.csv,
per_class.png, checkpoint.ckpt and, with train.select best_val, best.ckpt.

A config with a compare list trains each variant in RUN_DIR/<name> and prints a
side-by-side table of per-class accuracy (also in RUN_DIR/compare.txt).

SIGINT or SIGTERM (Ctrl-C) stops after the current step and writes a checkpoint
of the exact position; --resume RUN_DIR continues it, and the result is the
same as an uninterrupted run's. On resume only settings that do not change the
result (runtime.*, train.eval_every, ...) may be overridden; a damaged or
mismatched checkpoint is refused. A NaN or infinite loss stops the run, naming
the epoch, the step and the last good checkpoint.

--print-config prints the resolved config and exits: it shows every key with
its value (configs/README.md documents them).`,
		Example: `  longtail train -c configs/quickstart.yaml
  longtail train -c configs/paper/if100_ours_bs.yaml --set data.path=data/cifar-10-batches-bin --name ours-if100
  LONGTAIL_RUNTIME_THREADS=2 longtail train -c my.yaml --epochs 10 --set optim.lr=0.05
  longtail train -c my.yaml --print-config
  longtail train --resume runs/ours-if100`,
		Args: cobra.NoArgs,
		RunE: c.run,
	}
	c.cf.register(cmd)
	c.cf.bindInt(cmd, "epochs", "train.epochs", "epochs to train")
	c.cf.bindInt(cmd, "seed", "train.seed", "seed for initialisation, sampling and augmentation")
	c.cf.bindInt(cmd, "threads", "runtime.threads", "ONNX Runtime threads, 0 for all cores")
	c.cf.bindString(cmd, "out", "output.dir", "parent directory of run directories")
	c.cf.bindString(cmd, "name", "output.name", "run directory name")
	cmd.Flags().StringVar(&c.resume, "resume", "", "continue the run in `RUN_DIR` from its checkpoint")
	cmd.Flags().BoolVar(&c.printConfig, "print-config", false, "print the resolved config as YAML and exit")
	return cmd
}

func (c *trainCmd) run(cmd *cobra.Command, _ []string) error {
	log, err := c.app.logger()
	if err != nil {
		return err
	}
	file := c.cf.file
	if c.resume != "" {
		if file != "" {
			return fmt.Errorf("%w: --resume takes the config from %s; drop -c %s", errUsage, filepath.Join(c.resume, pipeline.ConfigFile), file)
		}
		file = filepath.Join(c.resume, pipeline.ConfigFile)
		if _, err := os.Stat(file); err != nil {
			return fmt.Errorf("%w: --resume %s: not a run directory (%v)", errUsage, c.resume, err)
		}
	} else if file == "" && !c.printConfig {
		return fmt.Errorf("%w: train needs -c CONFIG or --resume RUN_DIR (see longtail train --help)", errUsage)
	}
	src := c.cf.sources(cmd, file)
	cfg, err := pipeline.Load(src)
	if err != nil {
		return err
	}
	if c.printConfig {
		if classes, err := cfg.Data.Classes(); err == nil && classes > 0 && len(cfg.Compare) == 0 {
			if err := cfg.Complete(classes); err != nil {
				return err
			}
		}
		y, err := cfg.YAML()
		if err != nil {
			return err
		}
		_, err = c.app.stdout.Write(y)
		return err
	}

	// Missing data or a missing ONNX Runtime fail here, before anything
	// is loaded or written.
	if err := cfg.Data.CheckPath(); err != nil {
		return err
	}
	if _, err := runtime.FindLibrary(cfg.Runtime.Library); err != nil {
		return err
	}
	dir := c.resume
	if dir == "" {
		if cfg.Output.Name == "" {
			base := "run"
			if file != "" {
				base = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
			}
			cfg.Output.Name = base + "-" + time.Now().Format("20060102-150405")
			src.Set = append(src.Set, "output.name='"+cfg.Output.Name+"'")
		}
		dir = filepath.Join(cfg.Output.Dir, cfg.Output.Name)
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
	}()
	opts := pipeline.Options{Log: log, Progress: c.app.stderr, Terminal: c.app.terminal()}
	start := time.Now()

	if len(cfg.Compare) > 0 {
		results, err := pipeline.CompareRun(ctx, src, cfg, dir, opts, c.resume != "")
		if err != nil {
			return err
		}
		names := make([]string, len(results))
		finals := make([]*pipeline.Final, len(results))
		for i, r := range results {
			names[i], finals[i] = cfg.Compare[i].Name, r.Final
		}
		return c.report(dir, start, names, finals, filepath.Join(dir, "compare.png"))
	}
	var res *pipeline.Result
	if c.resume != "" {
		res, err = pipeline.Resume(ctx, cfg, dir, opts)
	} else {
		res, err = pipeline.Train(ctx, cfg, dir, opts)
	}
	if err != nil {
		return err
	}
	return c.report(dir, start, []string{filepath.Base(dir)}, []*pipeline.Final{res.Final}, filepath.Join(dir, pipeline.PlotFile))
}

// report prints the per-class table and where the run is.
func (c *trainCmd) report(dir string, start time.Time, names []string, finals []*pipeline.Final, plot string) error {
	w := c.app.stdout
	fmt.Fprintln(w)
	if err := pipeline.CompareTable(w, names, finals); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nrun directory %s (plot %s), %s\n", dir, plot, time.Since(start).Round(time.Second))
	return nil
}
