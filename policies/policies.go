// Package policies holds the shipped policy files (domestic, international,
// tianjin) as data, embedded in the binary. It knows nothing of how rules are
// evaluated: scoring parses and validates them.
package policies

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"healthcode/scoring"
)

//go:embed *.json
var files embed.FS

// Names lists the shipped policies. The files are embedded at build time, so
// failing to list them is a broken build: it panics.
func Names() []string {
	out, err := names(files)
	if err != nil {
		panic(err)
	}
	return out
}

// names lists the policy files (*.json) at the root of fsys, without the suffix.
func names(fsys fs.ReadDirFS) ([]string, error) {
	ents, err := fsys.ReadDir(".")
	if err != nil {
		return nil, fmt.Errorf("policies: list the embedded policy files: %w", err)
	}
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Raw returns a shipped policy file's bytes.
func Raw(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".json")
	if err != nil {
		return nil, fmt.Errorf("policy %q: not shipped (have %s)", name, strings.Join(Names(), ", "))
	}
	return b, nil
}

// Load returns a shipped policy by name ("domestic"), or reads and validates a
// policy file when nameOrPath names a file.
func Load(nameOrPath string) (*scoring.Policy, error) {
	var b []byte
	var err error
	if strings.ContainsAny(nameOrPath, "/.") {
		b, err = os.ReadFile(nameOrPath)
	} else {
		b, err = Raw(nameOrPath)
	}
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	return scoring.ParsePolicy(b)
}
