package plan

// LoginName is the login a system of systemType gives identity base for
// tag (a consumer's name, a lease's random tag): base_tag in the
// characters every system accepts unquoted, cut to the system's length
// limit with a hash suffix of tag so that two tags never share a name
// (see loginName). The broker names its leases with it.
func LoginName(systemType, base, tag string) string { return loginName(systemType, base, tag, true) }
