package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

type downloadCmd struct {
	app *app
	dir string
	url string
}

func newDownloadCmd(a *app) *cobra.Command {
	c := &downloadCmd{app: a}
	names := slices.Sorted(maps.Keys(dataset.Archives))
	cmd := &cobra.Command{
		Use:   "download " + strings.Join(names, "|") + " [--dir DIR]",
		Short: "Fetch a data set's official binary archive",
		Long: `download fetches the official binary archive of CIFAR-10
(cifar-10-binary.tar.gz, 170 MB) or CIFAR-100 (cifar-100-binary.tar.gz)
from the dataset authors' page into DIR (default data/, where the
configs in configs/ look for it), checks its MD5 and writes it atomically: the
file appears only once complete and verified, and a failed or interrupted
download leaves no partial archive. When the file is already there and intact,
download does nothing. The configs read the archive as it is; there is no need
to extract it.

--url fetches from a mirror instead; the MD5 is checked all the same.`,
		Example: `  longtail data download cifar10
  longtail data download cifar100 --dir /data/cifar
  longtail train -c configs/paper/if100_ours_bs.yaml    # reads data/cifar-10-binary.tar.gz`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || !slices.Contains(names, args[0]) {
				return fmt.Errorf("%w: download takes one data set, %s; got %q", errUsage, strings.Join(names, " or "), strings.Join(args, " "))
			}
			return nil
		},
		ValidArgs: names,
		RunE:      c.run,
	}
	cmd.Flags().StringVar(&c.dir, "dir", pipeline.DownloadDir, "`DIR` to write the archive into")
	cmd.Flags().StringVar(&c.url, "url", "", "fetch the archive from this `URL` (a mirror) instead of the official one")
	return cmd
}

func (c *downloadCmd) run(cmd *cobra.Command, args []string) error {
	log, err := c.app.logger()
	if err != nil {
		return err
	}
	a := c.app.archive(args[0])
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	bar := newDownloadBar(c.app.stderr, c.app.terminal(), log, a.Name)
	path, fetched, err := a.Fetch(ctx, c.dir, c.url, bar.update)
	bar.finish()
	var ue *url.Error
	if errors.As(err, &ue) && ctx.Err() == nil {
		// No connection (offline, DNS, a proxy): what to do without one.
		return fmt.Errorf("%w\n  without a network here: fetch %s on another machine and copy it to %s (its MD5 is checked when read); "+
			"or --url URL fetches it from a mirror; or train on your own images, which need no download: "+
			"--set data.source=folder --set data.path=DIR (DIR/{train,test}/<class>/*.jpg or its .tar.gz)",
			err, a.URL, filepath.Join(c.dir, a.File))
	}
	if err != nil {
		return err
	}
	if !fetched {
		fmt.Fprintf(c.app.stdout, "%s is already in %s (MD5 %s checked); nothing to do\n", a.Name, path, a.MD5)
		return nil
	}
	fmt.Fprintf(c.app.stdout, "%s written to %s (MD5 %s checked), %s\n", a.Name, path, a.MD5, time.Since(start).Round(time.Second))
	if abs, err := filepath.Abs(path); err == nil && filepath.Clean(c.dir) != pipeline.DownloadDir {
		fmt.Fprintf(c.app.stdout, "train on it with --set data.path=%s\n", abs)
	}
	return nil
}

// downloadBar shows a download's progress: a bar redrawn in place on a
// terminal, a log line every 10% elsewhere.
type downloadBar struct {
	w        io.Writer
	terminal bool
	log      *slog.Logger
	name     string
	start    time.Time
	last     time.Time
	tenth    int64
	drawn    bool
}

func newDownloadBar(w io.Writer, terminal bool, log *slog.Logger, name string) *downloadBar {
	return &downloadBar{w: w, terminal: terminal, log: log, name: name, start: time.Now(), tenth: -1}
}

func (b *downloadBar) update(done, total int64) {
	const mb = 1 << 20
	if !b.terminal {
		if total > 0 && done*10/total != b.tenth {
			b.tenth = done * 10 / total
			b.log.Info("download", "data", b.name, "percent", b.tenth*10, "mb", done/mb, "total_mb", total/mb)
		}
		return
	}
	now := time.Now()
	if now.Sub(b.last) < 100*time.Millisecond && done != total {
		return
	}
	b.last = now
	rate := float64(done) / mb / max(now.Sub(b.start).Seconds(), 1e-3)
	if total <= 0 {
		fmt.Fprintf(b.w, "\r%s %.1f MB %.1f MB/s ", b.name, float64(done)/mb, rate)
	} else {
		const width = 30
		fill := int(width * done / total)
		fmt.Fprintf(b.w, "\r%s [%s%s] %3d%% %.1f/%.1f MB %.1f MB/s ", b.name, strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
			100*done/total, float64(done)/mb, float64(total)/mb, rate)
	}
	b.drawn = true
}

func (b *downloadBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}
