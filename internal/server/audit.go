package server

import (
	"net/http"

	"github.com/rekeyhq/rekey/internal/audit"
	"github.com/rekeyhq/rekey/internal/auth"
)

func (s *Server) auditRoutes() {
	s.handle("GET", "/api/v1/audit/verify", auth.Read, "Check the audit log's hash chain, MACs and this server's witness.", s.verifyAudit)
	s.describe("GET", "/api/v1/audit/verify", Doc{Response: auditView{}})
}

// auditView is the verification's outcome; a broken log is a 200 with ok
// false and its breaks, since the request itself succeeded.
type auditView struct {
	OK      bool          `json:"ok"`
	Entries int           `json:"entries"`
	Head    string        `json:"head"`
	HeadSeq int64         `json:"head_seq"`
	Breaks  []audit.Break `json:"breaks"`
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	d, err := s.deps(r.Context(), p)
	if err != nil {
		return err
	}
	rep, err := d.Audit.Verify(r.Context())
	if err != nil {
		return err
	}
	breaks := rep.Breaks
	if breaks == nil {
		breaks = []audit.Break{}
	}
	writeJSON(w, http.StatusOK, auditView{OK: rep.OK(), Entries: rep.Entries, Head: rep.Head, HeadSeq: rep.HeadSeq, Breaks: breaks})
	return nil
}
