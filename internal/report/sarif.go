// Package report renders what rekey found and did for people and tools:
// SARIF for code-scanning systems, and the incident report (Markdown, one
// self-contained HTML file, JSON) with its mapping to standards.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/rekeyhq/rekey/internal/detect"
	"github.com/rekeyhq/rekey/internal/scan"
)

// The subset of SARIF 2.1.0 that GitHub code scanning reads.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	ShortDescription sarifText      `json:"shortDescription"`
	FullDescription  sarifText      `json:"fullDescription"`
	Help             sarifText      `json:"help"`
	DefaultConfig    map[string]any `json:"defaultConfiguration"`
	Properties       map[string]any `json:"properties"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
}

func level(s detect.Severity) string {
	switch s {
	case detect.Critical, detect.High:
		return "error"
	case detect.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the CVSS-like score GitHub uses to rank alerts.
func securitySeverity(s detect.Severity) string {
	return map[detect.Severity]string{detect.Critical: "9.5", detect.High: "8.0", detect.Medium: "5.5", detect.Low: "2.0"}[s]
}

// WriteSARIF writes findings as one SARIF 2.1.0 run. Every rule that
// produced a finding is described (trace's pseudo-rule included); secrets
// appear only as previews and fingerprints.
func WriteSARIF(w io.Writer, fs []scan.Finding, rules []*detect.Rule) error {
	byID := map[string]*detect.Rule{}
	for _, r := range rules {
		byID[r.ID] = r
	}
	index := map[string]int{}
	var srules []sarifRule
	results := make([]sarifResult, 0, len(fs))
	for _, f := range fs {
		i, ok := index[f.Rule]
		if !ok {
			i = len(srules)
			index[f.Rule] = i
			srules = append(srules, describe(f, byID[f.Rule]))
		}
		msg := fmt.Sprintf("%s (%s) found: %s, fingerprint %s", f.Provider, f.Rule, f.Preview, f.Fingerprint.Short())
		if f.Rule == "trace" || f.Match != "" {
			msg = fmt.Sprintf("copy of the traced secret (%s, %s): %s, fingerprint %s", f.Encoding, f.Match, f.Preview, f.Fingerprint.Short())
		}
		props := map[string]any{"location_class": f.Class, "encoding": f.Encoding}
		if f.Commit != "" {
			props["commit"] = f.Commit
			props["at_head"] = f.AtHead
		}
		if f.Ref != "" {
			props["ref"] = f.Ref
		}
		results = append(results, sarifResult{
			RuleID:    f.Rule,
			RuleIndex: i,
			Level:     level(f.Severity),
			Message:   sarifText{msg},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: uri(f.Path)},
				Region:           sarifRegion{StartLine: max(f.Line, 1), StartColumn: max(f.Column, 1)},
			}}},
			PartialFingerprints: map[string]string{"rekeySecret/v1": string(f.Fingerprint)},
			Properties:          props,
		})
	}
	if srules == nil {
		srules = []sarifRule{}
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool:    sarifTool{Driver: sarifDriver{Name: "rekey", InformationURI: "https://github.com/rekeyhq/rekey", Rules: srules}},
			Results: results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

func describe(f scan.Finding, r *detect.Rule) sarifRule {
	desc, sev := "Copy of a traced secret", f.Severity
	if r != nil {
		desc, sev = r.Description, r.Severity
	}
	return sarifRule{
		ID:               f.Rule,
		Name:             camel(f.Rule),
		ShortDescription: sarifText{desc},
		FullDescription:  sarifText{desc},
		Help:             sarifText{"Revoke or rotate the credential first, then remove every copy (rekey trace lists them all)."},
		DefaultConfig:    map[string]any{"level": level(sev)},
		Properties:       map[string]any{"tags": []string{"security", "secret"}, "security-severity": securitySeverity(sev)},
	}
}

// uri makes a relative, slash-separated artifact URI as code scanning
// expects for files in the repository.
func uri(p string) string {
	return strings.TrimPrefix(filepath.ToSlash(filepath.Clean(p)), "./")
}

// camel turns a kebab-case rule id into the PascalCase name SARIF viewers show.
func camel(id string) string {
	var b strings.Builder
	for _, part := range strings.Split(id, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}
