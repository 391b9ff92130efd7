package sim

import ()

// Document kinds of simulated people.
const (
	docResident uint8 = iota
	docPassport
	docHKMacau
	docTaiwan
)

var idTypeNames = [...]string{"resident_id", "passport", "hk_macau_permit", "taiwan_permit"}

// Birth dates of residents span 1940-01-01 to 2015-12-31.
var (
	birthFirst = daysFromCivil(1940, 1, 1)
	birthDays  = daysFromCivil(2016, 1, 1) - birthFirst
)

// residentSpace is the number of distinct (district, birth date, sequence)
// triples: resident IDs are a bijection of person indexes into it, so no two
// people share a number.
var residentSpace = uint64(nDistricts) * uint64(birthDays) * 1000

const docSpace = 100_000_000 // 8-digit numbers of other documents

// identity derives every person's document from their index and the seed, so
// nothing per person is stored: p -> (p*a + b) mod space is a bijection when
// a is coprime to space.
type identity struct {
	seed       uint64
	resA, resB uint64
	docA, docB uint64
}

func newIdentity(seed uint64) identity {
	id := identity{seed: seed}
	id.resA = coprime(mix64(seed^0x5eed1d)%residentSpace|1, residentSpace)
	id.resB = mix64(seed^0xb1b1) % residentSpace
	id.docA = coprime(mix64(seed^0xd0c)%docSpace|1, docSpace)
	id.docB = mix64(seed^0xd0cb) % docSpace
	return id
}

func coprime(a, n uint64) uint64 {
	for gcd(a, n) != 1 {
		a++
	}
	return a
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// mix64 is the splitmix64 finaliser: a cheap, well-spread hash of x.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hash returns a stable pseudo-random value for (seed, a, b).
func (id *identity) hash(a, b uint64) uint64 {
	return mix64(id.seed ^ mix64(a*0x9e3779b97f4a7c15^b))
}

// docKind picks a person's document: about 1% passports, 0.2% Hong Kong and
// Macau permits, 0.1% Taiwan permits, the rest resident IDs.
func (id *identity) docKind(p int32) uint8 {
	switch h := id.hash(uint64(p), 1) % 1000; {
	case h < 10:
		return docPassport
	case h < 12:
		return docHKMacau
	case h < 13:
		return docTaiwan
	}
	return docResident
}

// resident returns the district, birth day (days since 1970-01-01) and
// sequence number of a resident's ID.
func (id *identity) resident(p int32) (dist int, birth int64, seq int) {
	x := (uint64(p)*id.resA + id.resB) % residentSpace
	seq = int(x % 1000)
	x /= 1000
	return int(x % uint64(nDistricts)), birthFirst + int64(x/uint64(nDistricts)), seq
}

// appendIDNumber appends person p's document number.
func (id *identity) appendIDNumber(b []byte, p int32, kind uint8) []byte {
	switch kind {
	case docResident:
		dist, birth, seq := id.resident(p)
		start := len(b)
		b = append(b, districts[dist].code...)
		y, m, d := civilFromDays(birth)
		b = appendUint(b, uint64(y), 4)
		b = appendUint(b, uint64(m), 2)
		b = appendUint(b, uint64(d), 2)
		b = appendUint(b, uint64(seq), 3)
		return append(b, residentCheck(b[start:]))
	case docPassport:
		b = append(b, "EGKPC"[id.hash(uint64(p), 2)%5])
	case docHKMacau:
		b = append(b, "HM"[id.hash(uint64(p), 2)%2])
	}
	return appendUint(b, (uint64(p)*id.docA+id.docB)%docSpace, 8)
}

// nationality of a person holding a non-resident document.
func (id *identity) nationality(p int32, kind uint8) string {
	if kind == docPassport {
		return countries[id.hash(uint64(p), 3)%uint64(len(countries))]
	}
	return "CHN"
}

// residentWeights are the GB 11643 (ISO 7064 MOD 11-2) weights 2^(17-i) mod 11.
var residentWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// residentCheck returns the check character of the first 17 digits.
func residentCheck(digits []byte) byte {
	sum := 0
	for i, w := range residentWeights {
		sum += int(digits[i]-'0') * w
	}
	return "10X98765432"[sum%11]
}
