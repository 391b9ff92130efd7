package sources_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"healthcode/sources"
	"healthcode/sources/sourcestest"
)

// FuzzJSONOracle holds the decoder's JSON reader to encoding/json, which it
// replaced (the oracle of jsonoracle_test.go): on any input, for any stream,
// the same rejection sentence or the same decoded message, and the same
// validated output. Its seeds are every example, every bad input of the
// tests, and the corners of JSON below.
func FuzzJSONOracle(f *testing.F) {
	index := map[sources.Stream]uint8{}
	for i, s := range sources.Streams {
		index[s] = uint8(i)
		ex := sources.Examples()[s]
		f.Add(uint8(i), ex)
		for _, v := range exampleVariants(ex) {
			f.Add(uint8(i), v)
		}
	}
	for _, b := range sourcestest.BadInput() {
		f.Add(index[b.Stream], b.Value)
	}
	for _, b := range sources.OracleSeeds(f) {
		f.Add(index[b.Stream], b.Value)
	}
	// FuzzDecode's own seeds.
	f.Add(uint8(0), []byte(`{"passengers":[{},{}],"flight":{}}`))
	f.Add(uint8(5), []byte(`{"symptoms":["fever",null,"\u0066ever"],"temperature_c":1e999}`))
	f.Add(uint8(6), []byte(`{"event_id":"e","source":"s","occurred_at":"2020-03-12T00:00:00Z","area":{"kind":"h3","code":"8830e1c6b5fffff"},"level":"high"}`))
	for i, c := range jsonCorners() {
		for s := range sources.Streams {
			f.Add(uint8((i+s)%len(sources.Streams)), []byte(c))
		}
	}
	d := newDecoder(f, sources.Config{VenueCache: 64})
	f.Fuzz(func(t *testing.T, streamIdx uint8, data []byte) {
		s := sources.Streams[int(streamIdx)%len(sources.Streams)]
		if err := sources.CompareWithOracle(d, s, data); err != nil {
			t.Fatalf("%s message %q: %v", s, data, err)
		}
	})
}

var memberName = regexp.MustCompile(`"([a-z_]+)":`)

// exampleVariants returns an example with its member names in upper case,
// with an unknown member of every JSON kind before and after the known ones,
// and with every member repeated as null.
func exampleVariants(ex []byte) [][]byte {
	upper := memberName.ReplaceAllFunc(ex, bytes.ToUpper)
	const unknown = `"zz":[{"a":[1,-2.5e+3,{"b":null}]},true,false,"\u00e9\ud83d\ude00",{}],`
	body := bytes.TrimSpace(ex)[1:]
	extra := []byte(`{` + unknown + string(body[:len(body)-1]) + `,` + strings.TrimSuffix(unknown, ",") + `}`)
	nulls := memberName.ReplaceAll(ex, []byte(`"$1":null,"$1":`))
	return [][]byte{upper, extra, nulls}
}

// jsonCorners are messages at the corners of JSON and of encoding/json's
// decoding into structs.
func jsonCorners() []string {
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	return []string{
		// Top level, trailing data, whitespace.
		``, ` `, `null`, ` null `, `"x"`, `1`, `-0`, `true`, `false`, `[]`, `[`, `{`, `}`, `{}`, " \t\r\n{}\n", `{} x`, `{}{}`, `{}]`, `nul`, `{"a":1}}`,
		// End of input in every state.
		`{"a"`, `{"a":`, `{"a":1`, `{"a":1,`, `{"a":"`, `{"a":"\`, `{"a":"\u`, `{"a":"\u12`, `{"a":-`, `{"a":1.`, `{"a":1e`, `{"a":1e+`, `{"a":t`, `{"a":fa`, `{"a":[`, `{"a":[1`, `{"a":[1,`, `{"a":{`, `{"a":{"b"`,
		// Syntax errors.
		`{"a" 1}`, `{"a":1 "b":2}`, `{,}`, `{"a":1,}`, `{"a":[1,]}`, `{"a":[1 2]}`, `{'a':1}`, "{\"a\":\"x\ny\"}", `{"a":"\x"}`, `{"a":"\u12G4"}`, `{"a":]`, `{"a":}`, `{é}`, `{"a":é}`, `{"a":01}`, `{"a":.5}`, `{"a":+1}`, `{"a":0x10}`, `{"a":1.5.3}`, `{"a":1ex}`, `{"a":tru}`, `{"a":True}`, `{"a":falsey}`, `{"a":nulll}`, "{\"a\":\"\x7f\"}", "{\"a\":\"\x01\"}", `{"event_id":1,}`, `{"a":[` + deep + `]}`, `{"a":` + deep + `}`,
		// Numbers.
		`{"temperature_c":-0,"venue":{"lat":1E1,"lng":-1e-999},"vaccine":{"dose":2.0e0},"location":{"lat":1e999,"lng":12345678901234567890123456789012345678901234567890}}`,
		// Names: case, Unicode folding, escapes, unknown.
		`{"EVENT_ID":"x","Source":"s","ſource":"t","\u017fource":"u","area":{"\u212Aind":"h3","KIND":"region"},"paſſengers":[{}],"é":1,"event\u005fid":"y"}`,
		`{"symptoms":["fever"],"ſymptoms":null,"destination_airportx":1,"destination_airport":1}`,
		// Repeated members: strings keep their value on null, objects merge,
		// arrays decode over the elements an earlier array left.
		`{"event_id":"a","event_id":null,"source":"a","source":null,"reason":"r","reason":null}`,
		`{"flight":{"number":"CA936"},"flight":{"date":"2020-03-16"},"flight":null}`,
		`{"passengers":[{"seat":"1A"},{"seat":"2A","person":{"id_type":"passport"}}],"passengers":[{}],"passengers":[{},{}]}`,
		`{"passengers":[{"seat":"1A"}],"passengers":[],"passengers":[{}]}`,
		`{"passengers":[{"seat":"1A"}],"passengers":null,"passengers":[{}]}`,
		`{"passengers":[null,{"seat":null}]}`,
		`{"journey":{"origin":{"city":"Rome"}},"journey":{"port_of_entry":"PVG"}}`,
		`{"journey":{"origin":{"city":"Rome"}},"journey":null,"journey":{"port_of_entry":"PVG"}}`,
		`{"journey":{"flights":[{"number":"MU1"},{"number":"MU2"}]},"journey":{"flights":[{"date":"2020-03-16"}]},"journey":{"flights":[{},{}]}}`,
		// Type errors: the first stands, a later syntax error wins.
		`{"event_id":1}`, `{"event_id":true}`, `{"event_id":{}}`, `{"event_id":[]}`, `{"person":1,"event_id":2}`, `{"flight":[]}`, `{"flight":"x"}`, `{"passengers":{}}`, `{"passengers":"x"}`, `{"passengers":[1]}`, `{"passengers":[{"person":"x"}]}`, `{"passengers":[{"person":[]}]}`,
		`{"journey":"x"}`, `{"journey":[]}`, `{"journey":{"origin":[]}}`, `{"journey":{"origin":{"city":1}}}`, `{"journey":{"flights":[1]}}`, `{"journey":{"flights":{}}}`, `{"symptoms":"fever"}`, `{"symptoms":[{},[],1,true]}`,
		`{"reason":1}`, `{"officer":false}`, `{"approver":{}}`, `{"confirms":[]}`, `{"region":1}`, `{"location":true}`, `{"test":"x"}`, `{"venue":1}`, `{"vaccine":[]}`, `{"area":"x"}`, `{"person":1,"x":[}`,
		// Strings: escapes, surrogates, lengths.
		`{"event_id":"\ud83d\ude00","source":"\ud800","reason":"\ud800\u0041","officer":"\udc00\ud800","approver":"\ud800\\u0041","confirms":"\/\"\\\b\f\n\r\t\u0000"}`,
		`{"source":"` + strings.Repeat(`\u0041`, 64) + `","level":"` + strings.Repeat(`\u0041`, 65) + `","colour":"` + strings.Repeat("a", 65) + `"}`,
		`{"venue":{"name":"caf\u00e9 \u202e"},"test":{"lab":"\ud800"},"occurred_at":"2020-03-14T12:05:00\u002B08:00","left_at":"2020-03-14T12:05:00+08:00"}`,
		`{"source":1,"occurred_at":1,"level":{},"until":[],"venue":{"name":true,"lat":"1","lng":null}}`,
	}
}
