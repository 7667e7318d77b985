package web

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/rekeyhq/rekey/internal/scope"
)

// graph is the scope drawn as columns, left to right: the secret, the
// identity it authenticates as, that identity's privileges, who consumes
// it, and where copies of the secret lie. Coordinates are computed here
// so that the template only places what it is given; every label is text
// the template escapes.
type graph struct {
	Width, Height int
	Columns       []graphColumn
	Edges         []string // SVG path data
	Nodes         []graphNode
}

type graphColumn struct {
	X     int
	Title string
}

type graphNode struct {
	X, Y, W, H int
	TextX      int
	TextY      int
	Label      string // shown, shortened
	Title      string // the whole text, as a tooltip
	Class      string
}

const (
	colW, colGap = 190, 40
	nodeH, rowH  = 30, 40
	topPad       = 34
	// perColumn bounds the nodes drawn in one column; the rest are
	// counted in a last "+N more" node (the tables below list them all).
	perColumn = 10
	// labelRunes is how much of a label fits in a node at 12px.
	labelRunes = 24
)

func shorten(s string) string {
	if utf8.RuneCountInString(s) <= labelRunes {
		return s
	}
	r := []rune(s)
	return string(r[:labelRunes-1]) + "…"
}

type item struct{ text, class string }

func scopeGraph(sc scope.Scope) graph {
	secret := []item{{sc.Secret.Preview + " (" + sc.Secret.Kind + ")", "n-secret"}}
	ident := []item{{scope.Unknown, "n-unknown"}}
	if sc.Identity.Status != scope.Unknown {
		ident = []item{{sc.Identity.System + "/" + sc.Identity.Name, "n-identity"}}
	}
	var privs, cons, copies []item
	for _, p := range sc.Identity.Privileges {
		privs = append(privs, item{p.Name, "n-priv risk-" + p.Risk})
	}
	for _, c := range sc.Consumers {
		cl := "n-consumer"
		if !c.Declared {
			cl += " n-undeclared"
		}
		cons = append(cons, item{c.Name, cl})
	}
	for _, u := range sc.Unexplained {
		cons = append(cons, item{"unexplained " + u.Source, "n-consumer n-unexplained"})
	}
	for _, o := range sc.Occurrences {
		loc := o.Path
		if o.Line > 0 {
			loc += ":" + strconv.Itoa(o.Line)
		}
		copies = append(copies, item{loc, "n-copy"})
	}
	cols := [][]item{secret, ident, privs, cons, copies}
	titles := []string{"Secret", "Identity", "Privileges", "Consumers", "Copies"}

	g := graph{}
	rows := 1
	for _, c := range cols {
		rows = max(rows, min(len(c), perColumn+1))
	}
	g.Width = len(cols)*colW + (len(cols)-1)*colGap
	g.Height = topPad + rows*rowH
	// centre of each column's nodes, by column, for the edges
	anchors := make([][][2]int, len(cols))
	for i, c := range cols {
		x := i * (colW + colGap)
		g.Columns = append(g.Columns, graphColumn{X: x + colW/2, Title: titles[i]})
		if len(c) > perColumn+1 {
			c = append(c[:perColumn:perColumn], item{fmt.Sprintf("+%d more", len(c)-perColumn), "n-more"})
		}
		if len(c) == 0 {
			c = []item{{"none", "n-none"}}
		}
		off := topPad + (rows-len(c))*rowH/2
		for j, it := range c {
			y := off + j*rowH
			g.Nodes = append(g.Nodes, graphNode{X: x, Y: y, W: colW, H: nodeH, TextX: x + 8, TextY: y + nodeH/2 + 4,
				Label: shorten(it.text), Title: it.text, Class: it.class})
			if it.class != "n-none" {
				anchors[i] = append(anchors[i], [2]int{x, y + nodeH/2})
			}
		}
	}
	link := func(from, to int) {
		for _, a := range anchors[from] {
			for _, b := range anchors[to] {
				x1, x2 := a[0]+colW, b[0]
				mid := (x1 + x2) / 2
				g.Edges = append(g.Edges, fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, a[1], mid, a[1], mid, b[1], x2, b[1]))
			}
		}
	}
	link(0, 1) // the secret authenticates as the identity
	link(1, 2) // which holds privileges
	link(1, 3) // and is used by its consumers
	link(0, 4) // the secret lies in its copies
	return g
}
