package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/engine"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/review"
	"github.com/rekeyhq/rekey/internal/store"
)

// Frameworks the standards section maps to.
const (
	OWASPNHI = "OWASP Non-Human Identities Top 10 2025"
	NISTCSF  = "NIST CSF 2.0"
	NISTAI   = "NIST AI RMF 1.0"
	ATTACK   = "MITRE ATT&CK"
)

// Control is one entry of a framework that this incident showed, with the
// fact of the incident that maps it. A control whose fact is absent is
// not listed: the section says what happened, not what could have.
type Control struct {
	Framework string `json:"framework"`
	ID        string `json:"id"`
	Name      string `json:"name"`
	// Note relates the id to an older name (CSF 1.1's PR.AC-4).
	Note string `json:"note,omitempty"`
	// Trigger is the fact of this incident behind the mapping.
	Trigger string `json:"trigger"`
}

// signals are the facts of an incident the standards and the remaining
// risks are decided on, gathered once from the report.
type signals struct {
	copies      map[string]int // by location class
	files       []string       // classes of copies in files (code, config, ci, iac, history)
	messages    []string       // chat and ticket copies, as class n
	longLived   bool
	validUntil  *time.Time
	overPriv    []string
	consumers   int // declared
	reuse       []string
	reuseOther  []string // reuse in another system than the identity's
	thirdParty  []string
	agent       bool
	identity    string
	weakMethod  string
	unexplained []string
	derived     []string
	derivedBy   map[string][]string // derived credentials by the review's kind
	anomalies   []string            // finding kinds that are signs of misuse
	reviews     []string
	reviewed    int // events the reviews read
	revokedAt   *time.Time
	contained   []string // finished revoke, isolate, terminate-sessions steps
	disengaged  []string // finished isolate and terminate-sessions steps
	eradicated  []string // finished revoke-related steps, done remediation tasks
	issued      int
	undeclared  []string
	identified  bool
	risk        int
	evidence    int // copies and events recorded with their place
	auditN      int
	auditOK     bool
	auditBreaks int
	appToken    string // the secret's kind when it is an application access token
	systemType  string
	// keyPlaces are the x509 and ssh systems that identified a leaked
	// private key; certificates, the certificates carrying it.
	keyPlaces    []string
	certificates []string
}

// cloudTypes are system types whose identities are cloud accounts
// (ATT&CK T1078.004); other systems' are plain valid accounts (T1078).
var cloudTypes = map[string]bool{"aws": true, "aws-iam": true, "gcp": true, "gcp-iam": true, "azure": true, "github": true, "gitlab": true}

// weakMethods are stored verifiers the providers identify that their
// own projects deprecate: PostgreSQL md5, MySQL's pre-4.1 hash.
var weakMethods = map[string]bool{"md5": true, "mysql_old_password": true}

// appToken reports whether a detection rule's id names an application
// access token (OAuth, GitHub App, bot and app tokens): ATT&CK T1528.
func appToken(kind string) bool {
	k := strings.ToLower(kind)
	for _, s := range []string{"oauth", "to-server-token", "bot-token", "app-token", "refresh-token"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func gather(r *Incident, inv *inventory.Inventory) signals {
	sc := r.Scope
	s := signals{copies: r.Copies.ByClass, longLived: sc.Flags.LongLived, validUntil: sc.Identity.ValidUntil, agent: sc.Flags.Agent,
		identified: sc.Identity.Status == "identified", risk: sc.Risk.Score, auditN: r.Audit.IncidentEntries, auditOK: r.Audit.Intact,
		auditBreaks: len(r.Audit.Breaks), revokedAt: r.Facts.RevokedAt, issued: len(r.Response.Issued)}
	if s.identified {
		s.identity = sc.Identity.System + "/" + sc.Identity.Name
	}
	for _, c := range []string{"code", "config", "ci", "iac", "history"} {
		if n := s.copies[c]; n > 0 {
			s.files = append(s.files, fmt.Sprintf("%s %d", c, n))
		}
	}
	for _, c := range []string{"chat", "ticket"} {
		if n := s.copies[c]; n > 0 {
			s.messages = append(s.messages, fmt.Sprintf("%s %d", c, n))
		}
	}
	for _, p := range sc.Identity.Privileges {
		if (p.Risk == "critical" || p.CreatesCredentials) && !p.Kept {
			s.overPriv = append(s.overPriv, p.Name)
		}
	}
	if !sc.Flags.OverPrivileged {
		s.overPriv = nil
	}
	for _, c := range sc.Consumers {
		if c.Declared {
			s.consumers++
		}
		if c.ThirdParty {
			s.thirdParty = append(s.thirdParty, c.Name)
		}
		if !c.Declared && c.Observed {
			s.undeclared = append(s.undeclared, c.Name)
		}
	}
	if sc.Flags.ThirdParty && len(s.thirdParty) == 0 {
		s.thirdParty = []string{s.identity + " (held by a third party)"}
	}
	for _, ru := range sc.Reuse {
		s.reuse = append(s.reuse, ru.System+"/"+ru.Name)
		if ru.System != sc.Identity.System {
			s.reuseOther = append(s.reuseOther, ru.System+"/"+ru.Name)
		}
	}
	if weakMethods[sc.Identity.Method] {
		s.weakMethod = sc.Identity.Method
	}
	for _, u := range sc.Unexplained {
		s.unexplained = appendNew(s.unexplained, u.Source)
	}
	for _, rv := range r.Reviews {
		s.reviews = append(s.reviews, rv.Phase)
		s.reviewed += rv.Review.Events
		for _, rel := range rv.Review.Related {
			s.derived = appendNew(s.derived, rel.Kind+" "+rel.Credential)
			if s.derivedBy == nil {
				s.derivedBy = map[string][]string{}
			}
			s.derivedBy[rel.Kind] = appendNew(s.derivedBy[rel.Kind], rel.Credential)
		}
		for _, f := range rv.Review.Findings {
			if f.Severity == review.Info || f.Kind == review.KindNoBaseline {
				continue
			}
			s.anomalies = appendNew(s.anomalies, f.Kind)
			if f.Kind == review.KindNewSource {
				for _, e := range f.Evidence {
					s.unexplained = appendNew(s.unexplained, e.Source)
				}
			}
		}
	}
	for _, st := range r.Response.Steps {
		if st.State != engine.Done {
			continue
		}
		switch plan.Kind(st.Kind) {
		case plan.Revoke:
			s.contained = append(s.contained, st.ID)
		case plan.Isolate, plan.TerminateSessions:
			s.contained = append(s.contained, st.ID)
			s.disengaged = append(s.disengaged, st.ID)
		case plan.RevokeRelated:
			s.eradicated = append(s.eradicated, st.ID)
		}
	}
	for _, t := range r.Copies.Tasks {
		if t.State == store.TaskDone {
			s.eradicated = append(s.eradicated, "task "+t.ID)
		}
	}
	s.evidence = r.Copies.Total
	for _, rv := range r.Reviews {
		s.evidence += len(rv.Review.Timeline)
	}
	if appToken(sc.Secret.Kind) {
		s.appToken = sc.Secret.Kind
	}
	if inv != nil {
		if sys := inv.SystemByName(sc.Identity.System); sys != nil {
			s.systemType = sys.Type
		}
	}
	s.keyPlaces, s.certificates = keySignals(sc, inv)
	return s
}

func appendNew(s []string, v string) []string {
	if v == "" || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func list(s []string) string {
	if len(s) > 6 {
		return strings.Join(s[:6], ", ") + fmt.Sprintf(" and %d more", len(s)-6)
	}
	return strings.Join(s, ", ")
}

// mapControls lists the controls this incident's facts trigger, in framework
// order. Each rule below names its fact; nothing is listed without one.
func mapControls(s signals) []Control {
	out := []Control{}
	add := func(fw, id, name, trigger string) {
		out = append(out, Control{Framework: fw, ID: id, Name: name, Trigger: trigger})
	}
	total := 0
	for _, n := range s.copies {
		total += n
	}

	// OWASP Non-Human Identities Top 10 (2025). NHI6 (cloud deployment
	// configuration) and NHI10 (human use of an NHI) rest on facts rekey
	// does not establish, so they are never mapped.
	if len(s.derived) > 0 {
		add(OWASPNHI, "NHI1:2025", "Improper Offboarding", "credentials obtained with the leaked one outlive its rotation unless revoked: "+list(s.derived))
	}
	if total > 0 {
		add(OWASPNHI, "NHI2:2025", "Secret Leakage", fmt.Sprintf("%s of the secret found: %s", plural(total, "copy", "copies"), classList(s.copies)))
	}
	if len(s.thirdParty) > 0 {
		add(OWASPNHI, "NHI3:2025", "Vulnerable Third-Party NHI", "a third party holds the credential: "+list(s.thirdParty))
	}
	if s.weakMethod != "" {
		add(OWASPNHI, "NHI4:2025", "Insecure Authentication", fmt.Sprintf("%s authenticates with %s, a deprecated password verifier", s.identity, s.weakMethod))
	}
	if len(s.overPriv) > 0 {
		add(OWASPNHI, "NHI5:2025", "Overprivileged NHI", fmt.Sprintf("%s holds privileges beyond its job: %s", s.identity, list(s.overPriv)))
	}
	if s.longLived {
		exp := "never expires"
		if s.validUntil != nil {
			exp = "expires " + ts(*s.validUntil) + ", more than 90 days away"
		}
		add(OWASPNHI, "NHI7:2025", "Long-Lived Secrets", fmt.Sprintf("the leaked secret of %s %s", s.identity, exp))
	}
	if len(s.reuseOther) > 0 {
		add(OWASPNHI, "NHI8:2025", "Environment Isolation", "the same secret opens identities in other systems: "+list(s.reuseOther))
	}
	if s.consumers > 1 || len(s.reuse) > 0 {
		var why []string
		if s.consumers > 1 {
			why = append(why, fmt.Sprintf("%d consumers share it", s.consumers))
		}
		if len(s.reuse) > 0 {
			why = append(why, "it also authenticates "+list(s.reuse))
		}
		add(OWASPNHI, "NHI9:2025", "NHI Reuse", strings.Join(why, "; "))
	}

	// NIST CSF 2.0 subcategories.
	if s.issued > 0 || len(s.undeclared) > 0 {
		var why []string
		if s.issued > 0 {
			why = append(why, fmt.Sprintf("the response issued %s, each with a lease and expiry", plural(s.issued, "replacement credential", "replacement credentials")))
		}
		if len(s.undeclared) > 0 {
			why = append(why, "consumers the inventory does not declare use it: "+list(s.undeclared))
		}
		add(NISTCSF, "PR.AA-01", "Identities and credentials for authorized users, services, and hardware are managed by the organization", strings.Join(why, "; "))
	}
	if len(s.overPriv) > 0 {
		c := Control{Framework: NISTCSF, ID: "PR.AA-05", Note: "PR.AC-4 in CSF 1.1",
			Name:    "Access permissions, entitlements, and authorizations are defined in a policy, managed, enforced, and reviewed, and incorporate the principles of least privilege and separation of duties",
			Trigger: fmt.Sprintf("%s held %s, beyond its job (the inventory does not say to keep it)", s.identity, list(s.overPriv))}
		out = append(out, c)
	}
	if len(s.anomalies) > 0 || len(s.unexplained) > 0 {
		var why []string
		if len(s.unexplained) > 0 {
			why = append(why, "use from sources no consumer declares: "+list(s.unexplained))
		}
		if len(s.anomalies) > 0 {
			why = append(why, "the review's findings: "+list(s.anomalies))
		}
		add(NISTCSF, "DE.CM-03", "Personnel activity and technology usage are monitored to find potentially adverse events", strings.Join(why, "; "))
	}
	if len(s.reviews) > 0 {
		add(NISTCSF, "RS.AN-03", "Analysis is performed to establish what has taken place during an incident and the root cause of the incident",
			fmt.Sprintf("the credential's use was reviewed (%s phase): %s read", strings.Join(s.reviews, ", "), plural(s.reviewed, "event", "events")))
	}
	if s.auditN > 0 {
		state := "the hash chain verifies intact"
		if !s.auditOK {
			state = fmt.Sprintf("the hash chain is BROKEN (%s)", plural(s.auditBreaks, "break", "breaks"))
		}
		add(NISTCSF, "RS.AN-06", "Actions performed during an investigation are recorded, and the records' integrity and provenance are preserved",
			fmt.Sprintf("%s in the audit log, each with its actor; %s", plural(s.auditN, "action", "actions"), state))
	}
	if s.evidence > 0 {
		add(NISTCSF, "RS.AN-07", "Incident data and metadata are collected, and their integrity and provenance are preserved",
			fmt.Sprintf("%s recorded with file:line (and commit or export reference)", plural(s.evidence, "copy or log event", "copies and log events")))
	}
	if s.identified {
		add(NISTCSF, "RS.AN-08", "An incident's magnitude is estimated and validated",
			fmt.Sprintf("the blast radius of %s was computed from its privileges, copies, consumers and uses: risk %d/100", s.identity, s.risk))
	}
	if len(s.contained) > 0 {
		add(NISTCSF, "RS.MI-01", "Incidents are contained", "finished: "+list(s.contained))
	}
	if len(s.eradicated) > 0 {
		add(NISTCSF, "RS.MI-02", "Incidents are eradicated", "finished: "+list(s.eradicated))
	}
	if len(s.thirdParty) > 0 {
		add(NISTCSF, "GV.SC-08", "Relevant suppliers and other third parties are included in incident planning, response, and recovery activities",
			"the plan hands the partner its replacement and waits for its change window: "+list(s.thirdParty))
	}

	// NIST AI RMF: only for an identity the inventory marks kind: agent.
	if s.agent {
		add(NISTAI, "GOVERN 1.6", "Mechanisms are in place to inventory AI systems and are resourced according to organizational risk priorities",
			s.identity+" is inventoried as an autonomous agent's identity (kind: agent)")
		if s.revokedAt != nil {
			add(NISTAI, "GOVERN 1.7", "Processes and procedures are in place for decommissioning and phasing out AI systems safely and in a manner that does not increase risks or decrease the organization's trustworthiness",
				"the agent's leaked credential was retired at "+ts(*s.revokedAt)+" after its consumers had replacements")
		}
		if len(s.disengaged) > 0 {
			add(NISTAI, "MANAGE 2.4", "Mechanisms are in place and applied, and responsibilities are assigned and understood, to supersede, disengage, or deactivate AI systems that demonstrate performance or outcomes inconsistent with intended use",
				"the agent's access was disengaged: "+list(s.disengaged))
		}
	}

	// MITRE ATT&CK techniques the incident exposed the credential to.
	if len(s.files) > 0 {
		add(ATTACK, "T1552.001", "Unsecured Credentials: Credentials In Files", "copies in files: "+strings.Join(s.files, ", "))
	}
	if len(s.messages) > 0 {
		add(ATTACK, "T1552.008", "Unsecured Credentials: Chat Messages", "copies in chat or collaboration tools (ATT&CK names Slack and Jira): "+strings.Join(s.messages, ", "))
	}
	if len(s.unexplained) > 0 {
		if cloudTypes[s.systemType] {
			add(ATTACK, "T1078.004", "Valid Accounts: Cloud Accounts", fmt.Sprintf("the %s account %s was used from %s", s.systemType, s.identity, list(s.unexplained)))
		} else {
			add(ATTACK, "T1078", "Valid Accounts", fmt.Sprintf("%s was used from %s, which no consumer declares", s.identity, list(s.unexplained)))
		}
	}
	if s.appToken != "" {
		add(ATTACK, "T1528", "Steal Application Access Token", "the leaked secret is an application access token ("+s.appToken+")")
	}
	out = append(out, keyControls(s)...)
	// What the derived credentials were, in the techniques that fit the
	// system: a new account (a database role or user is not an operating
	// system's local account, so the parent technique), a changed one, and
	// additional credentials for a cloud account.
	cloud := cloudTypes[s.systemType]
	by := func(kinds ...string) []string {
		var out []string
		for _, k := range kinds {
			for _, c := range s.derivedBy[k] {
				out = append(out, k+" "+c)
			}
		}
		return out
	}
	if created := by("role", "user-mapping"); len(created) > 0 {
		if cloud {
			add(ATTACK, "T1136.003", "Create Account: Cloud Account", fmt.Sprintf("the leaked credential created %s account(s): %s", s.systemType, list(created)))
		} else {
			out = append(out, Control{Framework: ATTACK, ID: "T1136", Name: "Create Account",
				Note:    "a " + cmp.Or(s.systemType, "database") + " account: ATT&CK has no sub-technique for database accounts (T1136.001 is an operating system's local account)",
				Trigger: "the leaked credential created account(s) in " + cmp.Or(s.systemType, "the system") + ": " + list(created)})
		}
	}
	changed := by("password", "grant", "login-profile")
	if creds := by("access-key", "token", "credential"); cloud && len(creds) > 0 {
		add(ATTACK, "T1098.001", "Account Manipulation: Additional Cloud Credentials", "the leaked credential added credentials to a cloud account: "+list(creds))
	} else {
		changed = append(changed, creds...)
	}
	if len(changed) > 0 {
		add(ATTACK, "T1098", "Account Manipulation", "the leaked credential changed accounts, their privileges or their credentials: "+list(changed))
	}
	return out
}

func classList(m map[string]int) string {
	known := []string{"code", "config", "ci", "iac", "history", "chat", "ticket"}
	var parts, other []string
	for _, c := range known {
		if m[c] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, m[c]))
		}
	}
	for c, n := range m {
		if !slices.Contains(known, c) && n > 0 {
			other = append(other, fmt.Sprintf("%s %d", c, n))
		}
	}
	slices.Sort(other)
	return strings.Join(append(parts, other...), ", ")
}

// remaining lists what is still to act on, most severe first.
func remaining(s signals, r *Incident) []RemainingRisk {
	out := []RemainingRisk{}
	add := func(kind, sev, format string, a ...any) {
		out = append(out, RemainingRisk{Kind: kind, Severity: sev, Summary: fmt.Sprintf(format, a...)})
	}
	if s.revokedAt == nil && s.identified {
		add("old-credential-active", "critical", "The leaked secret of %s still works: no revoke has finished.", s.identity)
	}
	for _, rv := range r.Reviews {
		for _, f := range rv.Review.Findings {
			if f.Kind == review.KindUseAfterRevocation && f.Severity == review.Critical {
				add("use-after-revocation", "critical", "%s", f.Summary)
			}
		}
	}
	revoked := ""
	for _, st := range r.Response.Steps {
		if st.Kind == string(plan.RevokeRelated) && st.State == engine.Done {
			revoked += " " + st.Target + " " + st.Detail
		}
	}
	var open []string
	for _, rv := range r.Reviews {
		for _, rel := range rv.Review.Related {
			if !strings.Contains(revoked, rel.Credential) {
				open = appendNew(open, rel.Kind+" "+rel.Credential)
			}
		}
	}
	if len(open) > 0 {
		add("derived-not-revoked", "critical", "Credentials obtained with the leaked one are not revoked and survive its rotation: %s.", list(open))
	}
	var unverified []string
	verified := map[string]bool{}
	for _, st := range r.Response.Steps {
		if st.Kind == string(plan.Verify) && st.State == engine.Done {
			verified[st.Consumer] = true
		}
	}
	for _, st := range r.Response.Steps {
		if st.Kind == string(plan.Verify) && !verified[st.Consumer] {
			unverified = appendNew(unverified, st.Consumer)
		}
	}
	if len(unverified) > 0 {
		add("consumers-unverified", "high", "Consumers not yet verified on their replacement: %s.", list(unverified))
	}
	if len(s.undeclared) > 0 {
		add("undeclared-consumers", "high", "Consumers use the secret that the inventory does not declare (they got no replacement): %s.", list(s.undeclared))
	}
	if !r.Audit.Intact {
		add("audit-broken", "high", "The audit log's hash chain is broken (%s): this report's timeline may not be what happened.", plural(len(r.Audit.Breaks), "break", "breaks"))
	}
	if n := len(r.Copies.Remaining); n > 0 {
		byClass := map[string]int{}
		for _, c := range r.Copies.Remaining {
			byClass[c.Class]++
		}
		sev := "medium"
		for _, c := range []string{"chat", "ticket", "ci", "history"} {
			if byClass[c] > 0 {
				sev = "high"
			}
		}
		add("copies-remaining", sev, "%s of the secret remain (%s); each still shows the old secret to whoever can read it.", plural(n, "copy", "copies"), classList(byClass))
		if byClass["history"] > 0 {
			add("history-not-rewritten", "medium", "Git history still holds %s: rewrite it (rekey incident remediate --rewrite-history) or accept that the old secret stays readable there.",
				plural(byClass["history"], "copy", "copies"))
		}
	}
	for _, is := range r.Response.Issued {
		if is.State != store.LeaseActive {
			continue
		}
		switch {
		case is.Expires == nil:
			add("lease-without-expiry", "medium", "%s/%s was issued without an expiry.", is.System, is.Login)
		case !is.Enforced:
			add("lease-not-enforced", "low", "%s/%s expires %s, but its system does not enforce it: rekey must revoke it then (rekey leases).", is.System, is.Login, ts(*is.Expires))
		}
	}
	for _, p := range r.Scope.NotSearched {
		add("not-searched", "medium", "System %s could not be searched (%s): the secret may open an identity there too.", p.System, p.Error)
	}
	if len(r.Reviews) == 0 {
		add("not-reviewed", "medium", "What the credential did while exposed has not been reviewed (rekey incident review).")
	}
	rank := map[string]int{"critical": 0, "high": 1, "medium": 2, "low": 3}
	slices.SortStableFunc(out, func(a, b RemainingRisk) int { return rank[a.Severity] - rank[b.Severity] })
	return out
}
