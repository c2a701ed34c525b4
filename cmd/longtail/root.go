package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitConfig      = 2   // a bad config or flag
	exitInterrupted = 130 // SIGINT/SIGTERM, after the checkpoint
)

// app is what every command shares: the output streams and logging flags.
type app struct {
	stdout, stderr io.Writer
	logLevel       string
	logFormat      string
	// archives replaces dataset.Archives when set (tests serve their own).
	archives map[string]dataset.Archive
}

// archive is the download source of a data set name.
func (a *app) archive(name string) dataset.Archive {
	if a.archives != nil {
		return a.archives[name]
	}
	return dataset.Archives[name]
}

// run executes the command line and returns the exit code; errors are
// printed once, on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "longtail: %v\n", err)
	switch {
	case errors.Is(err, pipeline.ErrInterrupted):
		return exitInterrupted
	case errors.Is(err, pipeline.ErrConfig), errors.Is(err, errUsage):
		return exitConfig
	case strings.HasPrefix(err.Error(), "unknown command "):
		// cobra's, for a misspelt command (with its suggestions).
		return exitConfig
	}
	return exitError
}

// errUsage marks a bad command line.
var errUsage = errors.New("usage")

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	return newAppCmd(&app{stdout: stdout, stderr: stderr})
}

// newAppCmd is the command tree sharing a.
func newAppCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "longtail",
		Short: "Train image classifiers on long-tailed (class-imbalanced) data",
		Long: `longtail trains CIFAR-style ResNets on long-tailed data with balanced sampling
(every mini-batch holds s images of each class) and clamped class weights, and
the usual baselines, running the network as ONNX graphs in ONNX Runtime.

A run is described by a YAML config (configs/README.md lists every key and its
default); LONGTAIL_<SECTION>_<KEY> environment variables and --set key=value
flags override it, in that order.

Exit status: 0 on success; 1 when something fails while working (a download,
a damaged file, a diverged run); 2 for a usage error, found before any work:
an unknown command or flag, a missing or extra argument, a bad config key or
value; 130 when interrupted (Ctrl-C or SIGTERM), after writing a checkpoint.`,
		Example: `  ./scripts/setup.sh                                  # installs ONNX Runtime into .ort/
  longtail doctor                                     # checks the set-up
  longtail train -c configs/quickstart.yaml           # Softmax+RS vs. Ours+BS on synthetic data
  longtail data download cifar10                      # CIFAR-10 into data/, where configs/paper/ look
  longtail train -c configs/paper/if100_ours_bs.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	pf.StringVar(&a.logFormat, "log-format", "text", "log format: text or json")
	root.AddCommand(
		newTrainCmd(a),
		newSweepCmd(a),
		newReportCmd(a),
		newEvalCmd(a),
		newExportCmd(a),
		newPosthocCmd(a),
		newPredictCmd(a),
		newDataCmd(a),
		newGraphsCmd(a),
		newDoctorCmd(a),
		newVersionCmd(a),
	)
	guardUsage(root)
	return root
}

// logger builds the slog logger the flags ask for, writing to stderr.
func (a *app) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q; want debug, info, warn or error", errUsage, a.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(a.logFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(a.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(a.stderr, opts)), nil
	}
	return nil, fmt.Errorf("%w: --log-format %q; want text or json", errUsage, a.logFormat)
}

// terminal reports whether stderr is a terminal, where a progress bar can be
// drawn; in CI or a file, progress goes to plain log lines.
func (a *app) terminal() bool {
	f, ok := a.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
