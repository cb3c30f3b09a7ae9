# SPDX-License-Identifier: BSD-3-Clause
#
# halb's front door.  `make run` shows the appliance at work in network
# namespaces; `make test` runs every test.  Both install what is missing and
# reserve hugepages first, so they work from a clean clone on Debian 12, as
# root.  The build itself is meson's (build/, build-asan/).

BUILD        ?= build
BUILD_ASAN   ?= build-asan
BUILD_FUZZ   ?= build-fuzz
HUGEPAGES    ?= 1024
# `make run APPLIANCES=2` (or 3): the routing fabric instead of one
# appliance (tests/e2e/fabric.sh --demo).
APPLIANCES   ?= 1
FUZZ_SECONDS ?= 60
BUILD_DEB    ?= build-deb
# `make chaos` on the routing fabric's two appliances (CHAOS_APPLIANCES=1:
# one appliance).
CHAOS_APPLIANCES ?= 2
# `make deb` leaves the unit tests to `make test`; DEB_BUILD_OPTIONS= runs them.
DEB_BUILD_OPTIONS ?= nocheck

# What each libFuzzer target (tests/fuzz/fuzz_NAME.c) links: FUZZ_SRCS_NAME,
# and FUZZ_FLAGS_NAME for more compiler and linker flags.  None needs DPDK.
FUZZ_TARGETS      := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS       := -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Iinclude
FUZZ_SRCS_pkt     := src/dp/pkt.c src/dp/csum.c src/dp/rewrite.c src/dp/neigh_pkt.c src/dp/icmp_err.c src/dp/icmp_pkt.c src/dp/splice.c src/dp/syncookie.c src/core/ip.c
# The health/load messages, sealed (src/core/seal.c): protobuf-c code that meson
# generates in $(BUILD) from proto/.
FUZZ_GENERATED    := halb_seal.pb-c.c halb_seal.pb-c.h halb_health.pb-c.c halb_health.pb-c.h \
		     halb_sync.pb-c.c halb_sync.pb-c.h halb_punt.pb-c.c halb_punt.pb-c.h
FUZZ_SRCS_hl_msg  := src/core/seal.c src/core/hl_msg.c $(BUILD)/halb_seal.pb-c.c $(BUILD)/halb_health.pb-c.c
FUZZ_FLAGS_hl_msg  = -I$(BUILD) $$(pkg-config --cflags --libs libprotobuf-c libcrypto)
# The session sync messages and the engine behind them (session/sync.c);
# hl_msg.c too, for the health messages that a sync key may not send.
FUZZ_SRCS_sync_msg := src/core/seal.c src/core/hl_msg.c src/core/sync_msg.c session/sync.c \
		      $(BUILD)/halb_seal.pb-c.c $(BUILD)/halb_health.pb-c.c $(BUILD)/halb_sync.pb-c.c
FUZZ_FLAGS_sync_msg = -I$(BUILD) -Isession $$(pkg-config --cflags --libs libprotobuf-c libcrypto)
# The remote classification messages (src/core/punt_msg.c); hl_msg.c for
# the health messages a pair key may not send.
FUZZ_SRCS_punt_msg := src/core/seal.c src/core/hl_msg.c src/core/punt_msg.c \
		      $(BUILD)/halb_seal.pb-c.c $(BUILD)/halb_health.pb-c.c $(BUILD)/halb_punt.pb-c.c
FUZZ_FLAGS_punt_msg = -I$(BUILD) $$(pkg-config --cflags --libs libprotobuf-c libcrypto)
# The request router's parser and rules (src/core/l7req.c): plain C.
FUZZ_SRCS_l7req   := src/core/l7req.c

.PHONY: all deps hugepages build build-asan run test scenarios bench fuzz clean root deb chaos

all: build

root:
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "make $(MAKECMDGOALS): must run as root (packages, hugepages, network namespaces): sudo make $(MAKECMDGOALS)" >&2; \
		exit 1; \
	fi

deps: root
	scripts/deps.sh

hugepages: root
	scripts/hugepages.sh $(HUGEPAGES)

build:
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD)
	ninja -C $(BUILD)

build-asan:
	@[ -f $(BUILD_ASAN)/build.ninja ] || \
		meson setup $(BUILD_ASAN) -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C $(BUILD_ASAN)

# Order matters within run and test: deps before the builds.
run: root
	$(MAKE) deps
	$(MAKE) hugepages
	$(MAKE) build
	APPLIANCES=$(APPLIANCES) scripts/demo.sh

test: root
	$(MAKE) deps
	$(MAKE) hugepages
	$(MAKE) build
	$(MAKE) build-asan
	meson test -C $(BUILD) --print-errorlogs
	meson test -C $(BUILD_ASAN) --print-errorlogs --suite unit --suite fuzz
	tests/pkt/run.sh
	HALB_BUILD=$(CURDIR)/$(BUILD_ASAN) LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		tests/pkt/run.sh
	tests/pkt/mq.sh
	HALB_BUILD=$(CURDIR)/$(BUILD_ASAN) LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		tests/pkt/mq.sh
	tests/pkt/l7.sh
	HALB_BUILD=$(CURDIR)/$(BUILD_ASAN) LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		tests/pkt/l7.sh
	tests/e2e/e2e.sh
	tests/e2e/requests.sh
	tests/e2e/health.sh
	tests/e2e/sessions.sh
	tests/e2e/had.sh
	tests/e2e/had_watchdog.sh
	tests/e2e/fabric.sh
	tests/e2e/had_fabric.sh
	SCEN_QUICK=1 tests/e2e/scenarios.sh
	tests/e2e/reload.sh
	CHAOS_SHORT=1 tests/e2e/chaos.sh
	tests/e2e/classifiers.sh
	tests/e2e/remote_sessions.sh
	tests/package/package.sh $(BUILD)
	tests/package/caps.sh

# The chaos suite (tests/e2e/chaos.sh, docs/RELIABILITY.md): every part
# killed and hung in turn under load; one table, goals beside; fails if a
# goal is not met.  Several minutes.  `make test` runs a short version.
chaos: root
	$(MAKE) deps
	$(MAKE) hugepages
	$(MAKE) build
	CHAOS_APPLIANCES=$(CHAOS_APPLIANCES) tests/e2e/chaos.sh

# Issue 10's failure scenarios on the routing fabric, the full version
# (tests/e2e/scenarios.sh: `make test` runs it with SCEN_QUICK=1, shorter
# holds after each fault); APPLIANCES=3 for three appliances.
scenarios: root
	$(MAKE) deps
	$(MAKE) hugepages
	$(MAKE) build
	FABRIC_APPLIANCES=$(if $(filter 3,$(APPLIANCES)),3,2) tests/e2e/scenarios.sh

# The Debian packages halb and halb-agent (debian/, docs/PACKAGING.md):
# dpkg-buildpackage on a copy of the tree in $(BUILD_DEB)/src, so that
# what it writes (obj-*, debian/tmp, the .deb files in its parent) stays
# in $(BUILD_DEB).  tests/package/package.sh --deb checks what they install.
deb: root
	$(MAKE) deps
	rm -rf $(BUILD_DEB) && mkdir -p $(BUILD_DEB)/src
	tar -c --exclude-vcs --exclude='./build*' --exclude='./obj-*' . | tar -x -C $(BUILD_DEB)/src
	cd $(BUILD_DEB)/src && DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" dpkg-buildpackage -us -uc -b
	tests/package/package.sh --deb $(BUILD_DEB)

# The benchmark suite (bench/run.sh, docs/PERFORMANCE.md): prints a table
# and writes bench/results/latest.md and latest.json.  QUICK=1 measures one
# figure (the fast path against the bare loop, dsr, 1k flows; written to
# bench/results/quick.md).  Not a test: it measures and reports, whatever
# the figures.
bench: root
	$(MAKE) deps
	$(MAKE) hugepages
	$(MAKE) build
	HALB_BUILD=$(CURDIR)/$(BUILD) bench/run.sh $(if $(filter 1,$(QUICK)),--quick)

# libFuzzer over each tests/fuzz/fuzz_*.c, FUZZ_SECONDS each, starting from a
# copy of its kept corpus (tests/fuzz/corpus/NAME) so that new inputs land in
# $(BUILD_FUZZ)/, not in the tree.  Crashes are written to $(BUILD_FUZZ)/.
define fuzz_target
@[ -n "$(FUZZ_SRCS_$(1))" ] || { echo "fuzz: the Makefile has no FUZZ_SRCS_$(1) for tests/fuzz/fuzz_$(1).c" >&2; exit 1; }
clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_$(1).c $(FUZZ_SRCS_$(1)) $(FUZZ_FLAGS_$(1)) -o $(BUILD_FUZZ)/fuzz_$(1)
rm -rf $(BUILD_FUZZ)/corpus-$(1) && mkdir -p $(BUILD_FUZZ)/corpus-$(1)
if [ -d tests/fuzz/corpus/$(1) ]; then cp -r tests/fuzz/corpus/$(1)/. $(BUILD_FUZZ)/corpus-$(1)/; fi
cd $(BUILD_FUZZ) && ./fuzz_$(1) -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=crash-$(1)- corpus-$(1)

endef

fuzz:
	@[ -n "$(FUZZ_TARGETS)" ] || { echo "fuzz: no tests/fuzz/fuzz_*.c" >&2; exit 1; }
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD)
	ninja -C $(BUILD) $(FUZZ_GENERATED)
	mkdir -p $(BUILD_FUZZ)
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_target,$(t)))

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_DEB)
