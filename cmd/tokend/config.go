package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tokend/tokend/server/storage/postgres"
)

// configEnv names the config file when --config is not given.
const configEnv = "TOKEND_CONFIG"

// redacted replaces a secret in "tokend config print".
const redacted = "REDACTED"

// loadServeOptions reads the settings of "tokend serve" (and "tokend
// config print") with one precedence: flag > TOKEND_* environment >
// config file (--config or TOKEND_CONFIG) > default. Secrets are never
// taken from a flag. Every error names the setting and where its bad
// value came from; all of them are reported at once. lookupEnv is
// os.LookupEnv outside tests.
func loadServeOptions(cmd string, args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (serveOptions, error) {
	o := defaultServeOptions()
	if err := refuseSecretFlags(args); err != nil {
		return o, err
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "YAML file of settings, keys as in \"tokend config print\" ("+configEnv+")")
	var given []givenFlag // in command-line order
	def := defaultServeOptions()
	for _, s := range settings {
		if s.secret {
			continue
		}
		r := &flagRecorder{s: s, def: s.field(&def).String(), given: &given}
		if _, ok := s.field(&def).(interface{ IsBoolFlag() bool }); ok {
			fs.Var(boolFlagRecorder{r}, s.name, s.help+" ("+s.env()+")")
		} else {
			fs.Var(r, s.name, s.help+" ("+s.env()+")")
		}
	}
	fs.Usage = func() { serveUsage(fs, cmd) }
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usageError{fmt.Sprintf("%s takes no arguments, got %q", cmd, fs.Args())}
	}
	for _, g := range given {
		if g.s.name == "store" && postgres.IsDSN(g.raw) && postgres.HasPassword(g.raw) {
			return o, usageError{"--store: the URL holds a password, which would show in ps: put the URL in " +
				"TOKEND_STORE or the config file, or the password in PGPASSWORD or ~/.pgpass"}
		}
	}

	var errs []error
	set := func(s setting, raw, source string) {
		if err := s.field(&o).Set(raw); err != nil {
			errs = append(errs, fmt.Errorf("config: %s: %s: %w", s.name, source, err))
		}
	}
	path := *configFile
	if path == "" {
		path, _ = lookupEnv(configEnv)
	}
	if path != "" {
		errs = append(errs, readConfigFile(path, set)...)
	}
	for _, s := range settings {
		if raw, ok := lookupEnv(s.env()); ok {
			set(s, raw, s.env())
		}
	}
	for _, g := range given {
		set(g.s, g.raw, "--"+g.s.name)
	}
	if err := errors.Join(errs...); err != nil {
		return o, err
	}
	return o, o.validate()
}

// validate checks the settings: the server's Config and the log settings.
func (o serveOptions) validate() error {
	var errs []error
	if _, err := o.logHandler(io.Discard); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, o.cfg.Validate())
	return errors.Join(errs...)
}

// logHandler returns the slog handler of the log settings.
func (o serveOptions) logHandler(w io.Writer) (slog.Handler, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("config: log-level: %q is not debug, info, warn or error", o.logLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch o.logFormat {
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	case "text":
		return slog.NewTextHandler(w, opts), nil
	}
	return nil, fmt.Errorf("config: log-format: %q is not json or text", o.logFormat)
}

// givenFlag is a setting given on the command line, applied last.
type givenFlag struct {
	s   setting
	raw string
}

// flagRecorder is the flag of a setting: it records the raw value, which
// loadServeOptions applies after the file and the environment.
type flagRecorder struct {
	s     setting
	def   string
	given *[]givenFlag
}

func (r *flagRecorder) String() string {
	if r == nil {
		return ""
	}
	return r.def
}

func (r *flagRecorder) Set(raw string) error {
	*r.given = append(*r.given, givenFlag{r.s, raw})
	return nil
}

// boolFlagRecorder is the flag of a bool setting: --insecure alone is
// --insecure=true.
type boolFlagRecorder struct{ *flagRecorder }

func (boolFlagRecorder) IsBoolFlag() bool { return true }

// refuseSecretFlags refuses a secret setting given as a flag, without
// repeating its value.
func refuseSecretFlags(args []string) error {
	for _, a := range args {
		if a == "--" {
			return nil
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		for _, s := range settings {
			if s.secret && s.name == name {
				return usageError{fmt.Sprintf("--%s: a secret is never taken from a flag (it would show in ps): set %s or %s in the config file",
					s.name, s.env(), s.yamlKey())}
			}
		}
	}
	return nil
}

// readConfigFile applies the settings of a YAML file: a mapping of
// setting keys (snake_case) to single values. Unknown keys are refused.
func readConfigFile(path string, set func(s setting, raw, source string)) []error {
	b, err := os.ReadFile(path)
	if err != nil {
		return []error{fmt.Errorf("config: config file: %w", err)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return []error{fmt.Errorf("config: config file %s: %w", path, err)}
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return []error{fmt.Errorf("config: config file %s: want a mapping of settings (key: value)", path)}
	}
	byKey := make(map[string]setting, len(settings))
	for _, s := range settings {
		byKey[s.yamlKey()] = s
	}
	var errs []error
	seen := map[string]bool{}
	source := "config file " + path
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		s, ok := byKey[k.Value]
		switch {
		case !ok:
			// Name the field only when it looks like one: a mistyped line
			// may hold a secret (a DSN with a password), never echo that.
			name := fmt.Sprintf("%q", k.Value)
			if !settingKeyShape.MatchString(k.Value) {
				name = "(not shown: not a setting name)"
			}
			errs = append(errs, fmt.Errorf("config: config file %s: line %d: unknown field %s", path, k.Line, name))
			continue
		case seen[k.Value]:
			errs = append(errs, fmt.Errorf("config: %s: %s: line %d: set twice", s.name, source, k.Line))
			continue
		case v.Kind != yaml.ScalarNode:
			errs = append(errs, fmt.Errorf("config: %s: %s: line %d: want a single value", s.name, source, v.Line))
			continue
		}
		seen[k.Value] = true
		raw := v.Value
		if v.Tag == "!!null" {
			raw = ""
		}
		set(s, raw, source)
	}
	return errs
}

// printConfig writes the effective settings as a YAML config file, in the
// order of settings, with secrets redacted.
func printConfig(w io.Writer, o serveOptions) error {
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, s := range settings {
		v := s.field(&o)
		text := v.String()
		switch {
		case s.secret && text != "":
			text = redacted
		default:
			if _, ok := v.(*dsnValue); ok {
				text = redactDSN(text)
			}
		}
		tag := "!!str" // numbers and booleans plain, the rest as strings
		switch v.(type) {
		case *intValue, *uint32Value, *floatValue, *boolValue:
			tag = ""
		}
		root.Content = append(root.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: s.yamlKey()},
			&yaml.Node{Kind: yaml.ScalarNode, Value: text, Tag: tag})
	}
	fmt.Fprintln(w, "# tokend: effective configuration (flag > TOKEND_* environment > config file > default); secrets redacted")
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return fmt.Errorf("config print: %w", err)
	}
	return enc.Close()
}

// redactDSN hides the password of a store URL, in its user info or its
// password parameter.
func redactDSN(s string) string {
	if !postgres.IsDSN(s) || !postgres.HasPassword(s) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return redactStore(s)
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), redacted)
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", redacted)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// serveUsage prints the flags of "tokend serve" with the rules of the
// other sources.
func serveUsage(fs *flag.FlagSet, cmd string) {
	w := fs.Output()
	fmt.Fprintf(w, "Usage: %s [flags]\n\nFlags (each also TOKEND_<NAME> and a config file key, see docs/operations.md):\n", cmd)
	fs.PrintDefaults()
	var secrets []string
	for _, s := range settings {
		if s.secret {
			secrets = append(secrets, s.env())
		}
	}
	fmt.Fprintf(w, `
Precedence: flag > TOKEND_* environment > config file (--config, %s) > default.
Secrets come from the environment or the config file only, never a flag:
%s, and a store URL with a password (TOKEND_STORE).
`, configEnv, strings.Join(secrets, ", "))
}

// settingKeyShape is what a setting's YAML key can look like.
var settingKeyShape = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
