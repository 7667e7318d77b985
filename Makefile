# rekey: build, test, lint and benchmark. `make test` is what CI runs.
GO        ?= go
BIN       ?= bin/rekey
STATICCHECK_VERSION ?= v0.8.2
GOBIN     := $(shell $(GO) env GOPATH)/bin
# The commit goes into the binary (`rekey version`) when there is one to
# record; some machines set GOFLAGS=-buildvcs=false, and a tree without git
# cannot build with -buildvcs=true.
BUILDVCS  := $(shell git rev-parse --git-dir >/dev/null 2>&1 && echo true || echo false)

.PHONY: build test test-short test-tools screenshots bench drill drill-aws lint fmt staticcheck clean

build:
	$(GO) build -trimpath -buildvcs=$(BUILDVCS) -o $(BIN) ./cmd/rekey

test: test-tools
	$(GO) test -count=1 ./...

test-short: test-tools
	$(GO) test -short -count=1 ./...

# The programs the tests drive (git-filter-repo, sshd, chromium): installed when missing
# and running as root with apt; otherwise their tests skip with a message (and
# fail under REKEY_REQUIRE_SERVICES=1, as in CI). See scripts/test-tools.sh.
test-tools:
	@bash scripts/test-tools.sh

# The web UI's pages as docs/screenshots/*.png (the README shows them), taken
# by its browser tests in headless Chromium.
screenshots: test-tools
	$(GO) test -count=1 -run Browser ./internal/web -update

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
	bash bench/scan.sh
	bash bench/contain.sh
	bash bench/review.sh
	bash bench/watch.sh

# A leaked-password drill on a private PostgreSQL cluster: consumers, an
# attacker, copies everywhere, then rekey respond --yes (examples/drill);
# make drill VIA=api responds through rekey serve's API instead.
VIA ?= cli
drill: build
	$(GO) run ./examples/drill/cmd/drill -rekey $(BIN) -via $(VIA)

# A leaked AWS key drill against the IAM/STS and Vault test servers: two
# consumers, a backdoor key in CloudTrail, a second person's approval
# (examples/drill-aws; make test runs it too).
drill-aws: build
	$(GO) run ./examples/drill-aws/cmd/drill-aws -rekey $(BIN)

fmt:
	gofmt -w $$(git ls-files '*.go')

lint: staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOBIN)/staticcheck ./...

staticcheck:
	@test -x $(GOBIN)/staticcheck && $(GOBIN)/staticcheck -version | grep -q "$(STATICCHECK_VERSION:v%=%)" || \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

clean:
	rm -rf bin
