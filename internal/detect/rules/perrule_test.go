package rules

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rekeyhq/rekey/internal/detect"
)

func TestPerRuleCost(t *testing.T) {
	var sb strings.Builder
	for _, r := range All() {
		for _, e := range append(r.Examples, r.NoMatch...) {
			sb.WriteString(e + "\n")
		}
	}
	data := []byte(strings.Repeat(sb.String(), 5))
	type c struct {
		id string
		d  time.Duration
	}
	var cs []c
	for _, r := range All() {
		r.PairWith = ""
		d, _ := detect.New([]*detect.Rule{r})
		st := time.Now()
		d.Scan(data)
		cs = append(cs, c{r.ID, time.Since(st)})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].d > cs[j].d })
	for _, x := range cs[:25] {
		fmt.Println(x.d, x.id)
	}
}
