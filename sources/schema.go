package sources

import (
	"embed"
	"fmt"
)

// The JSON Schema (draft 2020-12) and an example message of every stream.
//
//go:embed schema/*.schema.json examples/*.json
var contractFS embed.FS

// Schemas returns the JSON Schema of every stream's messages. The map is new
// on every call; callers may keep or change it.
func Schemas() map[Stream][]byte { return readContract("schema/%s.schema.json") }

// Examples returns an example message of every stream, with generated
// (not real) identifiers. The map is new on every call.
func Examples() map[Stream][]byte { return readContract("examples/%s.json") }

func readContract(pattern string) map[Stream][]byte {
	m := make(map[Stream][]byte, len(Streams))
	for _, s := range Streams {
		b, err := contractFS.ReadFile(fmt.Sprintf(pattern, s))
		if err != nil {
			panic(fmt.Sprintf("sources: embedded file missing: %v", err)) // the embed pattern guarantees it
		}
		m[s] = b
	}
	return m
}
