package oidc

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/rekeyhq/rekey/internal/auth"
	"github.com/rekeyhq/rekey/internal/auth/oidc/oidctest"
)

func TestParseRoleMap(t *testing.T) {
	got, err := ParseRoleMap([]string{
		"sec-oncall=responder", " approvers = approver ", "cn=ops,ou=groups,dc=example,dc=org=admin", "sec-oncall=responder",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]auth.Role{
		"sec-oncall": auth.Responder, "approvers": auth.Approver, "cn=ops,ou=groups,dc=example,dc=org": auth.Admin,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseRoleMap (-want +got):\n%s", d)
	}
	for _, tc := range []struct{ in, want string }{
		{"sec-oncall", `--oidc-role "sec-oncall": want GROUP=ROLE`},
		{"=admin", "the group is empty"},
		{"ops=root", `--oidc-role "ops=root": unknown role "root"`},
		{"ops=", `unknown role ""`},
	} {
		if _, err := ParseRoleMap([]string{tc.in}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRoleMap(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	if _, err := ParseRoleMap([]string{"ops=admin", "ops=viewer"}); err == nil || !strings.Contains(err.Error(), `group "ops" is mapped to both admin and viewer`) {
		t.Errorf("a group mapped twice: %v", err)
	}
}

func TestFlags(t *testing.T) {
	secret := "flag-secret"
	is := oidctest.New(t, oidctest.Client{ID: clientID, Secret: secret, RedirectURL: "https://rekey.example.org" + CallbackPath})
	file := writeSecret(t, secret, 0o600)

	var f Flags
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse([]string{
		"--oidc-issuer", is.URL, "--oidc-client-id", clientID, "--oidc-client-secret-file", file,
		"--oidc-role", "cn=ops,ou=groups,dc=example=admin", "--oidc-role", "oncall=responder",
	}); err != nil {
		t.Fatal(err)
	}
	p, err := f.Build(context.Background(), "https://rekey.example.org/")
	if err != nil {
		t.Fatal(err)
	}
	if p.cfg.RedirectURL != "https://rekey.example.org"+CallbackPath {
		t.Errorf("redirect URL = %q", p.cfg.RedirectURL)
	}
	if d := cmp.Diff(map[string]auth.Role{"cn=ops,ou=groups,dc=example": auth.Admin, "oncall": auth.Responder}, p.cfg.RoleMap); d != "" {
		t.Errorf("role map (-want +got):\n%s", d)
	}
	if p.cfg.DefaultRole != auth.Viewer || p.cfg.GroupsClaim != "groups" {
		t.Errorf("default role %q, groups claim %q", p.cfg.DefaultRole, p.cfg.GroupsClaim)
	}

	if p, err := (&Flags{}).Build(context.Background(), ""); p != nil || err != nil {
		t.Errorf("no OIDC flags: %v, %v; want nil, nil", p, err)
	}
	for _, tc := range []struct {
		f         Flags
		publicURL string
		want      string
	}{
		{Flags{Roles: []string{"ops=admin"}}, "https://x", "needs --oidc-issuer and --oidc-client-id and --oidc-client-secret-file"},
		{Flags{Issuer: is.URL, ClientID: clientID}, "https://x", "needs --oidc-client-secret-file"},
		{Flags{Issuer: is.URL, ClientID: clientID, ClientSecretFile: file}, "", "needs --public-url"},
		{Flags{Issuer: is.URL, ClientID: clientID, ClientSecretFile: file, Roles: []string{"ops"}}, "https://x", "want GROUP=ROLE"},
	} {
		if _, err := tc.f.Build(context.Background(), tc.publicURL); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%+v, %q) = %v, want %q", tc.f, tc.publicURL, err, tc.want)
		}
	}
}
