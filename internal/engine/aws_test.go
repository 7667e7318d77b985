package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rekeyhq/rekey/internal/deliver"
	"github.com/rekeyhq/rekey/internal/deliver/awssm"
	"github.com/rekeyhq/rekey/internal/errs"
	"github.com/rekeyhq/rekey/internal/inventory"
	"github.com/rekeyhq/rekey/internal/plan"
	"github.com/rekeyhq/rekey/internal/provider"
	"github.com/rekeyhq/rekey/internal/provider/awsiam"
	"github.com/rekeyhq/rekey/internal/provider/awsiam/awsiamtest"
	"github.com/rekeyhq/rekey/internal/scope"
	"github.com/rekeyhq/rekey/internal/secret"
	"github.com/rekeyhq/rekey/internal/store"
	"github.com/rekeyhq/rekey/internal/store/sqlite"
)

const awsUser = "deploy-bot"

// awsWorld is one leaked AWS access key of an IAM user on the test
// server (which checks every request's SigV4 signature with the caller's
// secret), with consumers that read the key from dotenv files, the
// incident's plan built from the provider's own inspection, and the
// engine's dependencies.
type awsWorld struct {
	t                *testing.T
	srv              *awsiamtest.Server
	leakedID, leaked string
	dir              string
	st               store.Store
	inc              store.Incident
	inv              *inventory.Inventory
	deps             Deps
	prov             *awsiam.Provider
	plan             *plan.Plan
	consumers        []string
	onGenerate       func() // called as Generate starts
	generateCalls    int
	mu               sync.Mutex
	related          []plan.Related
	otherKey         string
}

type awsOpts struct {
	consumers []string
	strategy  plan.Strategy
	otherKey  bool // the user already holds a second key
	keyDelay  int  // requests a new key is refused for (IAM's eventual consistency)
	// prepare runs on the server before the plan is built (roles,
	// sessions), and returns the related credentials the review found.
	prepare func(w *awsWorld) []plan.Related
}

// watchedGenerator is the provider with Generate observed: the test sees
// what the system holds at the moment rekey asks for a new key.
type watchedGenerator struct {
	*awsiam.Provider
	w *awsWorld
}

func (g watchedGenerator) Generate(ctx context.Context, req provider.GenerateRequest) (*provider.Credential, error) {
	g.w.mu.Lock()
	g.w.generateCalls++
	hook := g.w.onGenerate
	g.w.mu.Unlock()
	if hook != nil {
		hook()
	}
	return g.Provider.Generate(ctx, req)
}

func newAWSWorld(t *testing.T, o awsOpts) *awsWorld {
	t.Helper()
	srv := awsiamtest.New()
	t.Cleanup(srv.Close)
	srv.SetKeyDelay(o.keyDelay)
	w := &awsWorld{t: t, srv: srv, dir: t.TempDir(), consumers: o.consumers}
	srv.CreateUser(awsUser)
	srv.PutUserPolicy(awsUser, "read-users", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetUser","iam:ListUsers"],"Resource":"*"}]}`)
	w.leakedID, w.leaked = srv.CreateKey(awsUser)
	if o.otherKey {
		w.otherKey, _ = srv.CreateKey(awsUser)
	}
	adminID, adminSecret := srv.AdminKey()
	adminJSON, _ := json.Marshal(map[string]string{"AccessKeyId": adminID, "SecretAccessKey": adminSecret})

	var yml strings.Builder
	fmt.Fprintf(&yml, "version: 1\nsystems:\n  - name: prod\n    type: aws-iam\n    admin: env:AWS_ADMIN\n    endpoint: %s\nidentities:\n  - name: %s\n    system: prod\nconsumers:\n", srv.URL, awsUser)
	for _, name := range o.consumers {
		env := filepath.Join(w.dir, name+".env")
		body := fmt.Sprintf("# %s\nAWS_REGION=us-east-1\nAWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n", name, w.leakedID, w.leaked)
		if err := os.WriteFile(env, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&yml, "  - name: %s\n    identity: %s\n    deliver: { type: file, path: %s, format: dotenv, key: AWS_SECRET_ACCESS_KEY, user_key: AWS_ACCESS_KEY_ID }\n    health: \"true\"\n", name, awsUser, env)
	}
	inv, rep, err := inventory.Parse(filepath.Join(w.dir, "inventory.yml"), []byte(yml.String()),
		inventory.Options{Getenv: func(string) string { return string(adminJSON) }})
	if err != nil || !rep.OK() {
		t.Fatalf("inventory: %v %v\n%s", err, rep.Errors, yml.String())
	}
	w.inv = inv
	p, err := awsiam.New(context.Background(), provider.Config{System: "prod", Admin: secret.New(adminJSON), Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	w.prov = p.(*awsiam.Provider)

	st, err := sqlite.Open(context.Background(), filepath.Join(w.dir, "rekey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	fp := sha256.Sum256([]byte(w.leaked))
	w.inc, _, err = st.OpenIncident(context.Background(), store.Incident{Fingerprint: secret.Fingerprint(hex.EncodeToString(fp[:])),
		Identity: store.IdentityRef{System: "prod", Name: awsUser}})
	if err != nil {
		t.Fatal(err)
	}
	if o.prepare != nil {
		w.related = o.prepare(w)
	}
	w.storePlan(o.strategy)

	w.deps = testDeps(st, inv, w.dir, w.inc.ID, func(context.Context, string) (provider.Provider, error) {
		return watchedGenerator{w.prov, w}, nil
	})
	return w
}

// storePlan builds the plan as the CLI does: the scope's related keys
// come from the provider's inspection of the leaked key's user.
func (w *awsWorld) storePlan(strategy plan.Strategy) {
	w.t.Helper()
	id, err := w.prov.Inspect(context.Background(), provider.IdentityRef{System: "prod", Name: awsUser, Key: w.leakedID})
	if err != nil {
		w.t.Fatal(err)
	}
	sc := scope.Scope{Incident: w.inc.ID,
		Identity: scope.Identity{Status: "identified", Name: awsUser, System: "prod", Declared: true, CanLogin: true, Privileges: []scope.Privilege{}}}
	for _, r := range id.Related {
		sc.Related = append(sc.Related, store.Related{Kind: r.Kind, Name: r.Name, Detail: r.Detail})
	}
	for _, c := range w.consumers {
		sc.Consumers = append(sc.Consumers, scope.Consumer{Name: c, Declared: true})
	}
	p, err := plan.Build(plan.Input{Scope: sc, Inventory: w.inv, Strategy: strategy, Related: w.related})
	if err != nil {
		w.t.Fatal(err)
	}
	w.plan = p
	putPlan(w.t, w.st, w.inc.ID, p)
}

func (w *awsWorld) run() Result { return runToTheEnd(w.t, w.deps, w.inc.ID) }

// runToTheEnd runs incident's plan, which must finish.
func runToTheEnd(t *testing.T, d Deps, incident string) Result {
	t.Helper()
	e, err := New(context.Background(), d, incident)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background())
	if err != nil || res.State != store.RunDone {
		t.Fatalf("run: %v %+v", err, res)
	}
	return res
}

// callerARN signs sts:GetCallerIdentity with a key, as a consumer's SDK
// would: the test server checks the signature with the key's secret and
// refuses an inactive or deleted key.
func (w *awsWorld) callerARN(id, sec string) (string, error) {
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(w.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(id, sec, "")})
	out, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Arn), nil
}

// delivered is the key id and secret a consumer's file holds.
func (w *awsWorld) delivered(consumer string) (id, sec string) {
	w.t.Helper()
	env := filepath.Join(w.dir, consumer+".env")
	id, err := dotenvValue(env, "AWS_ACCESS_KEY_ID")
	if err != nil {
		w.t.Fatal(err)
	}
	sec, err = dotenvValue(env, "AWS_SECRET_ACCESS_KEY")
	if err != nil {
		w.t.Fatal(err)
	}
	return id, sec
}

// checkRotated: the leaked key is refused, every consumer's file holds
// one new key (id and secret) that the server accepts as the user, and
// the user holds that key and want's others, nothing else; nothing is
// left sealed.
func (w *awsWorld) checkRotated(want ...string) string {
	w.t.Helper()
	if arn, err := w.callerARN(w.leakedID, w.leaked); err == nil {
		w.t.Errorf("the leaked key still authenticates (as %s)", arn)
	}
	newID := ""
	for _, c := range w.consumers {
		id, sec := w.delivered(c)
		if id == w.leakedID || sec == w.leaked {
			w.t.Fatalf("consumer %s still holds the leaked key", c)
		}
		if newID != "" && id != newID {
			w.t.Errorf("consumers hold different keys %s and %s; want the one new key", newID, id)
		}
		newID = id
		arn, err := w.callerARN(id, sec)
		if err != nil || !strings.HasSuffix(arn, ":user/"+awsUser) {
			w.t.Errorf("consumer %s's new key %s: %q %v", c, id, arn, err)
		}
	}
	var keys []string
	for _, k := range w.srv.Keys(awsUser) {
		keys = append(keys, k.ID)
	}
	if got, exp := strings.Join(keys, ","), strings.Join(append(want, newID), ","); got != exp {
		w.t.Errorf("the user holds keys %s, want %s", got, exp)
	}
	if names, _ := w.st.SealedNames(context.Background(), w.inc.ID); len(names) != 0 {
		w.t.Errorf("still sealed: %v", names)
	}
	return newID
}

// TestAWSGracefulRotation: a second key is created on the same user,
// delivered (key id to user_key, secret to key), verified through IAM's
// eventual consistency, and only then is the leaked key deleted.
func TestAWSGracefulRotation(t *testing.T) {
	w := newAWSWorld(t, awsOpts{consumers: []string{"api", "worker"}, strategy: plan.Graceful, keyDelay: 2})
	w.onGenerate = func() {
		if k, ok := w.srv.Key(w.leakedID); !ok || k.Status != "Active" {
			t.Errorf("graceful: the leaked key is %+v before the new one exists", k)
		}
	}
	dry, err := New(context.Background(), w.deps, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	acts, err := dry.DryRun(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acts {
		if a.Kind == plan.Deliver && (!strings.Contains(a.Change, "AWS_ACCESS_KEY_ID (plain): user") || !strings.Contains(a.Change, "AWS_SECRET_ACCESS_KEY (plain): password")) {
			t.Errorf("dry run of %s: %q, want the key id and the secret to change", a.Step, a.Change)
		}
	}
	if n := len(w.srv.Keys(awsUser)); n != 1 {
		t.Fatalf("the dry run changed the user's keys (%d)", n)
	}

	res := w.run()
	id, _ := w.delivered("api")
	// The server refused the new key for its first requests (the key
	// delay): more requests signed with it than one per consumer's verify
	// is the retry through IAM's eventual consistency that let the run
	// finish.
	if n := w.srv.Signed(id); n <= len(w.consumers) {
		t.Errorf("the new key signed %d request(s) during the run; want the refused one(s) and one accepted per consumer", n)
	}
	w.checkRotated()
	if w.generateCalls != 1 {
		t.Errorf("Generate called %d times, want once", w.generateCalls)
	}
	for _, s := range res.Steps {
		if s.ID == "revoke:prod/"+awsUser && !strings.Contains(s.Detail, w.leakedID) {
			t.Errorf("revoke detail %q does not name the leaked key", s.Detail)
		}
	}
	// The leaked key stopped working at the revoke, not when the second
	// key was added beside it.
	at, err := RotatedAt(context.Background(), w.st, w.inc.ID)
	for _, s := range res.Steps {
		if s.Kind == plan.Revoke && (err != nil || s.Finished == nil || !at.Equal(*s.Finished)) {
			t.Errorf("rotated at %v (%v), want the revoke's end %v", at, err, s.Finished)
		}
	}
	leases, err := w.st.Leases(context.Background(), store.LeaseFilter{IncidentID: w.inc.ID})
	if err != nil || len(leases) != 1 || leases[0].Expires != nil || leases[0].Login != awsUser {
		t.Fatalf("leases %+v %v: want the one key, without expiry", leases, err)
	}
	// The lease names the key, not only its user (who may hold two).
	if newID, _ := w.delivered("api"); leases[0].KeyID != newID || newID == w.leakedID {
		t.Errorf("lease key %q, want the new key %q", leases[0].KeyID, newID)
	}
}

// TestAWSEmergencyDeactivatesFirst: the leaked key is inactive before the
// new key is asked for, and deleted once the consumers are verified.
func TestAWSEmergencyDeactivatesFirst(t *testing.T) {
	w := newAWSWorld(t, awsOpts{consumers: []string{"api"}, strategy: plan.Emergency})
	seen := ""
	w.onGenerate = func() {
		k, _ := w.srv.Key(w.leakedID)
		seen = k.Status
	}
	w.run()
	if seen != "Inactive" {
		t.Errorf("the leaked key was %q when the new key was asked for, want Inactive", seen)
	}
	w.checkRotated()
	if _, ok := w.srv.Key(w.leakedID); ok {
		t.Error("the leaked key was deactivated but never deleted")
	}
}

// TestAWSTwoKeysTurnsIntoEmergency: a user already at IAM's two keys
// cannot get a second one beside the leaked key; the plan says so, the
// run deletes the leaked key first, and the user's other key is kept.
func TestAWSTwoKeysTurnsIntoEmergency(t *testing.T) {
	w := newAWSWorld(t, awsOpts{consumers: []string{"api"}, strategy: plan.Auto, otherKey: true})
	if w.plan.Strategy != plan.Emergency || !strings.Contains(w.plan.Reason, "already holds 2 access keys") {
		t.Fatalf("strategy %s (%s): want emergency because the user holds two keys", w.plan.Strategy, w.plan.Reason)
	}
	w.onGenerate = func() {
		if _, ok := w.srv.Key(w.leakedID); ok {
			t.Error("the leaked key still exists when the new one is asked for: no slot is free")
		}
	}
	w.run()
	w.checkRotated(w.otherKey)
	if k, _ := w.srv.Key(w.otherKey); k.Status != "Active" {
		t.Errorf("the user's other key is %q: a rotation must touch the leaked key only", k.Status)
	}
}

// TestAWSResumeAfterLostKey: the run dies after IAM created the key and
// before rekey sealed it (the key's secret exists nowhere else); the
// resumed run deletes that orphan and creates exactly one new key.
func TestAWSResumeAfterLostKey(t *testing.T) {
	w := newAWSWorld(t, awsOpts{consumers: []string{"api", "worker"}, strategy: plan.Graceful})
	crashAt(t, w.deps, w.inc.ID, func(_, phase string) bool { return phase == "generated" })
	keys := w.srv.Keys(awsUser)
	if len(keys) != 2 || keys[0].ID != w.leakedID {
		t.Fatalf("after the crash the user holds %+v, want the leaked key and the lost one", keys)
	}
	orphan := keys[1].ID
	if names, _ := w.st.SealedNames(context.Background(), w.inc.ID); len(names) != 0 {
		t.Fatalf("sealed before the failpoint: %v", names)
	}

	w.run()
	newID := w.checkRotated()
	if newID == orphan {
		t.Fatal("the consumers got the key whose secret was lost")
	}
	if _, ok := w.srv.Key(orphan); ok {
		t.Error("the orphan key was not deleted")
	}
	if w.generateCalls != 2 {
		t.Errorf("Generate called %d times, want twice (the crashed call and one after)", w.generateCalls)
	}
}

// TestAWSRoleSessionsEnded: a role session the leaked key opened
// (AssumeRole) outlives the key; the plan ends it on the role, and a
// session opened after the run still works.
func TestAWSRoleSessionsEnded(t *testing.T) {
	const role = "deployer"
	var sessID, sessSecret, sessToken string
	w := newAWSWorld(t, awsOpts{consumers: []string{"api"}, strategy: plan.Graceful, prepare: func(w *awsWorld) []plan.Related {
		w.srv.CreateRole(role, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+awsiamtest.Account+`:user/`+awsUser+`"},"Action":"sts:AssumeRole"}]}`)
		adminID, adminSecret := w.srv.AdminKey()
		admin := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(w.srv.URL), Credentials: credentials.NewStaticCredentialsProvider(adminID, adminSecret, "")})
		if _, err := admin.PutRolePolicy(context.Background(), &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("list"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}`)}); err != nil {
			w.t.Fatal(err)
		}
		c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(w.srv.URL), Credentials: credentials.NewStaticCredentialsProvider(w.leakedID, w.leaked, "")})
		out, err := c.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + awsiamtest.Account + ":role/" + role), RoleSessionName: aws.String("attacker")})
		if err != nil {
			w.t.Fatal(err)
		}
		sessID, sessSecret, sessToken = aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken)
		// What the CloudTrail review records for it (review.Related).
		return []plan.Related{{Name: sessID, Kind: "session", Principal: aws.ToString(out.AssumedRoleUser.Arn), Why: "sts:AssumeRole by " + w.leakedID}}
	}})
	listUsers := func() error {
		c := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(w.srv.URL), Credentials: credentials.NewStaticCredentialsProvider(sessID, sessSecret, sessToken)})
		_, err := c.ListUsers(context.Background(), &iam.ListUsersInput{})
		return err
	}
	if err := listUsers(); err != nil {
		t.Fatalf("the attacker's role session does not work before the run: %v", err)
	}
	if w.plan.Step("terminate-role:prod/"+role) == nil {
		t.Fatalf("no step ends the role's sessions:\n%+v", w.plan.Steps)
	}
	w.run()
	w.checkRotated()
	if err := listUsers(); err == nil {
		t.Error("the role session the leaked key opened still works after the run")
	}
}

// TestAWSRollbackDropsOnlyTheNewKey: a rollback before the revoke removes
// the key the run generated, by its id, and gives the consumers the
// leaked key back; the user and its leaked key stay (dropping the user,
// as for a login rekey created, would take them too).
func TestAWSRollbackDropsOnlyTheNewKey(t *testing.T) {
	w := newAWSWorld(t, awsOpts{consumers: []string{"api"}, strategy: plan.Graceful})
	crashAt(t, w.deps, w.inc.ID, func(id, phase string) bool { return id == "verify:api" && phase == "after" })
	newID, _ := w.delivered("api")
	if _, ok := w.srv.Key(newID); !ok || newID == w.leakedID {
		t.Fatalf("before the rollback the consumer holds %s", newID)
	}
	e, err := New(context.Background(), w.deps, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.Rollback(context.Background()); err != nil || res.State != store.RunRolledBack {
		t.Fatalf("rollback: %v %+v", err, res)
	}
	if _, ok := w.srv.Key(newID); ok {
		t.Error("the generated key survived the rollback")
	}
	if !w.srv.UserExists(awsUser) {
		t.Fatal("the rollback deleted the user")
	}
	if id, sec := w.delivered("api"); id != w.leakedID || sec != w.leaked {
		t.Errorf("the consumer holds %s after the rollback, want the leaked key back", id)
	}
	if _, err := w.callerARN(w.leakedID, w.leaked); err != nil {
		t.Errorf("the leaked key no longer works after a rollback: %v", err)
	}
}

// TestAWSSplitGivesEachConsumerAUser: split makes a user per consumer with
// a copy of the policies and a key of its own, then deletes the leaked key.
func TestAWSSplitGivesEachConsumerAUser(t *testing.T) {
	w := newAWSWorld(t, awsOpts{consumers: []string{"api", "worker"}, strategy: plan.Split})
	w.run()
	if _, err := w.callerARN(w.leakedID, w.leaked); err == nil {
		t.Error("the leaked key still authenticates")
	}
	for _, c := range w.consumers {
		id, sec := w.delivered(c)
		arn, err := w.callerARN(id, sec)
		if err != nil || !strings.HasSuffix(arn, ":user/"+awsUser+"_"+c) {
			t.Errorf("consumer %s: key %s authenticates as %q (%v), want its own user", c, id, arn, err)
		}
		if inline, _ := w.srv.UserPolicies(awsUser + "_" + c); inline["read-users"] == "" {
			t.Errorf("user %s_%s lacks the source's policy: %v", awsUser, c, inline)
		}
	}
	if n := len(w.srv.Keys(awsUser)); n != 0 {
		t.Errorf("the source user still holds %d keys", n)
	}
}

// TestAWSNewCredentialHasTheKeyID: a partner's new access key is handed
// over as its id and secret (the secret alone signs nothing).
func TestAWSNewCredentialHasTheKeyID(t *testing.T) {
	w := newAWSWorld(t, awsOpts{consumers: []string{"api"}, strategy: plan.Graceful})
	crashAt(t, w.deps, w.inc.ID, func(id, phase string) bool { return id == "deliver:api" && phase == "before" })
	e, err := New(context.Background(), w.deps, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	id, sec, err := e.NewCredential(context.Background(), awsUser, true)
	if err != nil {
		t.Fatal(err)
	}
	if id == "" || id == w.leakedID {
		t.Fatalf("key id %q", id)
	}
	if arn, err := w.callerARN(id, string(sec.Reveal())); err != nil || !strings.HasSuffix(arn, ":user/"+awsUser) {
		t.Errorf("the handed-over key %s: %q %v", id, arn, err)
	}
}

// TestAWSBackdoorKeyRevokedAfterApproval: the attacker used the leaked key
// to create a second key on the user (seen in CloudTrail). The user is at
// two keys, so the plan is an emergency; the backdoor's revoke waits for a
// person, and after the approval only the replacement is left.
func TestAWSBackdoorKeyRevokedAfterApproval(t *testing.T) {
	var backdoor string
	w := newAWSWorld(t, awsOpts{consumers: []string{"api"}, strategy: plan.Auto, prepare: func(w *awsWorld) []plan.Related {
		w.srv.PutUserPolicy(awsUser, "keys", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"*"}]}`)
		c := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(w.srv.URL), Credentials: credentials.NewStaticCredentialsProvider(w.leakedID, w.leaked, "")})
		out, err := c.CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{})
		if err != nil {
			w.t.Fatal(err)
		}
		backdoor = aws.ToString(out.AccessKey.AccessKeyId)
		return []plan.Related{{Name: backdoor, Kind: "access-key", Principal: awsUser, Why: "iam:CreateAccessKey by " + w.leakedID}}
	}})
	if w.plan.Strategy != plan.Emergency {
		t.Fatalf("strategy %s (%s)", w.plan.Strategy, w.plan.Reason)
	}
	e, err := New(context.Background(), w.deps, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(context.Background()); !errors.Is(err, ErrWaiting) {
		t.Fatalf("run: %v, want it waiting for the approval of the backdoor's revoke", err)
	}
	if k, ok := w.srv.Key(backdoor); !ok || k.Status != "Active" {
		t.Fatalf("the backdoor key was touched before anyone approved: %+v", k)
	}
	if err := e.Approve(context.Background(), "revoke-related:prod/"+backdoor, "bob", "alice"); err != nil {
		t.Fatal(err)
	}
	w.run()
	if _, ok := w.srv.Key(backdoor); ok {
		t.Error("the backdoor key survived its approved revoke")
	}
	w.checkRotated()
}

// TestAWSCreatedUserAndLoginProfileRemovedAfterApproval: the leaked key
// created a user (with a key, a password, a policy and a group) and gave
// an existing user a console password; each waits for a person, then
// the user is gone and the other user keeps its key but not the
// password.
func TestAWSCreatedUserAndLoginProfileRemovedAfterApproval(t *testing.T) {
	var backdoor string
	w := newAWSWorld(t, awsOpts{consumers: []string{"api"}, strategy: plan.Graceful, prepare: func(w *awsWorld) []plan.Related {
		w.srv.PutUserPolicy(awsUser, "iam", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`)
		c := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(w.srv.URL), Credentials: credentials.NewStaticCredentialsProvider(w.leakedID, w.leaked, "")})
		ctx := context.Background()
		if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ops-backup")}); err != nil {
			w.t.Fatal(err)
		}
		out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ops-backup")})
		if err != nil {
			w.t.Fatal(err)
		}
		backdoor = aws.ToString(out.AccessKey.AccessKeyId)
		for _, u := range []string{"ops-backup", "carol"} {
			if u == "carol" {
				w.srv.CreateUser("carol")
				w.srv.CreateKey("carol")
			}
			if _, err := c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(u), Password: aws.String("Example-Passw0rd!")}); err != nil {
				w.t.Fatal(err)
			}
		}
		if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("ops-backup"), PolicyName: aws.String("all"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}); err != nil {
			w.t.Fatal(err)
		}
		w.srv.AddToGroup("ops-backup", "ops", "")
		return []plan.Related{
			{Name: "ops-backup", Kind: "user", Why: "iam:CreateUser by " + w.leakedID},
			{Name: backdoor, Kind: "access-key", Principal: "ops-backup", Why: "iam:CreateAccessKey by " + w.leakedID},
			{Name: "ops-backup", Kind: "login-profile", Why: "iam:CreateLoginProfile by " + w.leakedID},
			{Name: "carol", Kind: "login-profile", Why: "iam:CreateLoginProfile by " + w.leakedID},
		}
	}})
	e, err := New(context.Background(), w.deps, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(context.Background()); !errors.Is(err, ErrWaiting) {
		t.Fatalf("run: %v, want it waiting for the approvals", err)
	}
	if !w.srv.UserExists("ops-backup") || !w.srv.HasLoginProfile("carol") {
		t.Fatal("the created user or carol's password was touched before anyone approved")
	}
	for _, id := range []string{"revoke-related:prod/user/ops-backup", "revoke-related:prod/login-profile/carol"} {
		if err := e.Approve(context.Background(), id, "bob", "alice"); err != nil {
			t.Fatal(err)
		}
	}
	w.run()
	if w.srv.UserExists("ops-backup") {
		t.Error("the user the leaked key created survived its approved removal")
	}
	if _, ok := w.srv.Key(backdoor); ok {
		t.Error("the created user's key survived")
	}
	if w.srv.HasLoginProfile("carol") || len(w.srv.Keys("carol")) != 1 {
		t.Errorf("carol: password %v, keys %v; want no password and her key kept", w.srv.HasLoginProfile("carol"), w.srv.Keys("carol"))
	}
	w.checkRotated()
}

// TestAWSRevokeWithoutKeyIDIsRefused: a stored plan whose revoke names no
// key (written by hand, or by an older rekey) would take every key of the
// user, the new one too: the engine refuses it and the consumers keep
// their new key.
func TestAWSRevokeWithoutKeyIDIsRefused(t *testing.T) {
	w := newAWSWorld(t, awsOpts{consumers: []string{"api"}, strategy: plan.Graceful})
	w.plan.Step("revoke:prod/" + awsUser).Key = ""
	putPlan(t, w.st, w.inc.ID, w.plan)
	e, err := New(context.Background(), w.deps, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background())
	if !errors.Is(err, ErrStepFailed) || !strings.Contains(err.Error(), "names no key of "+awsUser) {
		t.Fatalf("run: %v %+v", err, res)
	}
	id, sec := w.delivered("api")
	if _, err := w.callerARN(id, sec); err != nil {
		t.Errorf("the consumer's new key was revoked: %v", err)
	}
}

// writeOnly is a target that never returns what it holds, as a GitHub
// Actions secret does (deliver.ErrWriteOnly).
type writeOnly struct{ deliver.Target }

func (writeOnly) Current(context.Context) (deliver.State, error) {
	return deliver.State{}, errs.E("read", errs.Unsupported, "", deliver.ErrWriteOnly)
}

// TestWriteOnlyTargetDeliversAndRollbackSaysSo: a target that cannot be
// read back is delivered to (nothing can be kept for a rollback), and a
// rollback leaves it as it is, saying the previous value must be written
// back by hand, rather than failing or writing an empty secret.
func TestWriteOnlyTargetDeliversAndRollbackSaysSo(t *testing.T) {
	w := newAWSWorld(t, awsOpts{consumers: []string{"api"}, strategy: plan.Graceful})
	files := w.deps.Target
	w.deps.Target = func(c *inventory.Consumer) (deliver.Target, error) {
		tg, err := files(c)
		return writeOnly{tg}, err
	}
	var out strings.Builder
	w.deps.Out = &out
	crashAt(t, w.deps, w.inc.ID, func(id, phase string) bool { return id == "verify:api" && phase == "after" })
	newID, newSecret := w.delivered("api")
	if newID == w.leakedID {
		t.Fatalf("the consumer still holds the leaked key: the delivery did not happen")
	}
	e, err := New(context.Background(), w.deps, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.Rollback(context.Background()); err != nil || res.State != store.RunRolledBack {
		t.Fatalf("rollback: %v %+v", err, res)
	}
	if !strings.Contains(out.String(), "consumer api: ") || !strings.Contains(out.String(), "write it back by hand") {
		t.Errorf("the rollback did not say the previous value is unknown:\n%s", out.String())
	}
	if id, sec := w.delivered("api"); id != newID || sec != newSecret {
		t.Errorf("the rollback wrote %s to a target whose previous value it never had", id)
	}
	if _, ok := w.srv.Key(newID); ok {
		t.Error("the generated key survived the rollback")
	}
}

// TestAWSSecretsManagerRollbackMovesAWSCURRENTBack: a consumer reading
// the key from Secrets Manager gets, on rollback, the version it held
// before the run as AWSCURRENT again (no version written for it), and the
// generated key is gone.
func TestAWSSecretsManagerRollbackMovesAWSCURRENTBack(t *testing.T) {
	w := newAWSWorld(t, awsOpts{consumers: []string{"api"}, strategy: plan.Graceful})
	before := fmt.Sprintf(`{"AWS_ACCESS_KEY_ID":%q,"AWS_SECRET_ACCESS_KEY":%q,"AWS_REGION":"us-east-1"}`, w.leakedID, w.leaked)
	w.srv.CreateSecret("prod/api", before)
	adminID, adminSecret := w.srv.AdminKey()
	w.deps.Target = func(c *inventory.Consumer) (deliver.Target, error) {
		return awssm.New(context.Background(), awssm.Config{Endpoint: w.srv.URL, SecretID: "prod/api", Key: "AWS_SECRET_ACCESS_KEY", UserKey: "AWS_ACCESS_KEY_ID",
			Admin: secret.FromString(fmt.Sprintf(`{"AccessKeyId":%q,"SecretAccessKey":%q}`, adminID, adminSecret))})
	}
	crashAt(t, w.deps, w.inc.ID, func(id, phase string) bool { return id == "verify:api" && phase == "after" })
	delivered, _ := w.srv.SecretValue("prod/api")
	var held map[string]string
	if err := json.Unmarshal([]byte(delivered), &held); err != nil || held["AWS_ACCESS_KEY_ID"] == w.leakedID || w.srv.SecretVersions("prod/api") != 2 {
		t.Fatalf("before the rollback Secrets Manager holds %s in %d versions", held["AWS_ACCESS_KEY_ID"], w.srv.SecretVersions("prod/api"))
	}
	e, err := New(context.Background(), w.deps, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.Rollback(context.Background()); err != nil || res.State != store.RunRolledBack {
		t.Fatalf("rollback: %v %+v", err, res)
	}
	if v, _ := w.srv.SecretValue("prod/api"); v != before || w.srv.SecretVersions("prod/api") != 2 {
		t.Errorf("after the rollback AWSCURRENT is not the original version (%d versions)", w.srv.SecretVersions("prod/api"))
	}
	if _, ok := w.srv.Key(held["AWS_ACCESS_KEY_ID"]); ok {
		t.Error("the generated key survived the rollback")
	}
}

// restorer is a target that restores its own way (as a secret manager's
// previous version does), counting the calls.
type restorer struct {
	deliver.Target
	restores *int
}

func (r restorer) Restore(ctx context.Context, prev deliver.Value) error {
	*r.restores++
	return r.Target.Write(ctx, prev)
}

// TestRollbackUsesTheTargetsRestore: a target with Restore (awssm moves
// AWSCURRENT back) gets the previous value through it, not through Write.
func TestRollbackUsesTheTargetsRestore(t *testing.T) {
	w := newAWSWorld(t, awsOpts{consumers: []string{"api"}, strategy: plan.Graceful})
	files, restores := w.deps.Target, 0
	w.deps.Target = func(c *inventory.Consumer) (deliver.Target, error) {
		tg, err := files(c)
		return restorer{tg, &restores}, err
	}
	crashAt(t, w.deps, w.inc.ID, func(id, phase string) bool { return id == "verify:api" && phase == "after" })
	e, err := New(context.Background(), w.deps, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.Rollback(context.Background()); err != nil || res.State != store.RunRolledBack {
		t.Fatalf("rollback: %v %+v", err, res)
	}
	if restores != 1 {
		t.Errorf("Restore called %d times, want 1", restores)
	}
	if id, sec := w.delivered("api"); id != w.leakedID || sec != w.leaked {
		t.Errorf("the consumer holds %s after the rollback, want the leaked key back", id)
	}
}
