package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline/report"
)

type reportCmd struct {
	app      *app
	out      string
	baseline string
}

func newReportCmd(a *app) *cobra.Command {
	c := &reportCmd{app: a}
	cmd := &cobra.Command{
		Use:   "report SWEEP_DIR... | RUN_DIR...",
		Short: "Turn a sweep's or a run's results into the paper's table and figures",
		Long: `report reads a sweep directory (its sweep.json and every run's final.json,
config.yaml and metrics.jsonl), or run directories that longtail train wrote,
and writes, into the first DIR/report (or --out DIR):

  report.md, report.csv   a row per imbalance factor × method: top-1 mean ± std
                          over seeds, the SD of per-class accuracy, many/medium/
                          few-shot accuracy, the worst class's accuracy, the
                          expected calibration error (ECE, 15 bins), and the
                          gain over the baseline method (the sweep's baseline,
                          or --baseline), paired by seed; the headline is the
                          gain at the largest IF; with one row, a per-class
                          table of recall and precision
  fig2_per_class_box.png  the paper's Figure 2: box plots of per-class accuracy
                          per method, one panel per IF
  fig3_per_class_lines.png the paper's Figure 3: per-class accuracy against class
                          index, one line per method, one panel per IF
  reliability.png         reliability diagrams: accuracy per confidence bin
                          against the diagonal, one panel per row
  curves_if<IF>.png       each run's training loss and test top-1 per epoch
  report.html             all of it on one self-contained page

Each file starts with where the numbers come from: the data (source and path,
or the synthetic data's size), the model, the epochs, the settings that are not
at longtail's defaults (for every run, and per method), and the longtail build
that trained the runs and the one that wrote the report.

Shards that shared the directory need nothing more; shards that wrote separate
directories are merged by naming them all (each run is taken from the first
directory that finished it). Runs that have not finished are listed, and left
out of the numbers.

A run directory (train -c CONFIG) is reported as a one-run sweep; a comparison
(a config with a compare list) as one method per variant, the first the
baseline; several run directories side by side, one method each.

The table is also printed.`,
		Example: `  longtail report runs/paper-sweep
  longtail report runs/paper-sweep --baseline cb_rs --out /tmp/paper-report
  longtail report shard0/paper-sweep shard1/paper-sweep shard2/paper-sweep
  longtail report runs/quickstart-20260101-120000                 # a run or a comparison
  longtail report runs/if100_softmax_rs-1 runs/if100_ours_bs-1     # two runs side by side`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("%w: report needs SWEEP_DIR (what `longtail sweep` wrote) or RUN_DIR (what `longtail train` wrote)", errUsage)
			}
			return nil
		},
		RunE: c.run,
	}
	cmd.Flags().StringVarP(&c.out, "out", "o", "", "directory to write the report's files into (default: the first DIR/report)")
	cmd.Flags().StringVar(&c.baseline, "baseline", "", "method to measure gains against (default: the sweep's baseline)")
	return cmd
}

func (c *reportCmd) run(_ *cobra.Command, dirs []string) error {
	log, err := c.app.logger()
	if err != nil {
		return err
	}
	rep, err := report.Build(c.baseline, dirs...)
	if err != nil {
		return err
	}
	if len(rep.Missing) > 0 {
		log.Warn("runs not finished", "count", len(rep.Missing), "runs", rep.Missing)
	}
	out := c.out
	if out == "" {
		out = filepath.Join(dirs[0], report.Dir)
	} else if fi, err := os.Stat(out); err == nil && !fi.IsDir() {
		return fmt.Errorf("%w: --out %s is a file; report writes %s, %s, figures and %s, so --out takes a directory", errUsage, out, report.MarkdownFile, report.CSVFile, report.HTMLFile)
	}
	paths, err := rep.Write(out)
	if err != nil {
		return err
	}
	if err := rep.WriteMarkdown(c.app.stdout); err != nil {
		return err
	}
	fmt.Fprintf(c.app.stdout, "\nwrote %d files to %s; open %s\n", len(paths), out, filepath.Join(out, report.HTMLFile))
	return nil
}
