package inventory

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"go.yaml.in/yaml/v3"
)

// The names the file may use, in the order docs/inventory.md lists them.
var (
	topKeys      = []string{"version", "systems", "identities", "consumers", "sources", "logs", "policy", "broker", "watch", "notify"}
	systemKeys   = []string{"name", "type", "admin", "endpoint", "region", "org", "notes"}
	identityKeys = []string{"name", "system", "owner", "third_party", "kind", "keep", "revoke_prefix", "notes"}
	ownerKeys    = []string{"team", "contact"}
	consumerKeys = []string{"name", "identity", "deliver", "reload", "health", "sources", "third_party", "change_window", "notes", "jit"}
	sourceKeys   = []string{"type", "path", "history", "url", "token", "jql"}
	logKeys      = []string{"type", "path", "prefix", "fields"}
	fieldsKeys   = []string{"time", "time_format", "credential", "identity", "source", "user_agent", "application", "action", "outcome", "failure"}
	policyKeys   = []string{"approve", "ttl"}
	notifyKeys   = []string{"type", "url"}

	deliverTypes    = []string{"file", DeliverVaultKV, DeliverGitHubActionsSecret, DeliverGitLabCIVariable, DeliverTLSFiles, DeliverKeyFile, DeliverTLSSecretManifest, DeliverKubernetesSecret, DeliverAWSSecretsManager}
	fileDeliverKeys = []string{"type", "path", "format", "key", "user_key"}
	fileFormats     = []string{"dotenv", "yaml", "json", "ini"}
	identityKinds   = []string{KindAgent}
	sourceTypes     = []string{"git", "dir", "slack", "jira", SourceSlackAPI, SourceJiraAPI}
	notifyTypes     = []string{NotifySlack, NotifyWebhook}
)

// LogFormats are the log format names a logs entry's type may take.
var LogFormats = []string{
	"cloudtrail", "postgres-stderr", "postgres-csv", "postgres-json", "mysql-general",
	"mariadb-audit", "k8s-audit", "vault-audit", "github-audit", "jsonl",
}

// StepKinds are the plan step kinds policy.approve may name; the last two
// are not steps of their own but mark a revoke of a third party's
// credential and a rewrite of git history.
var StepKinds = []string{
	"isolate", "issue", "deliver", "verify", "revoke", "terminate-sessions", "revoke-related",
	"remediate-copy", "notify", "wait-window", "review", "revoke-third-party", "rewrite-history",
}

// name is what system and consumer names may hold: they appear in plans,
// commands and "system/identity" references.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func (p *parser) inventory(root *yaml.Node) *Inventory {
	inv := &Inventory{File: p.file, Dir: p.dir}
	o := p.object(root, "", "inventory")
	if o == nil {
		return inv
	}
	o.extensions = true
	o.only(topKeys...)
	inv.Version = p.version(o)

	seen := map[string]Pos{}
	for i, n := range o.list("systems") {
		s, ok := p.system(n, i)
		if !ok {
			continue
		}
		if s.Name != "" {
			if first, dup := seen[s.Name]; dup {
				p.errorf(n, "system %q defined twice (first at %d:%d)", s.Name, first.Line, first.Column)
				continue
			}
			seen[s.Name] = s.Pos
		}
		inv.Systems = append(inv.Systems, s)
	}

	seen = map[string]Pos{}
	for i, n := range o.list("identities") {
		id, ok := p.identity(n, i, inv)
		if !ok {
			continue
		}
		if id.Name != "" && id.System != "" {
			if first, dup := seen[id.Key()]; dup {
				p.errorf(n, "identity %q of system %q defined twice (first at %d:%d)", id.Name, id.System, first.Line, first.Column)
				continue
			}
			seen[id.Key()] = id.Pos
		}
		inv.Identities = append(inv.Identities, id)
	}

	seen = map[string]Pos{}
	for i, n := range o.list("consumers") {
		c, ok := p.consumer(n, i, inv)
		if !ok {
			continue
		}
		if c.Name != "" {
			if first, dup := seen[c.Name]; dup {
				p.errorf(n, "consumer %q defined twice (first at %d:%d)", c.Name, first.Line, first.Column)
				continue
			}
			seen[c.Name] = c.Pos
		}
		inv.Consumers = append(inv.Consumers, c)
	}

	for i, n := range o.list("sources") {
		if s, ok := p.source(n, i); ok {
			inv.Sources = append(inv.Sources, s)
		}
	}
	for i, n := range o.list("logs") {
		if l, ok := p.log(n, i); ok {
			inv.Logs = append(inv.Logs, l)
		}
	}
	if v := o.vals["policy"]; v != nil && !isNull(v) {
		inv.Policy = p.policy(v)
	}
	if v := o.vals["broker"]; v != nil && !isNull(v) {
		inv.Broker = p.broker(v, inv)
	}
	p.jitRoles(inv)
	if v := o.vals["watch"]; v != nil && !isNull(v) {
		inv.Watch = p.watch(v)
	}
	for i, n := range o.list("notify") {
		if t, ok := p.notify(n, i); ok {
			inv.Notify = append(inv.Notify, t)
		}
	}
	return inv
}

// notify reads one notify entry. A URL written inline is refused by ref
// (it is not env: or file:) without being quoted: it is a credential.
func (p *parser) notify(n *yaml.Node, i int) (NotifyTarget, bool) {
	o, _ := p.item(n, "notify", "", i, false)
	if o == nil {
		return NotifyTarget{}, false
	}
	o.only(notifyKeys...)
	t := NotifyTarget{Pos: p.pos(o.node)}
	if t.Type = o.str("type", true); t.Type != "" {
		p.enum(o.at("type"), o.prefix("type"), t.Type, notifyTypes)
	}
	t.URL = p.ref(o, "url", "the webhook URL")
	return t, true
}

func (p *parser) version(o *obj) int {
	v := o.vals["version"]
	if v == nil || isNull(v) {
		p.errorf(o.at("version"), "missing version: %d (the inventory format version)", Version)
		return 0
	}
	d := deref(v)
	n, err := strconv.Atoi(d.Value)
	if d.Kind != yaml.ScalarNode || d.ShortTag() != "!!int" || err != nil {
		p.errorf(v, "version: want the number %d, got %s", Version, describe(v))
		return 0
	}
	if n != Version {
		p.errorf(v, "version %d is not supported: this rekey reads version %d", n, Version)
	}
	return n
}

// item decodes the i-th entry of a list of named mappings, switching the
// message context to its name once known.
func (p *parser) item(n *yaml.Node, list, noun string, i int, nameRequired bool) (*obj, string) {
	ctx := fmt.Sprintf("%s[%d]", list, i)
	o := p.object(n, ctx, ctx)
	if o == nil {
		return nil, ""
	}
	if !nameRequired {
		return o, ""
	}
	nm := o.str("name", true)
	if nm != "" {
		o.ctx = fmt.Sprintf("%s %s", noun, quote(nm))
	}
	return o, nm
}

func (p *parser) checkName(o *obj, nm string) {
	if nm != "" && !nameRe.MatchString(nm) {
		p.errorf(o.at("name"), "%s: name: use letters, digits, '.', '_' and '-', starting with a letter or digit", o.where())
	}
}

func (p *parser) system(n *yaml.Node, i int) (System, bool) {
	o, nm := p.item(n, "systems", "system", i, true)
	if o == nil {
		return System{}, false
	}
	o.only(slices.Concat(systemKeys, x509Keys, sshKeys)...)
	p.checkName(o, nm)
	s := System{Name: nm, Pos: p.pos(o.node)}
	if s.Type = o.str("type", true); s.Type != "" && p.opts.KnownSystemTypes != nil {
		p.enum(o.at("type"), o.prefix("type"), s.Type, p.opts.KnownSystemTypes)
	}
	p.keyPlaces(o, &s)
	// An aws-iam system without admin uses the AWS SDK's default chain
	// (environment, shared files, instance role); x509 and ssh systems are
	// places and have no admin at all.
	if v := o.vals["admin"]; !isKeySystem(s.Type) && (s.Type != TypeAWSIAM || v != nil && !isNull(v)) {
		s.Admin = p.admin(o, s.Type)
	}
	s.Endpoint = p.endpoint(o, s.Type)
	if s.Type == TypeVault && s.Endpoint == "" && o.vals["endpoint"] == nil {
		p.errorf(o.node, "%s: missing endpoint: a vault system's address, like https://vault.example.com:8200", o.where())
	}
	s.Region = p.region(o, s.Type)
	s.Org = p.org(o, s.Type)
	s.Notes = o.str("notes", false)
	return s, true
}

// TypeAWSIAM is the system type of an AWS account's IAM.
const TypeAWSIAM = "aws-iam"

// endpointTypes are the system types reached over an HTTP API, whose base
// URL endpoint: may set; a database's DSN already says where it is.
var endpointTypes = []string{TypeAWSIAM, TypeVault, TypeGitHub, TypeGitLab, TypeKubernetes}

// endpoint reads a system's API base URL: absolute http(s), a host, no
// credentials in it (the inventory lives in git), no query or fragment.
func (p *parser) endpoint(o *obj, typ string) string {
	e := o.str("endpoint", false)
	if e == "" {
		return ""
	}
	at := o.at("endpoint")
	if !slices.Contains(endpointTypes, typ) {
		p.errorf(at, "%s: endpoint applies to systems of type %s (an API's base URL); a %s system's admin connection string says where it is", o.where(), strings.Join(endpointTypes, ", "), typ)
		return ""
	}
	switch err := baseURL(e); {
	case errors.Is(err, errURLCredentials):
		p.errorf(at, "%s: endpoint holds credentials in its URL: the inventory lives in git, so treat them as leaked and give them with admin: env:VAR or file:PATH", o.where())
	case errors.Is(err, errURLShape):
		like := "https://iam.amazonaws.com"
		switch typ {
		case TypeGitHub:
			like = "https://github.example.com (GitHub Enterprise Server)"
		case TypeGitLab:
			like = "https://gitlab.example.com (self-managed GitLab)"
		case TypeKubernetes:
			like = "https://10.0.0.1:6443 (the API server)"
		}
		p.errorf(at, "%s: endpoint: %v, like %s", o.where(), err, like)
	case err != nil:
		p.errorf(at, "%s: endpoint: %v", o.where(), err)
	default:
		return e
	}
	return ""
}

// awsRegion is a region name: partition prefix, area, number (us-east-1,
// eu-central-2, us-gov-west-1, cn-north-1).
var awsRegion = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+$`)

// region reads an aws-iam system's region; requests are signed for it
// (us-east-1 when absent).
func (p *parser) region(o *obj, typ string) string {
	r := o.str("region", false)
	if r == "" {
		return ""
	}
	switch {
	case typ != TypeAWSIAM:
		p.errorf(o.at("region"), "%s: region applies to systems of type %s", o.where(), TypeAWSIAM)
	case !awsRegion.MatchString(r):
		p.errorf(o.at("region"), "%s: region %s is not an AWS region name, like us-east-1", o.where(), quote(r))
	default:
		return r
	}
	return ""
}

// admin reads a system's administrator reference. Its value is never
// quoted in a message: it may be the credential itself.
func (p *parser) admin(o *obj, typ string) Ref {
	v := o.vals["admin"]
	if v == nil || isNull(v) {
		p.errorf(o.at("admin"), "%s: missing admin: how rekey reaches the system as an administrator, as env:VAR or file:PATH", o.where())
		return Ref{}
	}
	s, ok := p.scalar(v, o.prefix("admin"))
	if !ok {
		return Ref{}
	}
	ref, err := ParseRef(s)
	switch {
	case errors.Is(err, errNotRef):
		switch {
		case typ == TypeAWSIAM && (awsSecretInline.MatchString(s) || strings.Contains(s, "SecretAccessKey")):
			p.errorf(v, `%s: admin holds an AWS key inline: the inventory lives in git, so treat it as leaked, deactivate it and refer to {"AccessKeyId","SecretAccessKey"} JSON with env:VAR or file:PATH (or leave admin out for the SDK's default chain)`, o.where())
		case typ == TypeGitHub && githubAdminInline(s):
			p.errorf(v, "%s: admin holds a GitHub token or App key inline: the inventory lives in git, so treat it as leaked, revoke it and refer to it with env:VAR or file:PATH", o.where())
		case holdsPassword(s):
			p.errorf(v, "%s: admin holds a password inline: the inventory lives in git, so treat it as leaked, rotate it and refer to the connection string with env:VAR or file:PATH", o.where())
		default:
			p.errorf(v, "%s: admin must be a reference (env:VAR or file:PATH), not an inline value: the inventory lives in git", o.where())
		}
		return Ref{}
	case err != nil:
		p.errorf(v, "%s: admin: %v", o.where(), err)
		return Ref{}
	}
	ref.Dir, ref.Pos = p.dir, p.pos(v)
	return ref
}

var (
	// awsSecretInline is an access key id anywhere in a value.
	awsSecretInline = regexp.MustCompile(`A[KS]IA[A-Z0-9]{16}`)
	goDSNPassword   = regexp.MustCompile(`^[^:@/\s]+:[^@\s]+@(?:tcp|unix)\(`)
	keywordPassword = regexp.MustCompile(`(?i)(?:^|\s)password\s*=\s*\S`)
)

// holdsPassword reports whether a connection string has a password in it:
// a URL's user info, a Go MySQL DSN, a libpq keyword/value string.
func holdsPassword(s string) bool {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			return true
		}
	}
	return goDSNPassword.MatchString(s) || keywordPassword.MatchString(s)
}

func (p *parser) identity(n *yaml.Node, i int, inv *Inventory) (Identity, bool) {
	o, nm := p.item(n, "identities", "identity", i, true)
	if o == nil {
		return Identity{}, false
	}
	o.only(identityKeys...)
	if nm != "" && (strings.TrimSpace(nm) != nm || strings.ContainsAny(nm, "\n\r\t\x00")) {
		p.errorf(o.at("name"), "%s: name has surrounding spaces or control characters", o.where())
	}
	id := Identity{Name: nm, Pos: p.pos(o.node)}
	if id.System = o.str("system", true); id.System != "" && inv.SystemByName(id.System) == nil {
		msg := fmt.Sprintf("%s: system %s is not defined", o.where(), quote(id.System))
		if s := suggest(id.System, systemNames(inv)); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		p.errorf(o.at("system"), "%s", msg)
	}
	if v := o.vals["owner"]; v != nil && !isNull(v) {
		if ow := p.object(v, o.ctx, o.prefix("owner")); ow != nil {
			ow.ctx = o.prefix("owner")
			ow.only(ownerKeys...)
			id.Owner = Owner{Team: ow.str("team", false), Contact: ow.str("contact", false)}
		}
	}
	id.ThirdParty = o.boolean("third_party")
	if id.Kind = o.str("kind", false); id.Kind != "" {
		p.enum(o.at("kind"), o.prefix("kind"), id.Kind, identityKinds)
	}
	id.Keep, _ = o.strings("keep")
	if id.RevokePrefix = o.str("revoke_prefix", false); id.RevokePrefix != "" {
		p.revokePrefix(o, id, inv)
	}
	id.Notes = o.str("notes", false)
	return id, true
}

func systemNames(inv *Inventory) []string {
	var out []string
	for _, s := range inv.Systems {
		out = append(out, s.Name)
	}
	return out
}

func (p *parser) consumer(n *yaml.Node, i int, inv *Inventory) (Consumer, bool) {
	o, nm := p.item(n, "consumers", "consumer", i, true)
	if o == nil {
		return Consumer{}, false
	}
	o.only(consumerKeys...)
	p.checkName(o, nm)
	c := Consumer{Name: nm, Pos: p.pos(o.node)}
	if c.Identity = o.str("identity", true); c.Identity != "" {
		if msg := identityProblem(inv, c.Identity); msg != "" {
			p.errorf(o.at("identity"), "%s: %s", o.where(), msg)
		}
	}
	if v := o.vals["deliver"]; v != nil && !isNull(v) {
		c.Deliver = p.delivery(v, o.prefix("deliver"), inv)
	}
	c.Reload = o.str("reload", false)
	c.Health = o.str("health", false)
	var nodes []*yaml.Node
	c.Sources, nodes = o.strings("sources")
	for j, s := range c.Sources {
		switch kind, val, err := parseSource(s); {
		case err != nil:
			p.errorf(nodes[j], "%s: %v", o.prefix("sources"), err)
		case kind == "prefix":
			c.Prefixes = append(c.Prefixes, netip.MustParsePrefix(val))
		case kind == "host":
			c.Hosts = append(c.Hosts, val)
		default:
			c.Apps = append(c.Apps, val)
		}
	}
	c.ThirdParty = o.boolean("third_party")
	if s := o.str("change_window", false); s != "" {
		w, err := ParseWindow(s)
		if err != nil {
			p.errorf(o.at("change_window"), "%s: %v", o.prefix("change_window"), err)
		}
		c.ChangeWindow = w
	}
	c.Notes = o.str("notes", false)
	if v := o.vals["jit"]; v != nil && !isNull(v) {
		if jo := p.object(v, o.prefix("jit"), o.prefix("jit")); jo != nil {
			jo.only("role")
			c.JIT = &JIT{Role: jo.str("role", true), Pos: p.pos(jo.node)}
		}
	}
	return c, true
}

func (p *parser) errorAt(pos Pos, format string, a ...any) {
	p.rep.Errors = append(p.rep.Errors, Problem{pos, fmt.Sprintf(format, a...)})
}

// jitRoles checks that each consumer's jit role is a broker role of the
// identity's system.
func (p *parser) jitRoles(inv *Inventory) {
	for _, c := range inv.Consumers {
		if c.JIT == nil || c.JIT.Role == "" {
			continue
		}
		r := inv.Broker.RoleByName(c.JIT.Role)
		switch {
		case r == nil:
			p.errorAt(c.JIT.Pos, "consumer %s: jit: role %s is not a role of the broker: section", quote(c.Name), quote(c.JIT.Role))
		case inv.IdentityOf(&c) != nil && inv.IdentityOf(&c).System != r.System:
			// A lease is a login in its role's system: a consumer of
			// another system's identity could not use it.
			p.errorAt(c.JIT.Pos, "consumer %s: jit: role %s issues logins in system %s, not in %s where the consumer's identity is",
				quote(c.Name), quote(c.JIT.Role), quote(r.System), quote(inv.IdentityOf(&c).System))
		}
	}
}

// identityProblem says what is wrong with a consumer's identity reference,
// or "".
func identityProblem(inv *Inventory, ref string) string {
	var systems []string
	for _, id := range inv.Identities {
		if id.Name == ref {
			systems = append(systems, id.System)
		}
	}
	switch {
	case len(systems) == 1:
		return ""
	case len(systems) > 1:
		return fmt.Sprintf("identity %s exists in systems %s; write system/name, like %q",
			quote(ref), strings.Join(systems, ", "), systems[0]+"/"+ref)
	}
	if inv.IdentityByName(ref) != nil {
		return ""
	}
	var names []string
	for _, id := range inv.Identities {
		names = append(names, id.Name, id.Key())
	}
	msg := fmt.Sprintf("identity %s is not defined", quote(ref))
	if s := suggest(ref, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg
}

var (
	envKey    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	hostLabel = `[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?`
	hostName  = regexp.MustCompile(`^(?:\*\.)?` + hostLabel + `(?:\.` + hostLabel + `)*\.?$`)
	allDigits = regexp.MustCompile(`^[0-9.]+$`)
)

func (p *parser) delivery(v *yaml.Node, what string, inv *Inventory) *Delivery {
	o := p.object(v, what, what)
	if o == nil {
		return nil
	}
	d := &Delivery{Pos: p.pos(o.node)}
	if d.Type = o.str("type", true); d.Type == "" || !p.enum(o.at("type"), o.prefix("type"), d.Type, deliverTypes) {
		return d
	}
	if d.Type == DeliverVaultKV {
		p.vaultKV(o, d, what, inv)
		return d
	}
	if d.Type == DeliverGitHubActionsSecret {
		p.githubDelivery(o, d, what, inv)
		return d
	}
	if d.Type == DeliverGitLabCIVariable {
		p.gitlabDelivery(o, d, what, inv)
		return d
	}
	if d.Type == DeliverKubernetesSecret {
		p.kubernetesDelivery(o, d, what, inv)
		return d
	}
	if d.Type == DeliverAWSSecretsManager {
		p.awssmDelivery(o, d, what, inv)
		return d
	}
	if d.Type == DeliverTLSFiles {
		p.tlsDelivery(o, d, what)
		return d
	}
	if d.Type == DeliverKeyFile || d.Type == DeliverTLSSecretManifest {
		p.keyFileDelivery(o, d)
		return d
	}
	o.only(fileDeliverKeys...)
	d.Path = o.str("path", true)
	if d.Format = o.str("format", true); d.Format != "" {
		p.enum(o.at("format"), o.prefix("format"), d.Format, fileFormats)
	}
	d.Key = o.str("key", true)
	d.UserKey = o.str("user_key", false)
	for _, k := range []struct{ name, val string }{{"key", d.Key}, {"user_key", d.UserKey}} {
		if k.val == "" {
			continue
		}
		if err := checkKeyPath(d.Format, k.val); err != nil {
			p.errorf(o.at(k.name), "%s: %v", o.prefix(k.name), err)
		}
	}
	if d.Key != "" && d.Key == d.UserKey {
		p.errorf(o.at("user_key"), "%s: user_key is the same as key", what)
	}
	return d
}

// checkKeyPath checks where a secret lives in a file of the given format.
func checkKeyPath(format, k string) error {
	if strings.TrimSpace(k) != k || strings.ContainsAny(k, "\n\r\x00") {
		return errors.New("has surrounding spaces or control characters")
	}
	if format == "dotenv" {
		if !envKey.MatchString(k) {
			return fmt.Errorf("%s is not a variable name (letters, digits and _)", quote(k))
		}
		return nil
	}
	for _, seg := range strings.Split(k, ".") {
		if seg == "" {
			return fmt.Errorf("%s has an empty segment: write a dotted path like db.password", quote(k))
		}
	}
	return nil
}

// parseSource classifies one expected source of a consumer's connections:
// a CIDR or IP address ("prefix", canonical CIDR), a host name ("host") or
// app:NAME, an application name ("app").
func parseSource(s string) (kind, val string, err error) {
	if app, ok := strings.CutPrefix(s, "app:"); ok {
		if strings.TrimSpace(app) == "" {
			return "", "", errors.New(`"app:" wants an application name, like app:orders-api`)
		}
		return "app", app, nil
	}
	if strings.Contains(s, "/") {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			return "", "", fmt.Errorf("%s is not a valid CIDR", quote(s))
		}
		if m := pfx.Masked(); m != pfx {
			return "", "", fmt.Errorf("%s has host bits set; did you mean %q?", quote(s), m.String())
		}
		return "prefix", pfx.String(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return "", "", fmt.Errorf("%s: an address with a zone cannot be a source", quote(s))
		}
		return "prefix", netip.PrefixFrom(a, a.BitLen()).String(), nil
	}
	if allDigits.MatchString(s) || strings.Contains(s, ":") {
		return "", "", fmt.Errorf("%s is not a valid IP address", quote(s))
	}
	if len(s) > 253 || !hostName.MatchString(s) {
		return "", "", fmt.Errorf("%s is not a CIDR, an IP address, a host name or app:NAME", quote(s))
	}
	return "host", s, nil
}

// Live source types: read through a service's API rather than a path.
const (
	SourceSlackAPI = "slack-api"
	SourceJiraAPI  = "jira-api"
)

func (p *parser) source(n *yaml.Node, i int) (Source, bool) {
	o, _ := p.item(n, "sources", "", i, false)
	if o == nil {
		return Source{}, false
	}
	o.only(sourceKeys...)
	s := Source{Pos: p.pos(o.node)}
	if s.Type = o.str("type", true); s.Type != "" {
		p.enum(o.at("type"), o.prefix("type"), s.Type, sourceTypes)
	}
	live := s.Type == SourceSlackAPI || s.Type == SourceJiraAPI
	s.Path = o.str("path", !live && s.Type != "")
	if s.Type == "" {
		s.Path = o.str("path", true)
	}
	s.History = o.boolean("history")
	if s.History && s.Type != "git" && s.Type != "" {
		p.errorf(o.at("history"), "%s: history applies to git sources only", o.where())
	}
	if !live {
		for _, k := range []string{"url", "token", "jql"} {
			if v := o.vals[k]; v != nil && !isNull(v) && s.Type != "" {
				p.errorf(o.keys[k], "%s: %s applies to %s and %s sources only", o.where(), k, SourceSlackAPI, SourceJiraAPI)
			}
		}
		return s, true
	}
	if s.Path != "" {
		p.errorf(o.at("path"), "%s: a %s source is read through its API and has no path", o.where(), s.Type)
	}
	if v := o.vals["jql"]; v != nil && !isNull(v) && s.Type != SourceJiraAPI {
		p.errorf(o.keys["jql"], "%s: jql applies to %s sources only", o.where(), SourceJiraAPI)
	}
	s.JQL = o.str("jql", false)
	if u := o.str("url", s.Type == SourceJiraAPI); u != "" {
		if err := baseURL(u); err != nil {
			p.errorf(o.at("url"), "%s: url: %v", o.where(), err)
		} else {
			s.URL = u
		}
	}
	s.Token = p.ref(o, "token", "the API token")
	return s, true
}

var (
	errURLShape       = errors.New("want an http:// or https:// base URL with a host")
	errURLCredentials = errors.New("holds credentials in its URL: the inventory lives in git, so treat them as leaked and give them as a reference (env:VAR or file:PATH)")
)

// baseURL checks an API's base URL: absolute http(s) with a host, no
// credentials in it (the inventory lives in git), no query or fragment.
func baseURL(e string) error {
	u, err := url.Parse(e)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return errURLShape
	case u.User != nil:
		return errURLCredentials
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("a base URL has no query or fragment")
	}
	return nil
}

// ref reads a required reference (env:VAR or file:PATH) under key.
func (p *parser) ref(o *obj, key, what string) Ref {
	if v := o.vals[key]; v == nil || isNull(v) {
		p.errorf(o.at(key), "%s: missing %s: %s, as env:VAR or file:PATH", o.where(), key, what)
		return Ref{}
	}
	return p.secretRef(o, key)
}

func (p *parser) log(n *yaml.Node, i int) (Log, bool) {
	o, _ := p.item(n, "logs", "", i, false)
	if o == nil {
		return Log{}, false
	}
	o.only(logKeys...)
	l := Log{Pos: p.pos(o.node)}
	if l.Type = o.str("type", false); l.Type != "" {
		p.enum(o.at("type"), o.prefix("type"), l.Type, LogFormats)
	}
	if l.Path = o.str("path", true); l.Path != "" && !doublestar.ValidatePattern(filepath.ToSlash(l.Path)) {
		p.errorf(o.at("path"), "%s: %s is not a valid glob", o.prefix("path"), quote(l.Path))
	}
	if l.Prefix = o.str("prefix", false); l.Prefix != "" && l.Type != "postgres-stderr" {
		p.errorf(o.at("prefix"), "%s: prefix (a log_line_prefix) applies to type postgres-stderr only", o.where())
	}
	switch v := o.vals["fields"]; {
	case v != nil && !isNull(v) && l.Type != "jsonl":
		p.errorf(o.at("fields"), "%s: fields (a field mapping) applies to type jsonl only", o.where())
	case v != nil && !isNull(v):
		l.Fields = p.jsonFields(v, o.prefix("fields"))
	case l.Type == "jsonl":
		p.errorf(o.at("type"), "%s: type jsonl needs fields: where the time and the credential are in each record, like {time: ts, credential: user.key_id}", o.where())
	}
	return l, true
}

// jsonFields decodes a jsonl log's field mapping. It checks what the
// jsonl parser will (the time and credential are given, the paths and the
// time format are well formed) so that a mistake points at its line.
func (p *parser) jsonFields(v *yaml.Node, what string) *JSONFields {
	o := p.object(v, what, what)
	if o == nil {
		return nil
	}
	o.only(fieldsKeys...)
	f := &JSONFields{Pos: p.pos(o.node)}
	for _, k := range []struct {
		key      string
		dst      *string
		required bool
	}{
		{"time", &f.Time, true}, {"credential", &f.Credential, true}, {"identity", &f.Identity, false},
		{"source", &f.Source, false}, {"user_agent", &f.UserAgent, false}, {"application", &f.Application, false},
		{"action", &f.Action, false}, {"outcome", &f.Outcome, false},
	} {
		if *k.dst = o.str(k.key, k.required); *k.dst != "" {
			if err := checkFieldPath(*k.dst); err != nil {
				p.errorf(o.at(k.key), "%s: %v", o.prefix(k.key), err)
			}
		}
	}
	if f.TimeFormat = o.str("time_format", false); f.TimeFormat != "" {
		if err := checkTimeFormat(f.TimeFormat); err != nil {
			p.errorf(o.at("time_format"), "%s: %v", o.prefix("time_format"), err)
		}
	}
	f.Failure, _ = o.strings("failure")
	if len(f.Failure) > 0 && f.Outcome == "" {
		p.errorf(o.at("failure"), "%s: failure values need outcome: the path of the value they are compared with", what)
	}
	return f
}

// checkFieldPath checks a dotted path into a JSON record.
func checkFieldPath(path string) error {
	if strings.TrimSpace(path) != path || strings.ContainsAny(path, "\n\r\x00") {
		return errors.New("has surrounding spaces or control characters")
	}
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			return fmt.Errorf("%s has an empty segment: write a dotted path like user.key_id", quote(path))
		}
	}
	return nil
}

// checkTimeFormat accepts rfc3339, unix, unix_ms and Go layouts that hold
// a date or time element (the jsonl parser's formats).
func checkTimeFormat(f string) error {
	switch f {
	case "rfc3339", "unix", "unix_ms":
		return nil
	}
	ref := time.Date(2017, 8, 9, 13, 47, 51, 0, time.UTC)
	if s := ref.Format(f); s == f {
		return fmt.Errorf("%s is not rfc3339, unix, unix_ms or a Go time layout like \"2006-01-02 15:04:05\"", quote(f))
	} else if _, err := time.Parse(f, s); err != nil {
		return fmt.Errorf("%s is a Go time layout that cannot be read back", quote(f))
	}
	return nil
}

func (p *parser) policy(v *yaml.Node) Policy {
	o := p.object(v, "policy", "policy")
	if o == nil {
		return Policy{}
	}
	o.only(policyKeys...)
	pol := Policy{Pos: p.pos(o.node)}
	kinds, nodes := o.strings("approve")
	for j, k := range kinds {
		if p.enum(nodes[j], "policy: approve: step kind", k, StepKinds) {
			pol.Approve = append(pol.Approve, k)
		}
	}
	if s := o.str("ttl", false); s != "" {
		d, err := ParseTTL(s)
		if err != nil {
			p.errorf(o.at("ttl"), "policy: ttl: %v", err)
		}
		pol.TTL = d
	}
	return pol
}

// ParseTTL parses a credential lifetime: a Go duration (720h, 90m) or a
// whole number of days or weeks (30d, 2w). It must be positive.
func ParseTTL(s string) (time.Duration, error) {
	bad := fmt.Errorf("%s: want a duration with a unit, like 720h, 30d or 2w", quote(s))
	var d time.Duration
	if n, unit := strings.TrimRight(s, "dw"), strings.TrimLeft(s, "0123456789"); n != s && (unit == "d" || unit == "w") {
		v, err := strconv.Atoi(n)
		if err != nil || v > 100*365 {
			return 0, bad
		}
		d = time.Duration(v) * 24 * time.Hour
		if unit == "w" {
			d *= 7
		}
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, bad
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%s: must be longer than zero", quote(s))
	}
	return d, nil
}
