package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// devPseudonymKey is used only by the embedded demo when no key is configured;
// every run that uses it says so. Production must configure its own secret.
const devPseudonymKey = "healthcode-DEVELOPMENT-key-not-for-production"

// keyFlag registers --pseudonym-key (default from HEALTHCODE_PSEUDONYM_KEY).
func keyFlag(fs *flag.FlagSet) *string {
	return fs.String("pseudonym-key", os.Getenv("HEALTHCODE_PSEUDONYM_KEY"),
		"HMAC secret of person keys (env HEALTHCODE_PSEUDONYM_KEY); required with --brokers")
}

// resolveKey returns the pseudonym key, falling back to the development key
// only when allowed (the embedded demo), and warns when it does.
func resolveKey(key string, allowDev bool) ([]byte, error) {
	if key != "" {
		return []byte(key), nil
	}
	if !allowDev {
		return nil, fmt.Errorf("no pseudonym key: set --pseudonym-key or HEALTHCODE_PSEUDONYM_KEY")
	}
	slog.Warn("using the fixed DEVELOPMENT pseudonym key: fine for the embedded demo, never for real data")
	return []byte(devPseudonymKey), nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
