package wire

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"healthcode/scoring"
)

func sampleOverrideRecords() []OverrideRecord {
	at := scoring.MustTime("2020-03-19T15:00:00+08:00")
	return []OverrideRecord{
		{Override: &scoring.Override{ID: "appeal-2020-0319-0031", Source: "appeals-desk", Person: scoring.PersonKey{0x5a, 0x2b},
			Level: 0, At: at, Until: at + 14*86400, Reason: "Appeal upheld: two negative PCR tests after the last contact.",
			Officer: scoring.PersonKey{0xaa, 1}, Approver: scoring.PersonKey{0xbb, 2}}},
		{Override: &scoring.Override{ID: "c-1", Source: "desk", Person: scoring.PersonKey{1}, Level: 2, At: at, Until: at + 3600,
			Reason: "隔离：医学观察", ReasonCode: "medical-isolation", Region: "410105", Officer: scoring.PersonKey{3},
			Approver: scoring.PersonKey{4}, Confirms: "appeal-2020-0319-0030"}},
		{Tick: at},
		{Tick: at + 60, Parts: []TickPart{{Partition: 0, Next: 41, Last: at + 30, AtEnd: true},
			{Partition: 2, Next: 1 << 40, Last: at - 5}}},
		{},
	}
}

// v1OverrideRecords is what overrides-v1.bin (written by version 1) decodes
// to: the same overrides, ticks without partitions (its caught-up flag is
// not kept).
func v1OverrideRecords() []OverrideRecord {
	r := sampleOverrideRecords()
	r[3] = OverrideRecord{Tick: r[3].Tick}
	return r
}

func TestDecodeOverrideRecord_V1(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "overrides-v1.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range v1OverrideRecords() {
		if len(b) < 2 {
			t.Fatalf("record %d: the golden file ends", i)
		}
		n := int(b[0])<<8 | int(b[1])
		got, err := DecodeOverrideRecord(b[2 : 2+n])
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d: %+v, %v; want %+v", i, got, err, want)
		}
		b = b[2+n:]
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes after the last record", len(b))
	}
}

func TestEncodeOverrideRecord_Golden(t *testing.T) {
	var all []byte
	for _, r := range sampleOverrideRecords() {
		b, err := EncodeOverrideRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeOverrideRecord(b)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, r)
		}
		all = append(append(all, byte(len(b)>>8), byte(len(b))), b...)
	}
	path := filepath.Join("testdata", "overrides-v2.bin")
	if *update {
		if err := os.WriteFile(path, all, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(all, golden) {
		t.Fatalf("encoding differs from %s: records on hc.overrides would not decode; bump the version for a new layout", path)
	}
}

func TestDecodeOverrideRecord_Malformed(t *testing.T) {
	good, err := EncodeOverrideRecord(sampleOverrideRecords()[1])
	if err != nil {
		t.Fatal(err)
	}
	f := func(name string, b []byte, want error) {
		t.Helper()
		if _, err := DecodeOverrideRecord(b); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
		}
	}
	f("empty", nil, ErrMalformed)
	f("designation magic", append([]byte("hcd\x01"), good[4:]...), ErrMalformed)
	f("future version", append([]byte("hco\x03"), good[4:]...), ErrVersion)
	f("unknown record type", append([]byte("hco\x02\x03"), good[5:]...), ErrMalformed)
	f("long v1 tick", []byte("hco\x01\x02\x00\x00\x00\x00\x00\x00"), ErrMalformed)
	f("v1 tick flag", []byte("hco\x01\x02\x00\x00\x00\x00\x02"), ErrMalformed)
	f("v1 layout tick in v2", []byte("hco\x02\x02\x00\x00\x00\x00\x01"), ErrMalformed)
	f("tick part flag", []byte("hco\x02\x02\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02"), ErrMalformed)
	f("tick part short", []byte("hco\x02\x02\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00"), ErrMalformed)
	f("tick overlong count", []byte("hco\x02\x02\x00\x00\x00\x00\x80\x00"), ErrMalformed)
	f("tick trailing", []byte("hco\x02\x02\x00\x00\x00\x00\x00\x00"), ErrMalformed)
	f("trailing", append(append([]byte(nil), good...), 'x'), ErrMalformed)
	f("overlong length", append(append(append([]byte(nil), good[:62]...), 0x95, 0x00), good[63:]...), ErrMalformed)
	for n := 0; n < len(good); n++ {
		if _, err := DecodeOverrideRecord(good[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d bytes: err = %v", n, err)
		}
	}
	if _, err := EncodeOverrideRecord(OverrideRecord{Override: &scoring.Override{Reason: strings.Repeat("x", maxOverrideString+1)}}); err == nil {
		t.Error("an over-long reason encoded")
	}
}

func FuzzDecodeOverrideRecord(f *testing.F) {
	for _, r := range sampleOverrideRecords() {
		b, err := EncodeOverrideRecord(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		if r.Override != nil || r.Parts == nil {
			f.Add(append([]byte("hco\x01"), b[4:]...)) // the version 1 layout
		}
	}
	f.Add([]byte("hco\x01\x02\x00\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeOverrideRecord(b)
		if err != nil {
			return
		}
		b2, err := EncodeOverrideRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		if b[3] == 1 { // version 1 re-encodes as version 2, the same record
			if r2, err := DecodeOverrideRecord(b2); err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatalf("version 1 %+v re-encoded as %+v, %v", r, r2, err)
			}
			return
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("re-encoding %+v gave different bytes", r)
		}
	})
}
