package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"healthcode/pipeline/service"
	"healthcode/policies"
	"healthcode/sinks/codes"
	"healthcode/sinks/codes/token"
)

// codesCmd runs the code service and manages its keys and revocations.
func codesCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("codes: want serve, keygen or revoke (see healthcode --help)")
	}
	switch args[0] {
	case "serve":
		return codesServe(ctx, args[1:], stdout)
	case "keygen":
		return codesKeygen(args[1:], stdout)
	case "revoke":
		return codesRevoke(args[1:], stdout)
	}
	return fmt.Errorf("codes: unknown subcommand %q: want serve, keygen or revoke", args[0])
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func codesServe(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("codes serve", "codes serve --brokers B --http ADDR --signing-key FILE [--signing-key FILE ...] [flags]")
	kf := addKafkaFlags(fs, "required")
	addr := fs.String("http", "127.0.0.1:8080", "HTTP listen address (API, citizen page, /metrics, /healthz, /readyz)")
	var keyFiles listFlag
	fs.Var(&keyFiles, "signing-key", "PKCS#8 PEM signing key file; repeat (or put several keys in one file) for rotation: the last key signs, all are in the trust list")
	revs := fs.String("revocations", "", "the operator's revocation list (JSON); default revocations.json beside the last signing key")
	issuer := fs.String("issuer", "CN", "iss claim: the issuing province, e.g. CN-ZJ")
	ttl := fs.Duration("ttl", 24*time.Hour, "token lifetime, at most 24h (tokens also expire at a review_at still ahead)")
	policy := fs.String("policy", "domestic", "shipped policy name or file: the colour of a person never seen")
	tf := addTopicFlags(fs) // colour-updates, and person-events (tests and vaccinations for certificates)
	pkey := addKeyFlags(fs) // without a secret POST /v1/codes answers 503
	expected := fs.Int("expected-persons", 0, "presize the store for this many persons")
	if err := fs.Parse(args); err != nil {
		return err
	}
	kcfg, err := kf.config()
	if err != nil {
		return err
	}
	topics, err := tf.topics()
	if err != nil {
		return err
	}
	if len(kcfg.Brokers) == 0 {
		return errors.New("--brokers is required")
	}
	if len(keyFiles) == 0 {
		return errors.New("--signing-key is required (healthcode codes keygen --out DIR writes one)")
	}
	var keys []*token.Key
	for _, f := range keyFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("--signing-key: %w", err)
		}
		ks, err := token.ParseKeysPEM(b)
		if err != nil {
			return fmt.Errorf("--signing-key %s: %w", f, err)
		}
		keys = append(keys, ks...)
	}
	signer, err := token.NewSigner(token.SignerOptions{Keys: keys, Issuer: *issuer, TTL: *ttl})
	if err != nil {
		return err
	}
	if *revs == "" {
		*revs = filepath.Join(filepath.Dir(keyFiles[len(keyFiles)-1]), "revocations.json")
	}
	pol, err := policies.Load(*policy)
	if err != nil {
		return err
	}
	secret, err := pkey.secret()
	if err != nil {
		return err
	}
	if secret == nil {
		slog.Warn("no pseudonym key: POST /v1/codes answers 503")
	}
	srv, err := codes.New(codes.Options{Kafka: kcfg, ColourTopic: topics.ColourUpdates, EventsTopic: topics.PersonEvents, Signer: signer,
		Policy: pol, PseudonymKey: secret, RevocationsFile: *revs, ExpectedPersons: *expected})
	if err != nil {
		return err
	}
	svc := service.New(service.Options{Addr: *addr})
	srv.Register(svc)
	if err := svc.Start(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "http on %s: /v1/codes/ /codes/ /metrics /healthz /readyz /debug/pprof/\n", svc.URL())
	slog.Info("code service", slog.String("url", svc.URL()), slog.String("kid", signer.KeyID().String()),
		slog.Int("keys", len(keys)), slog.String("revocations", *revs))
	runErr := srv.Run(ctx)
	if err := svc.Close(ctx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

func codesKeygen(args []string, stdout io.Writer) error {
	fs := newFlags("codes keygen", "codes keygen --out DIR [--rotate]")
	out := fs.String("out", "keys", "directory for signing-key.pem, trust-list.json and revocations.json")
	rotate := fs.Bool("rotate", false, "add a new key to an existing signing-key.pem (it signs from the next start; the old keys stay trusted)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	keyPath := filepath.Join(*out, "signing-key.pem")
	var keys []*token.Key
	if b, err := os.ReadFile(keyPath); err == nil {
		if !*rotate {
			return fmt.Errorf("%s exists: pass --rotate to add a new key beside it", keyPath)
		}
		if keys, err = token.ParseKeysPEM(b); err != nil {
			return fmt.Errorf("%s: %w", keyPath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	k, err := token.GenerateKey()
	if err != nil {
		return err
	}
	keys = append(keys, k)
	var pemBytes []byte
	for _, k := range keys {
		p, err := k.MarshalPEM()
		if err != nil {
			return err
		}
		pemBytes = append(pemBytes, p...)
	}
	trust, err := token.NewTrustList(keys...).MarshalJSON()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyPath, pemBytes, 0o600); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(*out, "trust-list.json"), append(trust, '\n'), 0o644); err != nil {
		return err
	}
	revPath := filepath.Join(*out, "revocations.json")
	if _, err := os.Stat(revPath); errors.Is(err, os.ErrNotExist) {
		if err := writeFileAtomic(revPath, []byte(`{"token_ids":[],"kids":[]}`+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "kid %s (%d key(s)): wrote %s, %s\n", k.ID, len(keys), keyPath, filepath.Join(*out, "trust-list.json"))
	return nil
}

func codesRevoke(args []string, stdout io.Writer) error {
	fs := newFlags("codes revoke", "codes revoke --kid K | --token-id T [--revocations FILE]")
	kid := fs.String("kid", "", "revoke every token of this signing key (base64url, as in the trust list)")
	tid := fs.String("token-id", "", "revoke one token (its cti in base64url, as healthcode verify prints it)")
	file := fs.String("revocations", filepath.Join("keys", "revocations.json"), "the revocation list the code service serves (it re-reads it when it changes)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*kid == "") == (*tid == "") {
		return errors.New("give exactly one of --kid and --token-id")
	}
	list := &token.Revocations{TokenIDs: []string{}, KeyIDs: []string{}}
	if b, err := os.ReadFile(*file); err == nil {
		if list, err = token.ParseRevocations(b); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var added bool
	var err error
	if *kid != "" {
		added, err = list.AddKey(*kid)
	} else {
		added, err = list.AddToken(*tid)
	}
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*file, b, 0o644); err != nil {
		return err
	}
	if added {
		fmt.Fprintf(stdout, "revoked; %s now lists %d token(s) and %d key(s)\n", *file, len(list.TokenIDs), len(list.KeyIDs))
	} else {
		fmt.Fprintf(stdout, "already revoked in %s\n", *file)
	}
	return nil
}

// writeFileAtomic writes b to a temporary file beside path and renames it.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
