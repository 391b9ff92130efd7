// Package sourcestest holds upstream messages for tests, shared by the tests
// of sources and of pipeline: one bad message of every rejection class, each
// with the exact sentence the decoder refuses it with (BadInput), and good
// messages about generated people (Good). The people are generated, never
// real.
//
// It is for tests only: no non-test code may import it. It imports sources
// and must not import pipeline or sinks.
package sourcestest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"healthcode/sources"
)

// tree is a message as a generic JSON tree.
type tree = map[string]any

// example returns the stream's embedded example as a JSON tree.
func example(s sources.Stream) tree {
	var m tree
	if err := json.Unmarshal(sources.Examples()[s], &m); err != nil {
		panic(fmt.Sprintf("sourcestest: example %s: %v", s, err)) // embedded and tested in sources
	}
	return m
}

// walk returns the container holding the last element of a dotted path
// ("passengers.1.seat") and that element's name, creating objects on the way.
func walk(m tree, path string) (any, string) {
	parts := strings.Split(path, ".")
	var cur any = m
	for _, p := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case tree:
			next, ok := c[p]
			if !ok {
				next = tree{}
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

// set sets a dotted path of a JSON tree.
func set(m tree, path string, v any) {
	c, last := walk(m, path)
	switch c := c.(type) {
	case tree:
		c[last] = v
	case []any:
		i, _ := strconv.Atoi(last)
		c[i] = v
	}
}

// get reads a dotted path of a JSON tree.
func get(m tree, path string) any {
	c, last := walk(m, path)
	switch c := c.(type) {
	case tree:
		return c[last]
	case []any:
		i, _ := strconv.Atoi(last)
		return c[i]
	}
	return nil
}

// del removes a dotted path from a JSON tree.
func del(m tree, path string) {
	c, last := walk(m, path)
	if c, ok := c.(tree); ok {
		delete(c, last)
	}
}

// marshal writes m as JSON, then replaces each pair of raw (placeholder,
// replacement): for bytes json.Marshal would not write (invalid UTF-8, a
// lone surrogate escape).
func marshal(m tree, raw ...string) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("sourcestest: %v", err)) // trees of strings, numbers, maps and slices
	}
	for i := 0; i+1 < len(raw); i += 2 {
		b = bytes.ReplaceAll(b, []byte(raw[i]), []byte(raw[i+1]))
	}
	return b
}

// secrets returns the identifiers and names in m that no rejection may
// quote: event_id, source, document numbers, venue, lab, officers, flight
// number.
func secrets(m tree) []string {
	var out []string
	add := func(v any) {
		if s, ok := v.(string); ok && len(s) >= 4 {
			out = append(out, s)
		}
	}
	for _, p := range []string{"event_id", "source", "person.id_number", "venue.id", "venue.name", "test.lab",
		"officer", "approver", "flight.number", "journey.origin.city"} {
		if _, ok := m[strings.Split(p, ".")[0]]; ok {
			add(get(m, p))
		}
	}
	if ps, ok := m["passengers"].([]any); ok {
		for _, p := range ps {
			if pm, ok := p.(tree); ok {
				if person, ok := pm["person"].(tree); ok {
					add(person["id_number"])
				}
			}
		}
	}
	return out
}
