# hull: build, demo and tests. `make help` lists the targets.

GO      ?= go
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
COMMIT  := $(shell git rev-parse --verify --quiet HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.gitCommit=$(COMMIT)
# hull must be static: `exec` runs it by fd inside the container's mount namespace,
# where a dynamic binary's ELF interpreter does not exist. cgo is on for libseccomp,
# linked statically; netgo/osusergo keep libc's resolver and NSS out.
export CGO_ENABLED := 1
# encoding/json on the jsonv2 engine builds its per-type decoders lazily: a cold
# process (every hull command, and init) decodes config.json ~0.3 ms faster.
export GOEXPERIMENT := jsonv2
GOTAGS  := netgo osusergo urfave_cli_no_docs
STATIC  := -s -w -linkmode external -extldflags -static

BUNDLE    := build/demo
DEMO_ID   := hull-demo
DEMO_ARGS := sh -c 'hostname; id; ps'
DEBS      := busybox-static runc libseccomp-dev musl-tools binutils strace
# The engines of the end-to-end tests (tests/e2e): containerd's runc shim and podman drive hull.
E2E_DEBS  := containerd podman

.PHONY: all help hull stage deps bundle demo test lint clean vm-prepare vm-test guest-prepare guest-test bench e2e e2e-deps cri-test

all: hull

help:
	@echo "make hull    build bin/hull"
	@echo "make deps    install busybox-static and runc if missing (root), download Go modules"
	@echo "make bundle  make the demo bundle in $(BUNDLE)"
	@echo "make demo    run a busybox container printing its hostname, id and processes"
	@echo "make test    gofmt, go vet, unit and integration tests (root)"
	@echo "make lint    gofmt, go vet and golangci-lint (.golangci.yml; installed into build/tools if missing)"
	@echo "make guest-test  tests/guest and the systemd cgroup driver tests in the Debian guest: systemd PID 1, AppArmor, containerd, docker, podman; then its SELinux boot (root; the first run builds the image, ~5 min)"
	@echo "make bench   compare hull with runc and crun on two bundles (root, ~6-8 min; BENCH_ARGS=-quick ~1 min); build/bench.md"
	@echo "make clean   remove bin/ and build/"

# LIBC=musl links hull against musl rather than glibc, whose static start-up costs
# ~0.5 ms of trapped cpuid instructions in a VM in every hull process (and create and
# exec each start two): see hack/musl-env.sh. Without musl-gcc (make deps installs it)
# the build falls back to glibc and says so. LIBC=glibc forces glibc.
LIBC ?= musl
BIN ?= bin/hull
# The init stage (cmd/hull-init): pure Go, static, without hull's command-line,
# cgroup, BPF and libseccomp packages, so it starts sooner. hull carries it as the
# ELF section .hull_stage, which is never loaded (libruntime/exeseal/stage_linux.go);
# the link records its checksum and size. Without objcopy, hull is built without it
# and runs its init stage from its own binary, ~0.7 ms slower per create and exec.
STAGE := build/stage/hull-init
EXESEAL := github.com/hull-runtime/hull/libruntime/exeseal
stage:
	@mkdir -p $(dir $(STAGE))
	@echo "$(GO) build (pure Go) -o $(STAGE)"
	@CGO_ENABLED=0 $(GO) build -trimpath -tags "netgo osusergo" -ldflags "-s -w" -o $(STAGE) ./cmd/hull-init

hull: stage
	@env=; tags="$(GOTAGS)"; stage=; \
	if [ "$(LIBC)" = musl ]; then \
		env=$$(hack/musl-env.sh $(CURDIR)/build/musl); \
		if [ -n "$$env" ]; then tags="$$tags musl"; \
		else echo "hull: musl-gcc or libseccomp.a missing (make deps): linking glibc, which starts ~0.7 ms slower" >&2; fi; \
	fi; \
	if command -v objcopy >/dev/null; then \
		stage="-X $(EXESEAL).stageSum=$$(sha256sum $(STAGE) | cut -d' ' -f1) -X $(EXESEAL).stageSize=$$(stat -c %s $(STAGE))"; \
	else echo "hull: objcopy missing (binutils): hull runs its init stage from its own binary, ~0.7 ms slower" >&2; fi; \
	echo "$(GO) build ($${env:-glibc}) -o $(BIN)"; \
	env $$env $(GO) build -trimpath -tags "$$tags" -ldflags "$(LDFLAGS) $$stage $(STATIC)" -o $(BIN).tmp . && \
	if [ -n "$$stage" ]; then objcopy --add-section .hull_stage=$(STAGE) --set-section-flags .hull_stage=noload,readonly $(BIN).tmp; fi && \
	mv $(BIN).tmp $(BIN)

# Installs only what is missing: a ready machine makes no network call.
deps:
	@need=; \
	for p in $(DEBS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || need="$$need $$p"; \
	done; \
	[ -x /bin/busybox ] || case "$$need" in *busybox-static*) ;; *) need="$$need busybox-static";; esac; \
	command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || case "$$need" in *runc*) ;; *) need="$$need runc";; esac; \
	if [ -n "$$need" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "deps: missing$$need; run make deps as root" >&2; exit 1; fi; \
		echo "deps: installing$$need"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$need >/dev/null; \
	fi
	@$(GO) mod download
	@cd tests/cri && $(GO) mod download

bundle: hull
	hack/mkbundle.sh $(BUNDLE) $(DEMO_ARGS)

demo: deps hull bundle
	@bin/hull delete --force $(DEMO_ID) >/dev/null 2>&1 || true
	bin/hull run --bundle $(BUNDLE) $(DEMO_ID)
	bin/hull delete --force $(DEMO_ID)

# golangci-lint, pinned, built with this Go (a linter built with an older Go refuses
# newer code) into build/tools, once per version. Its cost on a fresh machine, 2 cores:
# the install (download + build) ~3 min of CPU (6 min wall on a loaded host); a run
# ~45 s for hull's module and ~1 min for tests/cri with a cold lint cache
# (~/.cache/golangci-lint), ~5 s warm.
GOLANGCI_VERSION := v2.15.0
GOLANGCI := $(CURDIR)/build/tools/golangci-lint-$(GOLANGCI_VERSION)

$(GOLANGCI):
	@echo "lint: installing golangci-lint $(GOLANGCI_VERSION) into build/tools"
	@rm -rf $(@D)/.install && mkdir -p $(@D)/.install
	GOBIN=$(@D)/.install CGO_ENABLED=0 GOEXPERIMENT= $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	@mv $(@D)/.install/golangci-lint $@ && rmdir $(@D)/.install

lint: $(GOLANGCI)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l: not formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd tests/cri && $(GO) vet ./...
	$(GOLANGCI) run ./...
	cd tests/cri && $(GOLANGCI) run ./...
	$(GO) vet -tags guest ./tests/guest
	cd tests/cri && $(GO) vet -tags guest ./...

test: deps e2e-deps hull lint vm-prepare
	HULL_BINARY=$(CURDIR)/bin/hull $(GO) test -count=1 -timeout 25m ./...
	cd tests/cri && HULL_BINARY=$(CURDIR)/bin/hull $(GO) test -count=1 -timeout 5m ./...
	$(MAKE) vm-test
	$(MAKE) guest-test

# The host's cgroups are hybrid: controller tests run in a qemu VM with a pure cgroup v2
# hierarchy (hack/vm). Its Debian 6.1 kernel also covers what older kernels take another
# path for: a joined pid namespace without procfs pidns= (TestJoinPidNamespace). vm-prepare installs qemu and caches the kernel, so that one-time
# fetch is not charged to the test timeouts.
vm-prepare:
	hack/vm/run.sh --prepare

vm-test: hull vm-prepare
	HULL_BINARY=$(CURDIR)/bin/hull hack/vm/gotest.sh ./libruntime/cgroups
	HULL_BINARY=$(CURDIR)/bin/hull hack/vm/gotest.sh ./tests -run 'Cgroup|TestTimeNamespace|TestJoinPidNamespace'

# The Debian guest (hack/vm/debian.sh): bookworm booted with systemd as PID 1, pure cgroup
# v2, AppArmor on, dbus, containerd, docker and podman, as on a stock host. guest-prepare
# builds its image once (debootstrap + apt, ~5 min, cached in ~/.cache/hull-vm/debian-*),
# outside the tests' timeouts; tests/guest is built with the tag "guest" and runs there.
guest-prepare: vm-prepare
	hack/vm/run.sh --guest debian --prepare

# The SELinux boot of the same image (run.sh --lsm selinux: Debian's refpolicy,
# permissive) runs tests/guest's SELinux tests and the basics; the other tests
# skip or need AppArmor. runc 1.5.1 from ../shared/peers, where it is, labels the
# same bundle for TestSELinuxRunc to compare (that test skips without it).
SELINUX_TESTS := SELinux|TestSystemdIsPID1|TestHullRunsBusybox
RUNC_PEER := $(wildcard $(CURDIR)/../shared/peers/runc-1.5.1)

# The systemd cgroup driver's tests are in ./tests (they report a host limit where
# systemd is not PID 1) and run here in a second boot of the guest: gotest.sh runs
# one package per boot, and a boot (15-50 s) costs less than merging the packages.
# containerd's CRI plugin, once per cgroup driver (SystemdCgroup true and false), is
# driven from tests/cri (its own module, for gRPC and the CRI API) in a third boot:
# hack/vm/cri-guest.sh.
# Each boot's limit is a few times its usual time (tests/guest 190-265 s, the others
# 30-80 s, under load) with the test binary's own -timeout inside it, so that a
# hung test panics with its stacks; a guest that hangs silently is booted once
# more (gotest.sh), and the worst case stays inside make test's 30 minutes.
guest-test: hull guest-prepare
	GOFLAGS=-tags=guest HULL_VM_FLAGS='--guest debian --timeout 720' HULL_BINARY=$(CURDIR)/bin/hull \
		hack/vm/gotest.sh ./tests/guest -v -timeout 10m
	HULL_VM_FLAGS='--guest debian --timeout 360' HULL_BINARY=$(CURDIR)/bin/hull \
		hack/vm/gotest.sh ./tests -run 'TestSystemd' -v -timeout 4m
	GOFLAGS=-tags=guest HULL_VM_FLAGS='--guest debian --lsm selinux --timeout 360' HULL_BINARY=$(CURDIR)/bin/hull \
		HULL_PEER_RUNC=$(RUNC_PEER) hack/vm/gotest.sh ./tests/guest -v -run '$(SELINUX_TESTS)' -timeout 4m
	HULL_VM_FLAGS='--timeout 420' HULL_BINARY=$(CURDIR)/bin/hull \
		hack/vm/cri-guest.sh -test.run TestGuestCRI -test.v -test.timeout 5m

e2e-deps:
	@need=; for p in $(E2E_DEBS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || need="$$need $$p"; \
	done; \
	if [ -n "$$need" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "e2e-deps: missing$$need; run as root" >&2; exit 1; fi; \
		echo "e2e-deps: installing$$need"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$need >/dev/null; \
	fi

# The CRI path: containerd's CRI plugin with a runtime handler "hull" (runc.v2 with
# BinaryName). tests/cri is its own Go module, so hull's go.mod has no grpc in it.
cri-test: deps e2e-deps hull
	cd tests/cri && HULL_BINARY=$(CURDIR)/bin/hull $(GO) test -count=1 -timeout 5m -v ./...

e2e: deps e2e-deps hull
	HULL_BINARY=$(CURDIR)/bin/hull $(GO) test -count=1 -timeout 10m -v ./tests/e2e/

# hull against runc and crun (../shared/peers' runc 1.5.1, crun 1.27.1 and 1.29.1, and
# Debian's; missing ones are skipped and listed) on two busybox bundles, the minimal
# one and Docker's default config with its seccomp profile, interleaved; writes
# build/bench.md with issue #18's goal table. BENCH_ARGS go to the harness, e.g.
# BENCH_ARGS=-quick (rough, ~1 min) or BENCH_ARGS="-candidate /tmp/hull-new" (old and
# new hull side by side). deps first: a fresh machine lacks libseccomp-dev and
# musl-tools for the build.
bench: deps
	GO=$(GO) hack/bench/bench.sh $(BENCH_ARGS)

clean:
	rm -rf bin build
