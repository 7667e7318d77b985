//go:build !unix

package safefile

// oNoFollow is unavailable here; WriteFile's Lstat check still refuses a
// link found before the open.
const oNoFollow = 0
