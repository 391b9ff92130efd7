package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"
)

const testKey = "peer-mapping-test-key"

// personKey is healthcode's person key (sources.PersonKey), computed here
// with the standard library, independently of the mapping.
func personKey(idType, idNumber string) string {
	m := hmac.New(sha256.New, []byte(testKey))
	m.Write([]byte(idType + ":" + idNumber))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// apply runs mapping.blobl over one kcat line of stream and returns its rows,
// or the error it threw.
func apply(t *testing.T, stream, value string) ([]map[string]any, error) {
	t.Helper()
	exe, err := bloblang.Parse(mapping)
	if err != nil {
		t.Fatalf("parse mapping: %v", err)
	}
	m := service.NewMessage([]byte("3 42 " + value))
	m.MetaSetMut("stream", stream)
	m.MetaSetMut("topic", "src."+stream)
	out, err := m.BloblangQuery(exe)
	if err != nil {
		return nil, err
	}
	b, err := out.AsBytes()
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("row %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func TestMapping_Rows(t *testing.T) {
	t.Setenv(keyEnv, testKey)
	const resident = "11010519491231002X" // the GB 11643 standard's example
	f := func(stream, value string, want ...map[string]any) {
		t.Helper()
		rows, err := apply(t, stream, value)
		if err != nil {
			t.Fatalf("%s: %v", stream, err)
		}
		if len(rows) != len(want) {
			t.Fatalf("%s: %d rows, want %d: %v", stream, len(rows), len(want), rows)
		}
		for i, w := range want {
			for k, v := range w {
				if got := rows[i][k]; got != v {
					t.Errorf("%s row %d: %s = %v (%T), want %v", stream, i, k, got, got, v)
				}
			}
			for _, k := range []string{"kafka_topic", "kafka_partition", "kafka_offset", "inserted_at"} {
				if rows[i][k] == nil {
					t.Errorf("%s row %d: no %s", stream, i, k)
				}
			}
		}
	}
	f("checkins", `{"event_id":"e1","source":"app","occurred_at":"2020-03-16T10:00:00+08:00",`+
		`"person":{"id_type":"resident_id","id_number":"110105 19491231-002x"},"venue":{"id":"V1","name":"Cafe 1","lat":30.1,"lng":120.2},"left_at":"2020-03-16T11:00:00+08:00"}`,
		map[string]any{"person_key": personKey("resident_id", resident), "kind": "checkin", "event_id": "e1", "source": "app",
			"occurred_at": 1584324000.0, "ended_at": 1584327600.0, "place": "V1", "kafka_topic": "src.checkins", "kafka_partition": 3.0, "kafka_offset": 42.0})
	f("tests", `{"event_id":"e2","source":"lab","occurred_at":"2020-03-16T02:00:00Z","person":{"id_type":"passport","id_number":"e1234567","nationality":"DEU"},`+
		`"test":{"kind":"antigen","result":"positive","reported_at":"2020-03-16T03:00:00.5Z"}}`,
		map[string]any{"person_key": personKey("passport", "E1234567"), "kind": "test", "sub": 2.0, "result": 2.0, "ended_at": 1584327600.0})
	f("declarations", `{"event_id":"e3","source":"s","occurred_at":"2020-03-16T02:00:00Z","person":{"id_type":"passport","id_number":"E1"},"symptoms":["fever","cough","fever"],"temperature_c":38.26}`,
		map[string]any{"kind": "declaration", "symptoms": 3.0, "temperature_c": 38.3})
	f("area-risk", `{"event_id":"e4","source":"s","occurred_at":"2020-03-16T02:00:00Z","area":{"kind":"region","code":"330102"},"level":"high"}`)
	f("flights", `{"event_id":"e5","source":"customs","occurred_at":"2020-03-16T02:00:00Z","flight":{"number":"ca936","date":"2020-03-15",`+
		`"origin_airport":"FRA","destination_airport":"PEK","origin_country":"DEU","departed_at":"2020-03-15T20:00:00+01:00","arrived_at":"2020-03-16T12:00:00+08:00"},`+
		`"passengers":[{"person":{"id_type":"passport","id_number":"P1"},"seat":"23C"},{"person":{"id_type":"passport","id_number":"P2"},"seat":"CREW"},{"person":{"id_type":"passport","id_number":"P1"},"seat":"23C"}]}`,
		map[string]any{"person_key": personKey("passport", "P1"), "kind": "arrival", "seat_row": 23.0, "place": "CA936/2020-03-15", "country": "DEU", "occurred_at": 1584331200.0, "ended_at": 1584298800.0},
		map[string]any{"person_key": personKey("passport", "P2"), "kind": "arrival", "seat_row": -1.0})
}

func TestMapping_Rejects(t *testing.T) {
	t.Setenv(keyEnv, testKey)
	const env = `"event_id":"e1","source":"app","occurred_at":"2020-03-16T10:00:00+08:00"`
	f := func(stream, value, want string) {
		t.Helper()
		rows, err := apply(t, stream, value)
		if err == nil {
			t.Fatalf("%s %s: accepted as %v, want %q", stream, value, rows, want)
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s %s: %v, want %q", stream, value, err, want)
		}
		if strings.Contains(err.Error(), "110105") {
			t.Errorf("%s: error quotes the identifier: %v", stream, err)
		}
	}
	person := func(id string) string { return `"person":{"id_type":"resident_id","id_number":"` + id + `"}` }
	venue := `"venue":{"id":"V1","lat":30.1,"lng":120.2}`
	f("checkins", `{`+env+`,`+person("110105194912310021")+`,`+venue+`}`, "check digit")
	f("checkins", `{`+env+`,`+person("11010519491331002X")+`,`+venue+`}`, "birth date")
	f("checkins", `{`+env+`,`+person("1101051949123100")+`,`+venue+`}`, "18 characters")
	f("checkins", `{"event_id":"e1","source":"app","occurred_at":"2020-03-16 10:00:00",`+person("11010519491231002X")+`,`+venue+`}`, "RFC 3339")
	f("checkins", `{"event_id":"e1","source":"app","occurred_at":"2020-03-16T10:00:00",`+person("11010519491231002X")+`,`+venue+`}`, "RFC 3339")
	f("checkins", `{"source":"app","occurred_at":"2020-03-16T10:00:00Z",`+person("11010519491231002X")+`,`+venue+`}`, "event_id")
	f("checkins", `{`+env+`,`+person("11010519491231002X")+`}`, "venue.id is required")
	f("checkins", `{`+env+`,"person":{"id_type":"licence","id_number":"1"},`+venue+`}`, "id_type must be one of")
	f("tests", `{`+env+`,`+person("11010519491231002X")+`,"test":{"kind":"pcr","result":"maybe","reported_at":"2020-03-16T11:00:00+08:00"}}`, "test.result")
	f("tests", `{`+env+`,`+person("11010519491231002X")+`,"test":{"kind":"pcr","result":"negative","reported_at":"2020-03-16T09:00:00+08:00"}}`, "before occurred_at")
	f("vaccinations", `{`+env+`,`+person("11010519491231002X")+`,"vaccine":{"product":"X","dose":1.5}}`, "whole number")
	f("declarations", `{`+env+`,`+person("11010519491231002X")+`,"symptoms":["sneezing"]}`, "not a known symptom")
	f("overrides", `{`+env+`,`+person("11010519491231002X")+`,"colour":"green","until":"2020-03-17T10:00:00+08:00","reason":"id 110105 19491231002x","officer":"a","approver":"b"}`, "quotes the person's id_number")
	f("flights", `{`+env+`,"flight":{"number":"CA936","date":"2020-03-15","origin_airport":"FRA","destination_airport":"PEK","origin_country":"DEU",`+
		`"departed_at":"2020-03-15T20:00:00+01:00","arrived_at":"2020-03-16T12:00:00+08:00"},"passengers":[{"person":{"id_type":"passport","id_number":"P1"},"seat":"23C"},{"person":{"id_type":"passport","id_number":"P1"},"seat":"24C"}]}`, "different seats")
	f("checkins", `{not json`, "not valid JSON")
}

// TestConfig_Builds checks that the stream configuration config writes is
// one Benthos accepts: every field known, the mappings parsed.
func TestConfig_Builds(t *testing.T) {
	env := service.NewEnvironment()
	if err := (&counters{}).register(env); err != nil {
		t.Fatal(err)
	}
	conf, err := config(options{brokers: "127.0.0.1:1", topicPref: "src.", clickhouse: "http://127.0.0.1:1", user: "default",
		database: "d", table: "events", deadLetter: t.TempDir() + "/dl", kcat: "kcat", threads: 2, batch: 10, linger: time.Second, inFlight: 1, insertWait: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b := env.NewStreamBuilder()
	if err := b.SetYAML(conf); err != nil {
		t.Fatalf("SetYAML: %v", err)
	}
	if _, err := b.Build(); err != nil {
		t.Fatalf("Build: %v", err)
	}
	for _, want := range []string{"src.flights", "src.area-risk", "INSERT+INTO+d.events+FORMAT+JSONEachRow", `"timeout":"5m0s"`} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q", want)
		}
	}
}
