package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/longtail-ml/longtail/loss"
	"github.com/longtail-ml/longtail/runtime"
	"github.com/longtail-ml/longtail/sampling"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

// Training outcomes other than success.
var (
	// ErrInterrupted: the context was cancelled (SIGINT, SIGTERM); a
	// checkpoint of the exact position was written first.
	ErrInterrupted = errors.New("pipeline: training interrupted")
	// ErrDiverged: the loss became NaN or infinite.
	ErrDiverged = errors.New("pipeline: training diverged")
)

// Options are the settings of a training run that are not in its config.
type Options struct {
	// Log receives events and, off a terminal, progress lines; nil discards.
	Log *slog.Logger
	// Progress is where the per-epoch progress bar is drawn when Terminal.
	Progress io.Writer
	Terminal bool
	// OnStep, when set, is called after every training step with the
	// 0-based epoch and the number of its steps done.
	OnStep func(epoch, step int)
	// Title names the run in plots; empty means the run directory's name.
	Title string
}

// Result is what a finished run leaves in its directory.
type Result struct {
	Dir     string
	Final   *Final
	Records []EpochRecord
}

// Train runs cfg from the start in the new run directory dir.
func Train(ctx context.Context, cfg *Config, dir string, opts Options) (*Result, error) {
	if err := createRunDir(dir); err != nil {
		return nil, err
	}
	t, err := newTrainer(cfg, dir, opts)
	if err != nil {
		return nil, err
	}
	defer t.close()
	if err := t.build(); err != nil {
		return nil, err
	}
	// The directory counts as a run from here: the config and the initial
	// checkpoint follow each other.
	y, err := t.cfg.YAML()
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(filepath.Join(dir, ConfigFile), y); err != nil {
		return nil, err
	}
	if s := t.data.Subset; s != nil {
		if err := WriteSubset(filepath.Join(dir, SubsetFile), s); err != nil {
			return nil, err
		}
	}
	valImages := 0
	if t.data.Val != nil {
		valImages = t.data.Val.Len()
	}
	t.log.Info("train", "dir", dir, "train_images", t.data.Train.Len(), "val_images", valImages, "test_images", t.data.Test.Len(),
		"classes", t.classes, "batch", t.batch, "steps_per_epoch", t.loader.Steps(0), "train_counts", t.counts)
	if err := t.checkpoint(0, 0, EpochSums{}); err != nil {
		return nil, err
	}
	return t.run(ctx, 0, 0, EpochSums{})
}

// Resume continues the run in dir from its checkpoint. cfg is the run's
// stored config, possibly with settings that do not change the result
// (runtime.*, train.eval_every, ...) overridden; the checkpoint is refused
// if it is damaged or was written under another config or data.
func Resume(ctx context.Context, cfg *Config, dir string, opts Options) (*Result, error) {
	path := filepath.Join(dir, CheckpointFile)
	t, ck, err := restore(cfg, dir, path, opts)
	if err != nil {
		return nil, err
	}
	defer t.close()
	recs, err := ReadMetrics(dir)
	if err != nil {
		return nil, err
	}
	for len(recs) > 0 && recs[len(recs)-1].Epoch > ck.Epoch {
		recs = recs[:len(recs)-1]
	}
	t.records = recs
	if err := t.resumeChecks(ck); err != nil {
		t.close()
		return nil, err
	}
	t.optStep = ck.OptimizerStep
	t.lastGood = describeCheckpoint(path, ck.Epoch, ck.Step)
	if ck.Epoch >= t.cfg.Train.Epochs {
		t.log.Info("resume: the run has finished; nothing to train", "dir", dir, "epochs", t.cfg.Train.Epochs)
	} else {
		t.log.Info("resume", "dir", dir, "epoch", fmt.Sprintf("%d/%d", ck.Epoch+1, t.cfg.Train.Epochs), "step", ck.Step)
	}
	return t.run(ctx, ck.Epoch, ck.Step, ck.Partial)
}

// resumeChecks refuses to resume on other images than the run trained on
// (its subset.json), and rewrites best.ckpt when the checkpoint ends the
// best validation epoch but best.ckpt does not hold it (a stop between the
// two writes).
func (t *trainer) resumeChecks(ck *Checkpoint) error {
	path := filepath.Join(t.dir, SubsetFile)
	if old, err := ReadSubset(path); err == nil {
		if t.data.Subset == nil || t.data.Subset.Digest != old.Digest {
			now := "the whole training split"
			if t.data.Subset != nil {
				now = t.data.Subset.Digest
			}
			return fmt.Errorf("%w: %s trained on subset %s (%s); the data now gives %s: set data.path or data.subset back",
				ErrCheckpointMismatch, t.dir, old.Digest, path, now)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if t.cfg.Train.Select != SelectBestVal || ck.Step != 0 {
		return nil
	}
	b := bestVal(t.records)
	if b == nil || b.Epoch != ck.Epoch {
		return nil
	}
	best := filepath.Join(t.dir, BestFile)
	if bc, err := ReadCheckpoint(best); err == nil && bc.Epoch == ck.Epoch {
		return nil
	}
	t.log.Info("resume: best.ckpt did not hold the best validation epoch; writing it", "epoch", ck.Epoch)
	return t.writeCheckpoint(best, ck.Epoch, 0, EpochSums{})
}

// restore builds the run in dir with the state of the checkpoint at path,
// which must verify and match cfg and the data. The caller closes the trainer.
func restore(cfg *Config, dir, path string, opts Options) (*trainer, *Checkpoint, error) {
	ck, err := ReadCheckpoint(path)
	if err != nil {
		return nil, nil, err
	}
	t, err := newTrainer(cfg, dir, opts)
	if err != nil {
		return nil, nil, err
	}
	err = ck.Match(path, t.cfg, t.counts)
	if err == nil {
		err = t.build()
	}
	if err == nil {
		if err = t.net.SetState(ck.State); err != nil {
			err = fmt.Errorf("%w: %s: %w", ErrCheckpointMismatch, path, err)
		}
	}
	if err != nil {
		t.close()
		return nil, nil, err
	}
	return t, ck, nil
}

// fusedStepper is a Network that runs a whole SGD step for a loss in affine
// form (loss.Affine) in one go.
type fusedStepper interface {
	FusedStep(x []float32, labels []int32, weight []float32, scale float32, offset []float32, lr float32) ([]float32, error)
}

// trainer holds one run's parts.
type trainer struct {
	// fused: train.fused_step is set and the loss has a fused form.
	fused   bool
	cfg     *Config
	dir     string
	opts    Options
	log     *slog.Logger
	data    *Data
	counts  []int
	classes int
	batch   int

	env    *runtime.Env
	net    Network
	loss   loss.Loss
	loader *sampling.Loader

	records  []EpochRecord
	optStep  int64
	lastGood string
	evalX    []float32

	// eta estimates the time the run has left from this process's pace.
	eta runETA
}

// runETA estimates a run's remaining time: the steps left over the pace of
// the steps this process has done, whose time includes the evaluations and
// checkpoints between them.
type runETA struct {
	start      time.Time
	done, left int
}

// step counts a finished step.
func (e *runETA) step() { e.done++; e.left-- }

// remaining is the estimate, 0 before the first step.
func (e *runETA) remaining() time.Duration {
	if e.done == 0 {
		return 0
	}
	return time.Duration(float64(time.Since(e.start)) / float64(e.done) * float64(max(e.left, 0)))
}

// newTrainer loads the data and completes cfg with what depends on it: the
// batch size and the loss's defaults for the class count.
func newTrainer(cfg *Config, dir string, opts Options) (*trainer, error) {
	c := *cfg
	t := &trainer{cfg: &c, dir: dir, opts: opts, log: opts.Log}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.opts.Title == "" {
		t.opts.Title = filepath.Base(dir)
	}
	data, err := LoadData(c.Data, c.Augment.Normalize)
	if err != nil {
		return nil, err
	}
	t.data = data
	if c.Train.Select == SelectBestVal && data.Val == nil {
		return nil, keyErr("train.select", "best_val needs a validation split; set data.val_per_class (or give the image folder a val/)")
	}
	t.counts = data.Train.Counts()
	t.classes = len(t.counts)
	if err := c.Complete(t.classes); err != nil {
		return nil, err
	}
	t.batch = c.Sampling.Batch
	return t, nil
}

// build opens ONNX Runtime and makes the network, loss and loader.
func (t *trainer) build() error {
	c := t.cfg
	var err error
	if t.loss, err = loss.New(c.Loss, t.counts); err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	s, err := sampling.New(c.Sampling.Name, t.data.Train.Labels, t.classes, t.batch, c.Sampling.PerClass, c.Train.Seed, c.Train.Epochs)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	aug := sampling.Augment{Crop: c.Augment.Crop, Pad: c.Augment.Pad, Flip: c.Augment.Flip, Mean: t.data.Mean, Std: t.data.Std}
	t.loader = sampling.NewLoader(t.data.Train, s, aug, c.Sampling.Workers, c.Sampling.Prefetch, c.Train.Seed)
	if t.env, err = runtime.Open(c.Runtime); err != nil {
		return err
	}
	tr := t.data.Train
	net, err := NewNetwork(t.env, c.Model, c.Optim, t.classes, t.batch, tr.C, tr.H, tr.W, c.Train.Seed)
	if err != nil {
		return fmt.Errorf("pipeline: network: %w", err)
	}
	t.net = net
	if c.Train.FusedStep {
		_, okNet := t.net.(fusedStepper)
		_, okLoss := t.loss.(loss.Affiner)
		t.fused = okNet && okLoss
		if !t.fused {
			slog.Info("train: the loss has no fused form; using the split step", "loss", c.Loss.Name)
		}
	}
	return nil
}

// step runs one SGD step on a batch and returns the batch loss; stats
// receives the batch's per-class statistics.
func (t *trainer) step(b *sampling.Batch, lr float32, grad []float32, stats *loss.Stats, aff *loss.Affine) (float64, error) {
	stats.Reset(t.classes)
	if t.fused {
		if err := t.loss.(loss.Affiner).Affine(b.Y, t.classes, aff); err != nil {
			return 0, err
		}
		logits, err := t.net.(fusedStepper).FusedStep(b.X, b.Y, aff.W, aff.Scale, aff.B, lr)
		if err != nil {
			return 0, err
		}
		// The gradient is already applied; Compute reports the loss and
		// accuracy of the logits before the update.
		return t.loss.Compute(logits, b.Y, t.classes, grad, stats)
	}
	logits, err := t.net.Forward(b.X)
	if err != nil {
		return 0, err
	}
	l, err := t.loss.Compute(logits, b.Y, t.classes, grad, stats)
	if err != nil {
		return l, err
	}
	return l, t.net.Backward(grad, lr)
}

func (t *trainer) close() {
	if t.net != nil {
		if err := t.net.Close(); err != nil {
			t.log.Warn("close network", "err", err)
		}
	}
	if t.env != nil {
		if err := t.env.Close(); err != nil {
			t.log.Warn("close runtime", "err", err)
		}
	}
}

// run trains from step of epoch (0-based) with the epoch's sums so far.
func (t *trainer) run(ctx context.Context, epoch, step int, sums EpochSums) (*Result, error) {
	c := t.cfg
	epochs := c.Train.Epochs
	grad := make([]float32, t.batch*t.classes)
	var stats loss.Stats
	var aff loss.Affine
	prog := newProgress(t.log, t.opts.Progress, t.opts.Terminal)
	t.eta = runETA{start: time.Now(), left: -step}
	for e := epoch; e < epochs; e++ {
		t.eta.left += t.loader.Steps(e)
	}
	for ; epoch < epochs; epoch++ {
		if s, ok := t.loss.(loss.Scheduled); ok {
			s.SetEpoch(epoch)
		}
		lr := c.Optim.LRAt(epoch, epochs)
		steps := t.loader.Steps(epoch)
		prog.start(epoch, epochs, step, steps)
		wall, before := time.Now(), sums.Seconds
		stopped := false
		for b, err := range t.loader.Epoch(ctx, epoch, step) {
			if errors.Is(err, sampling.ErrStopped) {
				stopped = true
				break
			}
			if err != nil {
				prog.stop()
				return nil, fmt.Errorf("pipeline: epoch %d step %d: %w", epoch+1, step+1, err)
			}
			l, err := t.step(b, float32(lr), grad, &stats, &aff)
			if errors.Is(err, loss.ErrNonFinite) || math.IsNaN(l) || math.IsInf(l, 0) {
				prog.stop()
				return nil, fmt.Errorf("%w: loss %v at epoch %d/%d step %d/%d; last good checkpoint: %s",
					ErrDiverged, l, epoch+1, epochs, step+1, steps, t.lastGood)
			}
			if err != nil {
				prog.stop()
				return nil, fmt.Errorf("pipeline: epoch %d step %d: %w", epoch+1, step+1, err)
			}
			for _, k := range stats.Correct {
				sums.Correct += int64(k)
			}
			sums.Seen += int64(b.N)
			t.loader.Release(b)
			step++
			t.optStep++
			sums.LossSum += l
			sums.Steps++
			sums.Seconds = before + time.Since(wall).Seconds()
			t.eta.step()
			prog.step(step, sums.LossSum/float64(sums.Steps), float64(sums.Correct)/float64(sums.Seen), float64(sums.Seen)/sums.Seconds, t.eta.remaining())
			if t.opts.OnStep != nil {
				t.opts.OnStep(epoch, step)
			}
			if ctx.Err() != nil {
				stopped = true
				break
			}
		}
		prog.stop()
		if stopped || ctx.Err() != nil {
			return nil, t.interrupt(ctx, epoch, step, sums)
		}
		if err := t.endEpoch(epoch, lr, sums); err != nil {
			return nil, err
		}
		step, sums = 0, EpochSums{}
	}
	return t.finish()
}

// endEpoch evaluates when due, records the epoch and checkpoints.
func (t *trainer) endEpoch(epoch int, lr float64, sums EpochSums) error {
	c := t.cfg
	rec := EpochRecord{Epoch: epoch + 1, LR: lr}
	if sums.Steps > 0 {
		rec.Loss = sums.LossSum / float64(sums.Steps)
		rec.TrainAcc = float64(sums.Correct) / float64(sums.Seen)
		rec.ImagesPerSec = float64(sums.Seen) / sums.Seconds
	}
	last := epoch+1 == c.Train.Epochs
	newBest := false
	if last || c.Train.EvalEvery > 0 && (epoch+1)%c.Train.EvalEvery == 0 {
		// With a validation split the test set waits for the final report.
		if t.data.Val != nil {
			m, err := t.evaluateOn(t.data.Val)
			if err != nil {
				return fmt.Errorf("pipeline: validate after epoch %d: %w", epoch+1, err)
			}
			rec.Val = &m
			b := bestVal(t.records)
			newBest = c.Train.Select == SelectBestVal && (b == nil || m.Top1 > b.Val.Top1)
		}
		if t.data.Val == nil || last {
			m, err := t.evaluate()
			if err != nil {
				return fmt.Errorf("pipeline: evaluate after epoch %d: %w", epoch+1, err)
			}
			rec.Eval = &m
		}
	}
	t.records = append(t.records, rec)
	if err := WriteMetrics(t.dir, t.data.Train.Classes, t.records); err != nil {
		return err
	}
	args := []any{"epoch", fmt.Sprintf("%d/%d", epoch+1, c.Train.Epochs), "loss", round(rec.Loss, 4), "lr", round(rec.LR, 6),
		"train_acc", round(rec.TrainAcc, 4), "images_per_s", round(rec.ImagesPerSec, 1)}
	if m := rec.Val; m != nil {
		args = append(args, "val_top1", round(m.Top1, 4), "val_sd", round(m.SD, 4))
	}
	if m := rec.Eval; m != nil {
		args = append(args, "test_top1", round(m.Top1, 4), "test_sd", round(m.SD, 4))
		for _, g := range []struct {
			k string
			v *float64
		}{{"many", m.Many}, {"medium", m.Medium}, {"few", m.Few}} {
			if g.v != nil {
				args = append(args, g.k, round(*g.v, 4))
			}
		}
	}
	if !last {
		args = append(args, "run_eta", t.eta.remaining().Round(time.Second))
	}
	t.log.Info("epoch", args...)
	if err := t.checkpoint(epoch+1, 0, EpochSums{}); err != nil {
		return err
	}
	// best.ckpt follows the checkpoint, so that it never holds an epoch
	// the records do not have; Resume repairs a crash in between.
	if newBest {
		if err := t.writeCheckpoint(filepath.Join(t.dir, BestFile), epoch+1, 0, EpochSums{}); err != nil {
			return err
		}
	}
	if every := c.Train.CheckpointEvery; every > 0 && (epoch+1)%every == 0 {
		if err := os.MkdirAll(filepath.Join(t.dir, CheckpointDir), 0o755); err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
		return t.writeCheckpoint(filepath.Join(t.dir, CheckpointDir, fmt.Sprintf("epoch-%04d.ckpt", epoch+1)), epoch+1, 0, EpochSums{})
	}
	return nil
}

// checkpoint writes the run's latest checkpoint: epoch (0-based) in progress
// with step of its steps done.
func (t *trainer) checkpoint(epoch, step int, sums EpochSums) error {
	path := filepath.Join(t.dir, CheckpointFile)
	if err := t.writeCheckpoint(path, epoch, step, sums); err != nil {
		return err
	}
	t.lastGood = describeCheckpoint(path, epoch, step)
	return nil
}

func (t *trainer) writeCheckpoint(path string, epoch, step int, sums EpochSums) error {
	fp, err := Fingerprint(t.cfg)
	if err != nil {
		return err
	}
	return WriteCheckpoint(path, &Checkpoint{
		Epoch: epoch, Step: step, OptimizerStep: t.optStep, Seed: t.cfg.Train.Seed,
		Config: fp, TrainCounts: t.counts, Partial: sums, State: t.net.State(),
	})
}

func describeCheckpoint(path string, epoch, step int) string {
	switch {
	case epoch == 0 && step == 0:
		return path + " (the initial weights)"
	case step == 0:
		return fmt.Sprintf("%s (end of epoch %d)", path, epoch)
	}
	return fmt.Sprintf("%s (epoch %d, step %d)", path, epoch+1, step)
}

// interrupt checkpoints the exact position and reports it.
func (t *trainer) interrupt(ctx context.Context, epoch, step int, sums EpochSums) error {
	if err := t.checkpoint(epoch, step, sums); err != nil {
		return fmt.Errorf("%w at epoch %d step %d, and the checkpoint failed: %w", ErrInterrupted, epoch+1, step, err)
	}
	t.log.Info("interrupted", "epoch", epoch+1, "step", step, "checkpoint", filepath.Join(t.dir, CheckpointFile))
	return fmt.Errorf("%w at epoch %d step %d (%v); checkpoint written, continue with `longtail train --resume %s`",
		ErrInterrupted, epoch+1, step, context.Cause(ctx), t.dir)
}

// finish selects the model (train.select) and writes the final metrics,
// per-class table and plot.
func (t *trainer) finish() (*Result, error) {
	if len(t.records) == 0 || t.records[len(t.records)-1].Eval == nil {
		return nil, fmt.Errorf("pipeline: %s: the last epoch has no evaluation", t.dir)
	}
	last := t.records[len(t.records)-1]
	f := &Final{Metrics: *last.Eval, Epoch: last.Epoch, Select: t.cfg.Train.Select, Val: last.Val,
		DataDigest: t.data.SourceDigest, Classes: t.data.Train.Classes, TrainCounts: t.counts, Version: Version()}
	if s := t.data.Subset; s != nil {
		f.SubsetDigest = s.Digest
	}
	if t.cfg.Train.Select == SelectBestVal {
		b := bestVal(t.records)
		if b.Epoch != last.Epoch {
			m, err := t.evaluateBest(b.Epoch)
			if err != nil {
				return nil, err
			}
			f.Metrics, f.Epoch, f.Val, f.Last = m, b.Epoch, b.Val, last.Eval
		}
		t.log.Info("select", "rule", SelectBestVal, "epoch", b.Epoch, "val_top1", round(b.Val.Top1, 4), "test_top1", round(f.Top1, 4))
	}
	if err := WriteFinal(t.dir, t.opts.Title, f); err != nil {
		return nil, err
	}
	return &Result{Dir: t.dir, Final: f, Records: t.records}, nil
}

// bestVal is the record with the highest validation top-1, the earliest
// of equals; nil when none has one.
func bestVal(recs []EpochRecord) *EpochRecord {
	var b *EpochRecord
	for i := range recs {
		if r := &recs[i]; r.Val != nil && (b == nil || r.Val.Top1 > b.Val.Top1) {
			b = r
		}
	}
	return b
}

// evaluateBest loads best.ckpt, which must hold epoch, and evaluates it on
// the test set.
func (t *trainer) evaluateBest(epoch int) (Metrics, error) {
	path := filepath.Join(t.dir, BestFile)
	ck, err := ReadCheckpoint(path)
	if err != nil {
		return Metrics{}, err
	}
	if ck.Epoch != epoch {
		return Metrics{}, fmt.Errorf("pipeline: %s holds epoch %d, but the best validation epoch in %s is %d", path, ck.Epoch, MetricsJSONL, epoch)
	}
	if err := t.net.SetState(ck.State); err != nil {
		return Metrics{}, fmt.Errorf("pipeline: %s: %w", path, err)
	}
	m, err := t.evaluate()
	if err != nil {
		return Metrics{}, fmt.Errorf("pipeline: evaluate %s: %w", path, err)
	}
	return m, nil
}

func (t *trainer) evaluate() (Metrics, error) { return t.evaluateOn(t.data.Test) }

// evaluateOn evaluates the network on set (the test or validation split).
func (t *trainer) evaluateOn(set *dataset.Set) (Metrics, error) {
	m, x, err := evaluate(t.net, set, t.data.Mean, t.data.Std, t.counts, t.cfg.Eval.Shots(), t.cfg.Train.EvalBatch, t.evalX)
	t.evalX = x
	return m, err
}

// Evaluate runs net in evaluation mode over the whole test set, batch images
// at a time, and summarises the predictions with their calibration
// (Tally); trainCounts and shots decide the shot groups.
func Evaluate(net Predictor, test *dataset.Set, mean, std []float32, trainCounts []int, shots Shots, batch int) (Metrics, error) {
	m, _, err := evaluate(net, test, mean, std, trainCounts, shots, batch, nil)
	return m, err
}

func evaluate(net Predictor, test *dataset.Set, mean, std []float32, trainCounts []int, shots Shots, batch int, x []float32) (Metrics, []float32, error) {
	n, size := test.Len(), test.ImageSize()
	batch = max(1, min(batch, n))
	if len(x) < batch*size {
		x = make([]float32, batch*size)
	}
	tally := NewTally(net.Classes())
	idx := make([]int, 0, batch)
	for i := 0; i < n; i += batch {
		k := min(batch, n-i)
		idx = idx[:0]
		for j := range k {
			idx = append(idx, i+j)
		}
		sampling.Assemble(test, idx, mean, std, x)
		logits, err := net.Predict(x[:k*size], k)
		if err != nil {
			return Metrics{}, x, err
		}
		tally.Add(logits, test.Labels[i:i+k])
	}
	m, err := tally.Summarize(trainCounts, shots)
	return m, x, err
}
