# The broker's default policy: rekey evaluates it at every credential
# request unless the inventory's broker.policy names a file.
#
# input: {workload: {issuer, subject, claims}, request: {role, ttl},
#         time, source, identity: {under_incident, risk, kind}}
# data.rekey.roles[NAME]: {system, like, identity, ttl, max_ttl,
#         issuers, subjects, claims}, from the inventory (TTLs in seconds)
#
# A request is granted when allow is true and deny is empty; the lease
# lives min(requested, role ttl/max_ttl, max_ttl) seconds.
package rekey.broker

# The longest lease an autonomous agent's identity gets: its behaviour
# changes at runtime, so what it holds must expire soon.
agent_max_ttl := 300

# The longest lease any workload gets, whatever its role allows.
ceiling_ttl := 43200

role := data.rekey.roles[input.request.role]

default allow := false

allow if role

deny contains "unknown-role" if not role

deny contains "under-incident" if input.identity.under_incident == true

deny contains "issuer-not-permitted" if {
	count(object.get(role, "issuers", [])) > 0
	not input.workload.issuer in role.issuers
}

deny contains "role-permits-no-workload" if {
	count(object.get(role, "subjects", [])) == 0
	count(object.get(role, "claims", {})) == 0
}

deny contains "subject-not-permitted" if {
	count(object.get(role, "subjects", [])) > 0
	not subject_permitted
}

deny contains "claims-not-permitted" if {
	some path, pattern in object.get(role, "claims", {})
	not claim_matches(path, pattern)
}

# Patterns are globs: * matches any run of characters (/ and : included),
# ? one character, [abc] one of a set.
subject_permitted if {
	some pattern in role.subjects
	glob.match(pattern, null, input.workload.subject)
}

# A claim is named by its path, "/" between levels (kubernetes.io/namespace);
# a value that is not a string is matched as its JSON text (true, 42).
claim_matches(path, pattern) if {
	v := object.get(input.workload.claims, split(path, "/"), null)
	v != null
	glob.match(pattern, null, text(v))
}

text(v) := v if is_string(v)

text(v) := json.marshal(v) if not is_string(v)

max_ttl := min([role.max_ttl, agent_max_ttl]) if input.identity.kind == "agent"

max_ttl := min([role.max_ttl, ceiling_ttl]) if input.identity.kind != "agent"
