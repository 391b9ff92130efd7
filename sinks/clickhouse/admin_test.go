package clickhouse_test

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
)

func TestAdmin_CountsAndDrop(t *testing.T) {
	c := open(t, nil)
	ctx := ctxT(t)
	who := people(rand.New(rand.NewPCG(17, 18)), 3)
	from := time.Date(2020, 3, 16, 2, 0, 0, 0, time.UTC)
	var ups []sinks.ColourUpdate
	ups = append(ups, updates(who[0], 3, from)...) // v3 is green, level 0
	ups = append(ups, updates(who[1], 2, from)...) // v2 is red, level 2
	ups = append(ups, updates(who[2], 2, from)...)
	if err := c.WriteColourUpdates(ctx, append(ups, ups[0])); err != nil { // one duplicate
		t.Fatal(err)
	}
	if n, err := c.Count(ctx, "colour_changes", false); err != nil || n != 8 {
		t.Errorf("Count(colour_changes) = %d, %v; want 8", n, err)
	}
	if n, err := c.Count(ctx, "colour_changes", true); err != nil || n != 7 {
		t.Errorf("Count(colour_changes FINAL) = %d, %v; want 7", n, err)
	}
	if _, err := c.Count(ctx, "x; DROP TABLE events", false); err == nil {
		t.Error("Count accepted a bad table name")
	}
	got, err := c.ColourCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Latest versions: who[0] v3, who[1] v2, who[2] v2 (see updates).
	want := []clickhouse.ColourCount{
		{Colour: ups[4].Colour, Level: uint8(ups[4].Level), People: 2},
		{Colour: ups[2].Colour, Level: uint8(ups[2].Level), People: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ColourCounts = %+v, want %+v", got, want)
	}
	if err := clickhouse.DropDatabase(ctx, c.Options()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, c, "SELECT count() FROM system.databases WHERE name = ?", c.Options().Database); n != 0 {
		t.Errorf("database still there after DropDatabase")
	}
}
