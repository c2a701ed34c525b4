package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/longtail-ml/longtail/pipeline"
)

// Usage errors are the command line's: a misspelt flag, a missing or extra
// argument, a --set without '='. They exit with exitConfig (2), as a bad
// config does; anything that fails while working exits with exitError (1).
// cobra words its own usage errors itself and marks none of them, so
// guardUsage wraps every command's argument check and flag errors, and
// run marks cobra's "unknown command" of the root.

// guardUsage makes the usage errors of cmd and its subcommands wrap
// errUsage, and adds what the user probably meant.
func guardUsage(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(flagError)
	if cmd.Runnable() {
		check := cmd.Args
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := checkSet(c, args); err != nil {
				return err
			}
			if check == nil {
				return nil
			}
			err := check(c, args)
			if err == nil || errors.Is(err, errUsage) {
				return err
			}
			msg := err.Error()
			if strings.HasPrefix(msg, "unknown command ") && !c.HasSubCommands() {
				// cobra.NoArgs's words, for a command without subcommands.
				msg = fmt.Sprintf("%s takes no arguments; got %q", c.Name(), args[0])
			}
			return fmt.Errorf("%w: %s%s (usage: %s)", errUsage, msg, argHint(c, args), c.UseLine())
		}
	}
	for _, sub := range cmd.Commands() {
		guardUsage(sub)
	}
}

// checkSet refuses a --set value without '=': `--set train.epochs 2`
// leaves "2" as an argument, which would otherwise be reported as an
// unknown command.
func checkSet(c *cobra.Command, args []string) error {
	f := c.Flags().Lookup("set")
	if f == nil || !f.Changed {
		return nil
	}
	sv, ok := f.Value.(pflag.SliceValue)
	if !ok {
		return nil
	}
	for _, s := range sv.GetSlice() {
		if !strings.Contains(s, "=") {
			value := "VALUE"
			if len(args) > 0 {
				value = args[0] // most likely the value, split off by a space
			}
			return fmt.Errorf("%w: --set %s: want key=value with no space, e.g. --set %s=%s", errUsage, s, s, value)
		}
	}
	return nil
}

// argHint says what an unexpected argument probably meant.
func argHint(c *cobra.Command, args []string) string {
	if len(args) == 0 {
		return ""
	}
	a := args[0]
	fi, err := os.Stat(a)
	switch {
	case c.Flags().Lookup("config") != nil && (strings.HasSuffix(a, ".yaml") || strings.HasSuffix(a, ".yml")):
		return fmt.Sprintf("; a config file goes after -c: longtail %s -c %s", c.Name(), a)
	case c.Flags().Lookup("resume") != nil && err == nil && fi.IsDir() && exists(filepath.Join(a, pipeline.ConfigFile)):
		return fmt.Sprintf("; to continue that run: longtail %s --resume %s", c.Name(), a)
	}
	return ""
}

// flagError words pflag's errors as usage errors and suggests the flag
// nearest to an unknown one: --epoch → did you mean --epochs?
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		var names []string
		c.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		c.InheritedFlags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		if best := pipeline.Closest(name, names); best != "" {
			msg += "; did you mean --" + best + "?"
		} else if k, ok := configKey(name); ok {
			msg += fmt.Sprintf("; %s is a config key: --set %s=VALUE", k, k)
		}
	}
	return fmt.Errorf("%w: %s (see longtail %s --help)", errUsage, msg, c.Name())
}

// configKey returns the config key that name is, or ends in.
func configKey(name string) (string, bool) {
	k := pipeline.Closest(name, pipeline.Keys())
	return k, k != "" && (k == name || strings.HasSuffix(k, "."+name))
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
