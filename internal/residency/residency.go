// Package residency gives back the memory a long job does not need from
// the rekey binary's own image.
//
// rekey is one binary for every command: its package initialisation (the
// cloud SDKs, client-go, OPA, linked for other commands) touches tens of
// megabytes of its code and read-only data before main runs, and the
// kernel maps pages around each touched one (fault-around), so a scan
// starts with ~47 MB of the image resident that it never uses again.
// Those pages are read-only and backed by the executable: dropping their
// mappings loses nothing, and a page the job does use comes back on its
// next access from the page cache.
package residency

// ReleaseImage drops the resident pages of the executable's read-only
// mappings (code and read-only data; never a writable one, whose private
// changes would be lost) and returns how many bytes of mappings it
// advised. It does nothing where the platform offers no such advice.
func ReleaseImage() (int64, error) { return releaseImage() }
