# rekey: build, test, lint and benchmark. `make test` is what CI runs.
GO        ?= go
BIN       ?= bin/rekey
STATICCHECK_VERSION ?= v0.8.2
GOBIN     := $(shell $(GO) env GOPATH)/bin

.PHONY: build test test-short test-tools bench drill lint fmt staticcheck clean

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/rekey

test: test-tools
	$(GO) test -count=1 ./...

test-short: test-tools
	$(GO) test -short -count=1 ./...

# git-filter-repo (Debian's package) is what `incident remediate
# --rewrite-history` runs. Installed here when missing and running as root
# with apt; otherwise its tests skip with a message (and fail under
# REKEY_REQUIRE_SERVICES=1, as in CI).
test-tools:
	@command -v git-filter-repo >/dev/null 2>&1 || { 	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then 	    echo "installing git-filter-repo (apt-get)"; 	    apt-get install -y -qq git-filter-repo >/dev/null 2>&1 || 	      { apt-get update -qq && apt-get install -y -qq git-filter-repo; } || 	      echo "could not install git-filter-repo: the tests of --rewrite-history will skip"; 	  else 	    echo "git-filter-repo is not installed (apt-get install git-filter-repo): the tests of --rewrite-history will skip"; 	  fi; }

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
	bash bench/scan.sh
	bash bench/contain.sh
	bash bench/review.sh

# A leaked-password drill on a private PostgreSQL cluster: consumers, an
# attacker, copies everywhere, then rekey respond --yes (examples/drill).
drill: build
	$(GO) run ./examples/drill/cmd/drill -rekey $(BIN)

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

# sshtrust's tests run a real sshd (Debian's openssh-server): installed as root
# with apt when missing; otherwise those tests skip (and fail under REKEY_REQUIRE_SERVICES=1).
test: | /usr/sbin/sshd
/usr/sbin/sshd:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then echo "installing openssh-server (apt-get)"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null || echo "could not install openssh-server: the sshd tests will skip"; else echo "sshd is not installed (apt-get install openssh-server): the sshd tests will skip"; fi
