package sources

import (
	"unicode"
	"unicode/utf8"
)

// The member names of the eight message shapes, the one home of their
// spelling for the decoder (the struct tags of messages.go and journey.go
// say the same, for the reader; a test checks that they agree). A name in a
// message matches as encoding/json matches struct tags: case-insensitively,
// Unicode simple folding included ("ſource" is source, "\u212Aind" is kind).

// key is a member name known to some shape.
type key uint8

const (
	keyUnknown key = iota
	keyEventID
	keySource
	keyOccurredAt
	keyIDType
	keyIDNumber
	keyNationality
	keyFlight
	keyNumber
	keyDate
	keyOriginAirport
	keyOriginCountry
	keyDestinationAirport
	keyDepartedAt
	keyArrivedAt
	keyPassengers
	keyPerson
	keySeat
	keyRegion
	keyCode
	keyCountry
	keyLocation
	keyLat
	keyLng
	keyLeftAt
	keyTest
	keyKind
	keyResult
	keyReportedAt
	keyLab
	keyVenue
	keyID
	keyName
	keyVaccine
	keyProduct
	keyDose
	keySymptoms
	keyTemperatureC
	keyJourney
	keyOrigin
	keyCity
	keyFlights
	keyPortOfEntry
	keyDestinationRegion
	keyPlannedArrival
	keyArea
	keyLevel
	keyUntil
	keyColour
	keyReason
	keyOfficer
	keyApprover
	keyReasonCode
	keyOfficeRegion
	keyConfirms
)

// maxKeyName is the longest member name known, in bytes.
const maxKeyName = 19

// lookup returns the key a member name (unescaped) matches.
func lookup(name []byte) key {
	for _, c := range name {
		if c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return lookupFolded(name)
		}
	}
	return keyNamed(name) // in lower case already, as upstream writes names
}

// lookupFolded is lookup for a name that needs folding.
func lookupFolded(name []byte) key {
	var b [maxKeyName]byte
	n := 0
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			i++
		} else {
			r, size := utf8.DecodeRune(name[i:])
			i += size
			f := foldRune(r)
			if f >= utf8.RuneSelf {
				return keyUnknown // every known name is ASCII
			}
			c = byte(f)
		}
		if n == len(b) {
			return keyUnknown
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[n] = c
		n++
	}
	return keyNamed(b[:n])
}

// foldRune returns the smallest rune of r's simple case-folding orbit, as
// encoding/json folds names.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// keyNamed returns the key of a name in lower case.
func keyNamed(b []byte) key {
	switch string(b) {
	case "event_id":
		return keyEventID
	case "source":
		return keySource
	case "occurred_at":
		return keyOccurredAt
	case "id_type":
		return keyIDType
	case "id_number":
		return keyIDNumber
	case "nationality":
		return keyNationality
	case "flight":
		return keyFlight
	case "number":
		return keyNumber
	case "date":
		return keyDate
	case "origin_airport":
		return keyOriginAirport
	case "origin_country":
		return keyOriginCountry
	case "destination_airport":
		return keyDestinationAirport
	case "departed_at":
		return keyDepartedAt
	case "arrived_at":
		return keyArrivedAt
	case "passengers":
		return keyPassengers
	case "person":
		return keyPerson
	case "seat":
		return keySeat
	case "region":
		return keyRegion
	case "code":
		return keyCode
	case "country":
		return keyCountry
	case "location":
		return keyLocation
	case "lat":
		return keyLat
	case "lng":
		return keyLng
	case "left_at":
		return keyLeftAt
	case "test":
		return keyTest
	case "kind":
		return keyKind
	case "result":
		return keyResult
	case "reported_at":
		return keyReportedAt
	case "lab":
		return keyLab
	case "venue":
		return keyVenue
	case "id":
		return keyID
	case "name":
		return keyName
	case "vaccine":
		return keyVaccine
	case "product":
		return keyProduct
	case "dose":
		return keyDose
	case "symptoms":
		return keySymptoms
	case "temperature_c":
		return keyTemperatureC
	case "journey":
		return keyJourney
	case "origin":
		return keyOrigin
	case "city":
		return keyCity
	case "flights":
		return keyFlights
	case "port_of_entry":
		return keyPortOfEntry
	case "destination_region":
		return keyDestinationRegion
	case "planned_arrival":
		return keyPlannedArrival
	case "area":
		return keyArea
	case "level":
		return keyLevel
	case "until":
		return keyUntil
	case "colour":
		return keyColour
	case "reason":
		return keyReason
	case "officer":
		return keyOfficer
	case "approver":
		return keyApprover
	case "reason_code":
		return keyReasonCode
	case "office_region":
		return keyOfficeRegion
	case "confirms":
		return keyConfirms
	}
	return keyUnknown
}
