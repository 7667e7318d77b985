package errs

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOfFindsInnerKind(t *testing.T) {
	inner := E("read", NotFound, "/x", errors.New("no such file"))
	outer := fmt.Errorf("scan: %w", E("walk", Other, "", inner))
	if KindOf(outer) != NotFound {
		t.Fatalf("kind %v", KindOf(outer))
	}
	if got := inner.Error(); got != "read: /x: no such file" {
		t.Fatalf("message %q", got)
	}
	if KindOf(errors.New("plain")) != Other {
		t.Fatal("plain error has a kind")
	}
}
