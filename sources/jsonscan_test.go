package sources

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"reflect"
	"strings"
	"testing"
)

// Unmarshalling allocates nothing but the Go strings a message carries
// (event_id; a journey's city; an override's reason, officer and approver):
// the fixed-buffer text and label fields take their values in place, escaped
// or not.
func TestUnmarshal_AllocatesOnlyStrings(t *testing.T) {
	strs := map[Stream]float64{StreamDeclarations: 2, StreamOverrides: 4}
	d := newTestDecoder(t, Config{})
	for _, s := range Streams {
		ex := Examples()[s]
		// Every string value starts with an escape: unquoted into the reader's buffer.
		escaped := bytes.ReplaceAll(ex, []byte(`": "`), []byte(`": "\u00e9\ud83d\ude00\n`))
		for name, v := range map[string][]byte{"plain": ex, "escaped": escaped} {
			sc := d.pool.Get().(*scratch)
			c := &sc.call
			n := testing.AllocsPerRun(50, func() {
				*c = call{d: d, sc: sc, s: s, passenger: -1}
				if r := c.unmarshal(v); r != nil {
					t.Fatalf("%s %s: %v", s, name, r)
				}
				sc.clearMessage(s)
			})
			*c = call{}
			d.pool.Put(sc)
			if want := max(strs[s], 1); n != want {
				t.Errorf("%s, %s: %v allocations per message, want %v", s, name, n, want)
			}
		}
	}
}

// The decoder's member names (jsonkeys.go) are the struct tags of the
// message shapes, each a key of its own.
func TestKeys_MatchStructTags(t *testing.T) {
	names := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice:
			walk(ty.Elem())
		case reflect.Struct:
			if ty == reflect.TypeFor[text]() || ty == reflect.TypeFor[label]() || ty == reflect.TypeFor[num]() || ty == reflect.TypeFor[jsonTime]() {
				return
			}
			for i := range ty.NumField() {
				f := ty.Field(i)
				if tag, ok := f.Tag.Lookup("json"); ok {
					names[strings.Split(tag, ",")[0]] = true
				}
				walk(f.Type)
			}
		}
	}
	for _, m := range []any{flightMsg{}, travelMsg{}, testMsg{}, checkinMsg{}, vaccinationMsg{}, declarationMsg{}, areaRiskMsg{}, overrideMsg{}} {
		walk(reflect.TypeOf(m))
	}
	keys := map[key]string{}
	for n := range names {
		k := lookup([]byte(n))
		if k == keyUnknown {
			t.Errorf("member %q of a message struct is no key of the decoder", n)
		}
		if other, dup := keys[k]; dup {
			t.Errorf("members %q and %q are the same key", n, other)
		}
		keys[k] = n
	}
	if len(keys) != int(keyConfirms) {
		t.Errorf("the structs have %d member names, the decoder %d keys", len(keys), keyConfirms)
	}
}

// Names match struct tags as encoding/json matches them.
func TestLookup_Folds(t *testing.T) {
	for name, want := range map[string]key{
		"event_id": keyEventID, "EVENT_ID": keyEventID, "Event_Id": keyEventID,
		"ſource": keySource, "\u212Aind": keyKind, "paſſengers": keyPassengers,
		"event_id ": keyUnknown, "évent_id": keyUnknown, "": keyUnknown,
		strings.Repeat("ſ", 20): keyUnknown, "destination_airports": keyUnknown,
	} {
		if got := lookup([]byte(name)); got != want {
			t.Errorf("lookup(%q) = %d, want %d", name, got, want)
		}
	}
}

// specialBytes finds the first control character, quote or backslash of
// eight bytes, whatever the others hold.
func TestSpecialBytes(t *testing.T) {
	special := func(c byte) bool { return c < 0x20 || c == '"' || c == '\\' }
	fill := []byte{'a', 0x7f, 0x80, 0xff, 0x20, '!', '#', '[', ']', 0xa0, 0xdc}
	for v := range 256 {
		for p := range 8 {
			for _, f := range fill {
				w := bytes.Repeat([]byte{f}, 8)
				w[p] = byte(v)
				for q := p + 1; q < 8; q++ { // a second special byte after the first changes nothing
					w[q] = byte(q * 37)
				}
				first := 8
				for i, c := range w {
					if special(c) {
						first = i
						break
					}
				}
				m := specialBytes(binary.LittleEndian.Uint64(w))
				got := 8
				if m != 0 {
					got = bits.TrailingZeros64(m) >> 3
				}
				if got != first {
					t.Fatalf("% x: first special byte %d, specialBytes says %d", w, first, got)
				}
			}
		}
	}
}

// A call leaves nothing in its pooled scratch: no raw identifier outlives
// it, and the next message starts from zero. (Before the reader, a manifest
// whose last passengers array was shorter than an earlier one left the
// earlier passengers past the slice's length, and the next manifest on the
// scratch was decoded over them: a passenger without a seat took another
// message's.)
func TestDecode_ScratchKeepsNothing(t *testing.T) {
	d := newTestDecoder(t, Config{})
	sc := d.pool.New().(*scratch)
	decode := func(s Stream, v string) *RejectError {
		t.Helper()
		c := &sc.call
		*c = call{d: d, sc: sc, s: s, notAfter: d.cfg.Now().Add(d.cfg.MaxAhead).Unix(), passenger: -1}
		var b Batch
		r := c.decode([]byte(v), &b)
		*c = call{}
		clear(sc.num[:]) // as Decode does
		if dirty := scratchResidue(sc); dirty != "" {
			t.Fatalf("after a %s message, the scratch keeps %s", s, dirty)
		}
		return r
	}
	ex := strings.TrimSpace(string(Examples()[StreamFlights]))
	decode(StreamFlights, ex[:len(ex)-1]+`,"passengers":[{}]}`)
	if r := decode(StreamFlights, strings.Replace(ex, `"seat": "23D"`, `"x": 1`, 1)); r == nil || r.Field != "passengers[1].seat" {
		t.Fatalf("a passenger without a seat: %v, want passengers[1].seat refused", r)
	}
	for _, s := range Streams {
		v := string(Examples()[s])
		decode(s, v)
		decode(s, strings.ReplaceAll(v, `": "`, `": "\u0041`)) // strings unquoted into the reader's buffer
	}
	decl := strings.TrimSpace(string(Examples()[StreamDeclarations]))
	decode(StreamDeclarations, decl[:len(decl)-1]+`,"journey":null,"symptoms":[]}`)
}

// scratchResidue names what of sc is not zero, outside the call state and
// the capacity kept for reuse.
func scratchResidue(sc *scratch) string {
	for name, v := range map[string]any{
		"flight": sc.flight, "travel": sc.travel, "test": sc.test, "checkin": sc.checkin,
		"vaccination": sc.vaccination, "declaration": sc.declaration, "areaRisk": sc.areaRisk,
		"override": sc.override, "journey": sc.journey, "used": sc.used, "num": sc.num,
	} {
		if !zeroToCapacity(reflect.ValueOf(v)) {
			return name
		}
	}
	if sc.json.data != nil || !zeroToCapacity(reflect.ValueOf(sc.json.buf)) {
		return "the reader's input or buffer"
	}
	return ""
}

// zeroToCapacity reports whether v is zero but for slices' capacity, every
// element of which is zero.
func zeroToCapacity(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice:
		for i := range v.Cap() {
			if !zeroToCapacity(v.Slice(0, v.Cap()).Index(i)) {
				return false
			}
		}
		return v.Len() == 0
	case reflect.Struct:
		for i := range v.NumField() {
			if !zeroToCapacity(v.Field(i)) {
				return false
			}
		}
		return true
	}
	return v.IsZero()
}
