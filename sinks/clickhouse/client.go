package clickhouse

import (
	"context"
	"fmt"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Client writes to and reads from one ClickHouse database. It is safe for
// concurrent use (clickhouse-go pools connections).
type Client struct {
	opts   Options
	conn   driver.Conn
	stamps *retryStamps // cluster mode: inserted_at of failed inserts, for their retries
}

// Open connects to ClickHouse, creates the database if it does not exist and
// applies the embedded migrations.
func Open(ctx context.Context, o Options) (*Client, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := createDatabase(ctx, o); err != nil {
		return nil, err
	}
	conn, err := dial(ctx, o, o.Database)
	if err != nil {
		return nil, err
	}
	c := &Client{opts: o, conn: conn, stamps: newRetryStamps()}
	if err := c.Migrate(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// createDatabase runs CREATE DATABASE IF NOT EXISTS (on every server of the
// cluster in cluster mode) over a connection to the server's default
// database: a connection naming a missing database fails.
func createDatabase(ctx context.Context, o Options) error {
	conn, err := dial(ctx, o, "")
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(o.Database)+onCluster(o)); err != nil {
		return fmt.Errorf("create database %s: %w", o.Database, err)
	}
	return nil
}

// dial connects to the server with the options' user, password and TLS. In
// cluster mode inserts into Distributed tables are synchronous
// (insert_distributed_sync): an insert returns once every shard has its part,
// and a failure is the caller's to retry (see docs/clickhouse.md).
func dial(ctx context.Context, o Options, database string) (driver.Conn, error) {
	password, err := o.password()
	if err != nil {
		return nil, err
	}
	tlsConf, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	var settings ch.Settings
	if o.Cluster != "" {
		settings = ch.Settings{"insert_distributed_sync": 1}
	}
	conn, err := ch.Open(&ch.Options{
		Addr: []string{o.Addr},
		Auth: ch.Auth{
			Database: database,
			Username: o.User,
			Password: password,
		},
		TLS:         tlsConf,
		Settings:    settings,
		DialTimeout: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", o.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ping clickhouse %s: %w", o.Addr, err)
	}
	return conn, nil
}

// Close closes the connections.
func (c *Client) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("close clickhouse: %w", err)
	}
	return nil
}

// Conn returns the underlying connection, for ad-hoc queries. Its default
// database is the Client's.
func (c *Client) Conn() driver.Conn { return c.conn }

// Options returns the options in effect, defaults filled in.
func (c *Client) Options() Options { return c.opts }

// quoteIdent quotes a validated identifier with backquotes.
func quoteIdent(s string) string { return "`" + s + "`" }

// onCluster is " ON CLUSTER `name`" in cluster mode, "" otherwise.
func onCluster(o Options) string {
	if o.Cluster == "" {
		return ""
	}
	return " ON CLUSTER " + quoteIdent(o.Cluster)
}
