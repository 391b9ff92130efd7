package sources

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compileSchemas compiles every embedded schema, asserting formats.
func compileSchemas(t testing.TB) map[Stream]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	urls := map[Stream]string{}
	for s, b := range Schemas() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("schema %s: %v", s, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if id == "" {
			t.Fatalf("schema %s has no $id", s)
		}
		if err := c.AddResource(id, doc); err != nil {
			t.Fatalf("schema %s: %v", s, err)
		}
		urls[s] = id
	}
	out := map[Stream]*jsonschema.Schema{}
	for s, u := range urls {
		sch, err := c.Compile(u)
		if err != nil {
			t.Fatalf("compile schema %s: %v", s, err)
		}
		out[s] = sch
	}
	return out
}

// schemaValid reports whether msg validates against sch.
func schemaValid(t testing.TB, sch *jsonschema.Schema, msg []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(msg))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

func TestExamples_ValidateAndDecode(t *testing.T) {
	schemas := compileSchemas(t)
	examples := Examples()
	if len(schemas) != len(Streams) || len(examples) != len(Streams) {
		t.Fatalf("%d schemas and %d examples for %d streams", len(schemas), len(examples), len(Streams))
	}
	d := newTestDecoder(t, Config{})
	for _, s := range Streams {
		t.Run(s.String(), func(t *testing.T) {
			ex := examples[s]
			if err := schemaValid(t, schemas[s], ex); err != nil {
				t.Fatalf("example does not validate against its schema: %v", err)
			}
			var b Batch
			if err := d.Decode(s, ex, &b); err != nil {
				t.Fatalf("example does not decode: %v", err)
			}
			if len(b.Events)+len(b.Areas)+len(b.Overrides) == 0 {
				t.Fatal("example decodes to nothing")
			}
			// The schema's title names the topic.
			var doc struct {
				Title string `json:"title"`
			}
			if err := json.Unmarshal(Schemas()[s], &doc); err != nil || !bytes.Contains([]byte(doc.Title), []byte(s.DefaultTopic())) {
				t.Fatalf("schema title %q does not name topic %s", doc.Title, s.DefaultTopic())
			}
		})
	}
}

func TestSchemas_ReturnFreshMaps(t *testing.T) {
	a := Schemas()
	a[StreamCheckins][0] = 'x'
	delete(a, StreamFlights)
	b := Schemas()
	if b[StreamCheckins][0] != '{' || b[StreamFlights] == nil {
		t.Fatal("a caller's change to the returned map leaks into the next call")
	}
}
