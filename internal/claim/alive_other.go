//go:build !unix

package claim

// alive cannot tell here: only the heartbeat's age frees a claim.
func alive(int) bool { return true }
