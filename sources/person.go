package sources

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"healthcode/scoring"
)

// The contract's document types (person.id_type).
const (
	IDTypeResident          = "resident_id"
	IDTypePassport          = "passport"
	IDTypeHKMacauPermit     = "hk_macau_permit"
	IDTypeTaiwanPermit      = "taiwan_permit"
	IDTypeForeignPermanentR = "foreign_permanent_resident"
)

// IDTypeOfficer is the id_type under which officers and approvers of
// overrides are keyed (PersonKey(secret, IDTypeOfficer, name)): an auditor
// holding the secret finds an officer with `healthcode key --id-type officer`.
// It is not a document type of the contract.
const IDTypeOfficer = "officer"

// IDTypes lists the contract's document types in a fixed order.
func IDTypes() []string {
	return []string{IDTypeResident, IDTypePassport, IDTypeHKMacauPermit, IDTypeTaiwanPermit, IDTypeForeignPermanentR}
}

// PersonKey returns the pseudonymous key of a person as docs/contract.md defines it:
// the first 16 bytes of HMAC-SHA256(secret, idType + ":" + idNumber), where
// idNumber is normalised by NormaliseIDNumber. It does not validate its input.
func PersonKey(secret []byte, idType, idNumber string) scoring.PersonKey {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(idType))
	mac.Write([]byte{':'})
	mac.Write([]byte(NormaliseIDNumber(idNumber)))
	var sum [sha256.Size]byte
	var k scoring.PersonKey
	copy(k[:], mac.Sum(sum[:0]))
	return k
}

// NormaliseIDNumber upper-cases a document number and removes spaces and
// hyphens, so that "1101 0119-900307 777x" and "11010119900307777X" are one
// person.
func NormaliseIDNumber(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.ToUpper(s))
}

// Weights of the GB 11643 (ISO 7064 MOD 11-2) check digit: 2^(17-i) mod 11.
var residentWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// residentCheck maps the weighted sum mod 11 to the check character.
const residentCheck = "10X98765432"

// ErrResidentCheckDigit is returned by CheckResidentID when the check digit
// does not match the other 17 digits.
var ErrResidentCheckDigit = errors.New("resident_id check digit mismatch")

// CheckResidentID checks a normalised resident ID number (GB 11643): 18
// characters, 17 digits then a digit or 'X', a calendar birth date between
// 1900 and 2099 in characters 7-14, and the ISO 7064 MOD 11-2 check digit.
// Errors never quote the number.
func CheckResidentID(id string) error {
	if len(id) != 18 {
		return fmt.Errorf("resident_id must be 18 characters, got %d", len(id))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return errors.New("resident_id must be 17 digits followed by a digit or X")
		}
		sum += int(c-'0') * residentWeights[i]
	}
	if last := id[17]; (last < '0' || last > '9') && last != 'X' {
		return errors.New("resident_id must be 17 digits followed by a digit or X")
	}
	year := atoi(id[6:10])
	month := atoi(id[10:12])
	day := atoi(id[12:14])
	if year < 1900 || year > 2099 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return errors.New("resident_id birth date is not a plausible date")
	}
	if id[17] != residentCheck[sum%11] {
		return ErrResidentCheckDigit
	}
	return nil
}

// GenerateResidentID returns a random valid resident ID number for a region
// (six digits, GB/T 2260) and birth date, for tests and the simulator. It
// panics if region is not six digits or the birth year is outside 1900..2099.
func GenerateResidentID(r *rand.Rand, region string, birth time.Time) string {
	if len(region) != 6 || !allDigits(region) {
		panic(fmt.Sprintf("sources: GenerateResidentID: region %q is not six digits", region))
	}
	if y := birth.Year(); y < 1900 || y > 2099 {
		panic(fmt.Sprintf("sources: GenerateResidentID: birth year %d outside 1900..2099", y))
	}
	var b [18]byte
	copy(b[:6], region)
	copy(b[6:14], birth.Format("20060102"))
	for i := 14; i < 17; i++ {
		b[i] = byte('0' + r.IntN(10))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(b[i]-'0') * residentWeights[i]
	}
	b[17] = residentCheck[sum%11]
	return string(b[:])
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// atoi parses a short run of ASCII digits; the caller has checked them.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(year, month int) int {
	switch month {
	case 2:
		if isLeap(year) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
