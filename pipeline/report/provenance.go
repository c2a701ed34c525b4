package report

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/longtail-ml/longtail/pipeline"
)

// Provenance says what a report's finished runs trained on and with what,
// from each run's config.yaml and final.json, so that a ResNet-8 sweep on
// the synthetic data is not mistaken for a CIFAR-10 paper table. Each list
// holds one entry per distinct value, in run order.
type Provenance struct {
	// Source is the sweep file the runs were expanded from; empty for run
	// directories.
	Source string
	// Data describes the data set: data.source and data.path, or the
	// synthetic data's size and seed.
	Data []string
	// Model is the network: "ResNet-32 (width 16)".
	Model []string
	// Epochs are the configured train.epochs.
	Epochs []string
	// Common are the settings, as key=value, that differ from longtail's
	// defaults (pipeline.Default, completed for the class count) and are
	// the same in every run, sorted by key. Keys summarised above
	// (data.source, data.synthetic.*, model.*, train.epochs) and keys that
	// do not change the result (runtime.*, output.*, ...) are left out.
	Common []string
	// ByMethod are, for each method with any, the other such settings that
	// are the same in all of the method's runs.
	ByMethod map[string][]string
	// Varied names the keys that differ between runs of one method besides
	// data.imbalance, train.seed and data.lt_seed (other grid keys; the
	// table's setting column shows their values).
	Varied []string
	// DataDigests are the training data's content digests before the long
	// tail (final.json data_digest); Subsets the chosen images' digests
	// with how they were chosen (subset.json in each run); Selection how
	// the reported model was picked.
	DataDigests, Subsets, Selection []string
	// Versions are the longtail builds that finished the runs (final.json);
	// "not recorded" for runs that predate the field.
	Versions []string
	// Reporter is the longtail build that wrote the report.
	Reporter string
	// Unreadable names finished runs whose config.yaml did not load; they
	// are left out of the lists above.
	Unreadable []string
}

// summarised are the keys Provenance states in its own lines.
var summarised = []string{"data.source", "data.path", "data.synthetic.", "model.", "train.epochs"}

// provenance reads the finished runs' configs; dirs are the runs'
// directories, by run name.
func (rep *Report) provenance(sweepFile string, dirs map[string]string) error {
	p := &Provenance{Source: sweepFile, Reporter: pipeline.Version(), ByMethod: map[string][]string{}}
	add := func(list *[]string, v string) {
		if !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	type runSettings struct {
		method string
		// kv are the settings off the defaults; all every setting.
		kv, all map[string]string
	}
	var runs []runSettings
	for _, r := range rep.Runs {
		v := r.Final.Version
		if v == "" {
			v = "not recorded"
		}
		add(&p.Versions, v)
		cfg, err := pipeline.Load(pipeline.Sources{File: filepath.Join(dirs[r.Name], pipeline.ConfigFile)})
		if err != nil {
			p.Unreadable = append(p.Unreadable, r.Name)
			continue
		}
		add(&p.Data, describeData(cfg.Data))
		if d := r.Final.DataDigest; d != "" {
			add(&p.DataDigests, d)
		}
		if d := r.Final.SubsetDigest; d != "" {
			how := fmt.Sprintf("data.lt_pick %s, data.lt_seed %d", cfg.Data.LTPick, cfg.Data.LTSeed)
			if cfg.Data.Subset != "" {
				how = "data.subset " + cfg.Data.Subset
			}
			if n := cfg.Data.ValPerClass; n > 0 {
				how += fmt.Sprintf(", %d validation images per class", n)
			}
			add(&p.Subsets, fmt.Sprintf("%s (%s)", d, how))
		}
		sel := "last epoch"
		if cfg.Train.Select == pipeline.SelectBestVal {
			sel = "best validation epoch (train.select best_val)"
		}
		if cfg.Data.ValPerClass > 0 && cfg.Train.Select != pipeline.SelectBestVal {
			sel += "; validation split held out, test set read once after the last epoch"
		}
		add(&p.Selection, sel)
		add(&p.Model, fmt.Sprintf("ResNet-%d (width %d)", cfg.Model.Depth, cfg.Model.Width))
		add(&p.Epochs, strconv.Itoa(cfg.Train.Epochs))
		kv, all, err := overrides(cfg, len(r.Final.Classes))
		if err != nil {
			return err
		}
		runs = append(runs, runSettings{r.Method, kv, all})
	}
	if len(runs) > 0 {
		keys := map[string]bool{}
		for _, r := range runs {
			for k := range r.kv {
				keys[k] = true
			}
		}
		// same reports whether every run of rs has the same value of k
		// (a key a run does not override has its default, "").
		same := func(rs []runSettings, k string) bool {
			return !slices.ContainsFunc(rs, func(r runSettings) bool { return r.kv[k] != rs[0].kv[k] })
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if same(runs, k) {
				p.Common = append(p.Common, k+"="+runs[0].kv[k])
				continue
			}
			perMethod := true
			for _, m := range rep.Methods {
				var rs []runSettings
				for _, r := range runs {
					if r.method == m {
						rs = append(rs, r)
					}
				}
				if len(rs) > 0 && !same(rs, k) {
					perMethod = false
				}
			}
			if !perMethod {
				if k != "data.imbalance" && k != "train.seed" && k != "data.lt_seed" { // the IF column and the replicates
					p.Varied = append(p.Varied, k)
				}
				continue
			}
			for _, m := range rep.Methods {
				i := slices.IndexFunc(runs, func(r runSettings) bool { return r.method == m })
				if i < 0 {
					continue
				}
				p.ByMethod[m] = append(p.ByMethod[m], k+"="+runs[i].all[k])
			}
		}
	}
	rep.Provenance = p
	return nil
}

// overrides returns the result-deciding keys of cfg whose values differ from
// the defaults completed for classes, leaving out the summarised ones, and
// all of cfg's result-deciding keys.
func overrides(cfg *pipeline.Config, classes int) (kv, all map[string]string, err error) {
	got, err := pipeline.Fingerprint(cfg)
	if err != nil {
		return nil, nil, err
	}
	def := pipeline.Default()
	if classes > 0 {
		if err := def.Complete(classes); err != nil {
			return nil, nil, err
		}
	}
	want, err := pipeline.Fingerprint(&def)
	if err != nil {
		return nil, nil, err
	}
	kv, all = map[string]string{}, map[string]string{}
	for k, v := range got {
		var s string
		if json.Unmarshal([]byte(v), &s) != nil {
			s = v // not a JSON string: a number, a bool or a list
		}
		all[k] = s
		if v != want[k] && !slices.ContainsFunc(summarised, func(p string) bool { return strings.HasPrefix(k, p) }) {
			kv[k] = s
		}
	}
	return kv, all, nil
}

// describeData says what data a run trained on.
func describeData(d pipeline.DataConfig) string {
	if d.Source == pipeline.SourceSynthetic {
		s := d.Synthetic
		return fmt.Sprintf("synthetic (built in: %d classes, %d training and %d test images per class before the long tail, seed %d)",
			s.Classes, s.TrainPerClass, s.TestPerClass, s.Seed)
	}
	return fmt.Sprintf("%s from %s", d.Source, d.Path)
}

// provLine is one line of a report's provenance: a label and either text
// or settings (key=value, shown as code).
type provLine struct {
	Label, Text string
	Code        []string
}

// Markdown renders the line's value.
func (l provLine) Markdown() string {
	if len(l.Code) == 0 {
		return l.Text
	}
	return "`" + strings.Join(l.Code, "`, `") + "`"
}

// lines renders the provenance for Markdown and HTML alike.
func (p *Provenance) lines(methods []string) []provLine {
	if p == nil {
		return nil
	}
	var out []provLine
	if p.Source != "" {
		out = append(out, provLine{Label: "sweep file", Text: p.Source})
	}
	out = append(out,
		provLine{Label: "data", Text: orUnknown(p.Data)},
		provLine{Label: "model", Text: orUnknown(p.Model)},
		provLine{Label: "epochs", Text: orUnknown(p.Epochs)})
	if len(p.Common) > 0 {
		out = append(out, provLine{Label: "settings of every run (those not at longtail's defaults)", Code: p.Common})
	} else if len(p.Data) > 0 && len(p.ByMethod) == 0 && len(p.Varied) == 0 {
		out = append(out, provLine{Label: "settings", Text: "longtail's defaults"})
	}
	for _, m := range methods {
		if kv := p.ByMethod[m]; len(kv) > 0 {
			out = append(out, provLine{Label: "settings of " + m, Code: kv})
		}
	}
	if len(p.Varied) > 0 {
		out = append(out, provLine{Label: "also varied between runs", Text: strings.Join(p.Varied, ", ") + " (the setting column)"})
	}
	if len(p.Unreadable) > 0 {
		out = append(out, provLine{Label: "config.yaml unreadable", Text: strings.Join(p.Unreadable, ", ")})
	}
	if len(p.DataDigests) > 0 {
		out = append(out, provLine{Label: "training data (content digest before the long tail)", Text: strings.Join(p.DataDigests, "; ")})
	}
	if len(p.Subsets) > 0 {
		out = append(out, provLine{Label: "subsets trained on (subset.json in each run)", Text: strings.Join(p.Subsets, "; ")})
	}
	if len(p.Selection) > 0 {
		out = append(out, provLine{Label: "model reported", Text: strings.Join(p.Selection, "; ")})
	}
	return append(out,
		provLine{Label: "trained with", Text: strings.Join(p.Versions, "; ")},
		provLine{Label: "report written by", Text: p.Reporter})
}

func orUnknown(v []string) string {
	if len(v) == 0 {
		return "unknown (no readable config.yaml)"
	}
	return strings.Join(v, "; ")
}
