// Package inventory reads the inventory file a team keeps in git: the
// credential systems rekey may administer, the identities that live in them,
// the workloads (consumers) that use each identity and where their copy of
// the secret is delivered, where copies may have leaked to (sources), the
// logs that record use, and the approval policy. Load decodes the YAML
// strictly and validates it into this package's model, reporting every
// problem with its file:line:column; the rest of rekey works on the model
// only.
//
// The inventory never holds a secret: an administrator credential is a
// reference (env:VAR or file:PATH), and anything that looks like a
// credential anywhere in the file is an error.
package inventory

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"time"
)

// Version is the only inventory format version this package reads.
const Version = 1

// KindAgent marks an identity used by an autonomous agent.
const KindAgent = "agent"

// Pos is where a value starts in the inventory file. Line and Column are
// 1-based; columns count characters, as editors do.
type Pos struct {
	File   string
	Line   int
	Column int
}

// String is "file:line:col", or less when the line is unknown.
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Inventory is a validated inventory file. Only an inventory whose Report
// has no errors is complete; with errors it holds what could be read.
type Inventory struct {
	// File is the path the inventory was loaded from, as given.
	File string
	// Dir is the directory relative paths in the file are taken from: the
	// inventory file's own directory.
	Dir        string
	Version    int
	Systems    []System
	Identities []Identity
	Consumers  []Consumer
	Sources    []Source
	Logs       []Log
	Policy     Policy
	// Broker is the broker: section, nil when absent.
	Broker *Broker
	// Watch is the watch: section, nil when absent.
	Watch *Watch
	// Notify are where the server, the watcher and the audit anchor send
	// what a person must know now (an incident opened, an approval
	// needed), in file order.
	Notify []NotifyTarget
}

// Notification target types.
const (
	NotifySlack   = "slack"
	NotifyWebhook = "webhook"
)

// NotifyTarget is one receiver of notifications: a Slack incoming webhook
// or a generic JSON webhook. Its URL is a reference: whoever holds a
// webhook URL can post to it, so it is a credential like any other.
type NotifyTarget struct {
	Type string // NotifySlack or NotifyWebhook
	URL  Ref
	Pos  Pos
}

// System is a credential system rekey administers: a database server, a
// Redis, later a cloud account.
type System struct {
	Name string
	// Type selects the provider: "postgres", "mysql" (MySQL and MariaDB),
	// "redis", "aws-iam", "vault"; the caller of Load says which types exist.
	Type string
	// Admin is how to reach the system as an administrator: a reference to
	// a connection string (DSN or URL) held outside the inventory; for
	// aws-iam, to {"AccessKeyId","SecretAccessKey","SessionToken"?} JSON,
	// or zero for the AWS SDK's default chain; for vault, to a token.
	Admin Ref
	// X509 and SSH are the places of a system of type x509 or ssh (whose
	// secret is a private key, and which has no Admin); nil otherwise.
	X509 *X509Places
	SSH  *SSHPlaces
	// Endpoint is an API system's base URL when not the provider's default
	// (aws-iam: one URL for IAM, STS and Secrets Manager; vault: its
	// address, required).
	Endpoint string
	// Region is an aws-iam system's region ("" means us-east-1).
	Region string
	// Org is a github system's organisation: whose fine-grained token
	// listing, Actions secrets and deploy keys rekey reads.
	Org   string
	Notes string
	Pos   Pos
}

// Owner is who answers for an identity.
type Owner struct {
	Team    string
	Contact string // a channel, an address, a pager handle
}

// Identity is the principal a secret authenticates as in one system: a
// PostgreSQL role, a MySQL user, a Redis ACL user. Its name is unique
// within its system; the same name may exist in two systems.
type Identity struct {
	Name   string
	System string // a System's Name
	Owner  Owner
	// ThirdParty is set for an identity held by another organisation.
	ThirdParty bool
	// Kind is "" for a workload's identity or KindAgent for an autonomous
	// agent's.
	Kind string
	// Keep lists risky privileges a replacement credential must keep;
	// every other risky privilege is dropped when rekey issues it.
	Keep []string
	// RevokePrefix is, for a vault identity, a lease prefix
	// (database/creds/app) whose every lease a person may choose to end
	// once the leaked token is revoked: leases other tokens got there
	// too (the replacement's consumers' among them), so it is opt-in and
	// approved step by step.
	RevokePrefix string
	Notes        string
	Pos          Pos
}

// Key is "system/name", the identity's unique name in the inventory.
func (id *Identity) Key() string { return id.System + "/" + id.Name }

// IsAgent reports whether the identity is an autonomous agent's.
func (id *Identity) IsAgent() bool { return id.Kind == KindAgent }

// Consumer is a workload that uses an identity's secret.
type Consumer struct {
	Name string
	// Identity names the identity it uses, as written: "name", or
	// "system/name" when the name exists in several systems. Use
	// Inventory.IdentityOf to resolve it.
	Identity string
	// Deliver is where the consumer's copy of the secret lives; nil for a
	// consumer rekey cannot write to (a partner), which is notified
	// instead.
	Deliver *Delivery
	// Reload is a shell command that makes the consumer read its new
	// secret; Health is one that exits 0 when it works.
	Reload string
	Health string
	// Sources are where its connections come from, as written: CIDRs, IP
	// addresses, host names and "app:NAME" application names. Prefixes
	// (CIDRs and addresses), Hosts and Apps hold them parsed.
	Sources  []string
	Prefixes []netip.Prefix
	Hosts    []string
	Apps     []string
	// ThirdParty marks a partner's workload, outside the team's control.
	ThirdParty bool
	// ChangeWindow, when set, is when the consumer may be changed.
	ChangeWindow *Window
	Notes        string
	// JIT, when set, says the consumer gets its credential from the
	// broker (a lease of JIT.Role, through rekey agent), so that
	// `incident plan --strategy jit` can move it onto leases.
	JIT *JIT
	Pos Pos
}

// JIT is a consumer's jit: section.
type JIT struct {
	Role string
	Pos  Pos
}

// Delivery is where a consumer's copy of the secret is written.
type Delivery struct {
	// Type is "file", "vault-kv", "github-actions-secret",
	// "gitlab-ci-variable", "tls-files", "key-file", "kubernetes-secret"
	// or "aws-secretsmanager".
	Type string
	// Path is the file, as written; relative paths are taken from the
	// inventory's directory (Inventory.Abs).
	Path string
	// Format is the file's syntax: dotenv, yaml, json or ini.
	Format string
	// Key is where the secret is in the file: a variable name (dotenv), a
	// dotted path (yaml, json: db.password) or section.key (ini: the
	// section is the text before the first dot). A value that is a DSN or
	// URL has its user and password changed in place.
	Key string
	// UserKey, optional, is where the login name is, for strategies that
	// give the consumer a new login rather than a new password.
	UserKey string
	// Mount is a vault-kv delivery's KV version 2 mount ("secret"); Path
	// is then the secret's path under it and Key, UserKey keys of its data.
	Mount string
	// System is the system a vault-kv or github-actions-secret delivery
	// writes through: the one the inventory names, or its only system of
	// that type when not given.
	System string
	// Repo ("OWNER/REPO") or Org, Name and Visibility locate a
	// github-actions-secret.
	Repo, Org, Name, Visibility string
	// Project (an id or a full path) locates a gitlab-ci-variable, Key is
	// its key; Protected and Masked are set on the variable as written.
	Project           string
	Protected, Masked bool
	// Namespace (the kubernetes system's context namespace when empty),
	// Name, Key and UserKey locate a kubernetes-secret's keys; Restart
	// ("deployment/NAME") is the Deployment restarted once it changed.
	Namespace, Restart string
	// SecretID is an aws-secretsmanager delivery's secret (name or ARN);
	// Key, when set, is the field of its JSON value holding the secret.
	SecretID string
	// Cert, Chain and FullChain are a tls-files delivery's certificate
	// file, chain file and whether the certificate file holds the chain
	// too; Path is then its private key file (and a key-file delivery's
	// only file). Endpoint is where the consumer presents the certificate
	// (host:port), which verify connects to.
	Cert, Chain string
	FullChain   bool
	Endpoint    string
	Pos         Pos
}

// Source is a place copies of a secret may live, to scan.
type Source struct {
	Type    string // git, dir, slack, jira, slack-api, jira-api
	Path    string // not for slack-api and jira-api, read through their APIs
	History bool   // git only: scan every reachable blob, not only the work tree
	// URL is a live source's API: the Jira site (required), Slack's Web
	// API base (optional, https://slack.com/api by default).
	URL string
	// Token is a live source's API token. For jira-api, a value
	// "email:api-token" is sent as basic auth, anything else as Bearer.
	Token Ref
	// JQL selects a jira-api source's issues (all of them by default).
	JQL string
	Pos Pos
}

// Log is a set of log files that record credential use.
type Log struct {
	// Type is a log format name (postgres-csv, cloudtrail…), or "" to
	// detect each file's format from its content.
	Type string
	// Path is a glob; ** matches any depth of directories.
	Path string
	// Prefix is the server's log_line_prefix, for postgres-stderr logs
	// (the default one is assumed when empty).
	Prefix string
	// Fields maps a jsonl log's records to events; set for type jsonl
	// only, and required there.
	Fields *JSONFields
	Pos    Pos
}

// JSONFields says where each event field is in the records of a jsonl
// log: dotted paths into each JSON object (user.key_id). The CLI turns it
// into the jsonl parser's mapping.
type JSONFields struct {
	Time string
	// TimeFormat is rfc3339 (when empty), unix, unix_ms or a Go layout.
	TimeFormat  string
	Credential  string
	Identity    string
	Source      string
	UserAgent   string
	Application string
	Action      string
	// Outcome's value is a failure when it is one of Failure.
	Outcome string
	Failure []string
	Pos     Pos
}

// Policy is the team's rules for an incident.
type Policy struct {
	// Approve lists the step kinds that wait for `rekey incident approve`.
	Approve []string
	// TTL is the lifetime of credentials rekey issues; 0 means none.
	TTL time.Duration
	Pos Pos
}

// NeedsApproval reports whether steps of this kind wait for an approval.
func (p Policy) NeedsApproval(kind string) bool {
	for _, k := range p.Approve {
		if k == kind {
			return true
		}
	}
	return false
}

// SystemByName returns the system with this name, or nil.
func (inv *Inventory) SystemByName(name string) *System {
	for i := range inv.Systems {
		if inv.Systems[i].Name == name {
			return &inv.Systems[i]
		}
	}
	return nil
}

// IdentityByName returns the identity named ref: "system/name", or a bare
// name that exists in one system only. It returns nil when there is no
// such identity or a bare name is ambiguous.
func (inv *Inventory) IdentityByName(ref string) *Identity {
	var found *Identity
	for i := range inv.Identities {
		if inv.Identities[i].Name == ref {
			if found != nil {
				return nil
			}
			found = &inv.Identities[i]
		}
	}
	if found != nil {
		return found
	}
	if sys, name, ok := strings.Cut(ref, "/"); ok {
		for i := range inv.Identities {
			if id := &inv.Identities[i]; id.System == sys && id.Name == name {
				return id
			}
		}
	}
	return nil
}

// IdentityOf returns the identity a consumer uses, or nil.
func (inv *Inventory) IdentityOf(c *Consumer) *Identity { return inv.IdentityByName(c.Identity) }

// ConsumerByName returns the consumer with this name, or nil.
func (inv *Inventory) ConsumerByName(name string) *Consumer {
	for i := range inv.Consumers {
		if inv.Consumers[i].Name == name {
			return &inv.Consumers[i]
		}
	}
	return nil
}

// ConsumersOf returns the consumers that use identity id, in file order.
func (inv *Inventory) ConsumersOf(id *Identity) []*Consumer {
	if id == nil {
		return nil
	}
	var out []*Consumer
	for i := range inv.Consumers {
		c := &inv.Consumers[i]
		if got := inv.IdentityOf(c); got != nil && got.Key() == id.Key() {
			out = append(out, c)
		}
	}
	return out
}

// Matches reports whether a use from source (an address, with or without
// a port, or a host name) by application app comes from the consumer's
// declared sources: the address inside one of its CIDRs, the host one it
// declares, or the application name declared. The scope uses it to tell
// consumers from unexplained use; the review, to tell a missed consumer
// from an attacker.
func (c *Consumer) Matches(source, app string) bool {
	src := sourceHost(source)
	if a, err := netip.ParseAddr(src); err == nil {
		for _, p := range c.Prefixes {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
	}
	for _, h := range c.Hosts {
		if strings.EqualFold(h, src) {
			return true
		}
	}
	for _, a := range c.Apps {
		if app != "" && a == app {
			return true
		}
	}
	return false
}

// sourceHost is the address or host a client connects from, without its
// port.
func sourceHost(client string) string {
	if ap, err := netip.ParseAddrPort(client); err == nil {
		return ap.Addr().String()
	}
	if a, err := netip.ParseAddr(client); err == nil {
		return a.String()
	}
	if host, _, ok := strings.Cut(client, ":"); ok && host != "" && !strings.Contains(client, "[") {
		return host
	}
	return client
}

// Abs returns path p taken from the inventory's directory when relative.
func (inv *Inventory) Abs(p string) string { return absFrom(inv.Dir, p) }

func absFrom(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}
