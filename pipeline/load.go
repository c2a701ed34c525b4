package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts the environment variables that set config keys: key
// optim.lr is LONGTAIL_OPTIM_LR.
const EnvPrefix = "LONGTAIL_"

// Sources are the layers Load resolves over the defaults, each overriding the
// one before: the YAML file, the environment, then the --set overrides.
type Sources struct {
	// File is the YAML config; empty means defaults only.
	File string
	// Env holds "NAME=value" entries, usually os.Environ(); those named
	// EnvName(key) set key.
	Env []string
	// Set holds "key=value" overrides, applied in order.
	Set []string
}

// EnvName is the environment variable that sets a dotted key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every config key in dotted form, in struct order.
func Keys() []string {
	var out []string
	walkKeys(reflect.TypeFor[Config](), "", func(key string, _ reflect.Type) { out = append(out, key) })
	return out
}

// walkKeys calls f for every leaf of a mapstructure-tagged struct type; slices
// and maps are leaves.
func walkKeys(t reflect.Type, prefix string, f func(key string, t reflect.Type)) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("mapstructure"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		if sf.Type.Kind() == reflect.Struct {
			walkKeys(sf.Type, key, f)
			continue
		}
		f(key, sf.Type)
	}
}

// Load resolves src over the defaults and validates the result. A compare
// list is kept as it is; LoadVariant resolves its entries.
func Load(src Sources) (*Config, error) {
	return resolve(src, nil)
}

// LoadVariant resolves src with v's overrides applied between the file and
// the environment; the result has no compare list.
func LoadVariant(src Sources, v Variant, index int) (*Config, error) {
	return LoadLayers(src, Layer{From: fmt.Sprintf("compare[%d].set in %s", index, src.File), Set: v.Set})
}

// Layer is a set of dotted-key overrides; From says where they come from,
// for error messages (e.g. "grid in sweep.yaml").
type Layer struct {
	From string
	Set  map[string]any
}

// LoadLayers resolves src with layers applied in order between the file and
// the environment; the result has no compare list.
func LoadLayers(src Sources, layers ...Layer) (*Config, error) {
	return resolve(src, layers)
}

// resolver carries one resolution's state: the viper instance and where each
// key's value came from.
type resolver struct {
	v      *viper.Viper
	known  map[string]reflect.Type
	keys   []string
	source map[string]string
}

// resolve loads src over the defaults; non-nil layers are applied between
// the file and the environment, and the result has no compare list.
func resolve(src Sources, layers []Layer) (*Config, error) {
	r := &resolver{v: viper.New(), known: map[string]reflect.Type{}, source: map[string]string{}}
	walkKeys(reflect.TypeFor[Config](), "", func(key string, t reflect.Type) {
		r.known[key] = t
		r.keys = append(r.keys, key)
	})
	def, err := toMap(Default())
	if err != nil {
		return nil, err
	}
	for k, val := range flatten(def, "") {
		r.v.SetDefault(k, val)
		r.source[k] = "default"
	}
	if src.File != "" {
		if err := r.readFile(src.File); err != nil {
			return nil, err
		}
	}
	if layers != nil {
		for _, l := range layers {
			for _, k := range slices.Sorted(maps.Keys(l.Set)) {
				if err := r.set(k, l.Set[k], l.From); err != nil {
					return nil, err
				}
			}
		}
		r.v.Set("compare", []any{})
		r.source["compare"] = "layers"
	}
	if err := r.readEnv(src.Env); err != nil {
		return nil, err
	}
	for _, s := range src.Set {
		k, val, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, &ConfigError{Source: "--set", Msg: fmt.Sprintf("%q: want key=value, e.g. --set optim.lr=0.05", s)}
		}
		parsed, err := parseScalar(val)
		if err != nil {
			return nil, &ConfigError{Key: k, Source: "--set", Msg: err.Error()}
		}
		if err := r.set(strings.TrimSpace(k), parsed, "--set"); err != nil {
			return nil, err
		}
	}
	var cfg Config
	if err := r.decode(&cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, r.attribute(err)
	}
	return &cfg, nil
}

// sweepFileKeys are the top-level keys of a sweep file (package
// pipeline/sweep) that no run config has: a run config that holds one is a
// sweep file given to train, and is named as such.
var sweepFileKeys = []string{"base", "methods", "grid", "baseline", "parallel", "dir", "posthoc"}

// readFile merges the YAML file into the config layer after checking its keys.
func (r *resolver) readFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &ConfigError{Source: path, Msg: fmt.Sprintf("cannot read the config file: %v", errors.Unwrap(err))}
	}
	fv := viper.New()
	fv.SetConfigType("yaml")
	if err := fv.ReadConfig(bytes.NewReader(data)); err != nil {
		return &ConfigError{Source: path, Msg: fmt.Sprintf("not valid YAML: %v", err)}
	}
	for _, k := range slices.Sorted(slices.Values(fv.AllKeys())) {
		top, _, _ := strings.Cut(k, ".")
		if slices.Contains(sweepFileKeys, top) {
			return &ConfigError{Key: top, Source: path, Msg: fmt.Sprintf("a sweep file's key, not a run config's; run the sweep with `longtail sweep -c %s`", path)}
		}
		if err := r.checkKey(k); err != nil {
			err.(*ConfigError).Source = path
			return err
		}
		r.source[k] = path
	}
	return r.v.MergeConfigMap(fv.AllSettings())
}

// readEnv applies LONGTAIL_* variables that name keys; a near miss of a key's
// variable (within two edits) is an error, other LONGTAIL_* variables are not
// config.
func (r *resolver) readEnv(env []string) error {
	byName := map[string]string{}
	var names []string
	for _, k := range r.keys {
		byName[EnvName(k)] = k
		names = append(names, EnvName(k))
	}
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		key, ok := byName[name]
		if !ok {
			// Only a typo (two edits) is an error: other tools' LONGTAIL_*
			// variables must pass.
			if c := closestWithin(name, names, 2); c != "" {
				return &ConfigError{Source: "$" + name, Msg: fmt.Sprintf("%s is not a config variable; did you mean %s (key %s)?", name, c, byName[c])}
			}
			continue
		}
		parsed, err := parseScalar(val)
		if err != nil {
			return &ConfigError{Key: key, Source: "$" + name, Msg: err.Error()}
		}
		if err := r.set(key, parsed, "$"+name); err != nil {
			return err
		}
	}
	return nil
}

// set overrides key with val after checking the key.
func (r *resolver) set(key string, val any, from string) error {
	key = strings.ToLower(key)
	if err := r.checkKey(key); err != nil {
		err.(*ConfigError).Source = from
		return err
	}
	r.v.Set(key, val)
	r.source[key] = from
	return nil
}

// checkKey accepts known leaf keys and rejects the rest with a suggestion.
func (r *resolver) checkKey(key string) error {
	if _, ok := r.known[key]; ok {
		return nil
	}
	var under []string
	for _, k := range r.keys {
		if strings.HasPrefix(k, key+".") {
			under = append(under, k)
		}
	}
	if len(under) > 0 {
		return &ConfigError{Key: key, Msg: fmt.Sprintf("is a section, not a value; want a mapping of its keys (%s)", strings.Join(under, ", "))}
	}
	msg := "unknown key"
	if c := closest(key, r.keys); c != "" {
		msg += fmt.Sprintf("; did you mean %s?", c)
	} else {
		msg += "; configs/README.md lists the keys"
	}
	return &ConfigError{Key: key, Msg: msg}
}

// decode fills cfg strictly: no unknown keys and no lossy conversions.
func (r *resolver) decode(cfg *Config) error {
	err := r.v.UnmarshalExact(cfg, func(dc *mapstructure.DecoderConfig) {
		dc.WeaklyTypedInput = false
		dc.DecodeHook = StrictHook
	})
	if err == nil {
		return nil
	}
	var de *mapstructure.DecodeError
	if errors.As(err, &de) {
		key := de.Name()
		msg := de.Unwrap().Error()
		var ue *mapstructure.UnconvertibleTypeError
		if errors.As(de, &ue) {
			msg = fmt.Sprintf("%v (%T) has the wrong type; want %s", ue.Value, ue.Value, kindName(ue.Expected.Type()))
		}
		return r.attribute(&ConfigError{Key: key, Msg: msg})
	}
	return &ConfigError{Msg: err.Error()}
}

// attribute fills in where the faulty key's value came from.
func (r *resolver) attribute(err error) error {
	var ce *ConfigError
	if errors.As(err, &ce) && ce.Source == "" {
		key := ce.Key
		if i := strings.Index(key, "["); i >= 0 {
			key = key[:i]
		}
		ce.Source = r.source[key]
	}
	return err
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(kindName(t.Elem()), "a ")
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// StrictHook is the mapstructure decode hook of every config longtail reads
// (run configs and sweep files): it converts the strings that come from the
// environment and --set, and whole floats to integers, and refuses lossy
// conversions.
func StrictHook(from, to reflect.Type, data any) (any, error) {
	fk := from.Kind()
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch fk {
		case reflect.String:
			n, err := strconv.ParseInt(strings.TrimSpace(data.(string)), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not an integer", data)
			}
			return n, nil
		case reflect.Float32, reflect.Float64:
			f := reflect.ValueOf(data).Float()
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return nil, fmt.Errorf("%v is not an integer", data)
			}
			return int64(f), nil
		case reflect.Bool:
			return nil, fmt.Errorf("%v is not an integer", data)
		}
	case reflect.Float32, reflect.Float64:
		switch fk {
		case reflect.String:
			f, err := strconv.ParseFloat(strings.TrimSpace(data.(string)), 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number", data)
			}
			return f, nil
		case reflect.Bool:
			return nil, fmt.Errorf("%v is not a number", data)
		}
	case reflect.Bool:
		switch fk {
		case reflect.String:
			b, err := strconv.ParseBool(strings.TrimSpace(data.(string)))
			if err != nil {
				return nil, fmt.Errorf("%q is not true or false", data)
			}
			return b, nil
		case reflect.Bool:
		default:
			return nil, fmt.Errorf("%v is not true or false", data)
		}
	case reflect.String:
		switch fk {
		case reflect.Int, reflect.Int64, reflect.Float64, reflect.Bool, reflect.Uint64:
			return fmt.Sprint(data), nil
		}
	case reflect.Slice:
		switch fk {
		case reflect.String:
			s := strings.TrimSpace(data.(string))
			if s == "" {
				return []any{}, nil
			}
			var out []any
			for _, e := range strings.Split(s, ",") {
				out = append(out, strings.TrimSpace(e))
			}
			return out, nil
		case reflect.Slice, reflect.Array:
		default:
			return []any{data}, nil
		}
	}
	return data, nil
}

// parseScalar reads a value from the environment or --set as YAML, so that
// 0.1, 5e-4, true and [160, 180] have their natural types.
func parseScalar(s string) (any, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("%q is not a YAML value: %v", s, err)
	}
	return v, nil
}

// toMap turns a config into nested maps keyed by the mapstructure tags.
func toMap(c Config) (map[string]any, error) {
	var m map[string]any
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &m})
	if err != nil {
		return nil, err
	}
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("pipeline: config to map: %w", err)
	}
	return m, nil
}

// Flatten turns nested maps into dotted config keys ({optim: {lr: 0.1}} →
// optim.lr); values of map-typed keys and non-maps are leaves.
func Flatten(m map[string]any) map[string]any { return flatten(m, "") }

// flatten turns nested maps into dotted keys; other values are leaves.
func flatten(m map[string]any, prefix string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok && !isMapLeaf(key) {
			maps.Copy(out, flatten(sub, key))
			continue
		}
		out[key] = v
	}
	return out
}

// isMapLeaf reports keys whose value is itself a map.
func isMapLeaf(key string) bool {
	t, ok := keyTypes()[key]
	return ok && t.Kind() == reflect.Map
}

func keyTypes() map[string]reflect.Type {
	m := map[string]reflect.Type{}
	walkKeys(reflect.TypeFor[Config](), "", func(key string, t reflect.Type) { m[key] = t })
	return m
}

// YAML renders the config with its mapstructure keys, as a run stores it.
func (c *Config) YAML() ([]byte, error) {
	m, err := toMap(*c)
	if err != nil {
		return nil, err
	}
	node, err := orderedNode(m, "")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return nil, fmt.Errorf("pipeline: config to YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("pipeline: config to YAML: %w", err)
	}
	return b.Bytes(), nil
}

// Flat returns the config as dotted key → value.
func (c *Config) Flat() (map[string]any, error) {
	m, err := toMap(*c)
	if err != nil {
		return nil, err
	}
	return flatten(m, ""), nil
}

// orderedNode renders nested maps as YAML with keys in struct order, so a
// stored config reads like configs/README.md.
func orderedNode(m map[string]any, prefix string) (*yaml.Node, error) {
	rank := map[string]int{}
	for i, k := range Keys() {
		for p := k; p != ""; {
			if _, ok := rank[p]; !ok {
				rank[p] = i
			}
			j := strings.LastIndex(p, ".")
			if j < 0 {
				break
			}
			p = p[:j]
		}
	}
	full := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return rank[full(a)] - rank[full(b)] })
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range keys {
		var val yaml.Node
		if sub, ok := m[k].(map[string]any); ok && !isMapLeaf(full(k)) {
			v, err := orderedNode(sub, full(k))
			if err != nil {
				return nil, err
			}
			val = *v
		} else if err := val.Encode(m[k]); err != nil {
			return nil, fmt.Errorf("pipeline: config key %s to YAML: %w", full(k), err)
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &val)
	}
	return n, nil
}
