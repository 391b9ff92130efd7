package chtest_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"healthcode/sinks/clickhouse"
	"healthcode/sinks/clickhouse/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestStart_FreshDatabasePerTest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var first clickhouse.Options
	t.Run("first", func(t *testing.T) {
		first = chtest.Start(t)
		first.Logger = slog.New(slog.DiscardHandler)
		c, err := clickhouse.Open(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var v string
		if err := c.Conn().QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
			t.Fatal(err)
		}
		t.Logf("clickhouse %s at %s, database %s", v, first.Addr, first.Database)
	})
	second := chtest.Start(t)
	second.Logger = slog.New(slog.DiscardHandler)
	if second.Addr != first.Addr {
		t.Errorf("second server %s, want the shared %s", second.Addr, first.Addr)
	}
	if second.Database == first.Database {
		t.Errorf("both tests got database %s", first.Database)
	}
	c, err := clickhouse.Open(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n uint64
	if err := c.Conn().QueryRow(ctx, "SELECT count() FROM system.databases WHERE name = ?", first.Database).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s of the finished subtest was not dropped", first.Database)
	}
}
