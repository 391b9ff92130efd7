package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCgroupMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v2max := write("v2max", "max\n")
	v2 := write("v2", "3221225472\n")
	v1unlimited := write("v1unl", "9223372036854771712\n")
	junk := write("junk", "lots\n")
	missing := filepath.Join(dir, "absent")
	for _, c := range []struct {
		name  string
		files []string
		want  int64
		from  string
	}{
		{"v2 limit", []string{v2, v1unlimited}, 3221225472, v2},
		{"v2 max, v1 unlimited", []string{v2max, v1unlimited}, 0, ""},
		{"absent, then a limit", []string{missing, junk, v2}, 3221225472, v2},
		{"nothing", []string{missing}, 0, ""},
	} {
		got, from := cgroupMemoryLimit(c.files)
		if got != c.want || from != c.from {
			t.Errorf("%s: got %d from %q, want %d from %q", c.name, got, from, c.want, c.from)
		}
	}
}
