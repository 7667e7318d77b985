package decode

import (
	"strings"
	"testing"
	"time"
)

// TestPathological: inputs that could make parsing slow finish quickly.
func TestPathological(t *testing.T) {
	cases := map[string]string{
		".github/workflows/flow.yml":   "env: [" + strings.Repeat("é, ", 200000) + "x]\n",
		".github/workflows/flow2.yml":  "env: [" + strings.Repeat("a, ", 300000) + "x]\n",
		"k8s/many.yaml":                strings.Repeat("---\nkind: Secret\ndata:\n  a: cG9zdGdyZXM=\n", 20000),
		".env":                         strings.Repeat("A=", 500000),
		"k8s/longline.json":            `{"kind":"Secret","data":{` + strings.Repeat(`"kék":"cG9zdGdyZXM=",`, 50000) + `"z":"YQ=="}}`,
		".github/workflows/nested.yml": "env:\n" + strings.Repeat(" ", 0) + strings.Repeat("{a: ", 10000) + strings.Repeat("}", 10000) + "\n",
	}
	for p, d := range cases {
		start := time.Now()
		Expand(p, []byte(d))
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("%s: %v", p, el)
		}
	}
}
