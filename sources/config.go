package sources

import (
	"errors"
	"fmt"
	"time"
)

// Config configures a Decoder. The zero value is valid except for Key.
type Config struct {
	// Key is the pseudonym secret: the HMAC key of every person key. Required;
	// use at least 32 random bytes in production. It comes from configuration
	// (--pseudonym-key or HEALTHCODE_PSEUDONYM_KEY), never from code.
	Key []byte

	// Now is the wall clock used to refuse times more than MaxAhead in the
	// future. It is the wall clock in both clock modes. Default time.Now.
	Now func() time.Time

	// Colours are the colour names an override may name, in level order: the
	// index of a name is its level. Default {"green", "yellow", "red"}.
	Colours []string

	// MaxAhead is how far past Now an observed time (occurred_at, left_at,
	// reported_at, departed_at, arrived_at) may lie. Default 24h.
	MaxAhead time.Duration

	// VenueCache is the most venues whose H3 cell is kept; when the cache is
	// full it is emptied. Default 1<<20.
	VenueCache int
}

// DefaultColours is the default value of Config.Colours.
func DefaultColours() []string { return []string{"green", "yellow", "red"} }

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if len(c.Colours) == 0 {
		c.Colours = DefaultColours()
	}
	if c.MaxAhead == 0 {
		c.MaxAhead = 24 * time.Hour
	}
	if c.VenueCache == 0 {
		c.VenueCache = 1 << 20
	}
}

func (c *Config) validate() error {
	if len(c.Key) == 0 {
		return errors.New("pseudonym key (Config.Key) is empty: set --pseudonym-key or HEALTHCODE_PSEUDONYM_KEY")
	}
	if c.MaxAhead < 0 {
		return fmt.Errorf("Config.MaxAhead %v is negative", c.MaxAhead)
	}
	if c.VenueCache < 0 {
		return fmt.Errorf("Config.VenueCache %d is negative", c.VenueCache)
	}
	if len(c.Colours) > 256 {
		return fmt.Errorf("Config.Colours has %d names; a level is one byte (at most 256)", len(c.Colours))
	}
	for i, name := range c.Colours {
		if name == "" {
			return fmt.Errorf("Config.Colours[%d] is empty", i)
		}
		for _, prev := range c.Colours[:i] {
			if prev == name {
				return fmt.Errorf("Config.Colours names %q twice", name)
			}
		}
	}
	return nil
}
