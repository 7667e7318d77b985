package cli

import (
	"fmt"
	"io"
	"reflect"

	"github.com/rekeyhq/rekey/internal/escape"
)

// tablef is fmt.Fprintf for table and plain-text output: every string
// argument (and error, and Stringer) is data that a file name, a log line
// or a role name may have put there, and is printed through escape.Text,
// so that no value can start a row of its own. The format is rekey's and
// is not escaped.
func tablef(w io.Writer, format string, a ...any) (int, error) {
	return fmt.Fprintf(w, format, escapeArgs(escape.Text, a)...)
}

// tables is tablef into a string.
func tables(format string, a ...any) string {
	return fmt.Sprintf(format, escapeArgs(escape.Text, a)...)
}

// mdf is tablef for Markdown: pipes are escaped too, so that a value
// cannot add a column to a table.
func mdf(w io.Writer, format string, a ...any) (int, error) {
	return fmt.Fprintf(w, format, escapeArgs(escape.Cell, a)...)
}

func escapeArgs(esc func(string) string, a []any) []any {
	out := make([]any, len(a))
	for i, v := range a {
		switch x := v.(type) {
		case nil:
			out[i] = v
		case string:
			out[i] = esc(x)
		case error:
			out[i] = esc(x.Error())
		case fmt.Stringer:
			out[i] = esc(x.String())
		default:
			if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
				out[i] = esc(rv.String())
			} else {
				out[i] = v
			}
		}
	}
	return out
}
