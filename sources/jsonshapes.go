package sources

// One decode function per message shape (messages.go, journey.go), filling
// the shape's struct in the scratch as encoding/json would: members are
// matched by name (jsonkeys.go), unknown ones skipped, a repeated one decoded
// again over the first (objects merge, the last value of a field stands).
// Field paths given for type errors are encoding/json's: struct fields'
// names, without array indices.

// envelopeMember reads a member of the envelope, or skips one no field takes.
func (r *reader) envelopeMember(e *envelope) {
	switch r.key {
	case keyEventID:
		r.stringValue(&e.EventID, "event_id")
	case keySource:
		r.textValue(&e.Source)
	case keyOccurredAt:
		r.timeValue(&e.OccurredAt)
	default:
		r.skipValue()
	}
}

func (r *reader) person(p *personJSON, field string) {
	if r.open('{', field) != isOpen {
		return
	}
	for n := 0; r.member(n); n++ {
		switch r.key {
		case keyIDType:
			r.textValue(&p.IDType)
		case keyIDNumber:
			r.textValue(&p.IDNumber)
		case keyNationality:
			r.textValue(&p.Nationality)
		default:
			r.skipValue()
		}
	}
}

func (r *reader) flightMsg(m *flightMsg, used *int) {
	for n := 0; r.member(n); n++ {
		switch r.key {
		case keyFlight:
			if r.open('{', "flight") != isOpen {
				break
			}
			f := &m.Flight
			for k := 0; r.member(k); k++ {
				switch r.key {
				case keyNumber:
					r.textValue(&f.Number)
				case keyDate:
					r.textValue(&f.Date)
				case keyOriginAirport:
					r.textValue(&f.OriginAirport)
				case keyOriginCountry:
					r.textValue(&f.OriginCountry)
				case keyDestinationAirport:
					r.textValue(&f.DestinationAirport)
				case keyDepartedAt:
					r.timeValue(&f.DepartedAt)
				case keyArrivedAt:
					r.timeValue(&f.ArrivedAt)
				default:
					r.skipValue()
				}
			}
		case keyPassengers:
			array(r, &m.Passengers, used, "passengers", (*reader).passenger)
		default:
			r.envelopeMember(&m.envelope)
		}
	}
}

func (r *reader) passenger(p *passengerJSON) {
	if r.open('{', "passengers") != isOpen {
		return
	}
	for n := 0; r.member(n); n++ {
		switch r.key {
		case keyPerson:
			r.person(&p.Person, "passengers.person")
		case keySeat:
			r.textValue(&p.Seat)
		default:
			r.skipValue()
		}
	}
}

func (r *reader) travelMsg(m *travelMsg) {
	for n := 0; r.member(n); n++ {
		switch r.key {
		case keyPerson:
			r.person(&m.Person, "person")
		case keyRegion:
			if r.open('{', "region") != isOpen {
				break
			}
			for k := 0; r.member(k); k++ {
				switch r.key {
				case keyCode:
					r.textValue(&m.Region.Code)
				case keyCountry:
					r.textValue(&m.Region.Country)
				default:
					r.skipValue()
				}
			}
		case keyLocation:
			if r.open('{', "location") != isOpen {
				break
			}
			for k := 0; r.member(k); k++ {
				switch r.key {
				case keyLat:
					r.numValue(&m.Location.Lat)
				case keyLng:
					r.numValue(&m.Location.Lng)
				default:
					r.skipValue()
				}
			}
		case keyLeftAt:
			r.timeValue(&m.LeftAt)
		default:
			r.envelopeMember(&m.envelope)
		}
	}
}

func (r *reader) testMsg(m *testMsg) {
	for n := 0; r.member(n); n++ {
		switch r.key {
		case keyPerson:
			r.person(&m.Person, "person")
		case keyTest:
			if r.open('{', "test") != isOpen {
				break
			}
			t := &m.Test
			for k := 0; r.member(k); k++ {
				switch r.key {
				case keyKind:
					r.textValue(&t.Kind)
				case keyResult:
					r.textValue(&t.Result)
				case keyReportedAt:
					r.timeValue(&t.ReportedAt)
				case keyLab:
					r.labelValue(&t.Lab)
				default:
					r.skipValue()
				}
			}
		default:
			r.envelopeMember(&m.envelope)
		}
	}
}

func (r *reader) checkinMsg(m *checkinMsg) {
	for n := 0; r.member(n); n++ {
		switch r.key {
		case keyPerson:
			r.person(&m.Person, "person")
		case keyVenue:
			if r.open('{', "venue") != isOpen {
				break
			}
			v := &m.Venue
			for k := 0; r.member(k); k++ {
				switch r.key {
				case keyID:
					r.textValue(&v.ID)
				case keyName:
					r.labelValue(&v.Name)
				case keyLat:
					r.numValue(&v.Lat)
				case keyLng:
					r.numValue(&v.Lng)
				default:
					r.skipValue()
				}
			}
		case keyLeftAt:
			r.timeValue(&m.LeftAt)
		default:
			r.envelopeMember(&m.envelope)
		}
	}
}

func (r *reader) vaccinationMsg(m *vaccinationMsg) {
	for n := 0; r.member(n); n++ {
		switch r.key {
		case keyPerson:
			r.person(&m.Person, "person")
		case keyVaccine:
			if r.open('{', "vaccine") != isOpen {
				break
			}
			for k := 0; r.member(k); k++ {
				switch r.key {
				case keyProduct:
					r.textValue(&m.Vaccine.Product)
				case keyDose:
					r.numValue(&m.Vaccine.Dose)
				default:
					r.skipValue()
				}
			}
		default:
			r.envelopeMember(&m.envelope)
		}
	}
}

// declarationMsg decodes a declaration; its journey, if any, is sc.journey.
func (r *reader) declarationMsg(m *declarationMsg, sc *scratch) {
	for n := 0; r.member(n); n++ {
		switch r.key {
		case keyPerson:
			r.person(&m.Person, "person")
		case keySymptoms:
			array(r, &m.Symptoms, &sc.used.symptoms, "symptoms", (*reader).textValue)
		case keyTemperatureC:
			r.numValue(&m.TemperatureC)
		case keyJourney:
			switch r.open('{', "journey") {
			case isNull:
				m.Journey = nil
				sc.dropJourney()
			case isOpen:
				if m.Journey == nil {
					m.Journey = &sc.journey // zero: see dropJourney
				}
				r.journey(m.Journey, &sc.used.flights)
			}
		default:
			r.envelopeMember(&m.envelope)
		}
	}
}

func (r *reader) journey(j *journeyJSON, used *int) {
	for n := 0; r.member(n); n++ {
		switch r.key {
		case keyOrigin:
			if r.open('{', "journey.origin") != isOpen {
				break
			}
			for k := 0; r.member(k); k++ {
				switch r.key {
				case keyCountry:
					r.textValue(&j.Origin.Country)
				case keyCity:
					r.stringValue(&j.Origin.City, "journey.origin.city")
				default:
					r.skipValue()
				}
			}
		case keyFlights:
			array(r, &j.Flights, used, "journey.flights", (*reader).flightRef)
		case keyPortOfEntry:
			r.textValue(&j.PortOfEntry)
		case keyDestinationRegion:
			r.textValue(&j.DestinationRegion)
		case keyPlannedArrival:
			r.timeValue(&j.PlannedArrival)
		default:
			r.skipValue()
		}
	}
}

func (r *reader) flightRef(f *flightRefJSON) {
	if r.open('{', "journey.flights") != isOpen {
		return
	}
	for n := 0; r.member(n); n++ {
		switch r.key {
		case keyNumber:
			r.textValue(&f.Number)
		case keyDate:
			r.textValue(&f.Date)
		default:
			r.skipValue()
		}
	}
}

func (r *reader) areaRiskMsg(m *areaRiskMsg) {
	for n := 0; r.member(n); n++ {
		switch r.key {
		case keyArea:
			if r.open('{', "area") != isOpen {
				break
			}
			for k := 0; r.member(k); k++ {
				switch r.key {
				case keyKind:
					r.textValue(&m.Area.Kind)
				case keyCode:
					r.textValue(&m.Area.Code)
				default:
					r.skipValue()
				}
			}
		case keyLevel:
			r.textValue(&m.Level)
		case keyUntil:
			r.timeValue(&m.Until)
		default:
			r.envelopeMember(&m.envelope)
		}
	}
}

func (r *reader) overrideMsg(m *overrideMsg) {
	for n := 0; r.member(n); n++ {
		switch r.key {
		case keyPerson:
			r.person(&m.Person, "person")
		case keyColour:
			r.textValue(&m.Colour)
		case keyUntil:
			r.timeValue(&m.Until)
		case keyReason:
			r.stringValue(&m.Reason, "reason")
		case keyOfficer:
			r.stringValue(&m.Officer, "officer")
		case keyApprover:
			r.stringValue(&m.Approver, "approver")
		case keyReasonCode:
			r.textValue(&m.ReasonCode)
		case keyOfficeRegion:
			r.textValue(&m.Region)
		case keyConfirms:
			r.stringValue(&m.Confirms, "confirms")
		default:
			r.envelopeMember(&m.envelope)
		}
	}
}
