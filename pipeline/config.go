package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/longtail-ml/longtail/loss"
	"github.com/longtail-ml/longtail/runtime"
	"github.com/longtail-ml/longtail/sampling"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

// Data sources.
const (
	SourceSynthetic = "synthetic"
	SourceCIFAR10   = "cifar10"
	SourceCIFAR100  = "cifar100"
	SourceFolder    = "folder"
)

// Learning-rate schedules.
const (
	ScheduleCosine   = "cosine"
	ScheduleStep     = "step"
	ScheduleConstant = "constant"
)

// Normalisations.
const (
	NormalizeAuto    = "auto"
	NormalizeCIFAR   = "cifar"
	NormalizeDataset = "dataset"
	NormalizeNone    = "none"
)

// ErrConfig is matched by every configuration error (errors.Is).
var ErrConfig = errors.New("pipeline: bad config")

// ConfigError names the key at fault, where its value came from and what was
// expected.
type ConfigError struct {
	// Key is the dotted key, e.g. "optim.lr"; empty for whole-file errors.
	Key string
	// Source is where the value came from ("configs/x.yaml",
	// "$LONGTAIL_OPTIM_LR", "--set", "default"); filled in by Load.
	Source string
	// Msg says what is wrong and what is expected.
	Msg string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.Key != "" {
		b.WriteString(" key ")
		b.WriteString(e.Key)
	}
	if e.Source != "" {
		b.WriteString(" (from ")
		b.WriteString(e.Source)
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes errors.Is(err, ErrConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

func keyErr(key, format string, args ...any) error {
	return &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Config is a whole training run. Default returns the defaults, Load resolves
// a YAML file, LONGTAIL_* environment variables and --set overrides over them,
// and Validate checks it; configs/README.md documents every key.
type Config struct {
	Data     DataConfig      `mapstructure:"data"`
	Sampling SamplingConfig  `mapstructure:"sampling"`
	Augment  AugmentConfig   `mapstructure:"augment"`
	Model    ModelConfig     `mapstructure:"model"`
	Loss     loss.Config     `mapstructure:"loss"`
	Optim    OptimConfig     `mapstructure:"optim"`
	Train    TrainConfig     `mapstructure:"train"`
	Eval     EvalConfig      `mapstructure:"eval"`
	Runtime  runtime.Options `mapstructure:"runtime"`
	Output   OutputConfig    `mapstructure:"output"`
	// Compare lists variants of this config trained one after the other,
	// each with its Set overrides, followed by a side-by-side table.
	Compare []Variant `mapstructure:"compare"`
}

// DataConfig selects the data and makes it long-tailed.
type DataConfig struct {
	// Source is synthetic, cifar10, cifar100 or folder. Default synthetic.
	Source string `mapstructure:"source"`
	// Path is the dataset directory (not used by synthetic): the folder that
	// holds cifar-10-batches-bin/ or the extracted files themselves; for
	// folder, a directory with train/<class>/ and test/<class>/ images.
	Path string `mapstructure:"path"`
	// Imbalance is the imbalance factor n_max/n_min applied to the training
	// split; 1 keeps it as it is. Default 100.
	Imbalance float64 `mapstructure:"imbalance"`
	// Profile is how counts fall from head to tail: exp (default) or step.
	Profile string `mapstructure:"profile"`
	// LTSeed picks which images each class keeps. Default 0.
	LTSeed int64 `mapstructure:"lt_seed"`
	// LTPick is the rule that picks them: seeded (default; longtail's own
	// random stream), ldam (LDAM-DRW's NumPy draw, the subset behind most
	// published CIFAR-LT numbers) or first (the first n_i of each class).
	LTPick string `mapstructure:"lt_pick"`
	// Subset is a pinned subset file (`longtail data --write-subset`); when
	// set it decides the training (and validation) images instead of
	// lt_pick and lt_seed, and is refused if the data differs from the data
	// it was drawn from.
	Subset string `mapstructure:"subset"`
	// ValPerClass takes a class-balanced validation split of that many
	// images per class from the training images the long tail leaves out.
	// Default 0: none (a folder data set's val/ split is used if present).
	ValPerClass int `mapstructure:"val_per_class"`
	// Synthetic shapes the built-in synthetic data.
	Synthetic SyntheticConfig `mapstructure:"synthetic"`
}

// SyntheticConfig shapes the built-in synthetic data set.
type SyntheticConfig struct {
	// Classes is the number of classes. Default 10.
	Classes int `mapstructure:"classes"`
	// TrainPerClass is the training images per class before the long tail is
	// cut. Default 5000, as CIFAR-10.
	TrainPerClass int `mapstructure:"train_per_class"`
	// TestPerClass is the test images per class. Default 1000.
	TestPerClass int `mapstructure:"test_per_class"`
	// Seed generates the images. Default 1.
	Seed int64 `mapstructure:"seed"`
}

// SamplingConfig picks how mini-batches are drawn.
type SamplingConfig struct {
	// Name is the sampler: random (RS, default), balanced (BS, exactly
	// PerClass images of every class per batch), classaware, sqrt or
	// progressive (see sampling.New).
	Name string `mapstructure:"name"`
	// Batch is the mini-batch size; 0 means 128 for random sampling and
	// PerClass × classes for balanced. Given with balanced, it must equal
	// PerClass × classes.
	Batch int `mapstructure:"batch"`
	// PerClass is s, the images of each class in a balanced batch. Default 13.
	PerClass int `mapstructure:"per_class"`
	// Workers assemble batches in parallel; 0 means one per core.
	Workers int `mapstructure:"workers"`
	// Prefetch is how many batches are prepared ahead. Default 2.
	Prefetch int `mapstructure:"prefetch"`
}

// AugmentConfig is the training-time augmentation and normalisation.
type AugmentConfig struct {
	// Crop takes a random crop of the original size from the image padded by
	// Pad (≥ 1) zero pixels on each side. Default true, Pad 4.
	Crop bool `mapstructure:"crop"`
	Pad  int  `mapstructure:"pad"`
	// Flip mirrors half the images horizontally. Default true.
	Flip bool `mapstructure:"flip"`
	// Normalize subtracts a per-channel mean and divides by a standard
	// deviation: cifar (the usual CIFAR constants), dataset (computed on the
	// training split), none, or auto (default: cifar for CIFAR sources,
	// dataset otherwise).
	Normalize string `mapstructure:"normalize"`
}

// ModelConfig is the CIFAR ResNet.
type ModelConfig struct {
	// Depth is 6n+2: 8, 14, 20, 32 (default), 44, 56, 110.
	Depth int `mapstructure:"depth"`
	// Width is the stem's channel count; the stages have Width, 2·Width and
	// 4·Width channels. Default 16.
	Width int `mapstructure:"width"`
}

// OptimConfig is SGD with momentum and the learning-rate schedule.
type OptimConfig struct {
	// LR is the base learning rate. Default 0.1.
	LR float64 `mapstructure:"lr"`
	// Momentum is SGD's (PyTorch convention). Default 0.9.
	Momentum float32 `mapstructure:"momentum"`
	// WeightDecay is the L2 coefficient added to the gradient. Default 5e-4.
	WeightDecay float32 `mapstructure:"weight_decay"`
	// DecayNormAndBias applies weight decay to BatchNorm scales and shifts
	// and to biases as well, as torch.optim.SGD(model.parameters()) does.
	// Default true.
	DecayNormAndBias bool `mapstructure:"decay_norm_and_bias"`
	// Schedule is cosine (default), step or constant; see LRAt.
	Schedule string `mapstructure:"schedule"`
	// WarmupEpochs ramps the rate up linearly first. Default 0.
	WarmupEpochs int `mapstructure:"warmup_epochs"`
	// Milestones are the epochs where the step schedule multiplies the rate
	// by Gamma. Default none, Gamma 0.1.
	Milestones []int   `mapstructure:"milestones"`
	Gamma      float64 `mapstructure:"gamma"`
}

// TrainConfig is the loop.
type TrainConfig struct {
	// Epochs to train. Default 200.
	Epochs int `mapstructure:"epochs"`
	// EvalEvery evaluates on the test set every so many epochs (and always
	// after the last). Default 10; 0 means only at the end.
	EvalEvery int `mapstructure:"eval_every"`
	// EvalBatch is the images per evaluation forward pass. Default 500.
	EvalBatch int `mapstructure:"eval_batch"`
	// Seed drives initialisation, sampling and augmentation. Default 0.
	Seed int64 `mapstructure:"seed"`
	// CheckpointEvery keeps a copy of the checkpoint every so many epochs in
	// checkpoints/; the latest is always in checkpoint.ckpt. Default 0 (none).
	CheckpointEvery int `mapstructure:"checkpoint_every"`
	// FusedStep runs forward pass, loss gradient, backward pass and update
	// as one ONNX Runtime run, for losses of the softmax cross-entropy
	// family; the Go loss still reports the loss and accuracy from the
	// returned logits. Focal loss, which has no fused form, takes the split
	// step (forward run, gradient in Go, backward run). Default true.
	FusedStep bool `mapstructure:"fused_step"`
	// Select is the model the final numbers come from: last (default, the
	// last epoch's) or best_val (the epoch with the best validation top-1
	// among the evaluated ones; needs a validation split). Never the best
	// test epoch.
	Select string `mapstructure:"select"`
}

// Model selections.
const (
	SelectLast    = "last"
	SelectBestVal = "best_val"
)

// EvalConfig shapes the evaluation's summaries; it does not change what
// training computes.
type EvalConfig struct {
	// ManyShot: classes with more than this many training images are
	// many-shot. Default 100 (ManyShot).
	ManyShot int `mapstructure:"many_shot"`
	// FewShot: classes with fewer than this many are few-shot, the rest
	// medium-shot. Default 20 (FewShot).
	FewShot int `mapstructure:"few_shot"`
}

// Shots are the thresholds as Summarize takes them.
func (e EvalConfig) Shots() Shots { return Shots{Many: e.ManyShot, Few: e.FewShot} }

// OutputConfig places the run directory at Dir/Name.
type OutputConfig struct {
	// Dir is the parent of run directories. Default "runs".
	Dir string `mapstructure:"dir"`
	// Name is the run directory's name; empty means the config file's base
	// name and a time stamp.
	Name string `mapstructure:"name"`
}

// Variant is one entry of a compare list.
type Variant struct {
	// Name is the variant's subdirectory and column heading.
	Name string `mapstructure:"name"`
	// Set maps dotted keys to values, applied over the file.
	Set map[string]any `mapstructure:"set"`
}

// Default returns the defaults: the seed paper's protocol (ResNet-32, SGD 0.1,
// momentum 0.9, weight decay 5e-4, cosine, 200 epochs, batch 128) on the
// built-in synthetic data.
func Default() Config {
	return Config{
		Data: DataConfig{
			Source:    SourceSynthetic,
			Imbalance: 100,
			Profile:   "exp",
			LTPick:    string(dataset.PickSeeded),
			Synthetic: SyntheticConfig{Classes: 10, TrainPerClass: 5000, TestPerClass: 1000, Seed: 1},
		},
		Sampling: SamplingConfig{Name: "random", PerClass: 13, Prefetch: 2},
		Augment:  AugmentConfig{Crop: true, Pad: 4, Flip: true, Normalize: NormalizeAuto},
		Model:    ModelConfig{Depth: 32, Width: 16},
		Loss:     loss.Config{Name: loss.DefaultName},
		Optim: OptimConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4, DecayNormAndBias: true,
			Schedule: ScheduleCosine, Gamma: 0.1},
		Train:   TrainConfig{Epochs: 200, EvalEvery: 10, EvalBatch: 500, FusedStep: true, Select: SelectLast},
		Eval:    EvalConfig{ManyShot: ManyShot, FewShot: FewShot},
		Runtime: runtime.Options{OptLevel: "extended", Provider: "cpu", CustomOps: "auto"},
		Output:  OutputConfig{Dir: "runs"},
	}
}

// Validate checks every section without reading data or loading libraries
// (whether data.path exists is CheckPath's question, asked where data is
// read); the first problem is returned as a *ConfigError.
func (c *Config) Validate() error {
	for _, check := range []func() error{
		c.Data.validate, c.Sampling.validate, c.Augment.validate, c.Model.validate,
		c.validateLoss, func() error { return c.Optim.validate(c.Train.Epochs) }, c.Train.validate, c.validateRuntime,
		c.Eval.validate, c.Output.validate, c.validateCompare,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (d *DataConfig) validate() error {
	switch d.Source {
	case SourceSynthetic:
		s := d.Synthetic
		if s.Classes < 2 {
			return keyErr("data.synthetic.classes", "%d; want at least 2", s.Classes)
		}
		if s.TrainPerClass < 1 {
			return keyErr("data.synthetic.train_per_class", "%d; want at least 1", s.TrainPerClass)
		}
		if s.TestPerClass < 1 {
			return keyErr("data.synthetic.test_per_class", "%d; want at least 1", s.TestPerClass)
		}
		if s.Classes > dataset.SyntheticMaxClasses {
			return keyErr("data.synthetic.classes", "%d; the synthetic data has at most %d classes", s.Classes, dataset.SyntheticMaxClasses)
		}
	case SourceCIFAR10, SourceCIFAR100, SourceFolder:
		if d.Path == "" {
			return keyErr("data.path", "empty; data.source %s needs the dataset directory", d.Source)
		}
	default:
		return keyErr("data.source", "%q; want synthetic, cifar10, cifar100 or folder", d.Source)
	}
	if !(d.Imbalance >= 1) {
		return keyErr("data.imbalance", "%g; want an imbalance factor ≥ 1 (1 keeps the data as it is)", d.Imbalance)
	}
	switch d.Profile {
	case "exp", "step":
	default:
		return keyErr("data.profile", "%q; want exp or step", d.Profile)
	}
	if !slices.Contains(dataset.Picks, dataset.Pick(d.LTPick)) {
		return keyErr("data.lt_pick", "%q; want seeded, ldam or first", d.LTPick)
	}
	if d.LTPick == string(dataset.PickLDAM) && (d.LTSeed < 0 || d.LTSeed > 1<<32-1) {
		return keyErr("data.lt_seed", "%d; lt_pick ldam seeds NumPy's legacy generator, which takes 0 to 4294967295", d.LTSeed)
	}
	if d.ValPerClass < 0 {
		return keyErr("data.val_per_class", "%d is negative; want 0 (no validation split) or the images per class", d.ValPerClass)
	}
	return nil
}

// ErrNoData reports a data.path that names nothing; the error says how to
// fetch the data. It comes with ErrConfig (errors.Is matches both).
var ErrNoData = errors.New("pipeline: data not found")

// DownloadDir is where `longtail data download` writes by default, and where
// the paper configs' data.path points.
const DownloadDir = "data"

// CheckPath checks that data.path exists, for the sources that read one. A
// missing path wraps ErrNoData and a *ConfigError that names the key, the
// path and, for CIFAR, the `longtail data download` command that writes it.
func (d *DataConfig) CheckPath() error {
	if d.Source == SourceSynthetic || d.Path == "" {
		return nil
	}
	_, err := os.Stat(d.Path)
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf("%q: %v", d.Path, errors.Unwrap(err))
	if !filepath.IsAbs(d.Path) {
		// A relative path is the working directory's, not the config file's.
		if wd, err := os.Getwd(); err == nil {
			msg += fmt.Sprintf(" (looked for in %s, the working directory)", wd)
		}
	}
	msg += fmt.Sprintf("; want the %s data set (archive or directory)", d.Source)
	if a, ok := dataset.Archives[d.Source]; ok {
		dir := filepath.Dir(d.Path)
		if filepath.Base(d.Path) == a.File {
			cmd := "longtail data download " + d.Source
			if dir != DownloadDir {
				cmd += " --dir " + dir
			}
			msg += fmt.Sprintf("; `%s` fetches it", cmd)
		} else {
			msg += fmt.Sprintf("; `longtail data download %s` fetches it to %s, then set data.path to that",
				d.Source, filepath.Join(DownloadDir, a.File))
		}
	}
	return fmt.Errorf("%w: %w", ErrNoData, &ConfigError{Key: "data.path", Msg: msg})
}

func (s *SamplingConfig) validate() error {
	if !slices.Contains(sampling.Names(), s.Name) {
		return keyErr("sampling.name", "%q; want one of %s", s.Name, strings.Join(sampling.Names(), ", "))
	}
	if s.Name == "balanced" && s.PerClass < 1 {
		return keyErr("sampling.per_class", "%d; balanced sampling needs at least 1 image per class", s.PerClass)
	}
	if s.Batch < 0 {
		return keyErr("sampling.batch", "%d is negative; want 0 (the default for the sampler) or a batch size", s.Batch)
	}
	if s.Workers < 0 {
		return keyErr("sampling.workers", "%d is negative; want 0 (one per core) or more", s.Workers)
	}
	if s.Prefetch < 1 {
		return keyErr("sampling.prefetch", "%d; want at least 1", s.Prefetch)
	}
	return nil
}

// Complete fills in what depends on the data's class count: the batch size
// (BatchSize) and the loss's defaults, so that a stored config states the
// values a run used.
func (c *Config) Complete(classes int) error {
	b, err := c.Sampling.BatchSize(classes)
	if err != nil {
		return err
	}
	c.Sampling.Batch = b
	c.Loss = c.Loss.WithDefaults(classes)
	return sectionErr("loss", c.Loss.Validate(classes))
}

// BatchSize is the mini-batch size for a data set with classes classes; it
// fails when a given Batch contradicts balanced sampling's PerClass×classes.
func (s *SamplingConfig) BatchSize(classes int) (int, error) {
	if s.Name == "balanced" {
		b := s.PerClass * classes
		if s.Batch != 0 && s.Batch != b {
			return 0, keyErr("sampling.batch", "%d, but balanced sampling with sampling.per_class %d and %d classes makes batches of %d; set sampling.batch to %d or 0",
				s.Batch, s.PerClass, classes, b, b)
		}
		return b, nil
	}
	if s.Batch == 0 {
		return 128, nil
	}
	return s.Batch, nil
}

func (a *AugmentConfig) validate() error {
	if a.Crop && a.Pad < 1 {
		return keyErr("augment.pad", "%d; random crops need a padding of at least 1 pixel (4 is usual); set augment.crop false for none", a.Pad)
	}
	switch a.Normalize {
	case NormalizeAuto, NormalizeCIFAR, NormalizeDataset, NormalizeNone:
	default:
		return keyErr("augment.normalize", "%q; want auto, cifar, dataset or none", a.Normalize)
	}
	return nil
}

func (m *ModelConfig) validate() error {
	if m.Depth < 8 || (m.Depth-2)%6 != 0 {
		return keyErr("model.depth", "%d; want 6n+2 with n ≥ 1 (8, 14, 20, 32, 44, 56, 110)", m.Depth)
	}
	if m.Width < 4 || m.Width%4 != 0 {
		return keyErr("model.width", "%d; want a multiple of 4, at least 4 (16 for the paper's ResNet)", m.Width)
	}
	return nil
}

func (o *OptimConfig) validate(epochs int) error {
	if !(o.LR > 0) {
		return keyErr("optim.lr", "%g; want a learning rate > 0", o.LR)
	}
	if !(o.Momentum >= 0 && o.Momentum < 1) {
		return keyErr("optim.momentum", "%g; want 0 ≤ momentum < 1", o.Momentum)
	}
	if !(o.WeightDecay >= 0) {
		return keyErr("optim.weight_decay", "%g; want ≥ 0", o.WeightDecay)
	}
	if o.WarmupEpochs < 0 {
		return keyErr("optim.warmup_epochs", "%d is negative; want 0 or more", o.WarmupEpochs)
	}
	if epochs > 0 && o.WarmupEpochs >= epochs {
		return keyErr("optim.warmup_epochs", "%d; want fewer than train.epochs (%d)", o.WarmupEpochs, epochs)
	}
	switch o.Schedule {
	case ScheduleCosine, ScheduleConstant:
	case ScheduleStep:
		if !(o.Gamma > 0) {
			return keyErr("optim.gamma", "%g; want a factor > 0", o.Gamma)
		}
		prev := 0
		for i, m := range o.Milestones {
			if m <= prev && i > 0 || m < 1 {
				return keyErr("optim.milestones", "%v; want increasing epochs ≥ 1", o.Milestones)
			}
			prev = m
		}
	default:
		return keyErr("optim.schedule", "%q; want cosine, step or constant", o.Schedule)
	}
	return nil
}

func (t *TrainConfig) validate() error {
	if t.Epochs < 1 {
		return keyErr("train.epochs", "%d; want at least 1", t.Epochs)
	}
	if t.EvalEvery < 0 {
		return keyErr("train.eval_every", "%d is negative; want 0 (only at the end) or more", t.EvalEvery)
	}
	if t.EvalBatch < 1 {
		return keyErr("train.eval_batch", "%d; want at least 1", t.EvalBatch)
	}
	if t.CheckpointEvery < 0 {
		return keyErr("train.checkpoint_every", "%d is negative; want 0 (latest only) or more", t.CheckpointEvery)
	}
	switch t.Select {
	case SelectLast, SelectBestVal:
	default:
		return keyErr("train.select", "%q; want last or best_val (the best test epoch is not offered: it overstates accuracy)", t.Select)
	}
	return nil
}

func (c *Config) validateRuntime() error {
	return sectionErr("runtime", c.Runtime.Validate())
}

// validateLoss checks the loss section and the balanced batch size when the
// class count is known without reading data (always, except for a folder
// data set inside an archive).
func (c *Config) validateLoss() error {
	classes, err := c.Data.Classes()
	if err != nil {
		return err
	}
	if classes == 0 {
		return nil
	}
	if _, err := c.Sampling.BatchSize(classes); err != nil {
		return err
	}
	return sectionErr("loss", c.Loss.Validate(classes))
}

// sectionErr turns the first of a package's "section.key: message" errors
// into a *ConfigError for that key.
func sectionErr(section string, err error) error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
		err = j.Unwrap()[0]
	}
	msg := err.Error()
	if i := strings.Index(msg, section+"."); i >= 0 {
		rest := msg[i:]
		if key, m, ok := strings.Cut(rest, ": "); ok && !strings.ContainsAny(key, " ") {
			return keyErr(key, "%s", m)
		}
	}
	return keyErr(section, "%s", msg)
}

// Classes is the number of classes the data will have, known without
// reading images: from the synthetic config, 10 or 100 for CIFAR, the
// class folders of a folder data set's train/ (0 when they cannot be
// listed, e.g. inside an archive).
func (d *DataConfig) Classes() (int, error) {
	switch d.Source {
	case SourceSynthetic:
		return d.Synthetic.Classes, nil
	case SourceCIFAR10:
		return 10, nil
	case SourceCIFAR100:
		return 100, nil
	case SourceFolder:
		entries, err := os.ReadDir(filepath.Join(d.Path, "train"))
		if err != nil {
			return 0, nil
		}
		n := 0
		for _, e := range entries {
			if e.IsDir() {
				n++
			}
		}
		return n, nil
	}
	return 0, nil
}

func (e *EvalConfig) validate() error {
	if e.FewShot < 0 {
		return keyErr("eval.few_shot", "%d is negative; want 0 (no few-shot group) or more training images", e.FewShot)
	}
	if e.ManyShot < e.FewShot {
		return keyErr("eval.many_shot", "%d is below eval.few_shot %d; want many_shot ≥ few_shot (many-shot: > many_shot training images, few-shot: < few_shot)", e.ManyShot, e.FewShot)
	}
	return nil
}

func (o *OutputConfig) validate() error {
	if o.Dir == "" {
		return keyErr("output.dir", "empty; want the directory that holds run directories")
	}
	if o.Name != "" && (filepath.IsAbs(o.Name) || strings.Contains(o.Name, "..")) {
		return keyErr("output.name", "%q; want a relative name inside output.dir", o.Name)
	}
	return nil
}

func (c *Config) validateCompare() error {
	seen := map[string]bool{}
	for i, v := range c.Compare {
		key := fmt.Sprintf("compare[%d].name", i)
		if v.Name == "" || strings.ContainsAny(v.Name, `/\ `) || v.Name == "." || v.Name == ".." {
			return keyErr(key, "%q; want a non-empty name without slashes or spaces", v.Name)
		}
		if seen[v.Name] {
			return keyErr(key, "%q appears twice; want distinct names", v.Name)
		}
		seen[v.Name] = true
	}
	return nil
}
