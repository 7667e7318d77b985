module github.com/rekeyhq/rekey

go 1.26.8

require github.com/petar-dambovaliev/aho-corasick v0.0.0-20250424160509-463d218d4745

require github.com/bmatcuk/doublestar/v4 v4.10.4 // indirect
