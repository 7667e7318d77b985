// Package policy decides, at every credential request, whether a workload
// may have a lease of a role and for how long: a Rego policy (package
// rekey.broker, Rego v1) evaluated by embedded OPA with a query prepared
// once per policy version. A default policy ships in the binary; a policy
// file is re-read when it changes, without a restart, and a new version
// that does not compile leaves the previous one in force and is reported.
//
// The policy's answer is raw (allow, deny reasons, max_ttl); the broker
// combines it with the role's limits into a decision. Nothing is cached
// between evaluations but the prepared query.
package policy

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/rekeyhq/rekey/internal/errs"
)

//go:embed default.rego
var defaultSource string

// DefaultName is the name the default policy goes by in messages and
// decisions.
const DefaultName = "default.rego"

// Package is the Rego package a broker policy must declare.
const Package = "rekey.broker"

// maxPolicy bounds a policy file.
const maxPolicy = 1 << 20

// Input is what a policy sees of one request, as DESIGN specifies it.
type Input struct {
	Workload Workload `json:"workload"`
	Request  Request  `json:"request"`
	// Time is when the request was made, RFC 3339 in the input.
	Time time.Time `json:"time"`
	// Source is the address the request came from.
	Source   string   `json:"source"`
	Identity Identity `json:"identity"`
}

// Workload is the proven identity of the requester.
type Workload struct {
	Issuer  string         `json:"issuer"`
	Subject string         `json:"subject"`
	Claims  map[string]any `json:"claims"`
}

// Request is what the workload asked for; TTL 0 means the role's default.
type Request struct {
	Role string        `json:"role"`
	TTL  time.Duration `json:"ttl"` // seconds in the input
}

// Identity is what rekey knows of the role's template identity.
type Identity struct {
	UnderIncident bool   `json:"under_incident"`
	Risk          int    `json:"risk"` // 0–100, the open incident's risk score
	Kind          string `json:"kind"` // "" or "agent"
}

// Role is what a policy sees of a role in data.rekey.roles.
type Role struct {
	System   string `json:"system"`
	Like     string `json:"like"`
	Identity string `json:"identity"` // system/name of the template identity
	// TTL and MaxTTL are in seconds in data; MaxTTL is TTL when the
	// inventory gives none.
	TTL    time.Duration `json:"ttl"`
	MaxTTL time.Duration `json:"max_ttl"`
	// Issuers are the issuer values (iss, or spiffe://TRUST-DOMAIN) a
	// workload of this role must come from; empty means any trusted one.
	Issuers  []string          `json:"issuers"`
	Subjects []string          `json:"subjects"`
	Claims   map[string]string `json:"claims"`
}

// Result is a policy's raw answer.
type Result struct {
	Allow bool
	// Deny is the sorted set of reasons.
	Deny []string
	// MaxTTL is the policy's cap, when HasMaxTTL.
	MaxTTL    time.Duration
	HasMaxTTL bool
	// Policy names the version that answered: its file (or DefaultName)
	// and the first 12 hex digits of its SHA-256.
	Policy string
}

// value is the input as OPA values: seconds for durations, RFC 3339 for
// the time. Building the map by hand spares OPA a JSON round trip.
func (in Input) value() map[string]any {
	claims := in.Workload.Claims
	if claims == nil {
		claims = map[string]any{}
	}
	return map[string]any{
		"workload": map[string]any{"issuer": in.Workload.Issuer, "subject": in.Workload.Subject, "claims": claims},
		"request":  map[string]any{"role": in.Request.Role, "ttl": json.Number(fmt.Sprint(int64(in.Request.TTL / time.Second)))},
		"time":     in.Time.UTC().Format(time.RFC3339),
		"source":   in.Source,
		"identity": map[string]any{"under_incident": in.Identity.UnderIncident, "risk": json.Number(fmt.Sprint(in.Identity.Risk)), "kind": in.Identity.Kind},
	}
}

// Data is the data document for roles: data.rekey.roles[NAME].
func Data(roles map[string]Role) map[string]any {
	out := map[string]any{}
	for name, r := range roles {
		strs := func(s []string) []any {
			res := []any{}
			for _, x := range s {
				res = append(res, x)
			}
			return res
		}
		claims := map[string]any{}
		for k, v := range r.Claims {
			claims[k] = v
		}
		maxTTL := r.MaxTTL
		if maxTTL == 0 {
			maxTTL = r.TTL
		}
		out[name] = map[string]any{
			"system": r.System, "like": r.Like, "identity": r.Identity,
			"ttl": json.Number(fmt.Sprint(int64(r.TTL / time.Second))), "max_ttl": json.Number(fmt.Sprint(int64(maxTTL / time.Second))),
			"issuers": strs(r.Issuers), "subjects": strs(r.Subjects), "claims": claims,
		}
	}
	return map[string]any{"rekey": map[string]any{"roles": out}}
}

// unsafeBuiltins are refused in a broker policy: a decision is made on
// every request and must depend on the request and the inventory alone,
// not on a network call that can hang, fail or leak the claims.
var unsafeBuiltins = map[string]struct{}{
	"http.send": {}, "net.lookup_ip_addr": {}, "opa.runtime": {}, "trace": {},
}

// compiled is one version of a policy, ready to evaluate.
type compiled struct {
	query rego.PreparedEvalQuery
	name  string
}

// Engine evaluates one policy: the default, or a file that it re-reads
// when it changes. It is safe for concurrent use.
type Engine struct {
	path string
	data map[string]any
	// OnReloadError, when set, is told of a new version of the file that
	// could not be read or compiled (the previous one stays in force).
	OnReloadError func(error)

	mu       sync.Mutex
	cur      *compiled
	stamp    fileStamp
	hash     string
	lastErr  error
	checking sync.Mutex
}

type fileStamp struct {
	mtime time.Time
	size  int64
	ino   uint64
}

// Default returns an engine for the policy built into rekey, with data
// (see Data).
func Default(data map[string]any) (*Engine, error) {
	c, err := compile(context.Background(), DefaultName, []byte(defaultSource), data)
	if err != nil {
		return nil, err // a bug in rekey: the tests compile it
	}
	return &Engine{data: data, cur: c}, nil
}

// Load returns an engine for the policy file at path. A file that cannot
// be read or compiled now is an error; later versions that fail keep the
// last good one.
func Load(ctx context.Context, path string, data map[string]any) (*Engine, error) {
	e := &Engine{path: path, data: data}
	if err := e.reload(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// DefaultSource is the default policy's Rego text.
func DefaultSource() string { return defaultSource }

// Err is the error of the last version of the file that could not be used,
// nil once a good version is loaded again.
func (e *Engine) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastErr
}

// Eval evaluates the policy for one request, picking up a changed policy
// file first. An error means the policy could not answer (a runtime error
// in Rego, a wrong output type): the caller must refuse the request.
func (e *Engine) Eval(ctx context.Context, in Input) (Result, error) {
	if e.path != "" {
		if err := e.reload(ctx); err != nil && e.OnReloadError != nil {
			e.OnReloadError(err)
		}
	}
	return e.eval(ctx, in.value())
}

// eval evaluates the current version for an input document.
func (e *Engine) eval(ctx context.Context, input map[string]any) (Result, error) {
	e.mu.Lock()
	c := e.cur
	e.mu.Unlock()
	rs, err := c.query.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return Result{}, errs.E("policy "+c.name, errs.Invalid, "", err)
	}
	res, err := result(rs)
	if err != nil {
		return Result{}, errs.E("policy "+c.name, errs.Invalid, "", err)
	}
	res.Policy = c.name
	return res, nil
}

// reload compiles the file when its size, mtime or inode changed and its
// content is new. It returns the error of a new version that failed.
func (e *Engine) reload(ctx context.Context) error {
	// One check at a time; requests meanwhile use the current version
	// rather than wait for a compile. The first load has no version yet.
	e.mu.Lock()
	first := e.cur == nil
	e.mu.Unlock()
	if first {
		e.checking.Lock()
	} else if !e.checking.TryLock() {
		return nil
	}
	defer e.checking.Unlock()
	fi, err := os.Stat(e.path)
	if err != nil {
		kind := errs.Invalid
		if errors.Is(err, os.ErrNotExist) {
			kind = errs.NotFound
		}
		return e.failed(errs.E("policy", kind, "", err))
	}
	st := stampOf(fi)
	e.mu.Lock()
	same := e.cur != nil && st == e.stamp
	e.mu.Unlock()
	if same {
		return nil
	}
	src, err := os.ReadFile(e.path)
	if err == nil && len(src) > maxPolicy {
		err = fmt.Errorf("%s: larger than 1 MiB", e.path)
	}
	if err != nil {
		return e.failed(errs.E("policy", errs.Invalid, "", err))
	}
	sum := sha256.Sum256(src)
	hash := hex.EncodeToString(sum[:])
	e.mu.Lock()
	unchanged := e.cur != nil && hash == e.hash
	if unchanged {
		e.stamp = st
	}
	e.mu.Unlock()
	if unchanged {
		return nil
	}
	c, err := compile(ctx, e.path, src, e.data)
	if err != nil {
		e.mu.Lock()
		e.stamp = st // do not recompile the same broken version at every request
		e.mu.Unlock()
		return e.failed(err)
	}
	e.mu.Lock()
	e.cur, e.stamp, e.hash, e.lastErr = c, st, hash, nil
	e.mu.Unlock()
	return nil
}

func (e *Engine) failed(err error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lastErr = err
	return err
}

// Compile checks a policy's source: Rego v1, package rekey.broker. Its
// error names the file and line of each problem.
func Compile(ctx context.Context, name string, src []byte, data map[string]any) error {
	_, err := compile(ctx, name, src, data)
	return err
}

func compile(ctx context.Context, name string, src []byte, data map[string]any) (*compiled, error) {
	mod, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, errs.E("policy", errs.Invalid, "", err)
	}
	if got := mod.Package.Path.String(); got != "data."+Package {
		return nil, errs.New("policy", errs.Invalid, fmt.Sprintf("%s:%d", name, mod.Package.Location.Row),
			fmt.Sprintf("package %s: a broker policy is package %s", trimData(got), Package))
	}
	if data == nil {
		data = Data(nil)
	}
	r := rego.New(
		rego.Query("data."+Package),
		rego.ParsedModule(mod),
		rego.Store(inmem.NewFromObject(data)),
		rego.SetRegoVersion(ast.RegoV1),
		rego.StrictBuiltinErrors(true),
		rego.UnsafeBuiltins(unsafeBuiltins),
	)
	q, err := r.PrepareForEval(ctx)
	if err != nil {
		return nil, errs.E("policy", errs.Invalid, "", err)
	}
	sum := sha256.Sum256(src)
	return &compiled{query: q, name: fmt.Sprintf("%s@%s", name, hex.EncodeToString(sum[:])[:12])}, nil
}

func trimData(path string) string {
	if len(path) > 5 && path[:5] == "data." {
		return path[5:]
	}
	return path
}

// result reads allow, deny and max_ttl from the package document.
func result(rs rego.ResultSet) (Result, error) {
	var res Result
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return res, nil // an empty package: nothing allowed
	}
	doc, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return res, fmt.Errorf("package %s is not an object", Package)
	}
	if v, ok := doc["allow"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return res, fmt.Errorf("allow is %T, want a boolean", v)
		}
		res.Allow = b
	}
	if v, ok := doc["deny"]; ok {
		list, isList := v.([]any)
		if !isList {
			return res, fmt.Errorf("deny is %T, want a set of strings", v)
		}
		for _, x := range list {
			s, isStr := x.(string)
			if !isStr {
				return res, fmt.Errorf("deny holds %T, want strings", x)
			}
			res.Deny = append(res.Deny, s)
		}
		slices.Sort(res.Deny)
		res.Deny = slices.Compact(res.Deny)
	}
	if v, ok := doc["max_ttl"]; ok {
		n, isNum := v.(json.Number)
		f, err := n.Float64()
		if !isNum || err != nil || f < 0 || math.IsInf(f, 0) || f > float64(math.MaxInt64/int64(time.Second)) {
			return res, fmt.Errorf("max_ttl is %v, want a number of seconds, 0 or more", v)
		}
		res.MaxTTL, res.HasMaxTTL = time.Duration(f*float64(time.Second)), true
	}
	return res, nil
}
