package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/longtail-ml/longtail/pipeline"
	"github.com/longtail-ml/longtail/pipeline/posthoc"
	"github.com/longtail-ml/longtail/sampling/dataset"
)

// ManifestFile is the file a sweep writes into its directory: the runs it
// expands to, for report and for shards that share the directory.
const ManifestFile = "sweep.json"

// Keys a sweep treats specially: the imbalance factor and the seeds name
// every run and group its results. Runs that differ only by train.seed and
// data.lt_seed are replicates of one result (report's intervals are over
// them); any other grid key makes a setting of its own.
const (
	KeyImbalance = "data.imbalance"
	KeySeed      = "train.seed"
	KeyLTSeed    = "data.lt_seed"
)

// File is a sweep config as written: a base run config, overrides for
// every run, methods (named sets of overrides) and a grid of keys to lists
// of values. configs/README.md ("Sweeps") documents it.
type File struct {
	// Base is the run config every run starts from: a file name (relative
	// to the sweep file) or a mapping of config keys. Empty means the
	// defaults.
	Base any `mapstructure:"base"`
	// Set maps dotted keys to values applied to every run, over Base.
	Set map[string]any `mapstructure:"set"`
	// Methods are the compared variants, each a name and dotted-key
	// overrides applied over Set. Empty means one method, named after the
	// base file ("base" for an inline base).
	Methods []pipeline.Variant `mapstructure:"methods"`
	// Grid maps dotted keys to lists of values; every combination is a
	// run, for every method. Grid values override the methods'.
	Grid map[string]any `mapstructure:"grid"`
	// Baseline is the method report measures gains against. Default the
	// first method.
	Baseline string `mapstructure:"baseline"`
	// Parallel is how many runs train at once, the cores split between
	// them. Default 1.
	Parallel int `mapstructure:"parallel"`
	// Dir is the sweep directory. Default runs/<sweep file name>.
	Dir string `mapstructure:"dir"`
	// Posthoc lists post-hoc methods (package pipeline/posthoc) to run on
	// every finished run, e.g. [tau_norm, logit_adjust, crt]; report shows
	// each as a method row of its own. The runs need a validation split
	// (data.val_per_class). Default none.
	Posthoc []string `mapstructure:"posthoc"`
}

// fileKeys are File's keys, in order.
var fileKeys = []string{"base", "set", "methods", "grid", "baseline", "parallel", "dir", "posthoc"}

// Sweep is an expanded sweep: every run's name and config, in a fixed order
// (seed, then lt_seed, then imbalance factor, then method, then the other
// grid keys; the last varies fastest).
type Sweep struct {
	// File is the sweep file it was loaded from.
	File string `json:"file"`
	// Dir is the sweep directory; each run lives in Dir/<run name>.
	Dir string `json:"-"`
	// Baseline is the method gains are measured against.
	Baseline string `json:"baseline"`
	// Methods are the method names in order.
	Methods []string `json:"methods"`
	// Grid is the grid: dotted key → values.
	Grid map[string][]any `json:"grid"`
	// Parallel is how many runs train at once.
	Parallel int `json:"-"`
	// Posthoc are the post-hoc methods run on every finished run.
	Posthoc []string `json:"posthoc,omitempty"`
	// Runs are the runs in order; Runs[i].Index is i.
	Runs []Run `json:"runs"`
}

// Run is one run of a sweep.
type Run struct {
	Index int `json:"index"`
	// Name is the run's directory name, e.g. if100-ours_bs-seed0,
	// if100-ours_bs-lr0.05-seed0 with other grid keys, or
	// if100-ours_bs-seed0-lt1 when the grid varies data.lt_seed.
	Name      string  `json:"name"`
	Method    string  `json:"method"`
	Imbalance float64 `json:"imbalance"`
	// Seed is train.seed and LTSeed data.lt_seed: together they tell the
	// replicates of a group apart.
	Seed   int64 `json:"seed"`
	LTSeed int64 `json:"lt_seed"`
	// Setting labels the run's values of grid keys other than
	// data.imbalance, train.seed and data.lt_seed ("lr0.05"); empty when
	// there are none.
	Setting string `json:"setting,omitempty"`
	// Params are the run's grid values, dotted key → value.
	Params map[string]any `json:"params"`
	// Config is the resolved config; its output section points at the run
	// directory.
	Config *pipeline.Config `json:"-"`
}

// Group names the runs that differ only by train.seed and data.lt_seed:
// "if100 ours_bs" and the setting, if any.
func (r *Run) Group() string {
	g := "if" + formatFloat(r.Imbalance) + " " + r.Method
	if r.Setting != "" {
		g += " " + r.Setting
	}
	return g
}

// Sources are the layers a sweep's runs resolve over their files: the
// environment and --set overrides, applied to every run. Keys the sweep
// varies (grid keys, methods' keys) may not be overridden.
type Sources struct {
	// Env holds "NAME=value" entries, usually os.Environ().
	Env []string
	// Set holds "key=value" overrides.
	Set []string
	// Dir, when set, replaces the sweep file's dir.
	Dir string
}

// Load reads a sweep file and resolves every run's config; each run is
// checked as a run config would be, so a bad value fails here, before any
// training, naming the run and the key.
func Load(file string, src Sources) (*Sweep, error) {
	sf, err := readSweepFile(file)
	if err != nil {
		return nil, err
	}
	s := &Sweep{File: file, Baseline: sf.Baseline, Parallel: sf.Parallel, Grid: map[string][]any{}}
	fileErr := func(key, format string, args ...any) error {
		return &pipeline.ConfigError{Key: key, Source: file, Msg: fmt.Sprintf(format, args...)}
	}

	base := pipeline.Sources{Env: src.Env, Set: src.Set}
	var layers []pipeline.Layer
	switch b := sf.Base.(type) {
	case nil:
	case string:
		if b == "" {
			break
		}
		if !filepath.IsAbs(b) {
			b = filepath.Join(filepath.Dir(file), b)
		}
		if err := refuseCompare(b); err != nil {
			return nil, err
		}
		base.File = b
	case map[string]any:
		if _, ok := b["compare"]; ok {
			return nil, fileErr("base.compare", "a sweep's base has no compare list; list the variants under methods")
		}
		layers = append(layers, pipeline.Layer{From: "base in " + file, Set: pipeline.Flatten(b)})
	default:
		return nil, fileErr("base", "%v (%T); want a config file name or a mapping of config keys", b, b)
	}
	layers = append(layers, pipeline.Layer{From: "set in " + file, Set: pipeline.Flatten(sf.Set)})

	methods := sf.Methods
	if len(methods) == 0 {
		name := "base"
		if base.File != "" {
			name = strings.TrimSuffix(filepath.Base(base.File), filepath.Ext(base.File))
		}
		methods = []pipeline.Variant{{Name: name}}
	}
	varied := map[string]string{} // key → what varies it
	seen := map[string]bool{}
	for i, m := range methods {
		key := fmt.Sprintf("methods[%d].name", i)
		if m.Name == "" || strings.ContainsAny(m.Name, `/\ `) || m.Name == "." || m.Name == ".." {
			return nil, fileErr(key, "%q; want a non-empty name without slashes or spaces", m.Name)
		}
		if seen[m.Name] {
			return nil, fileErr(key, "%q appears twice; want distinct names", m.Name)
		}
		seen[m.Name] = true
		methods[i].Set = pipeline.Flatten(m.Set)
		for k := range methods[i].Set {
			if _, ok := varied[strings.ToLower(k)]; !ok {
				varied[strings.ToLower(k)] = fmt.Sprintf("methods[%d].set", i)
			}
		}
		s.Methods = append(s.Methods, m.Name)
	}
	if s.Baseline == "" {
		s.Baseline = s.Methods[0]
	} else if !seen[s.Baseline] {
		return nil, fileErr("baseline", "%q is not a method; want one of %s", s.Baseline, strings.Join(s.Methods, ", "))
	}
	if s.Parallel == 0 {
		s.Parallel = 1
	}
	if s.Parallel < 0 {
		return nil, fileErr("parallel", "%d; want the number of runs to train at once, at least 1", s.Parallel)
	}
	for k, v := range pipeline.Flatten(sf.Grid) {
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return nil, fileErr("grid."+k, "%v; want a non-empty list of values, e.g. [10, 100]", v)
		}
		s.Grid[k] = list
		varied[k] = "grid"
	}
	if err := refuseOverrides(varied, src); err != nil {
		return nil, err
	}

	s.Dir = sf.Dir
	if src.Dir != "" {
		s.Dir = src.Dir
	}
	if s.Dir == "" {
		s.Dir = filepath.Join("runs", strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)))
	}
	if err := s.expand(base, layers, methods); err != nil {
		return nil, err
	}
	for _, m := range sf.Posthoc {
		if !slices.Contains(posthoc.Names(), m) {
			return nil, fileErr("posthoc", "%q; want some of %s", m, strings.Join(posthoc.Names(), ", "))
		}
	}
	s.Posthoc = sf.Posthoc
	for _, r := range s.Runs {
		if d := r.Config.Data; len(s.Posthoc) > 0 && d.ValPerClass == 0 && d.Source != pipeline.SourceFolder {
			return nil, fileErr("posthoc", "run %s has no validation split to choose the post-hoc settings on; set data.val_per_class (under set)", r.Name)
		}
	}
	return s, nil
}

// readSweepFile reads file strictly: unknown keys and wrong types fail,
// naming the key.
func readSweepFile(file string) (*File, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &pipeline.ConfigError{Source: file, Msg: fmt.Sprintf("cannot read the sweep file: %v", errors.Unwrap(err))}
	}
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, &pipeline.ConfigError{Source: file, Msg: fmt.Sprintf("not valid YAML: %v", err)}
	}
	raw := v.AllSettings()
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if slices.Contains(fileKeys, k) {
			continue
		}
		msg := "unknown sweep key; want " + strings.Join(fileKeys, ", ")
		if c := pipeline.Closest(k, fileKeys); c != "" {
			msg = fmt.Sprintf("unknown sweep key; did you mean %s?", c)
		} else if slices.Contains(pipeline.Keys(), k) || slices.ContainsFunc(pipeline.Keys(), func(c string) bool { return strings.HasPrefix(c, k+".") }) {
			msg = "a run config key at the top of a sweep file; put it under set (or base)"
		}
		return nil, &pipeline.ConfigError{Key: k, Source: file, Msg: msg}
	}
	if len(raw) == 0 {
		return nil, &pipeline.ConfigError{Source: file, Msg: "empty sweep file; want base, methods and grid (configs/README.md, \"Sweeps\")"}
	}
	var sf File
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &sf, ErrorUnused: true, DecodeHook: pipeline.StrictHook})
	if err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", file, err)
	}
	if err := dec.Decode(raw); err != nil {
		var de *mapstructure.DecodeError
		if errors.As(err, &de) {
			return nil, &pipeline.ConfigError{Key: de.Name(), Source: file, Msg: de.Unwrap().Error()}
		}
		return nil, &pipeline.ConfigError{Source: file, Msg: err.Error()}
	}
	return &sf, nil
}

// refuseCompare rejects a base file with a compare list, which a sweep
// would otherwise drop silently.
func refuseCompare(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &pipeline.ConfigError{Key: "base", Source: path, Msg: fmt.Sprintf("cannot read the base config: %v", errors.Unwrap(err))}
	}
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return &pipeline.ConfigError{Source: path, Msg: fmt.Sprintf("not valid YAML: %v", err)}
	}
	if l, ok := v.Get("compare").([]any); ok && len(l) > 0 {
		return &pipeline.ConfigError{Key: "compare", Source: path, Msg: "a sweep's base has no compare list; list the variants under the sweep's methods"}
	}
	return nil
}

// refuseOverrides rejects environment variables and --set overrides of keys
// the sweep varies: they would make its runs identical.
func refuseOverrides(varied map[string]string, src Sources) error {
	for _, kv := range src.Env {
		name, _, _ := strings.Cut(kv, "=")
		for k, by := range varied {
			if name == pipeline.EnvName(k) {
				return &pipeline.ConfigError{Key: k, Source: "$" + name, Msg: fmt.Sprintf("the sweep varies this key (%s); unset %s", by, name)}
			}
		}
	}
	for _, s := range src.Set {
		k, _, _ := strings.Cut(s, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if by, ok := varied[k]; ok {
			return &pipeline.ConfigError{Key: k, Source: "--set", Msg: fmt.Sprintf("the sweep varies this key (%s); change it there", by)}
		}
	}
	return nil
}

// expand resolves every combination of seed, imbalance, method and the
// other grid keys.
func (s *Sweep) expand(base pipeline.Sources, layers []pipeline.Layer, methods []pipeline.Variant) error {
	// Axes in order, the last varying fastest; the method axis is "".
	var axes []string
	for _, k := range []string{KeySeed, KeyLTSeed, KeyImbalance} {
		if _, ok := s.Grid[k]; ok {
			axes = append(axes, k)
		}
	}
	axes = append(axes, "")
	var others []string
	for _, k := range slices.Sorted(maps.Keys(s.Grid)) {
		if !special(k) {
			others = append(others, k)
		}
	}
	axes = append(axes, others...)
	_, ltGrid := s.Grid[KeyLTSeed]
	label := settingLabels(others)

	sizes := make([]int, len(axes))
	total := 1
	for i, a := range axes {
		sizes[i] = len(s.Grid[a])
		if a == "" {
			sizes[i] = len(methods)
		}
		total *= sizes[i]
	}
	names := map[string]int{}
	pos := make([]int, len(axes))
	for n := range total {
		var m pipeline.Variant
		params := map[string]any{}
		var setting []string
		for i, a := range axes {
			switch {
			case a == "":
				m = methods[pos[i]]
			default:
				params[a] = s.Grid[a][pos[i]]
			}
		}
		for _, k := range others {
			setting = append(setting, label[k]+valueLabel(params[k]))
		}
		from := s.File
		run := append(slices.Clone(layers),
			pipeline.Layer{From: fmt.Sprintf("methods %s in %s", m.Name, from), Set: m.Set},
			pipeline.Layer{From: "grid in " + from, Set: params})
		cfg, err := pipeline.LoadLayers(base, run...)
		if err != nil {
			return fmt.Errorf("sweep run %d (method %s, %s): %w", n, m.Name, describeParams(params), err)
		}
		if ltGrid && cfg.Data.Subset != "" {
			// The subset file decides the images: every lt_seed would
			// train on the same ones and pass for independent replicates.
			return &pipeline.ConfigError{Source: s.File, Key: "grid." + KeyLTSeed,
				Msg: fmt.Sprintf("run %d (method %s) pins its images with data.subset %s, which lt_seed does not change; vary data.lt_seed without data.subset, or drop it from the grid", n, m.Name, cfg.Data.Subset)}
		}
		if ltGrid && cfg.Data.LTPick == string(dataset.PickFirst) && cfg.Data.Imbalance > 1 {
			// first keeps the first n_i whatever the seed: the same.
			return &pipeline.ConfigError{Source: s.File, Key: "grid." + KeyLTSeed,
				Msg: fmt.Sprintf("run %d (method %s) picks its images with data.lt_pick first, which lt_seed does not change; use lt_pick seeded or ldam, or drop data.lt_seed from the grid", n, m.Name)}
		}
		r := Run{Index: n, Method: m.Name, Imbalance: cfg.Data.Imbalance, Seed: cfg.Train.Seed, LTSeed: cfg.Data.LTSeed,
			Setting: strings.Join(setting, "-"), Params: params, Config: cfg}
		r.Name = fmt.Sprintf("if%s-%s", formatFloat(r.Imbalance), r.Method)
		if r.Setting != "" {
			r.Name += "-" + r.Setting
		}
		r.Name += fmt.Sprintf("-seed%d", r.Seed)
		if ltGrid {
			r.Name += fmt.Sprintf("-lt%d", r.LTSeed)
		}
		if prev, dup := names[r.Name]; dup {
			return &pipeline.ConfigError{Source: s.File, Key: "grid",
				Msg: fmt.Sprintf("runs %d and %d are both named %s; want grid values that differ once written out", prev, n, r.Name)}
		}
		names[r.Name] = n
		cfg.Output = pipeline.OutputConfig{Dir: s.Dir, Name: r.Name}
		s.Runs = append(s.Runs, r)
		for i := len(pos) - 1; i >= 0; i-- {
			if pos[i]++; pos[i] < sizes[i] {
				break
			}
			pos[i] = 0
		}
	}
	return nil
}

// special reports whether a grid key names runs rather than making a
// setting: the imbalance factor and the replicate seeds.
func special(k string) bool { return k == KeySeed || k == KeyLTSeed || k == KeyImbalance }

// settingLabels names grid keys in run names by their last part ("lr" for
// optim.lr), or the whole key when two keys share it.
func settingLabels(keys []string) map[string]string {
	count := map[string]int{}
	last := func(k string) string { return k[strings.LastIndex(k, ".")+1:] }
	for _, k := range keys {
		count[last(k)]++
	}
	out := map[string]string{}
	for _, k := range keys {
		out[k] = last(k)
		if count[last(k)] > 1 {
			out[k] = strings.ReplaceAll(k, ".", "_")
		}
	}
	return out
}

// valueLabel writes a grid value for a directory name: letters, digits and
// . _ + - only.
func valueLabel(v any) string {
	s := fmt.Sprint(v)
	if f, ok := v.(float64); ok {
		s = formatFloat(f)
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '+', r == '-':
			return r
		}
		return '_'
	}, s)
	return strings.Trim(s, "_")
}

func describeParams(p map[string]any) string {
	if len(p) == 0 {
		return "no grid values"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, p[k]))
	}
	return strings.Join(parts, " ")
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// MissingData checks the runs' data paths (pipeline.DataConfig.CheckPath)
// and returns one error per missing path, in run order. Loading a sweep does
// not need the data: a dry run or an emitted job shows these as warnings,
// and Train refuses to start a run without its data.
func (s *Sweep) MissingData() []error {
	var errs []error
	seen := map[string]bool{}
	for _, r := range s.Runs {
		d := r.Config.Data
		if seen[d.Source+"\x00"+d.Path] {
			continue
		}
		seen[d.Source+"\x00"+d.Path] = true
		if err := d.CheckPath(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Counts describes the grid's shape: "3 methods × 4 imbalance factors ×
// 3 seeds", or "... × 2 data.lt_seed × 3 seeds" when the grid varies the
// long tail's draw as well.
func (s *Sweep) Counts() string {
	plural := func(n int, what string) string {
		if n == 1 {
			return "1 " + what
		}
		if strings.HasSuffix(what, "factor") || strings.HasSuffix(what, "seed") || strings.HasSuffix(what, "method") {
			return fmt.Sprintf("%d %ss", n, what)
		}
		return fmt.Sprintf("%d %s", n, what)
	}
	parts := []string{plural(len(s.Methods), "method")}
	if l, ok := s.Grid[KeyImbalance]; ok {
		parts = append(parts, plural(len(l), "imbalance factor"))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Grid)) {
		if !special(k) {
			parts = append(parts, fmt.Sprintf("%d %s", len(s.Grid[k]), k))
		}
	}
	if l, ok := s.Grid[KeyLTSeed]; ok {
		parts = append(parts, fmt.Sprintf("%d %s", len(l), KeyLTSeed))
	}
	if l, ok := s.Grid[KeySeed]; ok {
		parts = append(parts, plural(len(l), "seed"))
	}
	return strings.Join(parts, " × ")
}

// WriteManifest writes Dir/sweep.json: the sweep's runs, which report
// reads. Every process of a sharded sweep writes the same content.
func (s *Sweep) WriteManifest() error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("sweep: directory: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("sweep: manifest: %w", err)
	}
	return pipeline.WriteFileAtomic(filepath.Join(s.Dir, ManifestFile), append(b, '\n'))
}

// ErrNotSweep reports a directory without a sweep manifest.
var ErrNotSweep = errors.New("sweep: not a sweep directory")

// ReadManifest reads dir/sweep.json; the runs have no Config.
func ReadManifest(dir string) (*Sweep, error) {
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s; `longtail sweep` writes it", ErrNotSweep, dir, ManifestFile)
	}
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	var s Sweep
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", path, err)
	}
	if len(s.Runs) == 0 || len(s.Methods) == 0 {
		return nil, fmt.Errorf("%w: %s lists no runs", ErrNotSweep, path)
	}
	for i, r := range s.Runs {
		if r.Index != i || r.Name == "" || !slices.Contains(s.Methods, r.Method) {
			return nil, fmt.Errorf("sweep: %s: run %d (%q, method %q) does not fit the manifest", path, i, r.Name, r.Method)
		}
	}
	s.Dir = dir
	return &s, nil
}

// SameRuns reports whether two sweeps (or manifests read back) list the
// same runs: names, methods, imbalance factors, seeds (train.seed and
// data.lt_seed) and grid values.
func (a *Sweep) SameRuns(b *Sweep) bool {
	if len(a.Runs) != len(b.Runs) || !slices.Equal(a.Methods, b.Methods) {
		return false
	}
	for i := range a.Runs {
		x, y := a.Runs[i], b.Runs[i]
		// As JSON, so that a manifest read back (numbers as float64)
		// equals the sweep it was written from.
		px, _ := json.Marshal(x.Params)
		py, _ := json.Marshal(y.Params)
		if x.Name != y.Name || x.Method != y.Method || x.Imbalance != y.Imbalance || x.Seed != y.Seed || x.LTSeed != y.LTSeed || !bytes.Equal(px, py) {
			return false
		}
	}
	return true
}
