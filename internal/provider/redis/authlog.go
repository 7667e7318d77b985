package redis

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/provider"
)

var _ provider.AuthLogReader = (*Redis)(nil)

// aclLogLen is how many entries one read asks for: Redis keeps 128 by
// default (acllog-max-len).
const aclLogLen = "1024"

// AuthLog implements provider.AuthLogReader with ACL LOG: refused AUTHs
// (a wrong password, a user that is off or missing) and commands, keys or
// channels a logged-in user may not touch. Redis folds repeats of the same
// refusal by the same client into one entry, counted, and keeps the time
// of the last as an age; the key is the client's connection id and
// address, the user, the reason and the object. Reading it needs +acl|log
// (or +@admin).
func (p *Redis) AuthLog(ctx context.Context) ([]provider.AuthLogEntry, error) {
	out, err := p.authLog(ctx)
	return out, p.san.Scrub(err)
}

func (p *Redis) authLog(ctx context.Context) ([]provider.AuthLogEntry, error) {
	const what = "acl log"
	now := time.Now()
	vs, err := p.exec(ctx, what, []string{"ACL", "LOG", aclLogLen})
	if err != nil {
		return nil, err
	}
	if se, ok := vs[0].err().(*serverError); ok {
		return nil, p.replyErr(what, "+acl|log (or +@admin) to read the ACL log", se)
	}
	if vs[0].kind != '*' {
		return nil, errs.New(p.op, errs.Other, "", what+": not an array")
	}
	var out []provider.AuthLogEntry
	// Newest first on the wire; oldest first out.
	for i := len(vs[0].arr) - 1; i >= 0; i-- {
		m, ok := vs[0].arr[i].fields()
		if !ok {
			return nil, errs.New(p.op, errs.Other, "", what+": an entry is not a map")
		}
		text := func(k string) string { s, _ := m[k].text(); return s }
		e := provider.AuthLogEntry{Count: int(m["count"].num), Reason: text("reason"), Object: text("object"), Login: text("username")}
		var id string
		for _, f := range strings.Fields(text("client-info")) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "addr":
				e.Client = v
			case "id":
				id = v
			}
		}
		age, _ := strconv.ParseFloat(text("age-seconds"), 64)
		e.Last = now.Add(-time.Duration(age * float64(time.Second)))
		if ms := m["timestamp-last-updated"].num; ms > 0 {
			e.Last = time.UnixMilli(ms)
		}
		e.Key = strings.Join([]string{id, e.Client, e.Login, e.Reason, text("context"), e.Object}, "\x00")
		if eid := m["entry-id"]; eid.kind == ':' {
			e.Key = strconv.FormatInt(eid.num, 10) + "\x00" + e.Key
		}
		out = append(out, e)
	}
	return out, nil
}
