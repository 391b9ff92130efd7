package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"healthcode/sinks"
	"healthcode/sources"
	"healthcode/sources/sourcestest"
)

// TestEndToEnd_BadInput sends one message of every bad-input class, each
// followed on its partition (same key) by a good message about a new person,
// and checks that every bad one reaches hc.dead-letter with its exact reason
// and origin headers, and that every good one after it is scored. A good
// designation follows a bad area-risk message; it is seen to be applied
// through a stay in the designated region, which makes its person yellow.
func TestEndToEnd_BadInput(t *testing.T) {
	ctx := context.Background()
	brokers, chOpts := startParts(t)
	bad := sourcestest.BadInput()
	if len(bad) < 30 {
		t.Fatalf("%d classes of bad input, want at least 30", len(bad))
	}

	r := rand.New(rand.NewPCG(43, 47))
	// Regions designated by the good area-risk messages (one each); the
	// other good messages stay outside them.
	areaRegions := []string{"330105", "330106", "330108", "330109", "330110", "330111", "330112", "330113"}
	type follower struct {
		class string
		p     person
		area  bool // its person stayed in a region that only a good designation makes high-risk
	}
	var msgs []upstream
	var good []follower
	byValue := map[string]sourcestest.Bad{}
	for i, b := range bad {
		key := fmt.Sprintf("class-%02d", i)
		if _, dup := byValue[string(b.Value)]; dup {
			t.Fatalf("class %q sends the same message as another", b.Class)
		}
		byValue[string(b.Value)] = b
		msgs = append(msgs, upstream{b.Stream.DefaultTopic(), key, string(b.Value)})
		p := newPerson(r, "330102")
		id := fmt.Sprintf("good-%02d", i)
		f := follower{class: b.Class, p: p}
		switch b.Stream {
		case sources.StreamAreaRisk:
			if len(areaRegions) == 0 {
				t.Fatal("more bad area-risk classes than designated regions")
			}
			region := areaRegions[0]
			areaRegions = areaRegions[1:]
			inRegion := func(v []byte) string {
				return string(bytes.Replace(v, []byte(`"code":"330102"`), []byte(`"code":"`+region+`"`), 1))
			}
			// 2020-03-12 to 03-26, high; the stay (03-10 to 03-12 18:30) overlaps it.
			msgs = append(msgs,
				upstream{"src.area-risk", key, inRegion(sourcestest.Good(sources.StreamAreaRisk, id, ""))},
				upstream{"src.travel", key, inRegion(sourcestest.Good(sources.StreamTravel, id+"-stay", p.id))})
			f.area = true
		case sources.StreamVaccinations:
			// In March like the others, so the event clock stays before the
			// designations' monitoring ends.
			v := bytes.Replace(sourcestest.Good(b.Stream, id, p.id), []byte("2020-12-20T"), []byte("2020-03-13T"), 1)
			msgs = append(msgs, upstream{b.Stream.DefaultTopic(), key, string(v)})
		default:
			msgs = append(msgs, upstream{b.Stream.DefaultTopic(), key, string(sourcestest.Good(b.Stream, id, p.id))})
		}
		good = append(good, f)
	}

	h := startPipeline(t, brokers, chOpts)
	defer h.stop()
	produce(t, brokers, msgs)
	h.drain(ctx)

	// Every bad message is dead-lettered once, with its reason and origin.
	dead := readAll(t, brokers, "hc.dead-letter")
	got := map[string]int{}
	for _, m := range dead {
		b, ok := byValue[string(m.Value)]
		if !ok {
			t.Errorf("dead letter of a message that is not bad (%s): %s", header(m, "topic"), header(m, "error"))
			continue
		}
		got[string(m.Value)]++
		if e := header(m, "error"); e != b.Error {
			t.Errorf("%s: dead-letter error %q, want %q", b.Class, e, b.Error)
		}
		if tp := header(m, "topic"); tp != b.Stream.DefaultTopic() || header(m, "partition") == "" || header(m, "offset") == "" {
			t.Errorf("%s: dead-letter origin topic %q partition %q offset %q", b.Class, tp, header(m, "partition"), header(m, "offset"))
		}
		low := strings.ToLower(header(m, "error"))
		for _, s := range b.Secrets {
			if strings.Contains(low, strings.ToLower(s)) {
				t.Errorf("%s: dead-letter error quotes an identifier of the message", b.Class)
			}
		}
	}
	for v, b := range byValue {
		if got[v] != 1 {
			t.Errorf("%s: %d dead letters, want 1", b.Class, got[v])
		}
	}

	// Every good message after a bad one is scored.
	byPerson := map[string][]sinks.ColourUpdate{}
	for _, m := range readAll(t, brokers, "hc.colour-updates") {
		var u sinks.ColourUpdate
		if err := json.Unmarshal(m.Value, &u); err != nil {
			t.Fatalf("colour update is not JSON: %v", err)
		}
		byPerson[u.PersonKey] = append(byPerson[u.PersonKey], u)
	}
	for _, f := range good {
		ups := byPerson[f.p.key]
		if len(ups) == 0 {
			t.Errorf("after %s: the good message's person has no colour update", f.class)
			continue
		}
		if !f.area {
			continue
		}
		applied := false
		for _, u := range ups {
			for _, rs := range u.Reasons {
				applied = applied || (rs.Rule == "risk-area" && u.Colour == "yellow")
			}
		}
		if !applied {
			t.Errorf("after %s: the good designation was not applied (updates %+v)", f.class, ups)
		}
	}
	t.Logf("%d bad messages dead-lettered, %d good ones after them scored", len(dead), len(good))
}
