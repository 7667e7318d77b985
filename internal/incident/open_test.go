package incident

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/provider/all"
	"github.com/rekeyhq/rekey/internal/secret"
)

// A server opens incidents from an inventory it holds as bytes: no file is
// read at the path, the copy is stored, and opening the same secret again
// finds the incident.
func TestOpenFromInventoryBytes(t *testing.T) {
	ctx := context.Background()
	d, _ := testDeps(t)
	d.Registry, d.Getenv = all.Registry(), func(string) string { return "" }
	key := randomKey(t)
	d.Fingerprinter = func() (*secret.Fingerprinter, error) { return secret.NewFingerprinter(key) }
	var warned []string
	d.Warn = func(line string) { warned = append(warned, line) }

	dir := t.TempDir()
	const leaked = "s3cr3t-Pa55word-for-orders"
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "app.env"), []byte("DB_PASSWORD="+leaked+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	invPath := filepath.Join(dir, "not-written.yml")
	body := []byte("version: 1\nsources:\n  - {type: dir, path: src}\n")
	leakedAt := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	o := OpenOptions{Secret: secret.FromString(leaked), LeakedAt: &leakedAt, InventoryPath: invPath, InventoryBody: body}

	res, err := Open(ctx, d, o)
	if err != nil {
		t.Fatal(err)
	}
	v := res.View
	if v.Existing || v.Occurrences != 1 || v.Identity != nil || v.LeakedAt == nil || !v.LeakedAt.Equal(leakedAt) {
		t.Fatalf("view = %+v", v)
	}
	c, ok, err := d.Store.GetInventory(ctx, v.ID)
	if err != nil || !ok || !bytes.Equal(c.Body, body) || c.Path != invPath {
		t.Fatalf("inventory copy = %+v %v %v", c, ok, err)
	}
	log, err := d.Store.AuditLog(ctx)
	if err != nil || len(log) == 0 || log[0].Action != "incident.open" || log[0].Actor != "alice" {
		t.Fatalf("audit = %+v %v", log, err)
	}
	for _, e := range log {
		if strings.Contains(string(e.Detail), leaked) {
			t.Fatalf("the audit log holds the secret: %s", e.Detail)
		}
	}

	o.LeakedAt = nil
	again, err := Open(ctx, d, o)
	if err != nil || !again.View.Existing || again.View.ID != v.ID {
		t.Fatalf("open again: %+v %v", again.View, err)
	}
}

func TestOpenRefusesAnInvalidInventory(t *testing.T) {
	d, _ := testDeps(t)
	d.Registry = all.Registry()
	d.Fingerprinter = func() (*secret.Fingerprinter, error) { return secret.NewFingerprinter(randomKey(t)) }
	_, err := Open(context.Background(), d, OpenOptions{Secret: secret.FromString("x-secret-value"), InventoryPath: "inv.yml",
		InventoryBody: []byte("version: 1\nsystems:\n  - {name: db, type: no-such-type}\n")})
	if err == nil || !strings.Contains(err.Error(), "inv.yml") {
		t.Fatalf("err = %v, want the inventory named", err)
	}
	if _, err := Open(context.Background(), d, OpenOptions{InventoryPath: "inv.yml"}); err == nil {
		t.Fatal("an empty secret was accepted")
	}
}
