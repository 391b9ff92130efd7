package sources

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"healthcode/scoring"
)

// testKey is the pseudonym key of these tests (a fixed development key).
const testKey = "sources test pseudonym key (development only)"

// testNow is the wall clock of these tests: after every example.
func testNow() time.Time { return time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC) }

func newTestDecoder(t testing.TB, cfg Config) *Decoder {
	t.Helper()
	cfg.Key = []byte(testKey)
	if cfg.Now == nil {
		cfg.Now = testNow
	}
	d, err := NewDecoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// example returns the stream's embedded example as a generic JSON tree.
func example(t testing.TB, s Stream) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(Examples()[s], &m); err != nil {
		t.Fatalf("example %s: %v", s, err)
	}
	return m
}

// edited returns the stream's example after edit, as JSON.
func edited(t testing.TB, s Stream, edit func(m map[string]any)) []byte {
	t.Helper()
	m := example(t, s)
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// walk returns the container holding the last element of a dotted path
// ("passengers.1.seat") and that element's name.
func walk(m map[string]any, path string) (any, string) {
	parts := strings.Split(path, ".")
	var cur any = m
	for _, p := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[p]
			if !ok {
				next = map[string]any{}
				c[p] = next
			}
			cur = next
		case []any:
			i, _ := strconv.Atoi(p)
			cur = c[i]
		}
	}
	return cur, parts[len(parts)-1]
}

// set sets a dotted path in a JSON tree, creating objects on the way.
func set(m map[string]any, path string, v any) {
	c, last := walk(m, path)
	switch c := c.(type) {
	case map[string]any:
		c[last] = v
	case []any:
		i, _ := strconv.Atoi(last)
		c[i] = v
	}
}

// get reads a dotted path of a JSON tree.
func get(m map[string]any, path string) any {
	c, last := walk(m, path)
	switch c := c.(type) {
	case map[string]any:
		return c[last]
	case []any:
		i, _ := strconv.Atoi(last)
		return c[i]
	}
	return nil
}

// del removes a dotted path from a JSON tree.
func del(m map[string]any, path string) {
	c, last := walk(m, path)
	if c, ok := c.(map[string]any); ok {
		delete(c, last)
	}
}

// asReject returns err as a *RejectError or fails.
func asReject(t testing.TB, err error) *RejectError {
	t.Helper()
	var re *RejectError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *RejectError", err, err)
	}
	return re
}

// keyOf is the person key of a person object of a JSON tree.
func keyOf(t testing.TB, p any) scoring.PersonKey {
	t.Helper()
	pm, ok := p.(map[string]any)
	if !ok {
		t.Fatalf("person %v is not an object", p)
	}
	return PersonKey([]byte(testKey), pm["id_type"].(string), pm["id_number"].(string))
}

// timeAt parses an RFC 3339 string of a JSON tree into a scoring.Time.
func timeAt(t testing.TB, v any) scoring.Time {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("time %v is not a string", v)
	}
	return scoring.MustTime(s)
}
