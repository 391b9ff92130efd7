package token

// Claims are the CWT claims (RFC 8392) of a token. Integer keys are the
// registered claims; "hc" and "ithc" are private claims with text keys.
type Claims struct {
	Issuer   string       `cbor:"1,keyasint" json:"iss"`                // the issuing province, e.g. "CN-ZJ"
	Subject  string       `cbor:"2,keyasint" json:"sub"`                // the pseudonymous person key (32 hex), never a raw ID
	Expires  int64        `cbor:"4,keyasint" json:"exp"`                // Unix seconds
	IssuedAt int64        `cbor:"6,keyasint" json:"iat"`                // Unix seconds, wall clock
	TokenID  []byte       `cbor:"7,keyasint" json:"cti"`                // random, 16 bytes
	Code     Code         `cbor:"hc" json:"hc"`                         // the colour
	Cert     *Certificate `cbor:"ithc,omitempty" json:"ithc,omitempty"` // travel health certificate only
}

// Code is the "hc" claim: the colour as the pipeline decided it.
type Code struct {
	Colour   string   `cbor:"colour" json:"colour"`
	Level    int      `cbor:"level" json:"level"`
	Policy   string   `cbor:"policy" json:"policy"` // "name@version"
	Version  uint64   `cbor:"version" json:"version"`
	Rules    []string `cbor:"rules" json:"rules"`                             // the rule ids of the reasons
	ReviewAt int64    `cbor:"review_at,omitempty" json:"review_at,omitempty"` // Unix seconds; absent when nothing is pending
}

// Certificate is the "ithc" claim of the international travel health
// certificate.
type Certificate struct {
	Tests        []Test        `cbor:"tests" json:"tests"`
	Vaccinations []Vaccination `cbor:"vaccinations" json:"vaccinations"`
}

// Test is one test result: kind "pcr", "antigen", "igg" or "igm"; result
// "positive", "negative" or "inconclusive"; sampled_at in Unix seconds.
type Test struct {
	Kind      string `cbor:"kind" json:"kind"`
	Result    string `cbor:"result" json:"result"`
	SampledAt int64  `cbor:"sampled_at" json:"sampled_at"`
}

// Vaccination is one dose: the product as the registry names it, the dose
// number, and the date (YYYY-MM-DD, China Standard Time).
type Vaccination struct {
	Product string `cbor:"product" json:"product"`
	Dose    int    `cbor:"dose" json:"dose"`
	Date    string `cbor:"date" json:"date"`
}
