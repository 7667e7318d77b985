// Package incident is the response to a leaked secret as a service: what
// the CLI and the server both call to open, scope, plan, run, approve,
// review, remediate, report, list and close an incident. It holds the
// rules that are the same whoever asks (which systems a response touches
// and as whom, when a run has started); callers parse their input, call
// it and format what it returns.
package incident
