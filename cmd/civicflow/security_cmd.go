package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"civicflow/postgres"
)

// runAudit serves `civicflow audit verify [-anchor ID:HASH]`.
func runAudit(ctx context.Context, cfg config, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: civicflow audit verify [-anchor ID:HASH]")
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(out)
	anchor := fs.String("anchor", "", "an entry ID and its hash (hex) recorded earlier outside the database, as ID:HASH")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var anchorID int64
	var anchorHash []byte
	if *anchor != "" {
		id, h, ok := strings.Cut(*anchor, ":")
		var err error
		anchorID, err = strconv.ParseInt(id, 10, 64)
		if !ok || err != nil || anchorID <= 0 {
			return fmt.Errorf("-anchor %q: want ID:HASH", *anchor)
		}
		if anchorHash, err = hex.DecodeString(h); err != nil || len(anchorHash) != 32 {
			return fmt.Errorf("-anchor %q: the hash must be 64 hex digits", *anchor)
		}
	}
	db, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := db.VerifyAudit(ctx, anchorID, anchorHash)
	if err != nil {
		return err
	}
	if !rep.OK {
		fmt.Fprintf(out, "audit chain BROKEN after checking %d entries: %s\n", rep.Entries, rep.Problem)
		if rep.BrokenAt != 0 {
			return fmt.Errorf("audit chain broken at entry %d", rep.BrokenAt)
		}
		return errors.New("audit chain broken")
	}
	fmt.Fprintf(out, "audit chain intact: %d entries; head entry %d hash %s\n", rep.Entries, rep.HeadID, rep.HeadHash)
	fmt.Fprintf(out, "record the head elsewhere and check it later with: civicflow audit verify -anchor %d:%s\n", rep.HeadID, rep.HeadHash)
	return nil
}

// runKeys serves `civicflow keys rotate|status|generate`.
func runKeys(ctx context.Context, cfg config, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: civicflow keys rotate [-batch N] | status | generate")
	}
	switch args[0] {
	case "generate":
		fmt.Fprintln(out, postgres.NewKey())
		return nil
	case "status", "rotate":
	default:
		return fmt.Errorf("unknown keys command %q: want rotate, status or generate", args[0])
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	fs.SetOutput(out)
	batch := fs.Int("batch", 500, "rows re-sealed per transaction")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	k, err := cfg.keyring()
	if err != nil {
		return err
	}
	if k == nil {
		return errors.New("CIVICFLOW_DATA_KEYS and CIVICFLOW_LOOKUP_KEY are not set")
	}
	db, err := openStore(ctx, cfg.DatabaseURL, postgres.WithKeyring(k))
	if err != nil {
		return err
	}
	defer db.Close()
	if args[0] == "rotate" {
		n, err := db.RotateKeys(ctx, *batch, func(column string, done int64) {
			fmt.Fprintf(out, "  %s: %d re-sealed\n", column, done)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "re-sealed %d values under key %s\n", n, k.CurrentKeyID())
	}
	usage, err := db.KeyUsage(ctx)
	if err != nil {
		return err
	}
	old := int64(0)
	for _, u := range usage {
		fmt.Fprintf(out, "%-28s key %-6s %d values\n", u.Column, u.KeyID, u.Values)
		if u.KeyID != k.CurrentKeyID() {
			old += u.Values
		}
	}
	if old > 0 {
		fmt.Fprintf(out, "%d values are still sealed under other keys: keep those keys configured (run rotate again)\n", old)
	} else {
		fmt.Fprintf(out, "every value is sealed under %s: other keys may be removed from CIVICFLOW_DATA_KEYS\n", k.CurrentKeyID())
	}
	return nil
}
