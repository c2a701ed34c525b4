package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress reports training steps: a bar on a terminal, log lines elsewhere.
type progress interface {
	// start begins an epoch (0-based) of steps, resuming at step from.
	start(epoch, epochs, from, steps int)
	// step reports that done steps of the epoch are finished, and the
	// estimate of the run's remaining time (0: none yet).
	step(done int, loss, acc, imagesPerSec float64, runETA time.Duration)
	// stop ends the epoch's display, finished or not.
	stop()
}

// newProgress returns a bar drawn on w when w is a terminal, otherwise log
// lines on log about every tenth of an epoch.
func newProgress(log *slog.Logger, w io.Writer, terminal bool) progress {
	if terminal && w != nil {
		return &barProgress{w: w}
	}
	return &logProgress{log: log}
}

type barProgress struct {
	w      io.Writer
	bar    *progressbar.ProgressBar
	label  string
	epochs int
}

func (p *barProgress) start(epoch, epochs, from, steps int) {
	p.label = fmt.Sprintf("epoch %d/%d", epoch+1, epochs)
	p.epochs = epochs
	p.bar = progressbar.NewOptions(steps,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(p.label),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
	)
	if from > 0 {
		_ = p.bar.Set(from)
	}
}

func (p *barProgress) step(done int, loss, acc, ips float64, runETA time.Duration) {
	desc := fmt.Sprintf("%s loss %.4f acc %.3f %.0f img/s", p.label, loss, acc, ips)
	if runETA > 0 && p.epochs > 1 {
		desc += fmt.Sprintf(", run ETA %s", runETA.Round(time.Second))
	}
	p.bar.Describe(desc)
	_ = p.bar.Set(done)
}

func (p *barProgress) stop() {
	if p.bar != nil && !p.bar.IsFinished() {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
	}
}

type logProgress struct {
	log           *slog.Logger
	epoch, epochs int
	steps, every  int
	from          int
	t0, last      time.Time
}

// logEvery spaces progress lines off a terminal.
const logEvery = 5 * time.Second

func (p *logProgress) start(epoch, epochs, from, steps int) {
	p.epoch, p.epochs, p.steps, p.from = epoch, epochs, steps, from
	p.every = max(1, steps/10)
	p.t0, p.last = time.Now(), time.Now()
}

// step logs at most every tenth of an epoch and every logEvery (and every
// step at debug level); the epoch's summary line comes from the trainer.
func (p *logProgress) step(done int, loss, acc, ips float64, runETA time.Duration) {
	if p.log.Enabled(context.Background(), slog.LevelDebug) {
		p.log.Debug("step", "epoch", p.epoch+1, "step", done, "loss", round(loss, 4))
	}
	if done%p.every != 0 || done == p.steps || time.Since(p.last) < logEvery {
		return
	}
	p.last = time.Now()
	eta := time.Duration(float64(time.Since(p.t0)) / float64(done-p.from) * float64(p.steps-done))
	args := []any{"epoch", fmt.Sprintf("%d/%d", p.epoch+1, p.epochs), "step", fmt.Sprintf("%d/%d", done, p.steps),
		"loss", round(loss, 4), "acc", round(acc, 4), "images_per_s", round(ips, 1), "epoch_eta", eta.Round(time.Second)}
	if p.epochs > 1 {
		args = append(args, "run_eta", runETA.Round(time.Second))
	}
	p.log.Info("train", args...)
}

func (p *logProgress) stop() {}
