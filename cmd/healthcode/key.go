package main

import (
	"context"
	"fmt"
	"io"

	"healthcode/sources"
)

func keyCmd(_ context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("key", "key --id-type T --id-number N [--pseudonym-key K]")
	idType := fs.String("id-type", "resident_id", "document type: "+fmt.Sprint(sources.IDTypes())+", or officer for an override's officer or approver")
	idNumber := fs.String("id-number", "", "document number (spaces and hyphens are ignored, letters upper-cased)")
	key := addKeyFlags(fs)
	dev := fs.Bool("dev-key", false, "use the embedded demo's development key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *idNumber == "" {
		return fmt.Errorf("--id-number is required")
	}
	valid := *idType == sources.IDTypeOfficer
	for _, t := range sources.IDTypes() {
		valid = valid || t == *idType
	}
	if !valid {
		return fmt.Errorf("--id-type %q: want one of %v or %s", *idType, sources.IDTypes(), sources.IDTypeOfficer)
	}
	if *idType == "resident_id" {
		if err := sources.CheckResidentID(sources.NormaliseIDNumber(*idNumber)); err != nil {
			return fmt.Errorf("--id-number: %w", err)
		}
	}
	secret, err := key.resolve(*dev)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, sources.PersonKey(secret, *idType, *idNumber))
	return nil
}
