package sources

// The JSON shapes of docs/contract.md. Fields that are validated but not carried
// (names, labs, airports, products) use fixed-buffer types (text, label), so
// they do not allocate. Unknown fields are ignored: the
// contract grows only by optional fields.

type envelope struct {
	EventID    string   `json:"event_id"`
	Source     text     `json:"source"`
	OccurredAt jsonTime `json:"occurred_at"`
}

type personJSON struct {
	IDType      text `json:"id_type"`
	IDNumber    text `json:"id_number"`
	Nationality text `json:"nationality"`
}

type flightMsg struct {
	envelope
	Flight struct {
		Number             text     `json:"number"`
		Date               text     `json:"date"`
		OriginAirport      text     `json:"origin_airport"`
		OriginCountry      text     `json:"origin_country"`
		DestinationAirport text     `json:"destination_airport"`
		DepartedAt         jsonTime `json:"departed_at"`
		ArrivedAt          jsonTime `json:"arrived_at"`
	} `json:"flight"`
	Passengers []passengerJSON `json:"passengers"`
}

type passengerJSON struct {
	Person personJSON `json:"person"`
	Seat   text       `json:"seat"`
}

type travelMsg struct {
	envelope
	Person personJSON `json:"person"`
	Region struct {
		Code    text `json:"code"`
		Country text `json:"country"`
	} `json:"region"`
	Location struct {
		Lat num `json:"lat"`
		Lng num `json:"lng"`
	} `json:"location"`
	LeftAt jsonTime `json:"left_at"`
}

type testMsg struct {
	envelope
	Person personJSON `json:"person"`
	Test   struct {
		Kind       text     `json:"kind"`
		Result     text     `json:"result"`
		ReportedAt jsonTime `json:"reported_at"`
		Lab        label    `json:"lab"`
	} `json:"test"`
}

type checkinMsg struct {
	envelope
	Person personJSON `json:"person"`
	Venue  struct {
		ID   text  `json:"id"`
		Name label `json:"name"`
		Lat  num   `json:"lat"`
		Lng  num   `json:"lng"`
	} `json:"venue"`
	LeftAt jsonTime `json:"left_at"`
}

type vaccinationMsg struct {
	envelope
	Person  personJSON `json:"person"`
	Vaccine struct {
		Product text `json:"product"`
		Dose    num  `json:"dose"`
	} `json:"vaccine"`
}

type declarationMsg struct {
	envelope
	Person       personJSON   `json:"person"`
	Symptoms     []text       `json:"symptoms"`
	TemperatureC num          `json:"temperature_c"`
	Journey      *journeyJSON `json:"journey"` // optional (journey.go); nil if absent or null
}

type areaRiskMsg struct {
	envelope
	Area struct {
		Kind text `json:"kind"`
		Code text `json:"code"`
	} `json:"area"`
	Level text     `json:"level"`
	Until jsonTime `json:"until"`
}

type overrideMsg struct {
	envelope
	Person   personJSON `json:"person"`
	Colour   text       `json:"colour"`
	Until    jsonTime   `json:"until"`
	Reason   string     `json:"reason"`
	Officer  string     `json:"officer"`
	Approver string     `json:"approver"`
	// Optional additions (docs/overrides.md).
	ReasonCode text   `json:"reason_code"`
	Region     text   `json:"office_region"`
	Confirms   string `json:"confirms"`
}
