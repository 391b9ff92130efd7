package sources

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"healthcode/scoring"
)

// Good input of every kind: the output is derived from the input message.
func TestDecode_Good(t *testing.T) {
	schemas := compileSchemas(t)
	h3cell := h3.LatLngToCell(h3.NewLatLng(30.2741, 120.1551), 8)
	for _, tc := range []struct {
		name   string
		stream Stream
		edit   func(m map[string]any)
		cfg    Config
		want   func(t *testing.T, m map[string]any) Batch
	}{
		{name: "flight manifest", stream: StreamFlights, want: func(t *testing.T, m map[string]any) Batch {
			var b Batch
			rows := []int16{23, 23, scoring.RowCrew}
			for i, p := range m["passengers"].([]any) {
				b.Events = append(b.Events, scoring.Event{
					Person: keyOf(t, p.(map[string]any)["person"]), Kind: scoring.KindArrival, Row: rows[i],
					At: timeAt(t, get(m, "flight.arrived_at")), End: timeAt(t, get(m, "flight.departed_at")),
					Country: "DEU", Place: "CA936/2020-03-16", Text: "HGH", ID: m["event_id"].(string), Source: "customs-hgh",
				})
			}
			return b
		}},
		{name: "flight number in lower case, three-digit row", stream: StreamFlights, edit: func(m map[string]any) {
			set(m, "flight.number", "ca936")
			set(m, "passengers.0.seat", "101K")
		}, want: func(t *testing.T, m map[string]any) Batch {
			var b Batch
			rows := []int16{101, 23, scoring.RowCrew}
			for i, p := range m["passengers"].([]any) {
				b.Events = append(b.Events, scoring.Event{
					Person: keyOf(t, p.(map[string]any)["person"]), Kind: scoring.KindArrival, Row: rows[i],
					At: timeAt(t, get(m, "flight.arrived_at")), End: timeAt(t, get(m, "flight.departed_at")),
					Country: "DEU", Place: "CA936/2020-03-16", Text: "HGH", ID: m["event_id"].(string), Source: "customs-hgh",
				})
			}
			return b
		}},
		{name: "travel with location", stream: StreamTravel, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Events: []scoring.Event{{
				Person: keyOf(t, m["person"]), Kind: scoring.KindTravel,
				At: timeAt(t, m["occurred_at"]), End: timeAt(t, m["left_at"]),
				Cell:    uint64(h3.LatLngToCell(h3.NewLatLng(get(m, "location.lat").(float64), get(m, "location.lng").(float64)), 15)),
				Country: "CHN", Place: "330102", ID: m["event_id"].(string), Source: m["source"].(string),
			}}}
		}},
		{name: "travel without location or left_at", stream: StreamTravel, edit: func(m map[string]any) {
			del(m, "location")
			del(m, "left_at")
		}, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Events: []scoring.Event{{
				Person: keyOf(t, m["person"]), Kind: scoring.KindTravel, At: timeAt(t, m["occurred_at"]),
				Country: "CHN", Place: "330102", ID: m["event_id"].(string), Source: m["source"].(string),
			}}}
		}},
		{name: "test result", stream: StreamTests, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Events: []scoring.Event{{
				Person: keyOf(t, m["person"]), Kind: scoring.KindTest, Sub: uint8(scoring.TestPCR), Result: scoring.ResultPositive,
				At: timeAt(t, m["occurred_at"]), End: timeAt(t, get(m, "test.reported_at")),
				ID: m["event_id"].(string), Source: m["source"].(string),
			}}}
		}},
		{name: "antigen negative, UTC and fractional seconds", stream: StreamTests, edit: func(m map[string]any) {
			set(m, "test.kind", "antigen")
			set(m, "test.result", "negative")
			set(m, "occurred_at", "2020-03-18T00:40:00.999Z")
			set(m, "test.reported_at", "2020-03-18T08:40:00.5+08:00")
		}, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Events: []scoring.Event{{
				Person: keyOf(t, m["person"]), Kind: scoring.KindTest, Sub: uint8(scoring.TestAntigen), Result: scoring.ResultNegative,
				At: scoring.MustTime("2020-03-18T00:40:00Z"), End: scoring.MustTime("2020-03-18T00:40:00Z"),
				ID: m["event_id"].(string), Source: m["source"].(string),
			}}}
		}},
		{name: "check-in", stream: StreamCheckins, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Events: []scoring.Event{{
				Person: keyOf(t, m["person"]), Kind: scoring.KindCheckin,
				At: timeAt(t, m["occurred_at"]), End: timeAt(t, m["left_at"]),
				Cell:  uint64(h3.LatLngToCell(h3.NewLatLng(get(m, "venue.lat").(float64), get(m, "venue.lng").(float64)), 15)),
				Place: "V330102000123", ID: m["event_id"].(string), Source: m["source"].(string),
			}}}
		}},
		{name: "check-in without left_at, spaced resident id", stream: StreamCheckins, edit: func(m map[string]any) {
			del(m, "left_at")
			id := get(m, "person.id_number").(string)
			set(m, "person.id_number", strings.ToLower(id[:6]+" "+id[6:14]+"-"+id[14:]))
			set(m, "person.canonical", id) // an unknown field: allowed
		}, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Events: []scoring.Event{{
				Person: PersonKey([]byte(testKey), IDTypeResident, get(m, "person.canonical").(string)), Kind: scoring.KindCheckin,
				At:    timeAt(t, m["occurred_at"]),
				Cell:  uint64(h3.LatLngToCell(h3.NewLatLng(get(m, "venue.lat").(float64), get(m, "venue.lng").(float64)), 15)),
				Place: "V330102000123", ID: m["event_id"].(string), Source: m["source"].(string),
			}}}
		}},
		{name: "vaccination", stream: StreamVaccinations, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Events: []scoring.Event{{
				Person: keyOf(t, m["person"]), Kind: scoring.KindVaccination, Dose: 2,
				At: timeAt(t, m["occurred_at"]), ID: m["event_id"].(string), Source: m["source"].(string),
				Text: get(m, "vaccine.product").(string),
			}}}
		}},
		{name: "declaration with a return journey", stream: StreamDeclarations, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Events: []scoring.Event{{
				Person: keyOf(t, m["person"]), Kind: scoring.KindDeclaration,
				Symptoms: scoring.SymptomFever | scoring.SymptomCough, TempDeci: 379,
				At: timeAt(t, m["occurred_at"]), ID: m["event_id"].(string), Source: m["source"].(string),
			}, {
				Person: keyOf(t, m["person"]), Kind: scoring.KindJourney, At: timeAt(t, m["occurred_at"]),
				End: timeAt(t, get(m, "journey.planned_arrival")), Country: "USA", Text: "New York",
				Place: "PVG 330106 MU588/2020-03-16", ID: m["event_id"].(string), Source: m["source"].(string),
			}}}
		}},
		{name: "journey of two flights, a lower-case number and a padded city", stream: StreamDeclarations, edit: func(m map[string]any) {
			del(m, "symptoms")
			del(m, "temperature_c")
			set(m, "journey.origin.city", "  Milano ")
			set(m, "journey.origin.country", "ITA")
			set(m, "journey.flights", []any{map[string]any{"number": "mu5130", "date": "2020-03-17"}, map[string]any{"number": "MU552", "date": "2020-03-16"}})
			set(m, "journey.planned_arrival", "2020-03-15T23:00:00Z") // a day before the earliest flight's date: the limit
		}, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Events: []scoring.Event{{
				Person: keyOf(t, m["person"]), Kind: scoring.KindDeclaration,
				At: timeAt(t, m["occurred_at"]), ID: m["event_id"].(string), Source: m["source"].(string),
			}, {
				Person: keyOf(t, m["person"]), Kind: scoring.KindJourney, At: timeAt(t, m["occurred_at"]),
				End: scoring.MustTime("2020-03-15T23:00:00Z"), Country: "ITA", Text: "Milano",
				Place: "PVG 330106 MU5130/2020-03-17 MU552/2020-03-16", ID: m["event_id"].(string), Source: m["source"].(string),
			}}}
		}},
		{name: "declaration", stream: StreamDeclarations, edit: func(m map[string]any) {
			del(m, "journey")
		}, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Events: []scoring.Event{{
				Person: keyOf(t, m["person"]), Kind: scoring.KindDeclaration,
				Symptoms: scoring.SymptomFever | scoring.SymptomCough, TempDeci: 379,
				At: timeAt(t, m["occurred_at"]), ID: m["event_id"].(string), Source: m["source"].(string),
			}}}
		}},
		{name: "empty declaration", stream: StreamDeclarations, edit: func(m map[string]any) {
			del(m, "symptoms")
			del(m, "temperature_c")
			del(m, "journey")
		}, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Events: []scoring.Event{{
				Person: keyOf(t, m["person"]), Kind: scoring.KindDeclaration,
				At: timeAt(t, m["occurred_at"]), ID: m["event_id"].(string), Source: m["source"].(string),
			}}}
		}},
		{name: "declaration of every symptom", stream: StreamDeclarations, edit: func(m map[string]any) {
			del(m, "journey")
			set(m, "symptoms", []any{"sore_throat", "loss_of_smell", "fatigue", "cough", "fever", "fever"})
			set(m, "temperature_c", 36.55)
		}, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Events: []scoring.Event{{
				Person: keyOf(t, m["person"]), Kind: scoring.KindDeclaration, Symptoms: 0x1f, TempDeci: 366,
				At: timeAt(t, m["occurred_at"]), ID: m["event_id"].(string), Source: m["source"].(string),
			}}}
		}},
		{name: "region designation", stream: StreamAreaRisk, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Areas: []scoring.Designation{{
				Kind: scoring.AreaRegion, Code: "330102", Level: scoring.RiskHigh,
				From: timeAt(t, m["occurred_at"]), Until: timeAt(t, m["until"]), ID: m["event_id"].(string),
			}}}
		}},
		{name: "open-ended country designation", stream: StreamAreaRisk, edit: func(m map[string]any) {
			set(m, "area", map[string]any{"kind": "country", "code": "DEU"})
			set(m, "level", "medium")
			del(m, "until")
		}, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Areas: []scoring.Designation{{
				Kind: scoring.AreaCountry, Code: "DEU", Level: scoring.RiskMedium,
				From: timeAt(t, m["occurred_at"]), ID: m["event_id"].(string),
			}}}
		}},
		{name: "h3 designation in upper case", stream: StreamAreaRisk, edit: func(m map[string]any) {
			set(m, "area", map[string]any{"kind": "h3", "code": strings.ToUpper(h3cell.String())})
			set(m, "level", "low")
		}, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Areas: []scoring.Designation{{
				Kind: scoring.AreaH3, Code: h3cell.String(), Cell: uint64(h3cell), Level: scoring.RiskLow,
				From: timeAt(t, m["occurred_at"]), Until: timeAt(t, m["until"]), ID: m["event_id"].(string),
			}}}
		}},
		{name: "override", stream: StreamOverrides, want: func(t *testing.T, m map[string]any) Batch {
			return Batch{Overrides: []scoring.Override{overrideOf(t, m, 0)}}
		}},
		{name: "override to orange under the Tianjin colours", stream: StreamOverrides,
			cfg:  Config{Colours: []string{"green", "orange", "red"}},
			edit: func(m map[string]any) { set(m, "colour", "orange") },
			want: func(t *testing.T, m map[string]any) Batch {
				return Batch{Overrides: []scoring.Override{overrideOf(t, m, 1)}}
			}},
		{name: "override with reason code, region and confirms", stream: StreamOverrides,
			edit: func(m map[string]any) {
				set(m, "colour", "red")
				set(m, "reason_code", "medical-isolation")
				set(m, "office_region", "410105")
				set(m, "confirms", "appeal-2020-0319-0030")
			},
			want: func(t *testing.T, m map[string]any) Batch {
				o := overrideOf(t, m, 2)
				o.ReasonCode, o.Region, o.Confirms = "medical-isolation", "410105", "appeal-2020-0319-0030"
				return Batch{Overrides: []scoring.Override{o}}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDecoder(t, tc.cfg)
			m := example(t, tc.stream)
			if tc.edit != nil {
				tc.edit(m)
			}
			msg := edited(t, tc.stream, tc.edit)
			if err := schemaValid(t, schemas[tc.stream], msg); err != nil {
				t.Errorf("good input fails its schema: %v", err)
			}
			var b Batch
			if err := d.Decode(tc.stream, msg, &b); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := tc.want(t, m)
			if fmt.Sprint(b.Events) != fmt.Sprint(want.Events) || fmt.Sprint(b.Areas) != fmt.Sprint(want.Areas) ||
				fmt.Sprint(b.Overrides) != fmt.Sprint(want.Overrides) {
				t.Fatalf("got\n%+v\n%+v\n%+v\nwant\n%+v\n%+v\n%+v", b.Events, b.Areas, b.Overrides, want.Events, want.Areas, want.Overrides)
			}
			for _, e := range b.Events {
				if c := h3.Cell(e.Cell); e.Cell != 0 && (!c.IsValid() || c.Resolution() != 15) {
					t.Fatalf("event cell %x is not a resolution-15 cell", e.Cell)
				}
			}
		})
	}
}

// rejectCases are the messages TestDecode_Rejects refuses (FuzzJSONOracle
// starts from them too).
type rejectCase struct {
	name   string
	stream Stream
	raw    string // the message, if not an edited example
	edit   func(m map[string]any)
	class  RejectClass
	field  string
	schema bool // the schema rejects it too
}

func rejectCases() []rejectCase {
	badCheck := func(m map[string]any, path string) {
		id := get(m, path).(string)
		const cs = "10X98765432"
		set(m, path, id[:17]+string(cs[(strings.IndexByte(cs, id[17])+1)%11]))
	}
	return []rejectCase{
		{name: "bad JSON", stream: StreamCheckins, raw: `{"event_id": "e1", "source": `, class: RejectMalformed},
		{name: "not an object", stream: StreamTests, raw: `["e1"]`, class: RejectMalformed},
		{name: "empty input", stream: StreamTests, raw: ``, class: RejectMalformed},
		{name: "wrong type of event_id", stream: StreamTests, edit: func(m map[string]any) { m["event_id"] = 12 }, class: RejectMalformed, field: "event_id", schema: true},
		{name: "wrong type of person", stream: StreamTests, edit: func(m map[string]any) { m["person"] = "x" }, class: RejectMalformed, field: "person", schema: true},
		{name: "missing event_id", stream: StreamCheckins, edit: func(m map[string]any) { del(m, "event_id") }, class: RejectMissing, field: "event_id", schema: true},
		{name: "empty source", stream: StreamCheckins, edit: func(m map[string]any) { m["source"] = "" }, class: RejectMissing, field: "source", schema: true},
		{name: "missing occurred_at", stream: StreamVaccinations, edit: func(m map[string]any) { del(m, "occurred_at") }, class: RejectMissing, field: "occurred_at", schema: true},
		{name: "missing person", stream: StreamCheckins, edit: func(m map[string]any) { del(m, "person") }, class: RejectMissing, field: "person", schema: true},
		{name: "missing id_number", stream: StreamTravel, edit: func(m map[string]any) { del(m, "person.id_number") }, class: RejectMissing, field: "person.id_number", schema: true},
		{name: "id_number of hyphens only", stream: StreamTravel, edit: func(m map[string]any) { set(m, "person.id_number", "- -") }, class: RejectMissing, field: "person.id_number"},
		{name: "id_number not ASCII", stream: StreamTests, edit: func(m map[string]any) { set(m, "person.id_number", "Ｃ12345678") }, class: RejectInvalid, field: "person.id_number", schema: true},
		{name: "id_number a number", stream: StreamTests, edit: func(m map[string]any) { set(m, "person.id_number", 12345678) }, class: RejectMalformed, field: "person.id_number", schema: true},
		{name: "missing venue", stream: StreamCheckins, edit: func(m map[string]any) { del(m, "venue") }, class: RejectMissing, field: "venue.id", schema: true},
		{name: "missing venue lat", stream: StreamCheckins, edit: func(m map[string]any) { del(m, "venue.lat") }, class: RejectMissing, field: "venue.lat", schema: true},
		{name: "missing test result", stream: StreamTests, edit: func(m map[string]any) { del(m, "test.result") }, class: RejectMissing, field: "test.result", schema: true},
		{name: "missing reported_at", stream: StreamTests, edit: func(m map[string]any) { del(m, "test.reported_at") }, class: RejectMissing, field: "test.reported_at", schema: true},
		{name: "missing product", stream: StreamVaccinations, edit: func(m map[string]any) { del(m, "vaccine.product") }, class: RejectMissing, field: "vaccine.product", schema: true},
		{name: "missing override reason", stream: StreamOverrides, edit: func(m map[string]any) { m["reason"] = "  " }, class: RejectMissing, field: "reason", schema: true},
		{name: "missing override until", stream: StreamOverrides, edit: func(m map[string]any) { del(m, "until") }, class: RejectMissing, field: "until", schema: true},
		{name: "missing approver", stream: StreamOverrides, edit: func(m map[string]any) { del(m, "approver") }, class: RejectMissing, field: "approver", schema: true},
		{name: "missing flight", stream: StreamFlights, edit: func(m map[string]any) { del(m, "flight") }, class: RejectMissing, field: "flight", schema: true},
		{name: "no passengers", stream: StreamFlights, edit: func(m map[string]any) { m["passengers"] = []any{} }, class: RejectMissing, field: "passengers", schema: true},
		{name: "bad time", stream: StreamCheckins, edit: func(m map[string]any) { m["occurred_at"] = "2020-03-14 12:05:00+08:00" }, class: RejectTime, field: "occurred_at", schema: true},
		{name: "time without offset", stream: StreamCheckins, edit: func(m map[string]any) { m["occurred_at"] = "2020-03-14T12:05:00" }, class: RejectTime, field: "occurred_at", schema: true},
		{name: "month 13", stream: StreamCheckins, edit: func(m map[string]any) { m["occurred_at"] = "2020-13-14T12:05:00+08:00" }, class: RejectTime, field: "occurred_at", schema: true},
		{name: "time a number", stream: StreamCheckins, edit: func(m map[string]any) { m["occurred_at"] = 1584158700 }, class: RejectMalformed, field: "occurred_at", schema: true},
		{name: "before 2020", stream: StreamTests, edit: func(m map[string]any) { m["occurred_at"] = "2019-12-31T23:59:59+08:00" }, class: RejectTime, field: "occurred_at"},
		{name: "at the epoch", stream: StreamTests, edit: func(m map[string]any) { m["occurred_at"] = "2020-01-01T08:00:00+08:00" }, class: RejectTime, field: "occurred_at"},
		{name: "more than a day ahead", stream: StreamCheckins, edit: func(m map[string]any) { m["occurred_at"] = "2021-01-02T08:00:01+08:00"; del(m, "left_at") }, class: RejectTime, field: "occurred_at"},
		{name: "left_at more than a day ahead", stream: StreamCheckins, edit: func(m map[string]any) { m["left_at"] = "2021-01-05T00:00:00+08:00" }, class: RejectTime, field: "left_at"},
		{name: "arrival more than a day ahead", stream: StreamFlights, edit: func(m map[string]any) { set(m, "flight.arrived_at", "2021-03-01T00:00:00Z") }, class: RejectTime, field: "flight.arrived_at"},
		{name: "until beyond 2156", stream: StreamAreaRisk, edit: func(m map[string]any) { m["until"] = "2200-01-01T00:00:00Z" }, class: RejectTime, field: "until"},
		{name: "bad resident_id check digit", stream: StreamCheckins, edit: func(m map[string]any) { badCheck(m, "person.id_number") }, class: RejectInvalid, field: "person.id_number"},
		{name: "resident_id too short", stream: StreamCheckins, edit: func(m map[string]any) { set(m, "person.id_number", "3301041975082") }, class: RejectInvalid, field: "person.id_number"},
		{name: "bad id_type", stream: StreamCheckins, edit: func(m map[string]any) { set(m, "person.id_type", "drivers_licence") }, class: RejectInvalid, field: "person.id_type", schema: true},
		{name: "bad nationality", stream: StreamDeclarations, edit: func(m map[string]any) { set(m, "person.nationality", "US") }, class: RejectInvalid, field: "person.nationality", schema: true},
		{name: "bad seat", stream: StreamFlights, edit: func(m map[string]any) { set(m, "passengers.1.seat", "0C") }, class: RejectInvalid, field: "passengers[1].seat", schema: true},
		{name: "seat letter L", stream: StreamFlights, edit: func(m map[string]any) { set(m, "passengers.2.seat", "12L") }, class: RejectInvalid, field: "passengers[2].seat", schema: true},
		{name: "missing seat", stream: StreamFlights, edit: func(m map[string]any) { del(m, "passengers.0.seat") }, class: RejectMissing, field: "passengers[0].seat", schema: true},
		{name: "bad passenger check digit", stream: StreamFlights, edit: func(m map[string]any) { badCheck(m, "passengers.0.person.id_number") }, class: RejectInvalid, field: "passengers[0].person.id_number"},
		{name: "bad passenger id_type", stream: StreamFlights, edit: func(m map[string]any) { set(m, "passengers.2.person.id_type", "visa") }, class: RejectInvalid, field: "passengers[2].person.id_type", schema: true},
		{name: "bad flight number", stream: StreamFlights, edit: func(m map[string]any) { set(m, "flight.number", "CA-936") }, class: RejectInvalid, field: "flight.number", schema: true},
		{name: "bad flight date", stream: StreamFlights, edit: func(m map[string]any) { set(m, "flight.date", "2020-02-30") }, class: RejectInvalid, field: "flight.date", schema: true},
		{name: "bad airport", stream: StreamFlights, edit: func(m map[string]any) { set(m, "flight.origin_airport", "EDDF") }, class: RejectInvalid, field: "flight.origin_airport", schema: true},
		{name: "bad origin country", stream: StreamFlights, edit: func(m map[string]any) { set(m, "flight.origin_country", "de") }, class: RejectInvalid, field: "flight.origin_country", schema: true},
		{name: "arrived before departed", stream: StreamFlights, edit: func(m map[string]any) { set(m, "flight.arrived_at", "2020-03-16T02:04:59+08:00") }, class: RejectTime, field: "flight.arrived_at"},
		{name: "officer == approver", stream: StreamOverrides, edit: func(m map[string]any) { m["approver"] = " Officer-0417" }, class: RejectInvalid, field: "approver"},
		{name: "officer == approver once normalised", stream: StreamOverrides, edit: func(m map[string]any) { m["approver"] = "officer 0417" }, class: RejectInvalid, field: "approver"},
		{name: "region not a code", stream: StreamOverrides, edit: func(m map[string]any) { m["office_region"] = "Zhengzhou" }, class: RejectInvalid, field: "office_region", schema: true},
		{name: "reason code not a string", stream: StreamOverrides, edit: func(m map[string]any) { m["reason_code"] = 7 }, class: RejectMalformed, field: "reason_code", schema: true},
		{name: "confirms itself", stream: StreamOverrides, edit: func(m map[string]any) { m["confirms"] = m["event_id"] }, class: RejectInvalid, field: "confirms"},
		{name: "confirms blank", stream: StreamOverrides, edit: func(m map[string]any) { m["confirms"] = "  " }, class: RejectInvalid, field: "confirms", schema: true},
		{name: "unknown colour", stream: StreamOverrides, edit: func(m map[string]any) { m["colour"] = "orange" }, class: RejectInvalid, field: "colour"},
		{name: "override until at occurred_at", stream: StreamOverrides, edit: func(m map[string]any) { m["until"] = m["occurred_at"] }, class: RejectTime, field: "until"},
		{name: "reason quotes the id number", stream: StreamOverrides, edit: func(m map[string]any) {
			m["reason"] = "appeal of " + strings.ToLower(get(m, "person.id_number").(string)) + " upheld"
		}, class: RejectInvalid, field: "reason"},
		{name: "unknown symptom", stream: StreamDeclarations, edit: func(m map[string]any) { m["symptoms"] = []any{"fever", "headache"} }, class: RejectInvalid, field: "symptoms[1]", schema: true},
		{name: "symptom not a string", stream: StreamDeclarations, edit: func(m map[string]any) { m["symptoms"] = []any{1} }, class: RejectInvalid, field: "symptoms[0]", schema: true},
		{name: "temperature too high", stream: StreamDeclarations, edit: func(m map[string]any) { m["temperature_c"] = 45.1 }, class: RejectInvalid, field: "temperature_c", schema: true},
		{name: "temperature a string", stream: StreamDeclarations, edit: func(m map[string]any) { m["temperature_c"] = "37.2" }, class: RejectMalformed, field: "temperature_c", schema: true},
		{name: "left_at before occurred_at", stream: StreamCheckins, edit: func(m map[string]any) { m["left_at"] = "2020-03-14T12:04:59+08:00" }, class: RejectTime, field: "left_at"},
		{name: "travel left_at before occurred_at", stream: StreamTravel, edit: func(m map[string]any) { m["left_at"] = "2020-03-01T00:00:00Z" }, class: RejectTime, field: "left_at"},
		{name: "reported_at before sampling", stream: StreamTests, edit: func(m map[string]any) { set(m, "test.reported_at", "2020-03-18T08:39:00+08:00") }, class: RejectTime, field: "test.reported_at"},
		{name: "bad test kind", stream: StreamTests, edit: func(m map[string]any) { set(m, "test.kind", "PCR") }, class: RejectInvalid, field: "test.kind", schema: true},
		{name: "bad region code", stream: StreamTravel, edit: func(m map[string]any) { set(m, "region.code", "33010") }, class: RejectInvalid, field: "region.code", schema: true},
		{name: "half a location", stream: StreamTravel, edit: func(m map[string]any) { del(m, "location.lng") }, class: RejectMissing, field: "location.lng", schema: true},
		{name: "latitude out of range", stream: StreamCheckins, edit: func(m map[string]any) { set(m, "venue.lat", 91.0) }, class: RejectInvalid, field: "venue.lat", schema: true},
		{name: "dose zero", stream: StreamVaccinations, edit: func(m map[string]any) { set(m, "vaccine.dose", 0) }, class: RejectInvalid, field: "vaccine.dose", schema: true},
		{name: "dose fractional", stream: StreamVaccinations, edit: func(m map[string]any) { set(m, "vaccine.dose", 1.5) }, class: RejectInvalid, field: "vaccine.dose", schema: true},
		{name: "bad area code for a region", stream: StreamAreaRisk, edit: func(m map[string]any) { set(m, "area.code", "DEU") }, class: RejectInvalid, field: "area.code", schema: true},
		{name: "bad area code for a country", stream: StreamAreaRisk, edit: func(m map[string]any) { set(m, "area", map[string]any{"kind": "country", "code": "330102"}) }, class: RejectInvalid, field: "area.code", schema: true},
		{name: "invalid h3 cell", stream: StreamAreaRisk, edit: func(m map[string]any) { set(m, "area", map[string]any{"kind": "h3", "code": "8830e1c6b5ffff0"}) }, class: RejectInvalid, field: "area.code"},
		{name: "bad area kind", stream: StreamAreaRisk, edit: func(m map[string]any) { set(m, "area.kind", "city") }, class: RejectInvalid, field: "area.kind", schema: true},
		{name: "bad level", stream: StreamAreaRisk, edit: func(m map[string]any) { m["level"] = "severe" }, class: RejectInvalid, field: "level", schema: true},
		{name: "until before from", stream: StreamAreaRisk, edit: func(m map[string]any) { m["until"] = "2020-03-11T00:00:00+08:00" }, class: RejectTime, field: "until"},
		{name: "unknown stream", stream: Stream(99), raw: `{}`, class: RejectStream},
	}
}

// Every rejection class: nothing is appended, the error is a *RejectError
// with the expected class and field.
func TestDecode_Rejects(t *testing.T) {
	schemas := compileSchemas(t)
	d := newTestDecoder(t, Config{})
	for _, c := range rejectCases() {
		t.Run(c.name, func(t *testing.T) {
			msg := []byte(c.raw)
			if c.edit != nil {
				msg = edited(t, c.stream, c.edit)
			}
			sentinel := scoring.Event{ID: "already in the batch"}
			b := Batch{Events: []scoring.Event{sentinel}, Areas: []scoring.Designation{{ID: "already"}}}
			err := d.Decode(c.stream, msg, &b)
			if err == nil {
				t.Fatal("accepted")
			}
			re := asReject(t, err)
			if re.Class != c.class || re.Field != c.field || re.Stream != c.stream {
				t.Fatalf("rejected as class %s, field %q, stream %s; want %s, %q, %s (%v)", re.Class, re.Field, re.Stream, c.class, c.field, c.stream, err)
			}
			if len(b.Events) != 1 || b.Events[0].ID != sentinel.ID || len(b.Areas) != 1 {
				t.Fatalf("a rejected message changed the batch: %d events, %d areas", len(b.Events), len(b.Areas))
			}
			text := err.Error()
			t.Log(text)
			if !strings.HasPrefix(text, "rejected "+c.stream.String()+" message: ") || strings.Contains(text, "\n") {
				t.Fatalf("error is not one sentence naming the stream: %q", text)
			}
			if c.schema {
				if err := schemaValid(t, schemas[c.stream], msg); err == nil {
					t.Fatal("the schema accepts a message the decoder rejects")
				}
			}
		})
	}
}

// A time exactly MaxAhead ahead of the wall clock is accepted; a second more is not.
func TestDecode_MaxAheadBoundary(t *testing.T) {
	d := newTestDecoder(t, Config{})
	var b Batch
	edge := testNow().Add(24 * time.Hour)
	for _, tc := range []struct {
		at     string
		accept bool
	}{
		{edge.Format(time.RFC3339), true},
		{edge.Add(time.Second).Format(time.RFC3339), false},
		{edge.In(time.FixedZone("", 8*3600)).Format(time.RFC3339), true},
	} {
		msg := edited(t, StreamVaccinations, func(m map[string]any) { m["occurred_at"] = tc.at })
		if err := d.Decode(StreamVaccinations, msg, &b); (err == nil) != tc.accept {
			t.Errorf("occurred_at %s: accepted %v, want %v (%v)", tc.at, err == nil, tc.accept, err)
		}
	}
}

func TestDecode_ManifestFanOut(t *testing.T) {
	d := newTestDecoder(t, Config{})
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 16, 17, 300} {
		var passengers []any
		keys := map[scoring.PersonKey]int16{}
		for i := 0; i < n; i++ {
			id := GenerateResidentID(r, "330106", time.Date(1960+r.IntN(50), 1, 1+r.IntN(28), 0, 0, 0, 0, time.UTC))
			seat := fmt.Sprintf("%d%c", 1+i/6, 'A'+i%6)
			passengers = append(passengers, map[string]any{"person": map[string]any{"id_type": "resident_id", "id_number": id}, "seat": seat})
			keys[PersonKey([]byte(testKey), IDTypeResident, id)] = int16(1 + i/6)
		}
		// The first passenger listed again with the same seat, the number
		// spelled differently: counted once. (With another seat the manifest
		// is refused: see the bad-input table.)
		first := passengers[0].(map[string]any)["person"].(map[string]any)["id_number"].(string)
		passengers = append(passengers, map[string]any{"person": map[string]any{"id_type": "resident_id", "id_number": " " + first[:9] + "-" + first[9:]}, "seat": "1A"})
		msg := edited(t, StreamFlights, func(m map[string]any) { m["passengers"] = passengers })
		var b Batch
		b.Events = append(b.Events, scoring.Event{ID: "earlier"})
		if err := d.Decode(StreamFlights, msg, &b); err != nil {
			t.Fatalf("%d passengers: %v", n, err)
		}
		got := b.Events[1:]
		if len(got) != n {
			t.Fatalf("%d distinct passengers (one listed twice) gave %d events", n, len(got))
		}
		for _, e := range got {
			row, ok := keys[e.Person]
			if !ok || e.Row != row {
				t.Fatalf("event for an unknown person or wrong row %d (want %d)", e.Row, row)
			}
			delete(keys, e.Person)
		}
	}
}

// No error text quotes the raw document number, whatever the fault and
// wherever the number was put.
func TestDecode_ErrorsNeverQuoteIDNumber(t *testing.T) {
	d := newTestDecoder(t, Config{})
	r := rand.New(rand.NewPCG(13, 14))
	id := GenerateResidentID(r, "330102", time.Date(1988, 8, 8, 0, 0, 0, 0, time.UTC))
	wrong := id[:17] + string("10X98765432"[(strings.IndexByte("10X98765432", id[17])+3)%11])
	forms := []string{id, wrong, id[:17], strings.ToLower(id), id[:6] + " " + id[6:]}
	edits := []func(m map[string]any){
		func(m map[string]any) { set(m, "person.id_number", wrong) },
		func(m map[string]any) { set(m, "person.id_number", id[:17]) },
		func(m map[string]any) { set(m, "person.id_number", id+id+id+id) },
		func(m map[string]any) { set(m, "person.id_type", id) },
		func(m map[string]any) { set(m, "person.nationality", id) },
		func(m map[string]any) { set(m, "person.id_type", "passport"); set(m, "venue.id", id+id+id+id) },
		func(m map[string]any) { set(m, "event_id", strings.Repeat(id, 20)) },
		func(m map[string]any) { set(m, "source", strings.Repeat(id, 4)) },
		func(m map[string]any) { set(m, "occurred_at", id) },
		func(m map[string]any) { set(m, "left_at", "2020-03-14T"+id) },
		func(m map[string]any) { set(m, "venue.lat", id) },
	}
	for i, edit := range edits {
		msg := edited(t, StreamCheckins, func(m map[string]any) {
			set(m, "person.id_number", id)
			edit(m)
		})
		var b Batch
		err := d.Decode(StreamCheckins, msg, &b)
		if err == nil {
			t.Fatalf("edit %d accepted", i)
		}
		for _, f := range forms {
			if strings.Contains(err.Error(), f) {
				t.Fatalf("edit %d: error quotes a form of the id number: %v", i, err)
			}
		}
	}
	// Broken JSON around the number, in every stream that carries a person.
	raws := []string{
		`{"event_id":"e","source":"s","occurred_at":"2020-03-14T12:05:00+08:00","person":{"id_type":"resident_id","id_number":` + id + `}}`,
		`{"event_id":"e","source":"s","occurred_at":"2020-03-14T12:05:00+08:00","person":{"id_type":"resident_id","id_number":"` + id,
		`{"event_id":"e","source":"s","occurred_at":"2020-03-14T12:05:00+08:00","person":{"id_type":"resident_id","id_number":"` + id + `"` + id + `}}`,
		`{"event_id":"e","source":"s","occurred_at":"2020-03-14T12:05:00+08:00","person":{"id_type":"resident_id","id_number":"` + wrong + `"}}`,
	}
	for _, s := range Streams {
		for _, raw := range raws {
			var b Batch
			err := d.Decode(s, []byte(raw), &b)
			if err == nil {
				t.Fatalf("%s accepted a broken message", s)
			}
			for _, f := range forms {
				if strings.Contains(err.Error(), f) {
					t.Fatalf("%s: error quotes a form of the id number: %v", s, err)
				}
			}
		}
	}
}

func TestDecode_VenueCache(t *testing.T) {
	d := newTestDecoder(t, Config{VenueCache: 2})
	decode := func(venue string, lat, lng float64) scoring.Event {
		t.Helper()
		msg := edited(t, StreamCheckins, func(m map[string]any) {
			set(m, "venue.id", venue)
			set(m, "venue.lat", lat)
			set(m, "venue.lng", lng)
		})
		var b Batch
		if err := d.Decode(StreamCheckins, msg, &b); err != nil {
			t.Fatal(err)
		}
		return b.Events[0]
	}
	cellOf := func(lat, lng float64) uint64 { return uint64(h3.LatLngToCell(h3.NewLatLng(lat, lng), 15)) }
	a := decode("V1", 30.27, 120.15)
	if a.Cell != cellOf(30.27, 120.15) {
		t.Fatal("first check-in: wrong cell")
	}
	// A moved venue gets its new cell, not the cached one.
	if b := decode("V1", 39.9, 116.4); b.Cell != cellOf(39.9, 116.4) {
		t.Fatal("moved venue kept its old cell")
	}
	for i := 0; i < 5; i++ {
		v := fmt.Sprintf("V%d", i)
		e := decode(v, 30+float64(i)/100, 120)
		if e.Cell != cellOf(30+float64(i)/100, 120) || e.Place != v {
			t.Fatalf("venue %s: wrong cell or place", v)
		}
	}
	d.mu.Lock()
	n := len(d.venues)
	d.mu.Unlock()
	if n > 2 {
		t.Fatalf("cache holds %d venues, limit 2", n)
	}
}

func TestDecode_Concurrent(t *testing.T) {
	d := newTestDecoder(t, Config{})
	examples := Examples()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b Batch
			for i := 0; i < 200; i++ {
				s := Streams[(g+i)%len(Streams)]
				b.Reset()
				if err := d.Decode(s, examples[s], &b); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestNewDecoder_Config(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no key", Config{}, "pseudonym key"},
		{"negative MaxAhead", Config{Key: []byte("k"), MaxAhead: -time.Hour}, "MaxAhead"},
		{"negative VenueCache", Config{Key: []byte("k"), VenueCache: -1}, "VenueCache"},
		{"empty colour", Config{Key: []byte("k"), Colours: []string{"green", ""}}, "Colours[1]"},
		{"duplicate colour", Config{Key: []byte("k"), Colours: []string{"green", "red", "green"}}, "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDecoder(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
	// The caller's slices are copied: changing them later changes nothing.
	key := []byte(testKey)
	colours := []string{"green", "yellow", "red"}
	d, err := NewDecoder(Config{Key: key, Colours: colours, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	key[0]++
	colours[0] = "blue"
	var b Batch
	if err := d.Decode(StreamOverrides, Examples()[StreamOverrides], &b); err != nil {
		t.Fatal(err)
	}
	if b.Overrides[0].Person != keyOf(t, example(t, StreamOverrides)["person"]) {
		t.Fatal("changing the caller's key changed the decoder's")
	}
}

func TestBatch_ResetKeepsCapacity(t *testing.T) {
	d := newTestDecoder(t, Config{})
	var b Batch
	if err := d.Decode(StreamFlights, Examples()[StreamFlights], &b); err != nil {
		t.Fatal(err)
	}
	capacity := cap(b.Events)
	b.Reset()
	if len(b.Events) != 0 || cap(b.Events) != capacity {
		t.Fatalf("after Reset: len %d cap %d, want 0 and %d", len(b.Events), cap(b.Events), capacity)
	}
}

// overrideOf is the override the example message m decodes to at level.
func overrideOf(t *testing.T, m map[string]any, level uint8) scoring.Override {
	t.Helper()
	return scoring.Override{
		ID: m["event_id"].(string), Source: m["source"].(string), Person: keyOf(t, m["person"]), Level: level,
		At: timeAt(t, m["occurred_at"]), Until: timeAt(t, m["until"]), Reason: m["reason"].(string),
		Officer:  PersonKey([]byte(testKey), IDTypeOfficer, m["officer"].(string)),
		Approver: PersonKey([]byte(testKey), IDTypeOfficer, m["approver"].(string)),
	}
}
