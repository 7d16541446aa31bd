package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what the binary knows of its own build.
type versionInfo struct {
	Module    string `json:"module"`
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	Date      string `json:"date,omitempty"` // the commit's time (vcs.time)
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// buildVersion reads the build information the Go toolchain stamped
// into the binary: the module version, and the VCS commit and its time
// when built from a checkout.
func buildVersion() versionInfo {
	v := versionInfo{Module: "github.com/agentotp/agentotp", Version: "(unknown)", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Date = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// short is the one line of --version.
func (v versionInfo) short() string {
	s := v.Version
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (commit " + c
		if v.Modified {
			s += ", modified"
		}
		if v.Date != "" {
			s += ", " + v.Date
		}
		s += ")"
	}
	return s + " " + v.GoVersion + " " + v.Platform
}

func newVersionCmd(a *app) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildVersion()
			if jsonOut {
				return printJSON(a.stdout, v)
			}
			commit := v.Commit
			if commit == "" {
				commit = "(not recorded)"
			} else if v.Modified {
				commit += " (with uncommitted changes)"
			}
			date := v.Date
			if date == "" {
				date = "(not recorded)"
			}
			fmt.Fprintf(a.stdout, "agentotp %s\n  module:  %s\n  commit:  %s\n  date:    %s\n  go:      %s\n  platform: %s\n",
				v.Version, v.Module, commit, date, v.GoVersion, v.Platform)
			return nil
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print JSON")
	return cmd
}
