package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"healthcode/pipeline/kafka"
	"healthcode/scoring"
	"healthcode/sinks"
)

// TestEndToEnd_UndecodableStateRecord: garbage on hc.scoring-state (after a
// person's good record, and under a key of its own) does not fail the
// partition's restore: both records go to hc.dead-letter with their origin,
// the person's state is intact (the next update continues its versions), and
// a third process finds them superseded and dead-letters nothing more.
func TestEndToEnd_UndecodableStateRecord(t *testing.T) {
	ctx := context.Background()
	brokers, chOpts := startParts(t)
	r := rand.New(rand.NewPCG(61, 67))
	fever := newPerson(r, "330106")
	env := func(id, at, body string) string {
		return fmt.Sprintf(`{"event_id":%q,"source":"e2e","occurred_at":%q,"person":%s%s}`, id, at, fever.json(), body)
	}
	h := startPipeline(t, brokers, chOpts)
	produce(t, brokers, []upstream{{"src.declarations", "", env("decl-1", "2020-03-02T08:00:00+08:00", `,"symptoms":["cough"],"temperature_c":37.3`)}})
	h.drain(ctx)
	h.stop()

	key, err := scoring.ParsePersonKey(fever.key)
	if err != nil {
		t.Fatal(err)
	}
	part := key.Partition(4)
	other := scoring.PersonKey{0xde, 0xad}
	kc := kafkaClient(t, brokers)
	w := kc.NewWriter("hc.scoring-state", kafka.PartitionBalancer{})
	defer w.Close()
	if err := kafka.Write(ctx, w,
		kafka.Message{Partition: part, Key: key[:], Value: []byte("not a state record")},
		kafka.Message{Partition: part, Key: other[:], Value: []byte{'H', 0xff, 0xff}}); err != nil {
		t.Fatal(err)
	}
	ends, err := kc.EndOffsets(ctx, "hc.scoring-state", part)
	if err != nil {
		t.Fatal(err)
	}
	garbage := map[string]bool{strconv.FormatInt(ends[part]-2, 10): true, strconv.FormatInt(ends[part]-1, 10): true}

	h = startPipeline(t, brokers, chOpts)
	produce(t, brokers, []upstream{{"src.tests", "", env("pcr-2", "2020-03-03T09:00:00+08:00", `,"test":{"kind":"pcr","result":"negative","reported_at":"2020-03-03T18:00:00+08:00","lab":"lab-1"}`)}})
	h.drain(ctx)
	h.stop()

	checkDead := func() {
		t.Helper()
		n := 0
		for _, m := range readAll(t, brokers, "hc.dead-letter") {
			if header(m, "topic") != "hc.scoring-state" {
				continue
			}
			n++
			if header(m, "partition") != strconv.Itoa(part) || !garbage[header(m, "offset")] ||
				!strings.HasPrefix(header(m, "error"), "decode state record: ") {
				t.Errorf("dead letter %s/%s@%s: %q", header(m, "topic"), header(m, "partition"), header(m, "offset"), header(m, "error"))
			}
		}
		if n != 2 {
			t.Errorf("%d dead letters from hc.scoring-state, want the 2 garbage records once each", n)
		}
	}
	checkDead()
	var versions []uint64
	for _, m := range readAll(t, brokers, "hc.colour-updates") {
		var u sinks.ColourUpdate
		if err := json.Unmarshal(m.Value, &u); err != nil {
			t.Fatal(err)
		}
		if u.PersonKey == fever.key {
			versions = append(versions, u.Version)
		}
	}
	if fmt.Sprint(versions) != "[1 2]" {
		t.Errorf("versions of the person under the garbage record: %v, want [1 2] (state kept across the restore)", versions)
	}

	// A third process: the garbage is superseded, nothing more is
	// dead-lettered. Its input is consumed only after the restore.
	h = startPipeline(t, brokers, chOpts)
	produce(t, brokers, []upstream{{"src.declarations", "", env("decl-3", "2020-03-04T08:00:00+08:00", ``)}})
	h.drain(ctx)
	h.stop()
	checkDead()
}
