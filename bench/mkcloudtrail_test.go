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
	g := &gen{rng: rand.New(rand.NewPCG(c.Seed, uint64(d)+1)), pop: pop, sessions: map[*principal]session{}}
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
				byRegion[ri] = append(byRegion[ri], stamped{t, g.record(p, t, trailRegions[ri], nil)})
			}
		}
		for len(special) > 0 && special[0].t.Before(t1) {
			s := special[0]
			special = special[1:]
			ri := slices.Index(trailRegions, s.region)
			byRegion[ri] = append(byRegion[ri], stamped{s.t, g.record(s.p, s.t, s.region, &s)})
			if s.p.key == pop.target.key && s.key == "" {
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
