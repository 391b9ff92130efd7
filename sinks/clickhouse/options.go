package clickhouse

import (
	"fmt"
	"log/slog"
	"regexp"
)

// Options configures a Client. The zero value is valid: every field has a default.
type Options struct {
	// Addr is the native-protocol address, host:port. Default "127.0.0.1:9000".
	Addr string
	// Database holds the tables; Open creates it if missing. Letters, digits and
	// underscores, not starting with a digit. Default "healthcode".
	Database string
	// User is the ClickHouse user. Default "default".
	User string
	// Password is the user's password. Default "" (none).
	Password string
	// RetentionDays is how long events and colour changes are kept: DropExpired
	// drops monthly partitions that lie wholly before now minus this many days.
	// 0 means the default, 400.
	RetentionDays int
	// Logger receives migration and retention notes. Default slog.Default().
	Logger *slog.Logger
}

// Defaults applied by setDefaults.
const (
	DefaultAddr          = "127.0.0.1:9000"
	DefaultDatabase      = "healthcode"
	DefaultUser          = "default"
	DefaultRetentionDays = 400
)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (o *Options) setDefaults() {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.User == "" {
		o.User = DefaultUser
	}
	if o.RetentionDays == 0 {
		o.RetentionDays = DefaultRetentionDays
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func (o *Options) validate() error {
	if !identRE.MatchString(o.Database) {
		return fmt.Errorf("clickhouse options: database %q: want letters, digits and underscores", o.Database)
	}
	if o.RetentionDays < 0 {
		return fmt.Errorf("clickhouse options: retention days %d: must not be negative", o.RetentionDays)
	}
	return nil
}
