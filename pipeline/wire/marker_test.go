package wire

import (
	"bytes"
	"errors"
	"testing"

	"healthcode/scoring"
)

func TestEncodeMarker_Golden(t *testing.T) {
	m := Marker{Next: 1234567, Clock: scoring.MustTime("2020-03-16T10:00:00+08:00")}
	b, err := EncodeMarker(m)
	if err != nil {
		t.Fatal(err)
	}
	want := golden(t, "marker-v1.bin", b)
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding differs from testdata/marker-v1.bin: changelogs already written would not restore; use a new key for a new layout")
	}
	got, err := DecodeMarker(want)
	if err != nil || got != m {
		t.Fatalf("golden file decodes to %+v, %v; want %+v", got, err, m)
	}
	if !IsMarkerKey(MarkerKey()) || IsMarkerKey(make([]byte, 16)) {
		t.Error("marker key does not tell markers from person keys")
	}
}

func TestDecodeMarker_Malformed(t *testing.T) {
	good, err := EncodeMarker(Marker{Next: 7, Clock: 9})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{nil, good[:11], append(append([]byte(nil), good...), 0), {0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}} {
		if _, err := DecodeMarker(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: err = %v, want malformed", b, err)
		}
	}
	if _, err := EncodeMarker(Marker{Next: -1}); err == nil {
		t.Error("negative offset encoded")
	}
}

func FuzzDecodeMarker(f *testing.F) {
	for _, m := range []Marker{{}, {Next: 1, Clock: 2}, {Next: 1<<63 - 1, Clock: scoring.MaxTime}} {
		b, err := EncodeMarker(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMarker(b)
		if err != nil {
			return
		}
		b2, err := EncodeMarker(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("re-encoding %+v gave different bytes", m)
		}
	})
}
