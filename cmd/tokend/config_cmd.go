package main

import (
	"fmt"
	"io"
	"os"
)

// configCmd runs "tokend config print [serve flags]": the effective
// configuration of "tokend serve" with the same flags, environment and
// config file, checked, as YAML (a config file), secrets redacted.
func configCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "print" {
		return usageError{"usage: tokend config print [serve flags]"}
	}
	o, err := loadServeOptions("tokend config print", args[1:], os.LookupEnv, stderr)
	if err != nil {
		return err
	}
	if err := printConfig(stdout, o); err != nil {
		return fmt.Errorf("tokend config print: %w", err)
	}
	return nil
}
