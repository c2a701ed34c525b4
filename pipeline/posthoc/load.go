package posthoc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/longtail-ml/longtail/pipeline"
)

// Section is the YAML key of the posthoc settings, and the prefix of their
// --set keys (posthoc.tau, posthoc.train.lr).
const Section = "posthoc"

// IsKey reports whether a dotted key is a posthoc setting.
func IsKey(key string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(key)), Section+".")
}

// LoadConfig resolves the posthoc settings: the defaults, then the posthoc:
// section of the YAML file (empty: none; the file holds nothing else), then
// the "posthoc.key=value" overrides in set (YAML values: 0.5, [0, 1],
// [crt, lws]). Unknown keys, values of the wrong type and invalid settings
// are pipeline.ConfigErrors naming the key and where it came from.
func LoadConfig(file string, set []string) (Config, error) {
	v := viper.New()
	source := map[string]string{}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return Config{}, &pipeline.ConfigError{Source: file, Msg: fmt.Sprintf("cannot read the posthoc config: %v", errors.Unwrap(err))}
		}
		v.SetConfigType("yaml")
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return Config{}, &pipeline.ConfigError{Source: file, Msg: fmt.Sprintf("not valid YAML: %v", err)}
		}
		for _, k := range slices.Sorted(slices.Values(v.AllKeys())) {
			if !IsKey(k) {
				return Config{}, &pipeline.ConfigError{Key: k, Source: file,
					Msg: "a posthoc config holds only the posthoc: section (methods, tau, train); the run's own config is RUN_DIR/config.yaml"}
			}
			source[k] = file
		}
	}
	for _, s := range set {
		k, val, ok := strings.Cut(s, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || !IsKey(k) {
			return Config{}, &pipeline.ConfigError{Source: "--set", Msg: fmt.Sprintf("%q: want posthoc.key=value, e.g. --set posthoc.methods=[crt,lws]", s)}
		}
		var parsed any
		if err := yaml.Unmarshal([]byte(val), &parsed); err != nil {
			return Config{}, &pipeline.ConfigError{Key: k, Source: "--set", Msg: fmt.Sprintf("%q is not a YAML value: %v", val, err)}
		}
		v.Set(k, parsed)
		source[k] = "--set"
	}
	var c Config
	if sec, ok := v.AllSettings()[Section]; ok { // AllSettings merges the file and the overrides per key
		d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &c, ErrorUnused: true, DecodeHook: pipeline.StrictHook})
		if err != nil {
			return Config{}, err
		}
		if err := d.Decode(sec); err != nil {
			return Config{}, decodeErr(err, source)
		}
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		var ce *pipeline.ConfigError
		if errors.As(err, &ce) {
			ce.Source = source[ce.Key]
		}
		return Config{}, err
	}
	return c, nil
}

// decodeErr names the key of a decoding error.
func decodeErr(err error, source map[string]string) error {
	var de *mapstructure.DecodeError
	if errors.As(err, &de) {
		key := Section
		if de.Name() != "" {
			key += "." + de.Name()
		}
		if i := strings.Index(key, "["); i >= 0 {
			key = key[:i]
		}
		msg := de.Unwrap().Error()
		if _, unknown, ok := strings.Cut(msg, "has invalid keys: "); ok {
			msg = "unknown key " + unknown + "; configs/README.md lists the posthoc keys"
		}
		return &pipeline.ConfigError{Key: key, Source: source[key], Msg: msg}
	}
	return &pipeline.ConfigError{Key: Section, Msg: err.Error()}
}
