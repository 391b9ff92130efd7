package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"healthcode/policies"
	"healthcode/scoring"
	"healthcode/sinks"
	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
	"healthcode/sources"
)

// TestMain runs the tests, or, with HEALTHCODE_TEST_AS_BINARY=1, the command
// itself (settings_test.go runs it so for the --help of every command).
func TestMain(m *testing.M) {
	if os.Getenv("HEALTHCODE_TEST_AS_BINARY") == "1" {
		main()
		os.Exit(0)
	}
	chtest.Main(m)
}

func run(t *testing.T, cmd command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := cmd(context.Background(), args, &out)
	return out.String(), err
}

func TestKeyCommand(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	id := sources.GenerateResidentID(r, "330102", time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC))
	out, err := run(t, keyCmd, "--id-type", "resident_id", "--id-number", id, "--pseudonym-key", "k1")
	if err != nil {
		t.Fatal(err)
	}
	want := sources.PersonKey([]byte("k1"), "resident_id", id).String()
	if strings.TrimSpace(out) != want {
		t.Errorf("key = %q, want %q", out, want)
	}
	// A bad check digit is refused, and the error does not echo the number.
	bad := id[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", id[17])+1)%11])
	_, err = run(t, keyCmd, "--id-number", bad, "--pseudonym-key", "k1")
	if err == nil || strings.Contains(err.Error(), bad) {
		t.Errorf("bad id: err = %v", err)
	}
	if _, err := run(t, keyCmd, "--id-number", id); err == nil {
		t.Error("no pseudonym key: want an error")
	}
	// An auditor finds an officer's pseudonym as ingest keys it.
	out, err = run(t, keyCmd, "--id-type", "officer", "--id-number", "officer-0417", "--pseudonym-key", "k1")
	if want := sources.PersonKey([]byte("k1"), sources.IDTypeOfficer, "OFFICER 0417").String(); err != nil || strings.TrimSpace(out) != want {
		t.Errorf("officer key = %q, %v; want %q", out, err, want)
	}
	if _, err := run(t, keyCmd, "--help"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}

func TestPolicyCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	raw, err := policies.Raw("tianjin")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, policyCmd, "check", good)
	if err != nil || !strings.Contains(out, "tianjin@1") || !strings.Contains(out, "ok:") {
		t.Errorf("check good: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, bytes.Replace(raw, []byte(`"colour": "orange"`), []byte(`"colour": "purple"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, policyCmd, "check", bad); err == nil || !strings.Contains(err.Error(), "purple") {
		t.Errorf("check bad: want an error naming the colour, got %v", err)
	}
	out, err = run(t, policyCmd, "list")
	if err != nil || !strings.Contains(out, "domestic@1") || !strings.Contains(out, "international@2") {
		t.Errorf("list: %v\n%s", err, out)
	}
}

// TestExplainCommand writes a red person's updates to a real ClickHouse, as the
// sink stage does, and checks that explain shows why and until when.
func TestExplainCommand(t *testing.T) {
	ctx := context.Background()
	o := chtest.Start(t)
	c, err := clickhouse.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pol, err := policies.Load("domestic")
	if err != nil {
		t.Fatal(err)
	}
	eng := scoring.NewEngine(pol, scoring.EngineOptions{})
	key := sources.PersonKey([]byte("k"), "passport", "E12345678")
	ev := scoring.Event{Person: key, Kind: scoring.KindTest, Sub: uint8(scoring.TestPCR), Result: scoring.ResultPositive,
		At: scoring.MustTime("2020-03-02T09:00:00+08:00"), End: scoring.MustTime("2020-03-02T20:00:00+08:00"), ID: "lab-42", Source: "lab"}
	ups, err := eng.Apply(&ev, ev.End, nil)
	if err != nil || len(ups) != 1 {
		t.Fatalf("apply: %v %v", ups, err)
	}
	if err := c.WriteEvents(ctx, nil, []scoring.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteColourUpdates(ctx, []sinks.ColourUpdate{sinks.NewColourUpdate(pol, &ups[0], nil)}); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, explainCmd, key.String(), "--clickhouse", o.Addr, "--clickhouse-db", o.Database)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"RED", "confirmed", "until     2020-03-16T09:00:00+08:00", "lab-42", "PCR test positive", "clears"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	other := sources.PersonKey([]byte("k"), "passport", "E00000001")
	out, err = run(t, explainCmd, other.String(), "--clickhouse", o.Addr, "--clickhouse-db", o.Database)
	if err != nil || !strings.Contains(out, "no colour issued") {
		t.Errorf("unknown person: %v\n%s", err, out)
	}
	if _, err := run(t, explainCmd, "not-a-key"); err == nil {
		t.Error("bad key: want an error")
	}
}

func TestLogFormat(t *testing.T) {
	f := func(args []string, want string) {
		t.Helper()
		if got := logFormatArg(args); got != want {
			t.Errorf("logFormatArg(%q) = %q, want %q", args, got, want)
		}
	}
	t.Setenv("HEALTHCODE_LOG_FORMAT", "")
	f([]string{"--http", ":1", "--log-format", "json"}, "json")
	f([]string{"-log-format=text"}, "text")
	f([]string{"--", "--log-format", "json"}, "")
	var b bytes.Buffer
	l, err := newLogger(&b, "json")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hello", "stage", "score")
	if !strings.HasPrefix(b.String(), `{"time":`) || !strings.Contains(b.String(), `"stage":"score"`) {
		t.Errorf("json log line %q", b.String())
	}
	if _, err := newLogger(&b, "yaml"); err == nil {
		t.Error("--log-format yaml accepted")
	}
	// Every command's flags accept it.
	if _, err := run(t, keyCmd, "--log-format", "json", "--id-type", "resident_id", "--id-number", "x", "--pseudonym-key", "k"); err != nil && strings.Contains(err.Error(), "log-format") {
		t.Errorf("key --log-format: %v", err)
	}
}
