package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

type dataCmd struct {
	app      *app
	cf       configFlags
	grid     string
	perClass int
	subset   string
}

func newDataCmd(a *app) *cobra.Command {
	c := &dataCmd{app: a}
	cmd := &cobra.Command{
		Use:   "data [-c CONFIG]",
		Short: "Show the data a config trains on: classes, long-tailed counts, normalisation",
		Long: `data loads (or generates) the data the config's data section describes, applies
the long tail to the training split, and prints each class with its training and
test images and shot group (many > 100, medium 20-100, few < 20 training
images; eval.many_shot and eval.few_shot move the bounds), the totals and
the normalisation. --write-subset writes the chosen
images (positions within each class, with the data's digest) to a file that
data.subset pins in later runs. --grid writes a PNG of training
images, one row per class. Without -c it shows the built-in synthetic data at
the default imbalance factor 100. 'longtail data download cifar10|cifar100'
fetches the CIFAR archives.`,
		Example: `  longtail data -c configs/quickstart.yaml --grid /tmp/quickstart.png
  longtail data download cifar10 && longtail data -c configs/paper/if100_ours_bs.yaml
  longtail data -c configs/paper/if100_softmax_rs.yaml --write-subset my-if100.json
  longtail data --set data.source=cifar10 --set data.path=data/cifar-10-batches-bin --set data.imbalance=500`,
		Args: cobra.NoArgs,
		RunE: c.run,
	}
	c.cf.register(cmd)
	cmd.AddCommand(newDownloadCmd(a))
	cmd.AddCommand(newDataWriteCmd(a))
	cmd.Flags().StringVar(&c.grid, "grid", "", "write a PNG grid of training images to `FILE`")
	cmd.Flags().IntVar(&c.perClass, "per-class", 8, "images per class in the grid")
	cmd.Flags().StringVar(&c.subset, "write-subset", "", "write the chosen training (and validation) images to `FILE`, for data.subset")
	return cmd
}

func (c *dataCmd) run(cmd *cobra.Command, _ []string) error {
	cfg, err := pipeline.Load(c.cf.sources(cmd, c.cf.file))
	if err != nil {
		return err
	}
	d, err := pipeline.LoadData(cfg.Data, cfg.Augment.Normalize)
	if err != nil {
		return err
	}
	w := c.app.stdout
	tr, te := d.Train, d.Test
	trainCounts, testCounts := tr.Counts(), te.Counts()
	fmt.Fprintf(w, "source %s, images %d×%d×%d (C×H×W), %d classes, imbalance factor %g (%s)\n",
		cfg.Data.Source, tr.C, tr.H, tr.W, len(tr.Classes), cfg.Data.Imbalance, cfg.Data.Profile)
	nameW := len("class")
	for _, n := range tr.Classes {
		nameW = max(nameW, len(n))
	}
	fmt.Fprintf(w, "%5s  %-*s %7s %6s  %s\n", "index", nameW, "class", "train", "test", "group")
	for i, n := range tr.Classes {
		fmt.Fprintf(w, "%5d  %-*s %7d %6d  %s\n", i, nameW, n, trainCounts[i], testCounts[i], group(cfg.Eval.Shots(), trainCounts[i]))
	}
	fmt.Fprintf(w, "%5s  %-*s %7d %6d\n", "", nameW, "total", tr.Len(), te.Len())
	if d.Mean != nil {
		fmt.Fprintf(w, "normalisation: mean %s, std %s\n", floats(d.Mean), floats(d.Std))
	} else {
		fmt.Fprintln(w, "normalisation: none")
	}
	if d.Val != nil {
		fmt.Fprintf(w, "validation: %d images (%d per class)\n", d.Val.Len(), d.Val.Len()/len(d.Val.Classes))
		if s := d.Subset; s != nil && s.Val != nil {
			// Classes the tail keeps (nearly) whole give up training
			// images to the validation split.
			want, err := dataset.LongTailCounts(slices.Max(s.Sizes), len(s.Sizes), cfg.Data.Imbalance, dataset.Profile(cfg.Data.Profile))
			if err == nil {
				var shrunk []string
				for c, n := range trainCounts {
					if n < want[c] {
						shrunk = append(shrunk, fmt.Sprintf("%s %d→%d", tr.Classes[c], want[c], n))
					}
				}
				if len(shrunk) > 0 {
					fmt.Fprintf(w, "validation images taken from the training share of: %s\n", strings.Join(shrunk, ", "))
				}
			}
		}
	}
	if s := d.Subset; s != nil {
		fmt.Fprintf(w, "subset: %s (data %s)\n", s.Digest, d.SourceDigest)
	}
	if c.subset != "" {
		if d.Subset == nil {
			return fmt.Errorf("--write-subset %s: data.imbalance is 1 and there is no validation split; nothing is cut from the training data", c.subset)
		}
		if err := pipeline.WriteSubset(c.subset, d.Subset); err != nil {
			return err
		}
		fmt.Fprintf(w, "subset written to %s; pin it with --set data.subset=%s\n", c.subset, c.subset)
	}
	if c.grid != "" {
		if err := dataset.WriteGrid(c.grid, tr, c.perClass); err != nil {
			return err
		}
		fmt.Fprintf(w, "grid of %d training images per class written to %s\n", c.perClass, c.grid)
	}
	return nil
}

func group(s pipeline.Shots, n int) string {
	return [3]string{"many", "medium", "few"}[s.Group(n)]
}

func floats(v []float32) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.4f", x)
	}
	return "(" + strings.Join(s, ", ") + ")"
}
