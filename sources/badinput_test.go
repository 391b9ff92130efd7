package sources_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"healthcode/scoring"
	"healthcode/sources"
	"healthcode/sources/sourcestest"
)

// newDecoder returns a decoder with a fixed development key and a wall clock
// in 2021, after every example.
func newDecoder(t testing.TB, cfg sources.Config) *sources.Decoder {
	t.Helper()
	cfg.Key = []byte("sources external test pseudonym key (development only)")
	cfg.Now = func() time.Time { return time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC) }
	d, err := sources.NewDecoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// compile compiles the embedded schema of every stream.
func compile(t *testing.T) map[sources.Stream]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	out := map[sources.Stream]*jsonschema.Schema{}
	for s, b := range sources.Schemas() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("schema %s: %v", s, err)
		}
		url := "mem://" + s.String()
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("schema %s: %v", s, err)
		}
		if out[s], err = c.Compile(url); err != nil {
			t.Fatalf("compile schema %s: %v", s, err)
		}
	}
	return out
}

// One bad message of every class: refused with exactly its sentence, which
// quotes none of the message's identifiers, appending nothing; the schema
// refuses it too where it can state the rule.
func TestDecode_BadInput(t *testing.T) {
	bad := sourcestest.BadInput()
	if len(bad) < 30 {
		t.Fatalf("%d classes of bad input, want at least 30", len(bad))
	}
	schemas := compile(t)
	d := newDecoder(t, sources.Config{})
	seen := map[string]bool{}
	for _, c := range bad {
		t.Run(c.Class, func(t *testing.T) {
			if seen[string(c.Value)] {
				t.Fatal("two classes send the same message")
			}
			seen[string(c.Value)] = true
			b := sources.Batch{Events: []scoring.Event{{ID: "before"}}}
			err := d.Decode(c.Stream, c.Value, &b)
			if err == nil {
				t.Fatal("accepted")
			}
			var re *sources.RejectError
			if !errors.As(err, &re) || re.Stream != c.Stream {
				t.Fatalf("error %v (%T) is not a *RejectError of stream %s", err, err, c.Stream)
			}
			if err.Error() != c.Error {
				t.Fatalf("rejected with\n%q\nwant\n%q", err.Error(), c.Error)
			}
			if len(b.Events) != 1 || len(b.Areas) != 0 {
				t.Fatal("a rejected message changed the batch")
			}
			low := strings.ToLower(err.Error())
			for _, s := range c.Secrets {
				if strings.Contains(low, strings.ToLower(s)) || strings.Contains(low, strings.ToLower(sources.NormaliseIDNumber(s))) {
					t.Fatalf("rejection quotes an identifier of the message: %q", err.Error())
				}
			}
			if c.Schema {
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(c.Value))
				if err == nil && schemas[c.Stream].Validate(inst) == nil {
					t.Fatal("the schema accepts a message the decoder refuses")
				}
			}
		})
	}
}

// Good is good: every stream's good message for a generated resident decodes.
func TestGood_Decodes(t *testing.T) {
	d := newDecoder(t, sources.Config{})
	schemas := compile(t)
	for _, s := range sources.Streams {
		v := sourcestest.Good(s, "good-"+s.String(), "330102199203043891")
		var b sources.Batch
		if err := d.Decode(s, v, &b); err != nil {
			t.Errorf("%s: %v", s, err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(v))
		if err != nil {
			t.Fatal(err)
		}
		if err := schemas[s].Validate(inst); err != nil {
			t.Errorf("%s: the schema refuses the good message: %v", s, err)
		}
	}
}
