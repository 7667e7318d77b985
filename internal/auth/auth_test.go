package auth

import "testing"

func TestRoleCapabilities(t *testing.T) {
	want := map[Role][]Capability{
		Viewer:    {Read},
		Responder: {Read, Respond},
		Approver:  {Read, Approve},
		Admin:     {Read, Respond, Approve, Manage},
	}
	for _, r := range Roles {
		grants := map[Capability]bool{}
		for _, c := range want[r] {
			grants[c] = true
		}
		for _, c := range []Capability{Read, Respond, Approve, Manage} {
			if r.Can(c) != grants[c] {
				t.Errorf("%s can %s = %v, want %v", r, c, r.Can(c), grants[c])
			}
		}
	}
	if Role("root").Can(Read) {
		t.Error("an unknown role must grant nothing")
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range Roles {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	if _, err := ParseRole("Admin"); err == nil {
		t.Error("roles are case-sensitive; Admin must be refused")
	}
}
