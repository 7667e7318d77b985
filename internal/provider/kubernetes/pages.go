package kubernetes

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pageSize is the limit of each list request: the API server may return
// fewer, and a continue token says there is more.
const pageSize = 500

// listAll follows a list's pages (limit and continue) and returns every
// item. A continue token the server no longer honours (410 Expired, once
// etcd compacted its revision) restarts the list from the first page,
// once, as the API reference tells clients to.
func listAll[T any, L interface{ GetContinue() string }](ctx context.Context, opts metav1.ListOptions,
	list func(context.Context, metav1.ListOptions) (L, error), items func(L) []T) ([]T, error) {
	opts.Limit, opts.Continue = pageSize, ""
	var out []T
	restarted := false
	for {
		l, err := list(ctx, opts)
		if apierrors.IsResourceExpired(err) && opts.Continue != "" && !restarted {
			opts.Continue, out, restarted = "", nil, true
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, items(l)...)
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			return out, nil
		}
	}
}
