package mysql

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/testutil"
)

// The described statements are the ones Issue, a resumed Issue,
// TerminateSessions and Revoke send: the server's general log, read for
// the provider's own connections, records exactly them, with the stored
// hash where the mask is. Describing sends nothing, and neither the
// secret nor its hash is in a description.
func TestDescribeMatchesWhatIsSent(t *testing.T) {
	t.Parallel()
	p, s := openTest(t)
	if !generalLog.on {
		t.Skip("the general log is not written to mysql.general_log in this run")
	}
	ctx := context.Background()
	db, role := fixtureDB(t, s), newName()
	s.createRole(t, role)
	s.exec(t, "GRANT CREATE USER ON *.* TO "+role)
	s.exec(t, "GRANT SELECT ON `"+db+"`.* TO "+role)
	from := newName()
	s.createUser(t, from, "%", "IDENTIFIED BY ? WITH MAX_USER_CONNECTIONS 5", "src-"+testutil.RandomName("pw"))
	s.exec(t, "GRANT INSERT, UPDATE ON `"+db+"`.orders TO ?@'%' WITH GRANT OPTION", from)
	s.exec(t, "GRANT "+role+" TO ?@'%'", from)
	s.exec(t, "SET DEFAULT ROLE "+role+" FOR ?@'%'", from)

	name, pw := newName(), "new-"+testutil.RandomName("pw")
	hash := NativePassword([]byte(pw))
	req := provider.IssueRequest{From: ref(from), Name: name, Drop: []string{"CREATE USER ON *.*"}}
	mark := s.query1(t, "SELECT NOW(6)")
	described, err := p.DescribeIssue(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := sentSince(t, p, s, mark); len(got) != 0 {
		t.Fatalf("describing sent %q", got)
	}
	if len(described) < 3 || !strings.HasPrefix(described[0], "CREATE USER") {
		t.Fatalf("described issue %q", described)
	}
	req.Secret = secret.FromString(pw)
	mark = s.query1(t, "SELECT NOW(6)")
	issueT(t, p, req)
	compareSent(t, "issue", described, sentSince(t, p, s, mark), hash)

	// Converging the existing login sends only its password again.
	if described, err = p.DescribeIssue(ctx, req); err != nil {
		t.Fatal(err)
	}
	mark = s.query1(t, "SELECT NOW(6)")
	if _, err := p.Issue(ctx, req); err != nil {
		t.Fatal(err)
	}
	compareSent(t, "resumed issue", described, sentSince(t, p, s, mark), hash)
	if len(described) != 1 || !strings.HasPrefix(described[0], "ALTER USER") {
		t.Errorf("described resumed issue %q", described)
	}

	_, conn := s.login(t, name, pw, "")
	if described, err = p.DescribeTerminate(ctx, ref(name)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"KILL CONNECTION " + conn.ID}; !cmp.Equal(described, want) {
		t.Fatalf("described terminate %q, want %q", described, want)
	}
	mark = s.query1(t, "SELECT NOW(6)")
	if n, err := p.TerminateSessions(ctx, ref(name), nil); err != nil || n != 1 {
		t.Fatalf("TerminateSessions = %d, %v", n, err)
	}
	compareSent(t, "terminate", described, sentSince(t, p, s, mark), hash)

	described, _ = p.DescribeRevoke(ctx, ref(name))
	mark = s.query1(t, "SELECT NOW(6)")
	if err := p.Revoke(ctx, ref(name)); err != nil {
		t.Fatal(err)
	}
	sent := sentSince(t, p, s, mark)
	// Revoke's password is random: its hash is masked by its form.
	for i := range sent {
		sent[i] = nativeHashLiteral.ReplaceAllString(sent[i], "'"+provider.Masked+"'")
	}
	compareSent(t, "revoke", described, sent, hash)

	if _, err := p.DescribeIssue(ctx, provider.IssueRequest{From: ref(newName()), Name: name}); err == nil {
		t.Error("an issue from a missing source was described")
	}
}

var nativeHashLiteral = regexp.MustCompile(`'\*[0-9A-F]{40}'`)

// compareSent fails when sent, with hash masked, is not described, or
// when the description holds the hash.
func compareSent(t *testing.T, what string, described, sent []string, hash string) {
	t.Helper()
	if len(sent) == 0 {
		t.Fatalf("%s: the general log recorded nothing sent (switched off meanwhile?)", what)
	}
	for i := range sent {
		sent[i] = strings.ReplaceAll(sent[i], hash, provider.Masked)
	}
	if diff := cmp.Diff(described, sent); diff != "" {
		t.Errorf("%s: described statements (-) and those sent (+):\n%s", what, diff)
	}
	for _, d := range described {
		if strings.Contains(d, hash) || nativeHashLiteral.MatchString(d) {
			t.Errorf("%s: a stored hash in %q", what, d)
		}
	}
}

// sentSince lists, from the general log, what p's own connections sent
// since mark (a NOW(6) of the server) besides reads, in the order the log
// holds them (mysql.general_log is a CSV table: appended in order).
func sentSince(t *testing.T, p *MySQL, s *server, mark string) []string {
	t.Helper()
	rows, err := s.db.Query(`SELECT thread_id, argument FROM mysql.general_log
		WHERE event_time >= ? AND command_type IN ('Query', 'Execute')`, mark)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var arg string
		if err := rows.Scan(&id, &arg); err != nil {
			t.Fatal(err)
		}
		arg = strings.TrimSpace(arg)
		head := strings.ToUpper(strings.SplitN(arg, " ", 2)[0])
		if !p.ownConn(id) || head == "SELECT" || head == "SHOW" {
			continue
		}
		out = append(out, arg)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
