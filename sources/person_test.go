package sources

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestPersonKey_MatchesContract(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	secret := []byte(testKey)
	for i := 0; i < 50; i++ {
		id := GenerateResidentID(r, "330102", time.Date(1950+r.IntN(60), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC))
		for _, typ := range IDTypes() {
			// docs/contract.md: first 16 bytes of HMAC-SHA256(secret, id_type + ":" + id_number), 32 lowercase hex.
			mac := hmac.New(sha256.New, secret)
			mac.Write([]byte(typ + ":" + id))
			want := hex.EncodeToString(mac.Sum(nil)[:16])
			if got := PersonKey(secret, typ, id).String(); got != want {
				t.Fatalf("PersonKey(%s) = %s, want %s", typ, got, want)
			}
		}
	}
}

func TestPersonKey_Normalisation(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	secret := []byte(testKey)
	for i := 0; i < 200; i++ {
		id := GenerateResidentID(r, "110105", time.Date(1990, 3, 7, 0, 0, 0, 0, time.UTC))
		if !strings.HasSuffix(id, "X") {
			continue
		}
		want := PersonKey(secret, IDTypeResident, id)
		for _, variant := range []string{
			strings.ToLower(id),
			id[:6] + " " + id[6:14] + " " + id[14:],
			id[:6] + "-" + id[6:14] + "-" + strings.ToLower(id[14:]),
			" " + id + " ",
		} {
			if got := PersonKey(secret, IDTypeResident, variant); got != want {
				t.Errorf("variant of a resident id gives key %s, want %s", got, want)
			}
			if got := NormaliseIDNumber(variant); got != id {
				t.Errorf("NormaliseIDNumber(variant) = %d chars, want the canonical number", len(got))
			}
		}
		if PersonKey(secret, IDTypePassport, id) == want {
			t.Error("the document type does not change the key")
		}
		if PersonKey([]byte("another key"), IDTypeResident, id) == want {
			t.Error("the secret does not change the key")
		}
		return
	}
	t.Fatal("no generated id ended in X")
}

func TestCheckResidentID(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	valid := GenerateResidentID(r, "440305", time.Date(1984, 2, 29, 0, 0, 0, 0, time.UTC))
	wrongCheck := valid[:17] + string("10X98765432"[(strings.IndexByte("10X98765432", valid[17])+1)%11])
	for _, tc := range []struct {
		name, id string
		wantErr  error  // a sentinel, or nil
		wantText string // a substring of the error, "" for success
	}{
		{"valid", valid, nil, ""},
		{"wrong check digit", wrongCheck, ErrResidentCheckDigit, "check digit"},
		{"17 chars", valid[:17], nil, "18 characters"},
		{"19 chars", valid + "1", nil, "18 characters"},
		{"letter inside", valid[:3] + "A" + valid[4:], nil, "17 digits"},
		{"lower-case x", valid[:17] + "x", nil, "17 digits"},
		{"month 13", valid[:10] + "13" + valid[12:], nil, "birth date"},
		{"Feb 30", valid[:10] + "0230" + valid[14:], nil, "birth date"},
		{"year 1850", valid[:6] + "1850" + valid[10:], nil, "birth date"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckResidentID(tc.id)
			if tc.wantText == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.wantText)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v is not %v", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), tc.id) {
				t.Fatal("error quotes the id number")
			}
		})
	}
}

// A published test vector of GB 11643 (the standard's own example number).
func TestCheckResidentID_StandardExample(t *testing.T) {
	if err := CheckResidentID("11010519491231002X"); err != nil {
		t.Fatalf("the GB 11643 example number is refused: %v", err)
	}
	if err := CheckResidentID("110105194912310021"); !errors.Is(err, ErrResidentCheckDigit) {
		t.Fatalf("a wrong check digit gives %v", err)
	}
}

func TestGenerateResidentID(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	checks := map[byte]bool{}
	for i := 0; i < 2000; i++ {
		birth := time.Date(1900+r.IntN(200), time.Month(1+r.IntN(12)), 1+r.IntN(31), 0, 0, 0, 0, time.UTC)
		id := GenerateResidentID(r, "330106", birth)
		if err := CheckResidentID(id); err != nil {
			t.Fatalf("generated id refused: %v", err)
		}
		if id[:6] != "330106" || id[6:14] != birth.Format("20060102") {
			t.Fatalf("generated id does not carry region and birth date")
		}
		checks[id[17]] = true
		// Every single-digit change of the first 17 digits breaks the check digit.
		pos := r.IntN(17)
		d := id[pos]
		alt := byte('0' + (int(d-'0')+1+r.IntN(9))%10)
		mutated := id[:pos] + string(alt) + id[pos+1:]
		if err := CheckResidentID(mutated); err == nil {
			t.Fatalf("a one-digit change at %d still passes", pos)
		}
	}
	if len(checks) != 11 {
		t.Fatalf("check characters seen: %d, want all 11", len(checks))
	}
}
