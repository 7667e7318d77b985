package providertest

import (
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/provider"
)

// FindPrivilege returns the identity's privilege named name, or nil.
func FindPrivilege(id *provider.Identity, name string) *provider.Privilege {
	for i := range id.Privileges {
		if id.Privileges[i].Name == name {
			return &id.Privileges[i]
		}
	}
	return nil
}

// WantPrivilege fails the test unless the identity holds exactly want
// (found by name).
func WantPrivilege(t *testing.T, id *provider.Identity, want provider.Privilege) {
	t.Helper()
	got := FindPrivilege(id, want.Name)
	if got == nil {
		t.Errorf("%s: no privilege %q in %+v", id.Ref.Name, want.Name, id.Privileges)
		return
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("%s: privilege %q (-want +got):\n%s", id.Ref.Name, want.Name, diff)
	}
}

// FindRelated returns the identity's related entry of that kind and name,
// or nil.
func FindRelated(id *provider.Identity, kind, name string) *provider.Related {
	for i := range id.Related {
		if id.Related[i].Kind == kind && id.Related[i].Name == name {
			return &id.Related[i]
		}
	}
	return nil
}

// WantRelated fails the test unless the identity lists that related entry
// with a detail mentioning detail.
func WantRelated(t *testing.T, id *provider.Identity, kind, name, detail string) {
	t.Helper()
	r := FindRelated(id, kind, name)
	if r == nil {
		t.Errorf("%s: no related %s %q in %+v", id.Ref.Name, kind, name, id.Related)
		return
	}
	if !strings.Contains(r.Detail, detail) {
		t.Errorf("%s: related %s %q detail %q, want it to mention %q", id.Ref.Name, kind, name, r.Detail, detail)
	}
}

// ClosedAddress is a loopback host:port where nothing listens, for
// Harness.Unreachable.
func ClosedAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
