package wire

import (
	"errors"
	"testing"

	"healthcode/scoring"
)

func sampleDesignations() []scoring.Designation {
	from := scoring.MustTime("2020-03-10T00:00:00+08:00")
	return []scoring.Designation{
		{Kind: scoring.AreaCountry, Code: "DEU", Level: scoring.RiskHigh, From: from, ID: "ar-1"},
		{Kind: scoring.AreaRegion, Code: "330102", Level: scoring.RiskMedium, From: from, Until: from.Add(14 * 24 * 3600e9), ID: "ar-2"},
		{Kind: scoring.AreaH3, Code: "8830e1c6b5fffff", Cell: 0x8830e1c6b5fffff, Level: scoring.RiskLow, From: from, ID: "ar-3"},
		{Kind: 255, Code: "", Cell: 1<<64 - 1, Level: 255, From: scoring.MaxTime, Until: scoring.MaxTime, ID: ""},
		{},
	}
}

func TestEncodeDesignation_RoundTrip(t *testing.T) {
	for _, d := range sampleDesignations() {
		t.Run(d.Code+"/"+d.ID, func(t *testing.T) {
			b, err := EncodeDesignation(d)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeDesignation(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != d {
				t.Fatalf("round trip: got %+v, want %+v", got, d)
			}
		})
	}
}

func TestEncodeDesignation_TooLong(t *testing.T) {
	long := make([]byte, maxDesignationString+1)
	if _, err := EncodeDesignation(scoring.Designation{Code: string(long)}); err == nil {
		t.Fatal("no error for an over-long code")
	}
}

func TestDecodeDesignation_Malformed(t *testing.T) {
	good, err := EncodeDesignation(sampleDesignations()[2])
	if err != nil {
		t.Fatal(err)
	}
	f := func(name string, b []byte, want error) {
		t.Helper()
		if _, err := DecodeDesignation(b); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
		}
	}
	f("empty", nil, ErrMalformed)
	f("events magic", append([]byte("hce\x01"), good[4:]...), ErrMalformed)
	f("future version", append([]byte("hcd\x02"), good[4:]...), ErrVersion)
	f("trailing", append(append([]byte(nil), good...), 'x'), ErrMalformed)
	f("overlong length", append(append(append([]byte(nil), good[:22]...), 0x8f, 0x00), good[23:]...), ErrMalformed)
	f("huge length", append(append([]byte(nil), good[:22]...), 0xff, 0xff, 0xff, 0xff, 0x0f), ErrMalformed)
	for n := 0; n < len(good); n++ {
		if _, err := DecodeDesignation(good[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d bytes: err = %v", n, err)
		}
	}
}

func FuzzDecodeDesignation(f *testing.F) {
	for _, d := range sampleDesignations() {
		b, err := EncodeDesignation(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDesignation(b)
		if err != nil {
			return
		}
		b2, err := EncodeDesignation(d)
		if err != nil {
			t.Fatal(err)
		}
		if string(b2) != string(b) {
			t.Fatalf("re-encoding %+v gave different bytes", d)
		}
	})
}
