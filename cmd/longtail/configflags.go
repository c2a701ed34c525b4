package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline"
)

// configFlags are the flags that build a config: -c FILE, --set key=value,
// and convenience flags bound to dotted keys.
type configFlags struct {
	file  string
	set   []string
	bound []binding
}

// binding ties a flag to a config key; a flag given on the command line is
// applied like --set key=value, before the --set flags.
type binding struct {
	flag, key string
	quote     bool // pass the value as a YAML string
}

func (f *configFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&f.file, "config", "c", "", "YAML config file (configs/README.md documents the keys)")
	fs.StringArrayVar(&f.set, "set", nil, "override a config key, e.g. --set optim.lr=0.05 (repeatable; last wins)")
}

// bindInt and bindString add a flag that sets a config key.
func (f *configFlags) bindInt(cmd *cobra.Command, name, key, usage string) {
	cmd.Flags().Int(name, 0, usage+" (sets "+key+")")
	f.bound = append(f.bound, binding{name, key, false})
}

func (f *configFlags) bindString(cmd *cobra.Command, name, key, usage string) {
	cmd.Flags().String(name, "", usage+" (sets "+key+")")
	f.bound = append(f.bound, binding{name, key, true})
}

// sources returns the config layers: the file, the environment, then the
// bound flags that were given and the --set flags.
func (f *configFlags) sources(cmd *cobra.Command, file string) pipeline.Sources {
	var set []string
	for _, b := range f.bound {
		if fl := cmd.Flags().Lookup(b.flag); fl != nil && fl.Changed {
			v := fl.Value.String()
			if b.quote {
				v = "'" + strings.ReplaceAll(v, "'", "''") + "'"
			}
			set = append(set, b.key+"="+v)
		}
	}
	return pipeline.Sources{File: file, Env: os.Environ(), Set: append(set, f.set...)}
}
