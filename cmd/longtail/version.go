package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/longtail-ml/longtail/pipeline"
)

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print longtail's version, commit and Go version",
		Long:    "version prints the module version, the VCS commit the binary was built from (with +dirty for\nuncommitted changes), and the Go toolchain and platform.",
		Example: "  longtail version",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(a.stdout, versionString())
			return nil
		},
	}
}

func versionString() string { return pipeline.Version() }
