package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline/sweep"
	"github.com/longtail-ml/longtail/runtime"
)

type sweepCmd struct {
	app      *app
	file     string
	set      []string
	dir      string
	shard    string
	parallel int
	dryRun   bool
	retrain  bool
}

func newSweepCmd(a *app) *cobra.Command {
	c := &sweepCmd{app: a}
	cmd := &cobra.Command{
		Use:   "sweep -c SWEEP",
		Short: "Train a grid of runs (methods × imbalance factors × seeds), resumably",
		Long: `sweep expands a sweep file (a base config, methods and a grid of keys to lists
of values; configs/README.md, "Sweeps") into named runs, e.g.
if100-ours_bs-seed0, and trains them into the sweep directory (the file's dir,
default runs/<sweep name>), one at a time or --parallel k at once with the cores
split between them. Every run is checked before any trains.

Rerunning the same command continues a sweep: runs with final.json are skipped
(after checking that their config still matches), runs with a checkpoint
resume exactly where they stopped, the rest start. SIGINT or SIGTERM stops
every run at a checkpoint.

A run whose directory holds results or a checkpoint of another config (the
sweep file or --set changed since) is stale: --dry-run marks it so, and the
sweep trains nothing until it is given --retrain-stale, which moves each stale
run directory aside (NAME.stale-<time>) and trains the run again. A run that
fails says whether a rerun can help: a bad config value names the key to
change.

--shard i/N runs only the runs whose index is i mod N, so N processes, on one
machine or many sharing the directory, split the grid; --shard env/N takes i
from $JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or $SLURM_ARRAY_TASK_ID
(Slurm job array), and --shard env makes N the number of runs (one run per
task). 'longtail sweep emit k8s|slurm' writes such a job. A run's lock file
keeps two processes from training it at once. 'longtail report DIR' turns the
results into the paper's table and figures.

--dry-run lists the runs, their state and shard, and trains nothing; it needs
neither the data nor ONNX Runtime, and a missing data.path is a warning (the
run itself refuses to start without it; 'longtail data download' fetches
CIFAR).`,
		Example: `  longtail sweep -c configs/paper-sweep.yaml --dry-run
  longtail sweep -c configs/paper-sweep.yaml --set data.path=data/cifar-10-binary.tar.gz
  longtail sweep -c configs/paper-sweep.yaml --parallel 2
  longtail sweep -c configs/paper-sweep.yaml --shard 0/3      # and 1/3, 2/3 elsewhere
  JOB_COMPLETION_INDEX=4 longtail sweep -c configs/paper-sweep.yaml --shard env
  longtail report runs/paper-sweep`,
		Args: cobra.NoArgs,
		RunE: c.run,
	}
	c.flags(cmd)
	cmd.Flags().StringVar(&c.shard, "shard", "", "run one shard: `i/N`, env/N or env (index from $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID)")
	cmd.Flags().IntVar(&c.parallel, "parallel", 0, "runs to train at once, the cores split between them (default: the file's parallel, else 1)")
	cmd.Flags().BoolVar(&c.dryRun, "dry-run", false, "list the runs and their state; train nothing")
	cmd.Flags().BoolVar(&c.retrain, "retrain-stale", false, "train stale runs (trained with another config) again, moving their directories aside")
	cmd.AddCommand(newEmitCmd(a))
	return cmd
}

// flags registers what loads a sweep: -c, --set and --dir.
func (c *sweepCmd) flags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&c.file, "config", "c", "", "sweep file (configs/README.md, \"Sweeps\")")
	fs.StringArrayVar(&c.set, "set", nil, "override a config key in every run, e.g. --set data.path=data/cifar-10-binary.tar.gz (repeatable)")
	fs.StringVar(&c.dir, "dir", "", "sweep directory (default: the file's dir, else runs/<sweep file name>)")
}

// load reads the sweep file with the environment and --set overrides.
func (c *sweepCmd) load() (*sweep.Sweep, error) {
	if c.file == "" {
		return nil, fmt.Errorf("%w: sweep needs -c SWEEP (e.g. configs/paper-sweep.yaml)", errUsage)
	}
	return sweep.Load(c.file, sweep.Sources{Env: os.Environ(), Set: c.set, Dir: c.dir})
}

func (c *sweepCmd) run(cmd *cobra.Command, _ []string) error {
	log, err := c.app.logger()
	if err != nil {
		return err
	}
	if c.parallel < 0 {
		return fmt.Errorf("%w: --parallel %d; want at least 1", errUsage, c.parallel)
	}
	s, err := c.load()
	if err != nil {
		return err
	}
	shard, err := sweep.ParseShard(c.shard, os.Environ(), len(s.Runs))
	if err != nil {
		return fmt.Errorf("%w: --shard: %w", errUsage, err)
	}
	if c.dryRun {
		return c.list(s, shard)
	}
	if errs := s.MissingData(); len(errs) > 0 {
		return errs[0]
	}
	if _, err := runtime.FindLibrary(s.Runs[0].Config.Runtime.Library); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
	}()
	start := time.Now()
	sum, err := sweep.Train(ctx, s, sweep.Options{
		Shard: shard, Parallel: c.parallel, RetrainStale: c.retrain, Log: log, Progress: c.app.stderr, Terminal: c.app.terminal(),
	})
	if sum != nil {
		fmt.Fprintf(c.app.stdout, "sweep %s, shard %s: %d trained, %d resumed, %d skipped (finished before), %d busy elsewhere, %d failed, %s\n",
			s.Dir, shard, len(sum.Trained), len(sum.Resumed), len(sum.Skipped), len(sum.Busy), len(sum.Failed), time.Since(start).Round(time.Second))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.app.stdout, "report: longtail report %s\n", s.Dir)
	return nil
}

// list prints the runs of the shard with their state.
func (c *sweepCmd) list(s *sweep.Sweep, shard sweep.Shard) error {
	w := c.app.stdout
	fmt.Fprintf(w, "sweep %s: %d runs (%s) in %s\n", c.file, len(s.Runs), s.Counts(), s.Dir)
	for _, err := range s.MissingData() {
		fmt.Fprintf(w, "warning: %v\n", err)
	}
	settings := false
	n := 0
	for _, r := range s.Runs {
		settings = settings || r.Setting != ""
		if shard.Has(r.Index) {
			n++
		}
	}
	if shard.Count > 0 {
		fmt.Fprintf(w, "shard %s: %d runs\n", shard, n)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "#\trun\tmethod\tIF\tseed\t"
	_, lt := s.Grid[sweep.KeyLTSeed]
	if lt {
		head += "lt_seed\t"
	}
	if settings {
		head += "setting\t"
	}
	fmt.Fprintln(tw, head+"state\t")
	var stale []string
	for _, r := range s.Runs {
		if !shard.Has(r.Index) {
			continue
		}
		row := fmt.Sprintf("%d\t%s\t%s\t%g\t%d\t", r.Index, r.Name, r.Method, r.Imbalance, r.Seed)
		if lt {
			row += fmt.Sprintf("%d\t", r.LTSeed)
		}
		if settings {
			row += r.Setting + "\t"
		}
		state, diffs, err := s.State(r)
		if err != nil {
			return err
		}
		if state == sweep.RunStale {
			stale = append(stale, fmt.Sprintf("%s: %s", r.Name, strings.Join(diffs, "; ")))
		}
		fmt.Fprintln(tw, row+state.String()+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(stale) > 0 {
		fmt.Fprintf(w, "%d stale runs (trained with another config; the sweep trains them again only with --retrain-stale):\n", len(stale))
		for _, l := range stale {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	return nil
}
