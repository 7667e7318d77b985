package oidc

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rekeyhq/rekey/internal/auth"
)

// Flags are the OIDC options of `rekey serve`. Register them on the
// command's flag set; Build makes the provider (or nil when OIDC is off).
type Flags struct {
	Issuer           string
	ClientID         string
	ClientSecretFile string
	Roles            []string
}

// Register adds --oidc-issuer, --oidc-client-id, --oidc-client-secret-file
// and --oidc-role to fs. --oidc-role is repeated, never split on commas: a
// group may be an LDAP DN ("cn=ops,ou=groups,dc=example,dc=org").
func (f *Flags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&f.Issuer, "oidc-issuer", "", "sign people in with this OpenID Connect issuer (URL)")
	fs.StringVar(&f.ClientID, "oidc-client-id", "", "the client id registered at the OIDC issuer")
	fs.StringVar(&f.ClientSecretFile, "oidc-client-secret-file", "", "file holding the OIDC client secret (mode 600)")
	fs.StringArrayVar(&f.Roles, "oidc-role", nil, "GROUP=ROLE: members of GROUP get ROLE (viewer|responder|approver|admin); repeat; others are viewers")
}

// Enabled reports whether any OIDC flag was given.
func (f *Flags) Enabled() bool {
	return f.Issuer != "" || f.ClientID != "" || f.ClientSecretFile != "" || len(f.Roles) > 0
}

// Build checks the flags and returns the provider, or nil when no OIDC
// flag was given. publicURL is the address browsers reach the server at
// (serve's --public-url); the provider redirects to publicURL+CallbackPath.
func (f *Flags) Build(ctx context.Context, publicURL string) (*Provider, error) {
	if !f.Enabled() {
		return nil, nil
	}
	var missing []string
	for _, m := range []struct{ flag, val string }{
		{"--oidc-issuer", f.Issuer}, {"--oidc-client-id", f.ClientID}, {"--oidc-client-secret-file", f.ClientSecretFile},
	} {
		if m.val == "" {
			missing = append(missing, m.flag)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("OIDC sign-in also needs %s", strings.Join(missing, " and "))
	}
	if publicURL == "" {
		return nil, fmt.Errorf("OIDC sign-in needs --public-url: the identity provider sends browsers back to PUBLIC_URL%s, which must be registered with it", CallbackPath)
	}
	roles, err := ParseRoleMap(f.Roles)
	if err != nil {
		return nil, err
	}
	return New(ctx, Config{
		Issuer: f.Issuer, ClientID: f.ClientID, ClientSecretFile: f.ClientSecretFile,
		RedirectURL: strings.TrimRight(publicURL, "/") + CallbackPath,
		RoleMap:     roles, DefaultRole: auth.Viewer, GroupsClaim: "groups",
	})
}

// ParseRoleMap reads --oidc-role values, GROUP=ROLE each. The role follows
// the last "=", since group names (LDAP DNs) may hold "=" and roles never do.
func ParseRoleMap(values []string) (map[string]auth.Role, error) {
	m := make(map[string]auth.Role, len(values))
	for _, v := range values {
		i := strings.LastIndexByte(v, '=')
		if i < 0 {
			return nil, fmt.Errorf("--oidc-role %q: want GROUP=ROLE, e.g. sec-oncall=responder", v)
		}
		g, rs := strings.TrimSpace(v[:i]), strings.TrimSpace(v[i+1:])
		if g == "" {
			return nil, fmt.Errorf("--oidc-role %q: the group is empty", v)
		}
		r, err := auth.ParseRole(rs)
		if err != nil {
			return nil, fmt.Errorf("--oidc-role %q: %w", v, err)
		}
		if prev, dup := m[g]; dup && prev != r {
			return nil, fmt.Errorf("--oidc-role: group %q is mapped to both %s and %s", g, prev, r)
		}
		m[g] = r
	}
	return m, nil
}
