module github.com/rekeyhq/rekey

go 1.26.8

require (
	github.com/mattn/go-isatty v0.0.24
	github.com/petar-dambovaliev/aho-corasick v0.0.0-20250424160509-463d218d4745
	github.com/spf13/cobra v1.10.2
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/sys v0.28.0 // indirect
)

require (
	github.com/bmatcuk/doublestar/v4 v4.10.4
	go.yaml.in/yaml/v3 v3.0.6
)
