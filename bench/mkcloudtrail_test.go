package bench

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMakeCloudTrail writes, when REKEY_BENCH_MKCLOUDTRAIL names a
// directory, a CloudTrail trail as AWS delivers it to S3
// (AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/…json.gz, one gzipped
// {"Records":[…]} per region every five minutes) holding about
// REKEY_BENCH_CLOUDTRAIL_MB megabytes of JSON (1150 by default), and a
// manifest.json with the key under review, the windows and what the key
// did per source and action. It is how bench/review.sh gets its input.
func TestMakeCloudTrail(t *testing.T) {
	dir := os.Getenv("REKEY_BENCH_MKCLOUDTRAIL")
	if dir == "" {
		t.Skip("set REKEY_BENCH_MKCLOUDTRAIL=DIR to build the benchmark trail")
	}
	mb := 1150.0
	if v := os.Getenv("REKEY_BENCH_CLOUDTRAIL_MB"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			t.Fatalf("REKEY_BENCH_CLOUDTRAIL_MB=%q: want a positive number of megabytes", v)
		}
		mb = f
	}
	start := time.Now()
	m, err := makeTrail(dir, 42, int64(mb*1e6), runtime.GOMAXPROCS(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d files, %d records, %.1f MB of JSON, %.1f MB gzipped, %d events of %s, in %s to %s",
		m.Files, m.Records, float64(m.Bytes)/1e6, float64(m.Compressed)/1e6, m.KeyEvents, m.Key, time.Since(start).Round(time.Second), dir)
}

// TestTrailGenerator checks a small trail: the same seed writes the same
// bytes, every file is a delivered CloudTrail file that decodes, and the
// manifest's counts are what the records say.
func TestTrailGenerator(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	g := trailConfig{Seed: 7, Scale: 0.02, Days: 3, Start: trailLeak.Add(-24 * time.Hour)}
	ma, err := g.write(a, 2)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := g.write(b, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ma.Files == 0 || ma.Records < 1000 || ma.KeyEvents == 0 {
		t.Fatalf("trail too small: %+v", ma)
	}
	if ma.Bytes != mb.Bytes || ma.Compressed != mb.Compressed || ma.Files != mb.Files {
		t.Fatalf("not deterministic across worker counts: %d/%d/%d files vs %d/%d/%d", ma.Files, ma.Bytes, ma.Compressed, mb.Files, mb.Bytes, mb.Compressed)
	}
	type rec struct {
		UserIdentity struct {
			AccessKeyID string `json:"accessKeyId"`
		} `json:"userIdentity"`
		EventSource     string `json:"eventSource"`
		EventName       string `json:"eventName"`
		EventTime       string `json:"eventTime"`
		AWSRegion       string `json:"awsRegion"`
		SourceIPAddress string `json:"sourceIPAddress"`
	}
	pairs := map[string]int{}
	records := 0
	var raw int64
	err = filepath.WalkDir(a, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json.gz") {
			return err
		}
		rel, _ := filepath.Rel(a, path)
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) != 8 || parts[0] != "AWSLogs" || parts[1] != trailAccount || parts[2] != "CloudTrail" ||
			!strings.HasPrefix(parts[7], trailAccount+"_CloudTrail_"+parts[3]+"_"+parts[4]+parts[5]+parts[6]+"T") {
			t.Errorf("%s: not laid out as CloudTrail delivers", rel)
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(zr); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		raw += int64(buf.Len())
		var file struct{ Records []rec }
		if err := json.Unmarshal(buf.Bytes(), &file); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		for _, r := range file.Records {
			records++
			if r.EventName == "" || r.EventSource == "" || r.AWSRegion != parts[3] {
				t.Errorf("%s: incomplete record %+v", rel, r)
			}
			if _, err := time.Parse(time.RFC3339, r.EventTime); err != nil {
				t.Errorf("%s: %v", rel, err)
			}
			if r.UserIdentity.AccessKeyID == ma.Key {
				svc, _, _ := strings.Cut(r.EventSource, ".")
				pairs[r.SourceIPAddress+"\t"+svc+":"+r.EventName]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if records != ma.Records || raw != ma.Bytes {
		t.Errorf("manifest says %d records, %d bytes; files hold %d, %d", ma.Records, ma.Bytes, records, raw)
	}
	if fmt.Sprint(pairs) != fmt.Sprint(ma.ByPair) {
		t.Errorf("the key's events per source and action:\nfiles    %v\nmanifest %v", pairs, ma.ByPair)
	}
	if ma.ByPair[trailAttackerIP+"\tsts:GetCallerIdentity"] == 0 || ma.ByPair[trailAttackerIP+"\tiam:CreateAccessKey"] != 1 {
		t.Errorf("the abuse is missing: %v", ma.ByPair)
	}
}

// The trail's fixed facts: one account, three regions, the deploy key
// under review, its leak and rotation, and the attacker's addresses.
const (
	trailAccount    = "123456789012"
	trailAttackerIP = "192.0.2.77"
	trailExfilIP    = "192.0.2.78"
)

var (
	trailStart   = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	trailLeak    = time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	trailRotated = time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	trailRegions = []string{"us-east-1", "eu-west-1", "us-west-2"}
	// regionShare is how the background splits over trailRegions.
	regionShare = []float64{0.62, 0.26, 0.12}
)

// trailManifest is manifest.json: what bench/review.sh passes to rekey
// and checks both tools against.
type trailManifest struct {
	Key         string         `json:"key"`
	LeakedAt    time.Time      `json:"leaked_at"`
	RotatedAt   time.Time      `json:"rotated_at"`
	Start       time.Time      `json:"start"`
	End         time.Time      `json:"end"`
	DerivedKeys []string       `json:"derived_keys"`
	Principals  int            `json:"principals"`
	Files       int            `json:"files"`
	Records     int            `json:"records"`
	Bytes       int64          `json:"bytes"`
	Compressed  int64          `json:"compressed_bytes"`
	KeyEvents   int            `json:"key_events"`
	ByPair      map[string]int `json:"by_source_action"`
	Scale       float64        `json:"scale"`
}

// makeTrail writes a trail of about want bytes of JSON into dir: it
// measures a small sample first and scales the background traffic (the
// key's own use does not depend on the account's size).
func makeTrail(dir string, seed uint64, want int64, workers int) (trailManifest, error) {
	days := int(trailRotated.Sub(trailStart).Hours()/24) + 3
	probe := trailConfig{Seed: seed, Scale: 0.1, Days: 2, Start: trailStart}
	pm, err := probe.run("", workers)
	if err != nil {
		return trailManifest{}, err
	}
	perScaleDay := float64(pm.Bytes) / 0.1 / 2
	// Weekends are quieter than the probe's two weekdays: aim 12 % over.
	g := trailConfig{Seed: seed, Scale: 1.12 * float64(want) / (perScaleDay * float64(days)), Days: days, Start: trailStart}
	g.Scale = math.Round(g.Scale*1000) / 1000
	return g.write(dir, workers)
}

// trailConfig is one trail to generate. The same config writes the same
// bytes whatever the number of workers: every day has its own generator.
type trailConfig struct {
	Seed  uint64
	Scale float64 // multiplies the background rate
	Days  int
	Start time.Time
}

func (c trailConfig) write(dir string, workers int) (trailManifest, error) {
	m, err := c.run(dir, workers)
	if err != nil {
		return m, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	return m, os.WriteFile(filepath.Join(dir, "manifest.json"), append(b, '\n'), 0o644)
}

// run generates every day; with dir empty it only counts.
func (c trailConfig) run(dir string, workers int) (trailManifest, error) {
	pop := newPopulation(c.Seed)
	m := trailManifest{Key: pop.target.key, LeakedAt: trailLeak, RotatedAt: trailRotated, Start: c.Start,
		End: c.Start.Add(time.Duration(c.Days) * 24 * time.Hour), DerivedKeys: []string{pop.derivedKey, pop.derivedSession},
		Principals: len(pop.all), ByPair: map[string]int{}, Scale: c.Scale}
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Go(func() {
			for d := range next {
				st, err := c.day(dir, pop, d)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				m.Files += st.files
				m.Records += st.records
				m.Bytes += st.bytes
				m.Compressed += st.compressed
				for k, n := range st.pairs {
					m.ByPair[k] += n
					m.KeyEvents += n
				}
				mu.Unlock()
			}
		})
	}
	for d := range c.Days {
		next <- d
	}
	close(next)
	wg.Wait()
	return m, firstErr
}

type dayStats struct {
	files, records    int
	bytes, compressed int64
	pairs             map[string]int
}

// stamped is one record and its time, for ordering a file.
type stamped struct {
	t time.Time
	b []byte
}

// day writes one day's delivery files: every five minutes and region, the
// records of that interval in time order.
func (c trailConfig) day(dir string, pop *population, d int) (dayStats, error) {
	st := dayStats{pairs: map[string]int{}}
	g := &gen{rng: rand.New(rand.NewPCG(c.Seed, uint64(d)+1)), seed: c.Seed, pop: pop, sessions: map[*principal]session{}}
	day := c.Start.Add(time.Duration(d) * 24 * time.Hour)
	special := pop.keyEvents(g, day)
	var zw *gzip.Writer
	var zbuf, file bytes.Buffer
	for slot := range 288 {
		t0 := day.Add(time.Duration(slot) * 5 * time.Minute)
		t1 := t0.Add(5 * time.Minute)
		byRegion := make([][]stamped, len(trailRegions))
		for _, pool := range pop.pools {
			n := poisson(g.rng, pool.rate(t0)*c.Scale/12)
			for range n {
				p := pool.pick(g.rng)
				t := t0.Add(time.Duration(g.rng.Int64N(int64(5 * time.Minute))))
				ri := p.region
				if g.rng.IntN(10) == 0 {
					ri = pickShare(g.rng)
				}
				b, ri := g.background(p, t, ri)
				byRegion[ri] = append(byRegion[ri], stamped{t, b})
			}
		}
		for len(special) > 0 && special[0].t.Before(t1) {
			s := special[0]
			special = special[1:]
			ri := slices.Index(trailRegions, s.region)
			byRegion[ri] = append(byRegion[ri], stamped{s.t, g.scripted(&s)})
			if s.p == pop.target {
				svc, _, _ := strings.Cut(s.ev.source, ".")
				st.pairs[s.ip+"\t"+svc+":"+s.ev.name]++
			}
		}
		for ri, recs := range byRegion {
			if len(recs) == 0 {
				continue
			}
			slices.SortStableFunc(recs, func(a, b stamped) int { return a.t.Compare(b.t) })
			file.Reset()
			file.WriteString(`{"Records":[`)
			for i, r := range recs {
				if i > 0 {
					file.WriteByte(',')
				}
				file.Write(r.b)
			}
			file.WriteString("]}")
			st.files++
			st.records += len(recs)
			st.bytes += int64(file.Len())
			if dir == "" {
				continue
			}
			// Delivered a few minutes after the interval it covers.
			at := t1.Add(time.Duration(1+g.rng.IntN(9)) * time.Minute)
			region := trailRegions[ri]
			sub := filepath.Join(dir, "AWSLogs", trailAccount, "CloudTrail", region, at.Format("2006"), at.Format("01"), at.Format("02"))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return st, err
			}
			zbuf.Reset()
			if zw == nil {
				zw = gzip.NewWriter(&zbuf)
			} else {
				zw.Reset(&zbuf)
			}
			zw.Write(file.Bytes())
			if err := zw.Close(); err != nil {
				return st, err
			}
			st.compressed += int64(zbuf.Len())
			name := fmt.Sprintf("%s_CloudTrail_%s_%s_%s.json.gz", trailAccount, region, at.Format("20060102T1504Z"), g.alnum(16))
			if err := os.WriteFile(filepath.Join(sub, name), zbuf.Bytes(), 0o644); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

func pickShare(rng *rand.Rand) int {
	x := rng.Float64()
	for i, s := range regionShare {
		if x < s {
			return i
		}
		x -= s
	}
	return 0
}

// poisson draws a count with mean l (normal approximation above 30).
func poisson(rng *rand.Rand, l float64) int {
	if l <= 0 {
		return 0
	}
	if l > 30 {
		return max(0, int(math.Round(l+rng.NormFloat64()*math.Sqrt(l))))
	}
	lim, k, p := math.Exp(-l), 0, rng.Float64()
	for p > lim {
		k++
		p *= rng.Float64()
	}
	return k
}

// ---- who acts: a few hundred principals in pools with daily patterns ----

type kind int

const (
	kUser    kind = iota // an IAM user calling with its AKIA key
	kConsole             // an IAM user in the console, with a session key
	kRole                // an assumed-role session
	kService             // an AWS service acting for the account
)

type principal struct {
	idx       int
	kind      kind
	name      string // user or role name, or the service's host
	pid, arn  string
	key       string // a fixed key: IAM users, and a session the trail names
	roleKind  string // lambda, ec2, ecs, sso, github
	session   string // a role's session name
	sessions  time.Duration
	region    int
	ips       []string
	agents    []string
	events    []*evType
	cum       []float64
	errRate   float64
	resources []string // buckets, tables, functions… it works on
}

func (p *principal) pick(rng *rand.Rand) *evType {
	return p.events[searchCum(p.cum, rng.Float64()*p.cum[len(p.cum)-1])]
}

func searchCum(cum []float64, x float64) int {
	i, _ := slices.BinarySearch(cum, x)
	return min(i, len(cum)-1)
}

// pool is principals that share a daily pattern; a few of them do most
// of the work (Zipf-like weights).
type pool struct {
	members []*principal
	cum     []float64
	peak    float64 // records an hour at the busiest hour, at scale 1
	hours   [24]float64
	weekend float64
}

func (p *pool) pick(rng *rand.Rand) *principal {
	return p.members[searchCum(p.cum, rng.Float64()*p.cum[len(p.cum)-1])]
}

func (p *pool) rate(t time.Time) float64 {
	r := p.peak * p.hours[t.Hour()]
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		r *= p.weekend
	}
	return r
}

// Shapes of a day (UTC): European office hours, American ones, machines
// with a nightly batch and a mild daytime load.
var (
	hoursEU = [24]float64{.02, .02, .02, .02, .03, .05, .15, .45, .85, 1, 1, .95, .7, .9, 1, .95, .8, .5, .25, .12, .06, .04, .03, .02}
	hoursUS = [24]float64{.4, .25, .12, .06, .03, .02, .02, .02, .02, .03, .05, .12, .35, .75, .95, 1, 1, .9, .75, .9, 1, .95, .8, .6}
	hoursM  = [24]float64{.7, .7, 1, .9, .7, .65, .65, .7, .8, .85, .9, .9, .9, .9, .9, .9, .85, .8, .75, .7, .7, .7, .7, .7}
)

type population struct {
	pools          []*pool
	all            []*principal
	target         *principal // deploy-bot's key under review
	ciNew          *principal // deploy-bot's key after the rotation
	admin          *principal // who rotates it
	svcBackup      *principal // the user the attacker makes a key for
	adminSession   *principal // the role the attacker assumes
	derivedKey     string
	derivedSession string
	ciIPs          []string
}

var (
	firstNames = []string{"maria", "james", "anna", "david", "sofia", "lucas", "emma", "noah", "olivia", "liam", "mia", "ethan", "lea", "paul", "nina", "omar", "yuki", "ravi", "chen", "fatima", "ines", "jonas", "clara", "mateo", "sara", "tomas", "aisha", "ben", "elena", "igor"}
	lastNames  = []string{"garcia", "smith", "muller", "rossi", "dubois", "kowalski", "tanaka", "patel", "nguyen", "johansson", "silva", "okafor", "novak", "haddad", "larsen", "moreau", "weber", "costa", "kim", "ivanova"}
	services   = []string{"orders", "payments", "billing", "search", "catalog", "users", "notifications", "reports", "inventory", "shipping", "auth", "media", "analytics", "pricing", "reviews"}
	cliAgents  = []string{
		"aws-cli/2.17.42 md/awscrt#0.21.2 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#%s",
		"aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/%s",
		"aws-cli/2.18.5 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-45-generic md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#%s",
		"APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.68.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.5 ua/2.1 os/macos lang/go#1.23.1 md/GOOS#darwin md/GOARCH#arm64 api/%s",
	}
	consoleAgents = []string{"AWS Internal", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36", "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"}
	sdkAgents     = []string{
		"Boto3/1.35.24 md/Botocore#1.35.24 ua/2.0 os/linux#5.10.225-213.878.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.35.24",
		"aws-sdk-go-v2/1.30.4 ua/2.1 os/linux lang/go#1.22.6 md/GOOS#linux md/GOARCH#amd64 api/%s",
		"aws-sdk-java/2.28.6 Linux/6.1.109-118.189.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.4+7-LTS Java/21.0.4 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/standard",
		"aws-sdk-js/3.654.0 ua/2.1 os/linux#5.10.225-213.878.amzn2.x86_64 lang/js md/nodejs#20.17.0 api/%s#3.654.0",
	}
	ssmAgent = "aws-sdk-go/1.54.10 (go1.22.7; linux; amd64) amazon-ssm-agent/3.3.859.0"
)

// newPopulation builds the account's principals from the seed.
func newPopulation(seed uint64) *population {
	rng := rand.New(rand.NewPCG(seed, 0xC7))
	pop := &population{}
	add := func(p *principal) *principal {
		p.idx = len(pop.all)
		pop.all = append(pop.all, p)
		return p
	}
	user := func(name string, k kind) *principal {
		return add(&principal{kind: k, name: name, pid: "AIDA" + keyChars(rng, 17), arn: "arn:aws:iam::" + trailAccount + ":user/" + name,
			key: "AKIA" + keyChars(rng, 16), sessions: 12 * time.Hour})
	}
	role := func(name, roleKind string, sessions time.Duration) *principal {
		return add(&principal{kind: kRole, name: name, roleKind: roleKind, pid: "AROA" + keyChars(rng, 17),
			arn: "arn:aws:iam::" + trailAccount + ":role/" + name, sessions: sessions})
	}
	newPool := func(peak float64, hours [24]float64, weekend float64, ms []*principal) {
		p := &pool{members: ms, peak: peak, hours: hours, weekend: weekend}
		rng.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		total := 0.0
		for i := range ms {
			total += 1 / math.Pow(float64(i+1), 0.9)
			p.cum = append(p.cum, total)
		}
		pop.pools = append(pop.pools, p)
	}
	office := []string{"203.0.113.10", "203.0.113.11", "203.0.113.12"}
	human := func(n int, eu bool) []*principal {
		var out []*principal
		for i := range n {
			name := firstNames[rng.IntN(len(firstNames))] + "." + lastNames[rng.IntN(len(lastNames))]
			if i%3 == 0 {
				name += strconv.Itoa(i)
			}
			k := kUser
			if rng.IntN(5) < 3 {
				k = kConsole
			}
			p := user(name, k)
			home := fmt.Sprintf("100.%d.%d.%d", 64+rng.IntN(64), rng.IntN(256), 1+rng.IntN(254))
			if eu {
				p.ips = []string{office[rng.IntN(3)], office[rng.IntN(3)], home, "198.51.100.200"}
			} else {
				p.ips = []string{"203.0.113.40", "203.0.113.41", home}
				p.region = 2
			}
			if k == kConsole {
				p.agents = consoleAgents
			} else {
				p.agents = []string{cliAgents[rng.IntN(len(cliAgents))], cliAgents[rng.IntN(len(cliAgents))]}
			}
			p.errRate = 0.02 + rng.Float64()*0.04
			p.setEvents(rng, humanEvents, 6+rng.IntN(10))
			if k == kConsole {
				p.addEvent(catalog["signin:ConsoleLogin"], 0.4)
			}
			out = append(out, p)
		}
		return out
	}
	newPool(950, hoursEU, 0.06, human(70, true))
	newPool(520, hoursUS, 0.05, human(40, false))

	// SSO sessions of people, named by their e-mail address.
	var sso []*principal
	for i := range 30 {
		perm := []string{"AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "DeveloperAccess"}[rng.IntN(4)]
		p := role(fmt.Sprintf("AWSReservedSSO_%s_%s", perm, hexChars(rng, 16)), "sso", 8*time.Hour)
		p.arn = "arn:aws:iam::" + trailAccount + ":role/aws-reserved/sso.amazonaws.com/eu-west-1/" + p.name
		p.session = firstNames[rng.IntN(len(firstNames))] + "." + lastNames[rng.IntN(len(lastNames))] + strconv.Itoa(i) + "@example.com"
		p.ips = []string{office[rng.IntN(3)], fmt.Sprintf("100.%d.%d.%d", 64+rng.IntN(64), rng.IntN(256), 1+rng.IntN(254))}
		p.agents = []string{consoleAgents[0], consoleAgents[1+rng.IntN(2)], cliAgents[0]}
		p.errRate = 0.03
		p.setEvents(rng, humanEvents, 8+rng.IntN(8))
		sso = append(sso, p)
	}
	newPool(380, hoursEU, 0.05, sso)

	// Machine users: applications and third-party integrations with
	// long-lived keys.
	var machines []*principal
	for i := range 45 {
		svc := services[i%len(services)]
		name := []string{svc + "-app", svc + "-worker", "datadog-integration", "backup-agent", "snowflake-loader", "legacy-" + svc, "sentry-uploader"}[rng.IntN(7)]
		if i >= len(services) {
			name += "-" + strconv.Itoa(i)
		}
		p := user(name, kUser)
		if strings.HasPrefix(name, "datadog") || strings.HasPrefix(name, "snowflake") || strings.HasPrefix(name, "sentry") {
			base := 1 + rng.IntN(250)
			p.ips = []string{fmt.Sprintf("198.18.%d.%d", base, 10+rng.IntN(200)), fmt.Sprintf("198.18.%d.%d", base, 10+rng.IntN(200))}
		} else {
			p.ips = []string{"198.51.100.10", "198.51.100.11", "198.51.100.12", "198.51.100.13"}
		}
		p.region = pickShare(rng)
		p.agents = []string{sdkAgents[rng.IntN(len(sdkAgents))]}
		p.errRate = 0.005 + rng.Float64()*0.02
		p.resources = []string{svc}
		p.setEvents(rng, machineEvents, 4+rng.IntN(8))
		machines = append(machines, p)
	}
	newPool(1300, hoursM, 0.8, machines)

	// Workload roles: Lambda functions, EC2 instances, ECS tasks and a
	// GitHub Actions deploy role.
	var lambdas, instances, tasks []*principal
	for i := range 70 {
		svc := services[i%len(services)]
		fn := fmt.Sprintf("%s-%s", svc, []string{"handler", "consumer", "cron", "api", "resizer", "webhook", "etl"}[rng.IntN(7)])
		p := role(fn+"-role-"+keyChars(rng, 8), "lambda", time.Hour)
		p.resources = []string{svc, fn}
		p.session = fn
		p.region = pickShare(rng)
		p.ips = []string{fmt.Sprintf("198.19.%d.%d", rng.IntN(256), 1+rng.IntN(254)), fmt.Sprintf("198.19.%d.%d", rng.IntN(256), 1+rng.IntN(254))}
		p.agents = []string{sdkAgents[0], sdkAgents[3]}
		p.errRate = 0.01
		p.setEvents(rng, lambdaEvents, 4+rng.IntN(6))
		lambdas = append(lambdas, p)
	}
	newPool(1100, hoursM, 0.7, lambdas)
	for i := range 55 {
		svc := services[i%len(services)]
		p := role(svc+"-ec2-instance-role", "ec2", 6*time.Hour)
		p.resources = []string{svc, "i-0" + hexChars(rng, 16)}
		p.session = p.resources[1]
		p.region = pickShare(rng)
		sub := rng.IntN(4)
		p.ips = []string{fmt.Sprintf("10.0.%d.%d", sub*16+rng.IntN(16), 4+rng.IntN(250)), "198.51.100.1" + strconv.Itoa(sub)}
		p.agents = []string{ssmAgent, sdkAgents[2], cliAgents[2]}
		p.errRate = 0.008
		p.setEvents(rng, ec2Events, 5+rng.IntN(6))
		instances = append(instances, p)
	}
	newPool(1250, hoursM, 0.9, instances)
	for i := range 35 {
		svc := services[i%len(services)]
		p := role(svc+"-ecs-task-role", "ecs", 6*time.Hour)
		p.resources = []string{svc, hexChars(rng, 32)}
		p.session = p.resources[1]
		p.region = pickShare(rng)
		p.ips = []string{fmt.Sprintf("10.2.%d.%d", rng.IntN(64), 4+rng.IntN(250))}
		p.agents = []string{sdkAgents[1+rng.IntN(3)]}
		p.errRate = 0.01
		p.setEvents(rng, lambdaEvents, 4+rng.IntN(6))
		tasks = append(tasks, p)
	}
	gh := role("github-actions-deploy", "github", time.Hour)
	gh.resources = []string{"web"}
	gh.session = "GitHubActions"
	gh.ips = []string{"198.18.240.17", "198.18.241.90", "198.18.242.3"}
	gh.agents = []string{cliAgents[2]}
	gh.errRate = 0.02
	gh.setEvents(rng, ciEvents, len(ciEvents))
	newPool(600, hoursM, 0.6, append(tasks, gh))

	// AWS services acting on the account's behalf.
	var svcs []*principal
	for _, s := range []struct {
		host   string
		events []string
	}{
		{"s3.amazonaws.com", []string{"kms:GenerateDataKey", "kms:Decrypt"}},
		{"lambda.amazonaws.com", []string{"sts:AssumeRole"}},
		{"ecs-tasks.amazonaws.com", []string{"sts:AssumeRole"}},
		{"ec2.amazonaws.com", []string{"sts:AssumeRole"}},
		{"config.amazonaws.com", []string{"ec2:DescribeInstances", "ec2:DescribeSecurityGroups", "iam:GetRole", "s3:GetBucketAcl"}},
		{"cloudtrail.amazonaws.com", []string{"s3:GetBucketAcl"}},
		{"access-analyzer.amazonaws.com", []string{"iam:GetRole", "s3:GetBucketPolicy"}},
		{"autoscaling.amazonaws.com", []string{"ec2:DescribeInstances", "elasticloadbalancing:DescribeTargetHealth"}},
		{"monitoring.amazonaws.com", []string{"sts:AssumeRole"}},
		{"secretsmanager.amazonaws.com", []string{"kms:Decrypt", "kms:GenerateDataKey"}},
		{"logs.amazonaws.com", []string{"kms:Decrypt"}},
		{"guardduty.amazonaws.com", []string{"ec2:DescribeInstances", "iam:GetRole"}},
	} {
		p := add(&principal{kind: kService, name: s.host, ips: []string{s.host}, agents: []string{s.host}, region: pickShare(rng), resources: []string{services[rng.IntN(len(services))]}})
		for _, e := range s.events {
			p.addEvent(catalog[e], 1+rng.Float64()*4)
		}
		svcs = append(svcs, p)
	}
	newPool(700, hoursM, 0.85, svcs)

	// The key under review: a CI user's long-lived deploy key.
	pop.target = user("deploy-bot", kUser)
	pop.ciNew = user("deploy-bot", kUser)
	pop.ciNew.pid, pop.ciNew.arn = pop.target.pid, pop.target.arn
	pop.ciIPs = []string{"198.51.100.21", "198.51.100.22", "198.51.100.23"}
	pop.admin = user("maria.garcia", kConsole)
	pop.svcBackup = user("svc-backup", kUser)
	pop.derivedKey = pop.svcBackup.key
	pop.adminSession = role("deploy-admin", "sso", time.Hour)
	pop.adminSession.session = "deploy-bot"
	pop.derivedSession = "ASIA" + keyChars(rng, 16)
	pop.adminSession.key = pop.derivedSession
	return pop
}

func (p *principal) addEvent(e *evType, w float64) {
	if e == nil {
		panic("unknown event")
	}
	p.events = append(p.events, e)
	prev := 0.0
	if len(p.cum) > 0 {
		prev = p.cum[len(p.cum)-1]
	}
	p.cum = append(p.cum, prev+w)
}

// setEvents gives p n of a profile's events, weighted by the profile and
// by chance, so that principals of a kind differ.
func (p *principal) setEvents(rng *rand.Rand, profile []weighted, n int) {
	idx := rng.Perm(len(profile))
	for _, i := range idx[:min(n, len(idx))] {
		p.addEvent(catalog[profile[i].name], profile[i].w*(0.3+rng.Float64()*1.4))
	}
}

type weighted struct {
	name string
	w    float64
}

var humanEvents = []weighted{
	{"ec2:DescribeInstances", 10}, {"ec2:DescribeSecurityGroups", 4}, {"ec2:DescribeVpcs", 2}, {"s3:ListBuckets", 3},
	{"s3:GetObject", 4}, {"s3:PutObject", 1}, {"iam:ListRoles", 2}, {"iam:GetRole", 2}, {"cloudformation:DescribeStacks", 5},
	{"logs:DescribeLogGroups", 3}, {"sts:GetCallerIdentity", 3}, {"ssm:GetParameter", 2}, {"lambda:ListFunctions20150331", 2},
	{"ecs:DescribeServices", 3}, {"ecs:ListClusters", 1}, {"rds:DescribeDBInstances", 2}, {"monitoring:DescribeAlarms", 3},
	{"kms:ListAliases", 1}, {"secretsmanager:GetSecretValue", 0.5}, {"ec2:RunInstances", 0.3}, {"ec2:TerminateInstances", 0.2},
	{"dynamodb:DescribeTable", 1}, {"iam:ListAccessKeys", 0.3}, {"iam:CreateAccessKey", 0.05}, {"ecr:DescribeImages", 1},
}

var machineEvents = []weighted{
	{"s3:GetObject", 20}, {"s3:PutObject", 8}, {"kms:Decrypt", 6}, {"kms:GenerateDataKey", 3}, {"secretsmanager:GetSecretValue", 2},
	{"ssm:GetParameters", 3}, {"sts:GetCallerIdentity", 1}, {"sts:AssumeRole", 2}, {"dynamodb:GetItem", 6}, {"dynamodb:PutItem", 3},
	{"ec2:DescribeInstances", 3}, {"monitoring:DescribeAlarms", 2}, {"cloudformation:DescribeStacks", 1}, {"ec2:DescribeVolumes", 2},
	{"elasticloadbalancing:DescribeTargetHealth", 1}, {"rds:DescribeDBInstances", 1}, {"logs:DescribeLogGroups", 1}, {"iam:ListUsers", 0.3},
}

var lambdaEvents = []weighted{
	{"kms:Decrypt", 10}, {"s3:GetObject", 8}, {"s3:PutObject", 4}, {"dynamodb:GetItem", 8}, {"dynamodb:PutItem", 5}, {"dynamodb:Query", 4},
	{"logs:CreateLogStream", 3}, {"ssm:GetParameter", 3}, {"secretsmanager:GetSecretValue", 2}, {"sts:GetCallerIdentity", 0.5},
	{"lambda:Invoke", 2}, {"sts:AssumeRole", 1}, {"ecr:BatchGetImage", 1}, {"ecr:GetDownloadUrlForLayer", 2},
}

var ec2Events = []weighted{
	{"ssm:UpdateInstanceInformation", 12}, {"ssm:ListInstanceAssociations", 4}, {"ec2:DescribeTags", 4}, {"ec2:DescribeInstances", 2},
	{"s3:GetObject", 10}, {"s3:PutObject", 5}, {"kms:Decrypt", 4}, {"logs:CreateLogStream", 1}, {"autoscaling:DescribeAutoScalingGroups", 1},
	{"ecr:GetAuthorizationToken", 1}, {"ecr:BatchGetImage", 2}, {"ecr:GetDownloadUrlForLayer", 3},
}

var ciEvents = []weighted{
	{"sts:GetCallerIdentity", 2}, {"s3:PutObject", 6}, {"cloudformation:DescribeStacks", 4}, {"ecr:GetAuthorizationToken", 1},
	{"ecr:BatchCheckLayerAvailability", 4}, {"ecr:PutImage", 1}, {"ecs:RegisterTaskDefinition", 1}, {"ecs:UpdateService", 1},
	{"ecs:DescribeServices", 6}, {"lambda:UpdateFunctionCode20150331v2", 0.5},
}

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func keyChars(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = keyAlphabet[rng.IntN(len(keyAlphabet))]
	}
	return string(b)
}

func hexChars(rng *rand.Rand, n int) string {
	const hx = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hx[rng.IntN(16)]
	}
	return string(b)
}

// ---- what they do: the event catalogue ----

// evType is one CloudTrail event name and how its records look.
type evType struct {
	source, name string
	readOnly     bool
	data         bool // a data event (S3 objects, Lambda Invoke, DynamoDB items)
	global       bool // recorded in us-east-1 whatever the caller's region (IAM, sign-in)
	errs         []string
	params       func(c *call) // appends requestParameters, responseElements and extras
}

// call is one record being written.
type call struct {
	g        *gen
	b        []byte
	p        *principal
	ev       *evType
	t        time.Time
	region   string
	arg, out string // a scripted event's argument (user, role, secret) and the key it creates
	failed   bool
}

func (c *call) f(format string, a ...any) { c.b = fmt.Appendf(c.b, format, a...) }

// svc is the application the caller works for.
func (c *call) svc() string {
	if len(c.p.resources) > 0 {
		return c.p.resources[0]
	}
	return services[c.g.rng.IntN(len(services))]
}

func (c *call) bucket() string {
	return "acme-" + c.svc() + "-" + []string{"prod", "prod", "data", "artifacts", "staging", "exports"}[c.g.rng.IntN(6)]
}

func (c *call) uuid() string {
	r := c.g.rng
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), 0x8000|r.IntN(1<<14), r.Uint64()&(1<<48-1))
}

// resp writes responseElements, null for a failed call.
func (c *call) resp(format string, a ...any) {
	if c.failed {
		c.b = append(c.b, `"responseElements":null,`...)
		return
	}
	c.b = append(c.b, `"responseElements":`...)
	c.f(format, a...)
	c.b = append(c.b, ',')
}

func nullParams(c *call) { c.b = append(c.b, `"requestParameters":null,"responseElements":null,`...) }

func s3Extra(c *call, in, out int) {
	c.f(`"additionalEventData":{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":%d,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"%s","bytesTransferredOut":%d},`,
		in, c.g.b64(76), out)
}

func s3Object(put bool) func(c *call) {
	return func(c *call) {
		bk := c.bucket()
		r := c.g.rng
		key := fmt.Sprintf("%s/%d/%02d/%02d/%s-%05d.%s", []string{"exports", "uploads", "db", "events", "reports"}[r.IntN(5)],
			c.t.Year(), int(c.t.Month()), c.t.Day(), c.svc(), r.IntN(100000), []string{"parquet", "json.gz", "csv", "pdf", "sql.gz"}[r.IntN(5)])
		if c.arg != "" {
			bk, key = c.arg, fmt.Sprintf("db/%s-%03d.sql.gz", c.t.Format("2006-01-02"), r.IntN(1000))
		}
		c.f(`"requestParameters":{"bucketName":"%s","Host":"%s.s3.%s.amazonaws.com","key":"%s"`, bk, bk, c.region, key)
		if put {
			c.f(`,"x-amz-server-side-encryption":"aws:kms","x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:%s:%s:key/%s"},`, c.region, trailAccount, c.uuid())
			c.resp(`{"x-amz-server-side-encryption":"aws:kms","x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:%s:%s:key/%s","x-amz-version-id":"%s"}`,
				c.region, trailAccount, c.uuid(), c.g.b64(32))
			s3Extra(c, r.IntN(8<<20), 0)
		} else {
			c.b = append(c.b, `},"responseElements":null,`...)
			s3Extra(c, 0, r.IntN(64<<20))
		}
		c.f(`"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::%s/%s"},{"accountId":"%s","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::%s"}],`, bk, key, trailAccount, bk)
	}
}

func s3Bucket(extra string) func(c *call) {
	return func(c *call) {
		bk := c.bucket()
		c.f(`"requestParameters":{"bucketName":"%s","Host":"%s.s3.%s.amazonaws.com"%s},"responseElements":null,`, bk, bk, c.region, extra)
		s3Extra(c, 0, 300+c.g.rng.IntN(3000))
		c.f(`"resources":[{"accountId":"%s","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::%s"}],`, trailAccount, bk)
	}
}

func filterOn(name string) func(c *call) {
	return func(c *call) {
		c.f(`"requestParameters":{"%s":{},"filterSet":{"items":[{"name":"tag:Service","valueSet":{"items":[{"value":"%s"}]}}]}},"responseElements":null,`, name, c.svc())
	}
}

func simple(format string, args ...func(c *call) string) func(c *call) {
	return func(c *call) {
		a := make([]any, len(args))
		for i, f := range args {
			a[i] = f(c)
		}
		c.b = append(c.b, `"requestParameters":`...)
		c.f(format, a...)
		c.b = append(c.b, `,"responseElements":null,`...)
	}
}

var (
	argSvc    = func(c *call) string { return c.svc() }
	argRegion = func(c *call) string { return c.region }
	argHex8   = func(c *call) string { return hexChars(c.g.rng, 8) }
	argArg    = func(c *call) string { return c.arg }
	argInst   = func(c *call) string {
		if len(c.p.resources) > 1 && strings.HasPrefix(c.p.resources[1], "i-") {
			return c.p.resources[1]
		}
		return "i-0" + hexChars(c.g.rng, 16)
	}
	argSecret = func(c *call) string {
		if c.arg != "" {
			return c.arg
		}
		return "prod/" + c.svc() + "/" + []string{"db", "api-key", "oauth-client", "smtp"}[c.g.rng.IntN(4)]
	}
)

func kmsParams(ctxKey string) func(c *call) {
	return func(c *call) {
		spec := ""
		if ctxKey == "aws:s3:arn" {
			spec = `"keySpec":"AES_256",`
		}
		c.f(`"requestParameters":{%s"encryptionContext":{"%s":"arn:aws:%s:%s:%s:%s"},"encryptionAlgorithm":"SYMMETRIC_DEFAULT"},"responseElements":null,`,
			spec, ctxKey, map[string]string{"aws:s3:arn": "s3", "aws:lambda:FunctionArn": "lambda"}[ctxKey], c.region, trailAccount, c.svc()+"-"+hexChars(c.g.rng, 6))
		c.f(`"resources":[{"accountId":"%s","type":"AWS::KMS::Key","ARN":"arn:aws:kms:%s:%s:key/%s"}],`, trailAccount, c.region, trailAccount, c.uuid())
	}
}

func assumeRole(c *call) {
	roleName, session := c.svc()+"-cross-account", fmt.Sprintf("%s-%d", c.svc(), c.t.Unix())
	if c.arg != "" {
		roleName, session = c.arg, "deploy-bot"
	}
	if c.p.kind == kService {
		roleName, session = c.svc()+"-"+strings.TrimSuffix(c.p.name, ".amazonaws.com")+"-role", hexChars(c.g.rng, 32)
	}
	key := c.out
	if key == "" {
		key = "ASIA" + keyChars(c.g.rng, 16)
	}
	c.f(`"requestParameters":{"roleArn":"arn:aws:iam::%s:role/%s","roleSessionName":"%s","durationSeconds":3600},`, trailAccount, roleName, session)
	c.resp(`{"credentials":{"accessKeyId":"%s","sessionToken":"IQoJb3JpZ2luX2VjE%s","expiration":"%s"},"assumedRoleUser":{"assumedRoleId":"AROA%s:%s","arn":"arn:aws:sts::%s:assumed-role/%s/%s"}}`,
		key, c.g.b64(380), c.t.Add(time.Hour).Format("Jan 2, 2006, 3:04:05 PM"), keyChars(c.g.rng, 17), session, trailAccount, roleName, session)
	c.f(`"resources":[{"accountId":"%s","type":"AWS::IAM::Role","ARN":"arn:aws:iam::%s:role/%s"}],"sharedEventID":"%s",`, trailAccount, trailAccount, roleName, c.uuid())
}

func accessKeyParams(c *call) {
	user := c.arg
	if user == "" {
		user = c.svc() + "-app"
	}
	key := c.out
	if key == "" {
		key = "AKIA" + keyChars(c.g.rng, 16)
	}
	c.f(`"requestParameters":{"userName":"%s"},`, user)
	c.resp(`{"accessKey":{"accessKeyId":"%s","status":"Active","userName":"%s","createDate":"%s"}}`, key, user, c.t.Format("Jan 2, 2006 3:04:05 PM"))
}

func ecsService(c *call) {
	svc := c.svc()
	td := fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s-api:%d", c.region, trailAccount, svc, 100+c.g.rng.IntN(300))
	c.f(`"requestParameters":{"cluster":"prod","service":"%s-api","taskDefinition":"%s","forceNewDeployment":false},`, svc, td)
	c.resp(`{"service":{"serviceArn":"arn:aws:ecs:%s:%s:service/prod/%s-api","serviceName":"%s-api","clusterArn":"arn:aws:ecs:%s:%s:cluster/prod","loadBalancers":[{"targetGroupArn":"arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s-tg/%s","containerName":"%s","containerPort":8080}],"serviceRegistries":[],"status":"ACTIVE","desiredCount":3,"runningCount":3,"pendingCount":0,"launchType":"FARGATE","platformVersion":"LATEST","platformFamily":"Linux","taskDefinition":"%s","deploymentConfiguration":{"deploymentCircuitBreaker":{"enable":true,"rollback":true},"maximumPercent":200,"minimumHealthyPercent":100},"deployments":[{"id":"ecs-svc/%d","status":"PRIMARY","taskDefinition":"%s","desiredCount":0,"pendingCount":0,"runningCount":0,"failedTasks":0,"createdAt":"%s","updatedAt":"%s","launchType":"FARGATE","platformVersion":"1.4.0","platformFamily":"Linux","networkConfiguration":{"awsvpcConfiguration":{"subnets":["subnet-0%s","subnet-0%s"],"securityGroups":["sg-0%s"],"assignPublicIp":"DISABLED"}},"rolloutState":"IN_PROGRESS","rolloutStateReason":"ECS deployment ecs-svc/%d in progress."}],"roleArn":"arn:aws:iam::%s:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS","createdAt":"Mar 3, 2025, 10:12:44 AM","placementConstraints":[],"placementStrategy":[],"healthCheckGracePeriodSeconds":60,"schedulingStrategy":"REPLICA","enableECSManagedTags":true,"propagateTags":"SERVICE","enableExecuteCommand":false}}`,
		c.region, trailAccount, svc, svc, c.region, trailAccount, c.region, trailAccount, svc, hexChars(c.g.rng, 16), svc, td, c.g.rng.Int64(), td,
		c.t.Format("Jan 2, 2006, 3:04:05 PM"), c.t.Format("Jan 2, 2006, 3:04:05 PM"), hexChars(c.g.rng, 16), hexChars(c.g.rng, 16), hexChars(c.g.rng, 16), c.g.rng.Int64(), trailAccount)
}

func registerTaskDef(c *call) {
	svc := c.svc()
	c.f(`"requestParameters":{"family":"%s-api","taskRoleArn":"arn:aws:iam::%s:role/%s-ecs-task-role","executionRoleArn":"arn:aws:iam::%s:role/ecsTaskExecutionRole","networkMode":"awsvpc","containerDefinitions":[{"name":"%s","image":"%s.dkr.ecr.%s.amazonaws.com/%s-api:git-%s","cpu":0,"portMappings":[{"containerPort":8080,"hostPort":8080,"protocol":"tcp"}],"essential":true,"environment":[{"name":"APP_ENV","value":"production"},{"name":"LOG_LEVEL","value":"info"},{"name":"AWS_REGION","value":"%s"}],"secrets":[{"name":"DATABASE_URL","valueFrom":"arn:aws:secretsmanager:%s:%s:secret:prod/%s/db"}],"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/ecs/%s-api","awslogs-region":"%s","awslogs-stream-prefix":"ecs"}}}],"requiresCompatibilities":["FARGATE"],"cpu":"512","memory":"1024"},`,
		svc, trailAccount, svc, trailAccount, svc, trailAccount, c.region, svc, hexChars(c.g.rng, 7), c.region, c.region, trailAccount, svc, svc, c.region)
	c.resp(`{"taskDefinition":{"taskDefinitionArn":"arn:aws:ecs:%s:%s:task-definition/%s-api:%d","family":"%s-api","revision":%d,"status":"ACTIVE","compatibilities":["EC2","FARGATE"],"registeredAt":"%s","registeredBy":"%s"}}`,
		c.region, trailAccount, svc, 100+c.g.rng.IntN(300), svc, 100+c.g.rng.IntN(300), c.t.Format("Jan 2, 2006, 3:04:05 PM"), c.p.arn)
}

func putImage(c *call) {
	svc, tag := c.svc(), "git-"+hexChars(c.g.rng, 7)
	manifest := fmt.Sprintf(`{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n   \"config\": {\n      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n      \"size\": %d,\n      \"digest\": \"sha256:%s\"\n   },\n   \"layers\": [\n      {\n         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n         \"size\": %d,\n         \"digest\": \"sha256:%s\"\n      },\n      {\n         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n         \"size\": %d,\n         \"digest\": \"sha256:%s\"\n      }\n   ]\n}`,
		4000+c.g.rng.IntN(4000), hexChars(c.g.rng, 64), c.g.rng.IntN(30<<20), hexChars(c.g.rng, 64), c.g.rng.IntN(30<<20), hexChars(c.g.rng, 64))
	c.f(`"requestParameters":{"repositoryName":"%s-api","imageTag":"%s","imageManifest":"%s","registryId":"%s"},`, svc, tag, manifest, trailAccount)
	c.resp(`{"image":{"registryId":"%s","repositoryName":"%s-api","imageId":{"imageDigest":"sha256:%s","imageTag":"%s"},"imageManifestMediaType":"application/vnd.docker.distribution.manifest.v2+json"}}`, trailAccount, svc, hexChars(c.g.rng, 64), tag)
	c.f(`"resources":[{"accountId":"%s","ARN":"arn:aws:ecr:%s:%s:repository/%s-api"}],`, trailAccount, c.region, trailAccount, svc)
}

func layers(c *call) {
	c.f(`"requestParameters":{"repositoryName":"%s-api","registryId":"%s","layerDigests":["sha256:%s"]},"responseElements":null,"resources":[{"accountId":"%s","ARN":"arn:aws:ecr:%s:%s:repository/%s-api"}],`,
		c.svc(), trailAccount, hexChars(c.g.rng, 64), trailAccount, c.region, trailAccount, c.svc())
}

func runInstances(c *call) {
	inst, ami := "i-0"+hexChars(c.g.rng, 16), "ami-0"+hexChars(c.g.rng, 16)
	c.f(`"requestParameters":{"instancesSet":{"items":[{"imageId":"%s","minCount":1,"maxCount":1}]},"instanceType":"m7i.large","blockDeviceMapping":{},"monitoring":{"enabled":false},"disableApiTermination":false,"disableApiStop":false,"clientToken":"%s","tagSpecificationSet":{"items":[{"resourceType":"instance","tags":[{"key":"Service","value":"%s"},{"key":"Owner","value":"%s"}]}]}},`,
		ami, c.uuid(), c.svc(), c.p.name)
	c.resp(`{"requestId":"%s","reservationId":"r-0%s","ownerId":"%s","groupSet":{},"instancesSet":{"items":[{"instanceId":"%s","imageId":"%s","currentInstanceBootMode":"uefi","instanceState":{"code":0,"name":"pending"},"privateDnsName":"ip-10-0-%d-%d.ec2.internal","amiLaunchIndex":0,"productCodes":{},"instanceType":"m7i.large","launchTime":%d,"placement":{"availabilityZone":"%sa","tenancy":"default"},"monitoring":{"state":"disabled"},"subnetId":"subnet-0%s","vpcId":"vpc-0%s","privateIpAddress":"10.0.%d.%d","stateReason":{"code":"pending","message":"pending"},"architecture":"x86_64","rootDeviceType":"ebs","rootDeviceName":"/dev/xvda","blockDeviceMapping":{},"virtualizationType":"hvm","hypervisor":"xen","tagSet":{"items":[{"key":"Service","value":"%s"}]},"groupSet":{"items":[{"groupId":"sg-0%s","groupName":"default"}]},"sourceDestCheck":true,"networkInterfaceSet":{"items":[{"networkInterfaceId":"eni-0%s","subnetId":"subnet-0%s","vpcId":"vpc-0%s","ownerId":"%s","status":"in-use","macAddress":"0e:%s","privateIpAddress":"10.0.%d.%d","sourceDestCheck":true,"interfaceType":"interface"}]},"ebsOptimized":true,"enaSupport":true,"cpuOptions":{"coreCount":1,"threadsPerCore":2},"capacityReservationSpecification":{"capacityReservationPreference":"open"},"enclaveOptions":{"enabled":false},"metadataOptions":{"state":"pending","httpTokens":"required","httpPutResponseHopLimit":2,"httpEndpoint":"enabled","httpProtocolIpv4":"enabled","httpProtocolIpv6":"disabled","instanceMetadataTags":"disabled"},"maintenanceOptions":{"autoRecovery":"default"},"privateDnsNameOptions":{"hostnameType":"ip-name","enableResourceNameDnsARecord":false,"enableResourceNameDnsAAAARecord":false}}]}}`,
		c.uuid(), hexChars(c.g.rng, 16), trailAccount, inst, ami, c.g.rng.IntN(256), c.g.rng.IntN(256), c.t.UnixMilli(), c.region, hexChars(c.g.rng, 16), hexChars(c.g.rng, 16),
		c.g.rng.IntN(256), c.g.rng.IntN(256), c.svc(), hexChars(c.g.rng, 16), hexChars(c.g.rng, 16), hexChars(c.g.rng, 16), hexChars(c.g.rng, 16), trailAccount, hexChars(c.g.rng, 10), c.g.rng.IntN(256), c.g.rng.IntN(256))
}

func updateFunctionCode(c *call) {
	fn := c.svc() + "-handler"
	c.f(`"requestParameters":{"functionName":"%s","publish":false,"dryRun":false,"s3Bucket":"acme-%s-artifacts","s3Key":"lambda/%s/%s.zip"},`, fn, c.svc(), fn, hexChars(c.g.rng, 40))
	c.resp(`{"functionName":"%s","functionArn":"arn:aws:lambda:%s:%s:function:%s","runtime":"python3.12","role":"arn:aws:iam::%s:role/%s-role","handler":"app.handler","codeSize":%d,"description":"","timeout":30,"memorySize":512,"lastModified":"%s","codeSha256":"%s=","version":"$LATEST","environment":{},"tracingConfig":{"mode":"PassThrough"},"revisionId":"%s","state":"Active","lastUpdateStatus":"InProgress","lastUpdateStatusReason":"The function is being created.","lastUpdateStatusReasonCode":"Creating","packageType":"Zip","architectures":["arm64"],"ephemeralStorage":{"size":512},"snapStart":{"applyOn":"None","optimizationStatus":"Off"},"runtimeVersionConfig":{"runtimeVersionArn":"arn:aws:lambda:%s::runtime:%s"},"loggingConfig":{"logFormat":"Text","logGroup":"/aws/lambda/%s"}}`,
		fn, c.region, trailAccount, fn, trailAccount, fn, 100000+c.g.rng.IntN(5<<20), c.t.Format("2006-01-02T15:04:05.000-0700"), c.g.b64(43), c.uuid(), c.region, hexChars(c.g.rng, 64), fn)
}

func consoleLogin(c *call) {
	c.b = append(c.b, `"requestParameters":null,"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true","MobileVersion":"No","MFAIdentifier":"arn:aws:iam::`...)
	c.f(`%s:mfa/%s","MFAUsed":"Yes"},`, trailAccount, c.p.name)
}

var catalog = buildCatalog()

func buildCatalog() map[string]*evType {
	denied := []string{"AccessDenied"}
	evs := []*evType{
		{source: "s3", name: "GetObject", readOnly: true, data: true, errs: []string{"NoSuchKey", "AccessDenied"}, params: s3Object(false)},
		{source: "s3", name: "PutObject", data: true, errs: denied, params: s3Object(true)},
		{source: "s3", name: "ListObjects", readOnly: true, data: true, errs: denied, params: s3Bucket(`,"list-type":"2","prefix":"db/","max-keys":"1000","encoding-type":"url"`)},
		{source: "s3", name: "ListBuckets", readOnly: true, errs: denied, params: func(c *call) {
			c.b = append(c.b, `"requestParameters":{"Host":"s3.amazonaws.com"},"responseElements":null,`...)
			s3Extra(c, 0, 2000+c.g.rng.IntN(6000))
		}},
		{source: "s3", name: "GetBucketAcl", readOnly: true, params: s3Bucket(`,"acl":""`)},
		{source: "s3", name: "GetBucketPolicy", readOnly: true, errs: []string{"NoSuchBucketPolicy"}, params: s3Bucket(`,"policy":""`)},
		{source: "ec2", name: "DescribeInstances", readOnly: true, errs: []string{"Client.UnauthorizedOperation", "Client.RequestLimitExceeded"}, params: func(c *call) {
			c.f(`"requestParameters":{"instancesSet":{},"filterSet":{"items":[{"name":"tag:Service","valueSet":{"items":[{"value":"%s"}]}},{"name":"instance-state-name","valueSet":{"items":[{"value":"running"}]}}]}},"responseElements":null,`, c.svc())
		}},
		{source: "ec2", name: "DescribeSecurityGroups", readOnly: true, errs: []string{"Client.UnauthorizedOperation"}, params: filterOn("securityGroupSet")},
		{source: "ec2", name: "DescribeVpcs", readOnly: true, params: filterOn("vpcSet")},
		{source: "ec2", name: "DescribeVolumes", readOnly: true, errs: []string{"Client.RequestLimitExceeded"}, params: filterOn("volumeSet")},
		{source: "ec2", name: "DescribeTags", readOnly: true, params: simple(`{"filterSet":{"items":[{"name":"resource-id","valueSet":{"items":[{"value":"%s"}]}}]}}`, argInst)},
		{source: "ec2", name: "DescribeRegions", readOnly: true, params: simple(`{"regionSet":{},"allRegions":true}`)},
		{source: "ec2", name: "RunInstances", errs: []string{"Client.UnauthorizedOperation", "Server.InsufficientInstanceCapacity"}, params: runInstances},
		{source: "ec2", name: "TerminateInstances", errs: []string{"Client.UnauthorizedOperation"}, params: func(c *call) {
			inst := "i-0" + hexChars(c.g.rng, 16)
			c.f(`"requestParameters":{"instancesSet":{"items":[{"instanceId":"%s"}]}},`, inst)
			c.resp(`{"requestId":"%s","instancesSet":{"items":[{"instanceId":"%s","currentState":{"code":32,"name":"shutting-down"},"previousState":{"code":16,"name":"running"}}]}}`, c.uuid(), inst)
		}},
		{source: "iam", name: "ListRoles", readOnly: true, global: true, errs: denied, params: simple(`{"maxItems":100}`)},
		{source: "iam", name: "GetRole", readOnly: true, global: true, errs: []string{"NoSuchEntityException", "AccessDenied"}, params: simple(`{"roleName":"%s-ecs-task-role"}`, argSvc)},
		{source: "iam", name: "ListUsers", readOnly: true, global: true, errs: denied, params: nullParams},
		{source: "iam", name: "GetUser", readOnly: true, global: true, errs: denied, params: nullParams},
		{source: "iam", name: "ListAttachedUserPolicies", readOnly: true, global: true, errs: denied, params: simple(`{"userName":"%s"}`, argArg)},
		{source: "iam", name: "ListAccessKeys", readOnly: true, global: true, errs: denied, params: simple(`{"userName":"%s-app"}`, argSvc)},
		{source: "iam", name: "CreateAccessKey", global: true, errs: []string{"AccessDenied", "LimitExceededException"}, params: accessKeyParams},
		{source: "iam", name: "UpdateAccessKey", global: true, params: simple(`{"userName":"deploy-bot","accessKeyId":"%s","status":"Inactive"}`, argArg)},
		{source: "iam", name: "DeleteAccessKey", global: true, params: simple(`{"userName":"deploy-bot","accessKeyId":"%s"}`, argArg)},
		{source: "signin", name: "ConsoleLogin", global: true, params: consoleLogin},
		{source: "sts", name: "GetCallerIdentity", readOnly: true, params: nullParams},
		{source: "sts", name: "AssumeRole", readOnly: true, errs: denied, params: assumeRole},
		{source: "kms", name: "Decrypt", readOnly: true, errs: []string{"AccessDeniedException", "InvalidCiphertextException"}, params: kmsParams("aws:lambda:FunctionArn")},
		{source: "kms", name: "GenerateDataKey", readOnly: true, errs: []string{"AccessDeniedException"}, params: kmsParams("aws:s3:arn")},
		{source: "kms", name: "ListAliases", readOnly: true, params: simple(`{"limit":100}`)},
		{source: "secretsmanager", name: "GetSecretValue", readOnly: true, errs: []string{"ResourceNotFoundException", "AccessDeniedException"},
			params: simple(`{"secretId":"arn:aws:secretsmanager:%s:`+trailAccount+`:secret:%s-%s"}`, argRegion, argSecret, func(c *call) string { return keyChars(c.g.rng, 6) })},
		{source: "secretsmanager", name: "ListSecrets", readOnly: true, errs: []string{"AccessDeniedException"}, params: simple(`{"maxResults":100}`)},
		{source: "ssm", name: "GetParameter", readOnly: true, errs: []string{"ParameterNotFound", "AccessDeniedException"}, params: simple(`{"name":"/prod/%s/db_host","withDecryption":true}`, argSvc)},
		{source: "ssm", name: "GetParameters", readOnly: true, errs: []string{"AccessDeniedException"}, params: simple(`{"names":["/prod/%s/db_host","/prod/%[1]s/db_user","/prod/%[1]s/feature_flags"],"withDecryption":true}`, argSvc)},
		{source: "ssm", name: "UpdateInstanceInformation", errs: []string{"ThrottlingException"}, params: func(c *call) {
			c.f(`"requestParameters":{"instanceId":"%s","agentVersion":"3.3.859.0","agentStatus":"Active","platformType":"Linux","platformName":"Amazon Linux","platformVersion":"2023","iPAddress":"10.0.%d.%d","computerName":"ip-10-0-%[2]d-%[3]d.ec2.internal","agentName":"amazon-ssm-agent","availabilityZone":"%sa","availabilityZoneId":"use1-az4","sSMConnectionChannel":"ssmmessages"},"responseElements":null,`,
				argInst(c), c.g.rng.IntN(64), c.g.rng.IntN(256), c.region)
		}},
		{source: "ssm", name: "ListInstanceAssociations", readOnly: true, params: simple(`{"instanceId":"%s","maxResults":100}`, argInst)},
		{source: "logs", name: "DescribeLogGroups", readOnly: true, params: simple(`{"limit":50,"logGroupNamePrefix":"/aws/lambda/%s"}`, argSvc)},
		{source: "logs", name: "CreateLogStream", errs: []string{"ResourceAlreadyExistsException"}, params: simple(`{"logGroupName":"/aws/lambda/%s","logStreamName":"%s/[$LATEST]%s"}`,
			argSvc, func(c *call) string { return c.t.Format("2006/01/02") }, func(c *call) string { return hexChars(c.g.rng, 32) })},
		{source: "dynamodb", name: "DescribeTable", readOnly: true, errs: []string{"ResourceNotFoundException"}, params: simple(`{"tableName":"%s"}`, argSvc)},
		{source: "dynamodb", name: "GetItem", readOnly: true, data: true, errs: []string{"ProvisionedThroughputExceededException"}, params: dynamoItem},
		{source: "dynamodb", name: "PutItem", data: true, errs: []string{"ConditionalCheckFailedException"}, params: dynamoItem},
		{source: "dynamodb", name: "Query", readOnly: true, data: true, params: dynamoItem},
		{source: "lambda", name: "ListFunctions20150331", readOnly: true, params: nullParams},
		{source: "lambda", name: "Invoke", data: true, errs: []string{"TooManyRequestsException"}, params: func(c *call) {
			fn := fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s-handler", c.region, trailAccount, c.svc())
			c.f(`"requestParameters":{"functionName":"%s","invocationType":"Event","sourceArn":"arn:aws:sqs:%s:%s:%s-events"},"responseElements":null,"additionalEventData":{"functionVersion":"%s:$LATEST"},"resources":[{"accountId":"%s","type":"AWS::Lambda::Function","ARN":"%s"}],`,
				fn, c.region, trailAccount, c.svc(), fn, trailAccount, fn)
		}},
		{source: "lambda", name: "UpdateFunctionCode20150331v2", params: updateFunctionCode},
		{source: "ecs", name: "DescribeServices", readOnly: true, errs: []string{"ThrottlingException"}, params: simple(`{"cluster":"prod","services":["%s-api"]}`, argSvc)},
		{source: "ecs", name: "ListClusters", readOnly: true, params: simple(`{"maxResults":100}`)},
		{source: "ecs", name: "UpdateService", params: ecsService},
		{source: "ecs", name: "RegisterTaskDefinition", params: registerTaskDef},
		{source: "ecr", name: "GetAuthorizationToken", readOnly: true, params: simple(`{"registryIds":["` + trailAccount + `"]}`)},
		{source: "ecr", name: "BatchCheckLayerAvailability", readOnly: true, params: layers},
		{source: "ecr", name: "BatchGetImage", readOnly: true, params: func(c *call) {
			c.f(`"requestParameters":{"imageIds":[{"imageTag":"git-%s"}],"acceptedMediaTypes":["application/vnd.docker.distribution.manifest.v1+json","application/vnd.docker.distribution.manifest.v2+json","application/vnd.oci.image.manifest.v1+json"],"repositoryName":"%s-api","registryId":"%s"},"responseElements":null,"resources":[{"accountId":"%[3]s","ARN":"arn:aws:ecr:%s:%[3]s:repository/%[2]s-api"}],`,
				hexChars(c.g.rng, 7), c.svc(), trailAccount, c.region)
		}},
		{source: "ecr", name: "GetDownloadUrlForLayer", readOnly: true, params: layers},
		{source: "ecr", name: "PutImage", errs: []string{"ImageAlreadyExistsException"}, params: putImage},
		{source: "ecr", name: "DescribeImages", readOnly: true, params: simple(`{"repositoryName":"%s-api","maxResults":100}`, argSvc)},
		{source: "cloudformation", name: "DescribeStacks", readOnly: true, errs: []string{"ValidationError"}, params: simple(`{"stackName":"%s-prod"}`, argSvc)},
		{source: "rds", name: "DescribeDBInstances", readOnly: true, params: nullParams},
		{source: "monitoring", name: "DescribeAlarms", readOnly: true, params: simple(`{"alarmNamePrefix":"%s-","maxRecords":100}`, argSvc)},
		{source: "elasticloadbalancing", name: "DescribeTargetHealth", readOnly: true, params: simple(`{"targetGroupArn":"arn:aws:elasticloadbalancing:%s:`+trailAccount+`:targetgroup/%s-tg/%s"}`, argRegion, argSvc, argHex8)},
		{source: "autoscaling", name: "DescribeAutoScalingGroups", readOnly: true, params: simple(`{"autoScalingGroupNames":["%s-asg"]}`, argSvc)},
		{source: "cloudtrail", name: "StopLogging", errs: denied, params: simple(`{"name":"arn:aws:cloudtrail:us-east-1:` + trailAccount + `:trail/org-trail"}`)},
		{source: "guardduty", name: "ListDetectors", readOnly: true, errs: denied, params: nullParams},
	}
	m := map[string]*evType{}
	for _, e := range evs {
		m[e.source+":"+e.name] = e
		e.source += ".amazonaws.com"
	}
	return m
}

func dynamoItem(c *call) {
	svc := c.svc()
	c.f(`"requestParameters":{"tableName":"%s","key":{"pk":"%s#%s","sk":"v%d"}},"responseElements":null,"resources":[{"accountId":"%s","type":"AWS::DynamoDB::Table","ARN":"arn:aws:dynamodb:%s:%[5]s:table/%[1]s"}],`,
		svc, strings.ToUpper(svc[:1]), hexChars(c.g.rng, 12), c.g.rng.IntN(9), trailAccount, c.region)
}

// errorMessage is the message CloudTrail records with code.
func errorMessage(c *call, code string) string {
	svc := strings.TrimSuffix(c.ev.source, ".amazonaws.com")
	who := c.identityARN()
	switch code {
	case "AccessDenied", "AccessDeniedException":
		return fmt.Sprintf("User: %s is not authorized to perform: %s:%s because no identity-based policy allows the %[2]s:%[3]s action", who, svc, c.ev.name)
	case "Client.UnauthorizedOperation":
		return fmt.Sprintf("You are not authorized to perform this operation. User: %s is not authorized to perform: ec2:%s because no identity-based policy allows the ec2:%[2]s action. Encoded authorization failure message: %s", who, c.ev.name, c.g.b64(420))
	case "Client.RequestLimitExceeded":
		return "Request limit exceeded."
	case "ThrottlingException", "TooManyRequestsException":
		return "Rate exceeded"
	case "NoSuchKey":
		return "The specified key does not exist."
	case "ResourceNotFoundException":
		return "Requested resource not found"
	case "ParameterNotFound":
		return ""
	}
	return "An error occurred (" + code + ")"
}

// ---- writing records ----

// gen is one day's generator.
type gen struct {
	rng      *rand.Rand
	seed     uint64
	pop      *population
	sessions map[*principal]session
}

type session struct {
	slot  int64
	key   string
	start time.Time
}

func (g *gen) b64(n int) string {
	const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := make([]byte, n)
	for i := range b {
		b[i] = a[g.rng.IntN(64)]
	}
	return string(b)
}

func (g *gen) alnum(n int) string {
	const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = a[g.rng.IntN(len(a))]
	}
	return string(b)
}

// sessionKey is the temporary key a role or console user holds at t: it
// changes every p.sessions, the same whatever day generates it.
func (g *gen) sessionKey(p *principal, t time.Time) session {
	d := int64(p.sessions / time.Second)
	slot := t.Unix() / d
	if s, ok := g.sessions[p]; ok && s.slot == slot {
		return s
	}
	r := rand.New(rand.NewPCG(g.seed^uint64(p.idx)<<32, uint64(slot)))
	s := session{slot: slot, key: "ASIA" + keyChars(r, 16), start: time.Unix(slot*d, 0).UTC().Add(-time.Duration(r.IntN(300)) * time.Second)}
	g.sessions[p] = s
	return s
}

func (c *call) sessionName() string { return c.p.session }

func (c *call) identityARN() string {
	if c.p.kind == kRole {
		return fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", trailAccount, c.p.name, c.sessionName())
	}
	return c.p.arn
}

func (c *call) identity() {
	p := c.p
	switch p.kind {
	case kService:
		c.f(`{"type":"AWSService","invokedBy":"%s"}`, p.name)
	case kUser:
		c.f(`{"type":"IAMUser","principalId":"%s","arn":"%s","accountId":"%s","accessKeyId":"%s","userName":"%s"}`, p.pid, p.arn, trailAccount, p.key, p.name)
	case kConsole:
		if c.ev.name == "ConsoleLogin" {
			c.f(`{"type":"IAMUser","principalId":"%s","arn":"%s","accountId":"%s","userName":"%s"}`, p.pid, p.arn, trailAccount, p.name)
			return
		}
		s := c.g.sessionKey(p, c.t)
		c.f(`{"type":"IAMUser","principalId":"%s","arn":"%s","accountId":"%s","accessKeyId":"%s","userName":"%s","sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"creationDate":"%s","mfaAuthenticated":"true"}}}`,
			p.pid, p.arn, trailAccount, s.key, p.name, s.start.Format(time.RFC3339))
	case kRole:
		key, start := p.key, c.t.Add(-17*time.Minute)
		if key == "" {
			s := c.g.sessionKey(p, c.t)
			key, start = s.key, s.start
		}
		c.f(`{"type":"AssumedRole","principalId":"%s:%s","arn":"%s","accountId":"%s","accessKeyId":"%s","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"%[1]s","arn":"%[6]s","accountId":"%[4]s","userName":"%[7]s"},"webIdFederationData":{},"attributes":{"creationDate":"%[8]s","mfaAuthenticated":"false"}`,
			p.pid, c.sessionName(), c.identityARN(), trailAccount, key, p.arn, p.name, start.Format(time.RFC3339))
		if p.roleKind == "ec2" {
			c.b = append(c.b, `,"ec2RoleDelivery":"2.0"`...)
		}
		c.b = append(c.b, `}}`...)
	}
}

// write appends one record for c with the given source address and user
// agent, failing with errCode when it is not empty.
func (c *call) write(ip, agent, errCode string) []byte {
	if c.ev.global {
		c.region = "us-east-1"
	}
	c.failed = errCode != ""
	if strings.Contains(agent, "%s") {
		agent = fmt.Sprintf(agent, strings.TrimSuffix(c.ev.source, ".amazonaws.com")+"."+kebab(c.ev.name))
	}
	c.b = append(c.b, `{"eventVersion":"1.10","userIdentity":`...)
	c.identity()
	c.b = append(c.b, `,"eventTime":"`...)
	c.b = c.t.UTC().AppendFormat(c.b, time.RFC3339)
	c.f(`","eventSource":"%s","eventName":"%s","awsRegion":"%s","sourceIPAddress":"%s","userAgent":"%s",`, c.ev.source, c.ev.name, c.region, ip, agent)
	if c.failed {
		if msg := errorMessage(c, errCode); msg != "" {
			c.f(`"errorCode":"%s","errorMessage":"%s",`, errCode, msg)
		} else {
			c.f(`"errorCode":"%s",`, errCode)
		}
	}
	c.ev.params(c)
	reqID := c.uuid()
	if c.ev.source == "s3.amazonaws.com" {
		reqID = strings.ToUpper(hexChars(c.g.rng, 16))
	}
	cat, mgmt := "Management", "true"
	if c.ev.data {
		cat, mgmt = "Data", "false"
	}
	c.f(`"requestID":"%s","eventID":"%s","readOnly":%t,"eventType":"AwsApiCall","managementEvent":%s,"recipientAccountId":"%s","eventCategory":"%s"`,
		reqID, c.uuid(), c.ev.readOnly, mgmt, trailAccount, cat)
	if c.p.kind == kConsole && c.ev.name != "ConsoleLogin" {
		c.b = append(c.b, `,"sessionCredentialFromConsole":"true"`...)
	}
	if strings.HasPrefix(ip, "10.") {
		c.f(`,"vpcEndpointId":"vpce-0%s","vpcEndpointAccountId":"%s"`, hexChars(c.g.rng, 16), trailAccount)
	}
	if c.p.kind != kService {
		host := strings.TrimSuffix(c.ev.source, ".amazonaws.com") + "." + c.region + ".amazonaws.com"
		if c.ev.global {
			host = c.ev.source
		}
		c.f(`,"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"%s"}`, host)
	}
	c.b = append(c.b, '}')
	return c.b
}

// background writes one record of p's usual work near region ri and
// returns it with the region it is delivered in.
func (g *gen) background(p *principal, t time.Time, ri int) ([]byte, int) {
	ev := p.pick(g.rng)
	c := &call{g: g, b: make([]byte, 0, 1400), p: p, ev: ev, t: t, region: trailRegions[ri]}
	errCode := ""
	if len(ev.errs) > 0 && g.rng.Float64() < p.errRate {
		errCode = ev.errs[g.rng.IntN(len(ev.errs))]
	}
	ip := p.ips[g.rng.IntN(len(p.ips))]
	agent := p.agents[g.rng.IntN(len(p.agents))]
	if ev.name == "UpdateInstanceInformation" || ev.name == "ListInstanceAssociations" {
		agent = ssmAgent
	}
	b := c.write(ip, agent, errCode)
	return b, slices.Index(trailRegions, c.region)
}

// ---- the key under review: its usual work, its abuse, its rotation ----

// special is one scripted record.
type special struct {
	t                 time.Time
	p                 *principal
	ev                *evType
	ip, agent, region string
	err               string
	arg, out          string
}

const (
	ciAgent   = "aws-cli/2.18.5 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-1016-aws md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#%s"
	deployer  = "ecs-deploy/3.10.14 aws-sdk-go-v2/1.30.4 ua/2.1 os/linux lang/go#1.22.6 md/GOOS#linux md/GOARCH#amd64 api/%s"
	devAgent  = "aws-cli/2.17.42 md/awscrt#0.21.2 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#%s"
	kaliAgent = "aws-cli/2.15.30 Python/3.11.8 Linux/6.6.9-amd64 exe/x86_64.kali.2024 prompt/off command/%s"
	exfilUA   = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.6.9-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69"
)

// keyEvents are the day's scripted records, in time order: deploy-bot's
// pipelines (with the key under review until the rotation, with its new
// key after), a developer debugging with it now and then, the attacker
// after the leak, and the rotation itself.
func (pop *population) keyEvents(g *gen, day time.Time) []special {
	var out []special
	ev := func(t time.Time, p *principal, name, ip, agent, region string) *special {
		e := catalog[name]
		if e == nil {
			panic(name)
		}
		out = append(out, special{t: t, p: p, ev: e, ip: ip, agent: agent, region: region})
		return &out[len(out)-1]
	}
	rng := g.rng
	pipeline := func(start time.Time) {
		p := pop.target
		if !start.Before(trailRotated.Add(-30 * time.Minute)) {
			p = pop.ciNew
		}
		ip := pop.ciIPs[rng.IntN(len(pop.ciIPs))]
		region := "us-east-1"
		if rng.IntN(4) == 0 {
			region = "eu-west-1"
		}
		t := start
		step := func(name, agent string, gap int) *special {
			t = t.Add(time.Duration(gap+rng.IntN(gap+1)) * time.Second)
			return ev(t, p, name, ip, agent, region)
		}
		step("sts:GetCallerIdentity", ciAgent, 1)
		step("ecr:GetAuthorizationToken", ciAgent, 2)
		for range 3 + rng.IntN(6) {
			step("ecr:BatchCheckLayerAvailability", deployer, 20)
		}
		step("ecr:PutImage", deployer, 40)
		for range 1 + rng.IntN(4) {
			step("s3:PutObject", ciAgent, 5)
		}
		if rng.IntN(10) < 3 {
			step("lambda:UpdateFunctionCode20150331v2", ciAgent, 5)
		}
		step("ecs:RegisterTaskDefinition", deployer, 3)
		step("ecs:UpdateService", deployer, 2)
		for range 5 + rng.IntN(12) {
			s := step("ecs:DescribeServices", deployer, 12)
			if rng.IntN(60) == 0 {
				s.err = "ThrottlingException"
			}
		}
		if rng.IntN(3) == 0 {
			step("cloudformation:DescribeStacks", ciAgent, 4)
		}
	}
	wd := day.Weekday()
	n := 10 + rng.IntN(9)
	if wd == time.Saturday || wd == time.Sunday {
		n = rng.IntN(2)
	}
	for range n {
		pipeline(day.Add(7*time.Hour + time.Duration(rng.Int64N(int64(12*time.Hour)))))
	}
	// The nightly build.
	pipeline(day.Add(23*time.Hour + 30*time.Minute + time.Duration(rng.IntN(300))*time.Second))
	// A developer debugging a deploy with the CI key from the office.
	if d := day.YearDay(); d%9 == 3 && day.Before(trailLeak) {
		t := day.Add(14*time.Hour + time.Duration(rng.IntN(3600))*time.Second)
		for _, name := range []string{"sts:GetCallerIdentity", "ecs:DescribeServices", "ecr:DescribeImages", "ecs:DescribeServices"} {
			t = t.Add(time.Duration(5+rng.IntN(40)) * time.Second)
			ev(t, pop.target, name, "203.0.113.14", devAgent, "us-east-1")
		}
	}

	// The abuse, in the hours and days after the leak.
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	a, atk := pop.target, trailAttackerIP
	ev(at("2026-10-31T21:40:12Z"), a, "sts:GetCallerIdentity", atk, kaliAgent, "us-east-1")
	t := at("2026-11-01T02:13:05Z")
	next := func() time.Time { t = t.Add(time.Duration(3+rng.IntN(25)) * time.Second); return t }
	for _, s := range []struct{ name, region, err, arg string }{
		{"sts:GetCallerIdentity", "us-east-1", "", ""},
		{"iam:GetUser", "", "", ""},
		{"iam:ListAttachedUserPolicies", "", "", "deploy-bot"},
		{"iam:ListUsers", "", "", ""},
		{"s3:ListBuckets", "us-east-1", "", ""},
		{"ec2:DescribeRegions", "us-east-1", "", ""},
		{"ec2:DescribeInstances", "us-east-1", "", ""},
		{"ec2:DescribeInstances", "eu-west-1", "", ""},
		{"ec2:DescribeInstances", "us-west-2", "", ""},
		{"secretsmanager:ListSecrets", "us-east-1", "", ""},
		{"secretsmanager:GetSecretValue", "us-east-1", "", "prod/orders/db"},
		{"secretsmanager:GetSecretValue", "us-east-1", "", "prod/payments/stripe-api-key"},
		{"secretsmanager:GetSecretValue", "us-east-1", "", "prod/github/deploy-token"},
		{"secretsmanager:GetSecretValue", "us-east-1", "AccessDeniedException", "prod/root/break-glass"},
		{"iam:CreateAccessKey", "", "", "svc-backup"},
		{"sts:AssumeRole", "us-east-1", "AccessDenied", "OrganizationAccountAccessRole"},
		{"sts:AssumeRole", "us-east-1", "", "deploy-admin"},
		{"cloudtrail:StopLogging", "us-east-1", "AccessDenied", ""},
		{"guardduty:ListDetectors", "us-east-1", "AccessDenied", ""},
	} {
		e := ev(next(), a, s.name, atk, kaliAgent, s.region)
		e.err, e.arg = s.err, s.arg
		switch {
		case s.name == "iam:CreateAccessKey":
			e.out = pop.derivedKey
		case s.arg == "deploy-admin":
			e.out = pop.derivedSession
		}
	}
	// With the session it obtained.
	t = at("2026-11-01T02:31:40Z")
	for _, s := range []struct{ name, arg string }{
		{"sts:GetCallerIdentity", ""}, {"iam:ListRoles", ""}, {"ec2:DescribeSecurityGroups", ""},
		{"secretsmanager:GetSecretValue", "prod/billing/db"}, {"secretsmanager:GetSecretValue", "prod/auth/jwt-signing-key"}, {"s3:ListBuckets", ""},
	} {
		ev(next(), pop.adminSession, s.name, atk, kaliAgent, "us-east-1").arg = s.arg
	}
	// With the key it created for svc-backup, before and after the rotation.
	for _, s := range []struct {
		start string
		n     int
	}{{"2026-11-02T03:10:00Z", 25}, {"2026-11-04T01:05:00Z", 10}} {
		t = at(s.start)
		ev(next(), pop.svcBackup, "sts:GetCallerIdentity", trailExfilIP, exfilUA, "us-east-1")
		ev(next(), pop.svcBackup, "s3:ListBuckets", trailExfilIP, exfilUA, "us-east-1")
		ev(next(), pop.svcBackup, "s3:ListObjects", trailExfilIP, exfilUA, "us-east-1")
		for range s.n {
			ev(next(), pop.svcBackup, "s3:GetObject", trailExfilIP, exfilUA, "us-east-1").arg = "acme-orders-prod-backups"
		}
	}
	// The rotation: a new key for deploy-bot, the leaked one disabled, then deleted.
	adm := "203.0.113.11"
	ev(at("2026-11-03T11:58:40Z"), pop.admin, "iam:ListAccessKeys", adm, consoleAgents[1], "").arg = "deploy-bot"
	ev(at("2026-11-03T11:59:31Z"), pop.admin, "iam:CreateAccessKey", adm, consoleAgents[1], "").arg = "deploy-bot"
	out[len(out)-1].out = pop.ciNew.key
	ev(at("2026-11-03T11:59:58Z"), pop.admin, "iam:UpdateAccessKey", adm, consoleAgents[1], "").arg = pop.target.key
	ev(at("2026-11-03T12:20:03Z"), pop.admin, "iam:DeleteAccessKey", adm, consoleAgents[1], "").arg = pop.target.key

	end := day.Add(24 * time.Hour)
	out = slices.DeleteFunc(out, func(s special) bool { return s.t.Before(day) || !s.t.Before(end) })
	for i := range out {
		if out[i].region == "" || out[i].ev.global {
			out[i].region = "us-east-1"
		}
	}
	slices.SortStableFunc(out, func(a, b special) int { return a.t.Compare(b.t) })
	return out
}

// scripted writes one special record.
func (g *gen) scripted(s *special) []byte {
	c := &call{g: g, b: make([]byte, 0, 1400), p: s.p, ev: s.ev, t: s.t, region: s.region, arg: s.arg, out: s.out}
	return c.write(s.ip, s.agent, s.err)
}

// kebab is an API name as the AWS CLI spells its command: DescribeTags
// becomes describe-tags.
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
