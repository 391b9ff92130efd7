package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// flagHelp is one flag as a command's --help prints it.
type flagHelp struct {
	def, env, usage string
	isBool          bool // takes no value (--flag, --flag=false)
}

// commandNames lists every command and subcommand that has flags of its own,
// as typed after "healthcode".
func commandNames() []string {
	subs := map[string][]string{"codes": {"serve", "keygen", "revoke"}, "dead-letters": {"list", "replay"}}
	var out []string
	for name := range commands {
		if s, ok := subs[name]; ok {
			for _, sub := range s {
				out = append(out, name+" "+sub)
			}
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

var (
	flagLineRE = regexp.MustCompile(`^  -(\S+)(?: (\S+))?$`)
	defaultRE  = regexp.MustCompile(` \(default (.*)\)$`)
	envRE      = regexp.MustCompile(`\(env (HEALTHCODE_[A-Z0-9_]+)`)
	anyEnvRE   = regexp.MustCompile(`HEALTHCODE_[A-Z0-9_]+`)
)

// helpOf runs "healthcode CMD --help" (this test binary, as the command,
// with none of the settings' variables set) and returns what it prints.
func helpOf(t *testing.T, cmd string) string {
	t.Helper()
	c := exec.Command(os.Args[0], append(strings.Fields(cmd), "--help")...)
	env := []string{"HEALTHCODE_TEST_AS_BINARY=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HEALTHCODE_") {
			env = append(env, kv)
		}
	}
	c.Env = env
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		t.Fatalf("healthcode %s --help: %v\n%s", cmd, err, out.String())
	}
	if !strings.Contains(out.String(), "Usage: healthcode ") {
		t.Fatalf("healthcode %s --help printed no usage (a command with subcommands? list them in commandNames):\n%s", cmd, out.String())
	}
	return out.String()
}

// parseHelp reads the flags out of flag.PrintDefaults output.
func parseHelp(out string) map[string]flagHelp {
	flags := map[string]flagHelp{}
	lines := strings.Split(out, "\n")
	for i := 0; i < len(lines); i++ {
		m := flagLineRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		var usage []string
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "    \t") {
			i++
			usage = append(usage, strings.TrimPrefix(lines[i], "    \t"))
		}
		h := flagHelp{usage: strings.Join(usage, " "), isBool: m[2] == ""}
		if d := defaultRE.FindStringSubmatch(h.usage); d != nil {
			h.def = strings.Trim(d[1], `"`)
		}
		if e := envRE.FindStringSubmatch(h.usage); e != nil {
			h.env = e[1]
		}
		flags[m[1]] = h
	}
	return flags
}

// binaryFlags returns every command's flags, from its --help.
func binaryFlags(t *testing.T) map[string]map[string]flagHelp {
	t.Helper()
	out := map[string]map[string]flagHelp{}
	for _, c := range commandNames() {
		out[c] = parseHelp(helpOf(t, c))
		if len(out[c]) == 0 && c != "verify" {
			t.Fatalf("healthcode %s --help: no flags parsed", c)
		}
	}
	return out
}

// settingsRow is one row of docs/operations.md "Settings".
type settingsRow struct {
	flag, env, def string
	commands       []string // nil: every command
	line           int
}

func unquote(cell string) string {
	cell = strings.TrimSpace(cell)
	if cell == "—" || cell == "none" {
		return ""
	}
	return strings.Trim(cell, "`")
}

// settingsTable parses the table of docs/operations.md "Settings".
func settingsTable(t *testing.T) []settingsRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []settingsRow
	in, header := false, false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Settings"
		case in && line == "| flag | environment | default | commands | meaning |":
			header = true
		case in && header && strings.HasPrefix(line, "|---"):
		case in && header && strings.HasPrefix(line, "| "):
			cells := strings.Split(strings.Trim(line, "|"), " | ")
			if len(cells) < 5 {
				t.Fatalf("operations.md:%d: want 5 cells: %s", i+1, line)
			}
			r := settingsRow{flag: strings.TrimPrefix(unquote(cells[0]), "--"), env: unquote(cells[1]), def: unquote(cells[2]), line: i + 1}
			if strings.TrimSpace(cells[3]) != "every command" {
				for _, c := range strings.Split(cells[3], ",") {
					r.commands = append(r.commands, unquote(c))
				}
			}
			rows = append(rows, r)
		case in && header:
			header = false
		}
	}
	if len(rows) == 0 {
		t.Fatal(`docs/operations.md: no "Settings" table`)
	}
	return rows
}

// TestSettingsTable checks docs/operations.md "Settings" against the --help
// of every command: every flag of every command is in one row with its
// environment variable and default, every row names real flags of the
// commands it lists, and every variable the binary names is in the table.
func TestSettingsTable(t *testing.T) {
	bin := binaryFlags(t)
	rows := settingsTable(t)
	docEnv := map[string]bool{}
	for _, r := range rows {
		if r.env != "" {
			docEnv[r.env] = true
		}
	}
	// Every flag of every command: one row, right variable and default.
	for cmd, flags := range bin {
		for name, h := range flags {
			var found []settingsRow
			for _, r := range rows {
				if r.flag == name && (r.commands == nil || slices.Contains(r.commands, cmd)) {
					found = append(found, r)
				}
			}
			if len(found) != 1 {
				t.Errorf("healthcode %s --%s: %d rows in the Settings table list it; want 1 (env %q, default %q)", cmd, name, len(found), h.env, h.def)
				continue
			}
			if r := found[0]; r.env != h.env || r.def != h.def {
				t.Errorf("operations.md:%d: --%s of %s: table says env %q default %q, --help says env %q default %q", r.line, name, cmd, r.env, r.def, h.env, h.def)
			}
			for _, e := range anyEnvRE.FindAllString(h.usage, -1) {
				if !docEnv[e] {
					t.Errorf("healthcode %s --%s names %s, which the Settings table lacks", cmd, name, e)
				}
			}
		}
	}
	var src bytes.Buffer
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if !strings.HasSuffix(f, "_test.go") {
			b, _ := os.ReadFile(f)
			src.Write(b)
		}
	}
	for _, r := range rows {
		switch {
		case r.flag != "":
			for _, c := range r.commands {
				if _, ok := bin[c][r.flag]; !ok {
					t.Errorf("operations.md:%d: healthcode %s has no flag --%s", r.line, c, r.flag)
				}
			}
		case r.commands == nil:
			// A variable every command reads: read by the binary's code itself.
			if !strings.Contains(src.String(), `"`+r.env+`"`) {
				t.Errorf("operations.md:%d: %s is read nowhere in cmd/healthcode", r.line, r.env)
			}
		default:
			// A variable without a flag (a secret): each command's --help names it.
			for _, c := range r.commands {
				if _, ok := bin[c]; !ok {
					t.Errorf("operations.md:%d: no command %q", r.line, c)
				}
				var help strings.Builder
				for _, h := range bin[c] {
					help.WriteString(h.usage)
				}
				if !strings.Contains(help.String(), r.env) {
					t.Errorf("operations.md:%d: healthcode %s --help does not name %s", r.line, c, r.env)
				}
			}
		}
	}
}
