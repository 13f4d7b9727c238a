package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/seed9c1868aa/articles/internal/buildinfo"
)

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and Go version of this binary",
		Long: `Print what this binary was built from on one line: the module version,
the VCS revision (with its commit time, and "modified" if the checkout had
uncommitted changes) and the Go version and platform. It does not contact
the server.`,
		Example: `  articles version`,
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(a.stdout, buildinfo.Read().String("articles"))
			return err
		},
	}
}
