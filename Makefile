# pbrd -- payment-by-results settlement daemon.
#
#   make deps      install the Debian packages (needs root; skipped when present)
#   make           build libpbr, pbrd, pbrctl, the tests and the benchmarks
#   make demo      deps + build + run the demo (temp data dir, example contracts, generated events)
#   make check     build + layer check + the whole test suite (Check); needs `make deps` first
#   make asan      the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make lint      static analysis (cppcheck)
#   make format    apply .clang-format (make check-format: fail on a difference)
#   make valgrind  a short daemon run under valgrind, failing on leaks or errors
#   make bench     build and run the benchmarks (prints figures)
#   make fuzz      run each libFuzzer target for FUZZ_SECONDS (clang)
#   make schemas   check docs/schema/ (JSON Schema 2020-12) against the fixtures; `make check`
#                  also checks them against every reply the integration tests received
#   make install   install pbrd, pbrctl, pbrgen, the systemd unit, a config, the manual
#                  pages, bash completion and the example contracts (PREFIX=/usr/local,
#                  DESTDIR for staging; keeps an existing config; never installs live contracts)
#   make uninstall remove what make install put there (the config, contracts and data stay)
#   make deb       the Debian package pbrd_VERSION_ARCH.deb (dpkg-buildpackage), copied here
#   make man       the manual pages, checked with mandoc -T lint (also part of make check)
#
# The version has one source, the first entry of debian/changelog.

CC      ?= cc
VERSION := $(shell head -n 1 debian/changelog | cut -d ' ' -f 2 | tr -d '()')
BUILD   ?= build
OPT     ?= -O2 -g
SAN     ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
           -Wstrict-prototypes -Wmissing-prototypes -Iinclude -Idaemon $(SAN)
LDFLAGS += $(SAN)
LIBS     = -lzmq -llmdb -lyaml -ljansson -lgmp -lmicrohttpd -lpthread $(SYSTEMD_LIBS)
SYSTEMD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null)
ifneq ($(SYSTEMD_LIBS),)
CFLAGS  += -DPBR_HAVE_SYSTEMD=1
endif
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt)

DEB_PACKAGES = build-essential pkg-config libzmq3-dev liblmdb-dev lmdb-utils libyaml-dev check \
               libjansson-dev libgmp-dev libsystemd-dev valgrind python3 mandoc \
               libmicrohttpd-dev python3-jsonschema chromium
# what `make deb` needs on top
DEB_BUILD_PACKAGES = debhelper dpkg-dev fakeroot

EVAL_SRC  := $(sort $(wildcard daemon/libpbr/eval/*.c))
LIB_SRC   := $(sort $(wildcard daemon/libpbr/*.c)) $(EVAL_SRC)
GEN_SRC   := $(sort $(wildcard daemon/gen/*.c))
PBRD_SRC  := $(sort $(wildcard daemon/pbrd/*.c))
CTL_SRC   := $(sort $(wildcard daemon/pbrctl/*.c))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
# The evaluator before issue 12's optimisation, every symbol renamed ref_*:
# the reference of tests/test_diffeval.c only.
REF_SRC   := $(sort $(wildcard tests/ref_eval/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
GEN_OBJ   := $(GEN_SRC:%.c=$(BUILD)/%.o)
EVAL_OBJ  := $(EVAL_SRC:%.c=$(BUILD)/%.o)
PBRD_OBJ  := $(PBRD_SRC:%.c=$(BUILD)/%.o)
# the daemon's modules but main.c, as a library: tests drive the settlement
# service, API and ingest in-process
PBRD_LIB_OBJ := $(filter-out $(BUILD)/daemon/pbrd/main.o,$(PBRD_OBJ))
CTL_OBJ   := $(CTL_SRC:%.c=$(BUILD)/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
REF_OBJ   := $(REF_SRC:%.c=$(BUILD)/%.o)

PREFIX      ?= /usr/local
SYSCONFDIR  ?= /etc
UNITDIR     ?= /etc/systemd/system
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
EXAMPLESDIR ?= $(PREFIX)/share/pbrd/examples
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SCHEMADIR   ?= $(PREFIX)/share/pbrd/schema

MAN_SRC := man/pbrd.8 man/pbrctl.1 man/pbrgen.1 man/pbrd.yaml.5 man/pbrd-contract.5
MAN_OUT := $(MAN_SRC:man/%=$(BUILD)/man/%)
# What the manual pages and the unit say about where things are.
SUBST = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
            -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@EXAMPLESDIR@|$(EXAMPLESDIR)|g'

.PHONY: format check-format all programs deps deps-present demo check check-layers check-man lint man test asan valgrind bench fuzz install uninstall deb clean schemas
all: programs $(TEST_BIN) $(BENCH_BIN) $(MAN_OUT)
programs: $(BUILD)/libpbr.a $(BUILD)/libpbrd.a $(BUILD)/libpbrgen.a $(BUILD)/pbrd $(BUILD)/pbrctl $(BUILD)/pbrgen

# -MMD -MP: each object depends on exactly the headers it includes.
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(LIB_OBJ:.o=.d) $(GEN_OBJ:.o=.d) $(PBRD_OBJ:.o=.d) $(CTL_OBJ:.o=.d) $(REF_OBJ:.o=.d) $(TEST_BIN:=.d) $(BENCH_BIN:=.d)

# --version: only the two main.o files see the version, and follow its source.
$(BUILD)/daemon/pbrd/main.o $(BUILD)/daemon/pbrctl/main.o: CFLAGS += -DPBR_VERSION='"$(VERSION)"'
$(BUILD)/daemon/pbrd/main.o $(BUILD)/daemon/pbrctl/main.o: debian/changelog

$(BUILD)/libpbr.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# the synthetic event generator (pbrgen), outside the core library: only
# pbrctl, the tests and the benchmarks link it
$(BUILD)/libpbrgen.a: $(GEN_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libpbrd.a: $(PBRD_LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/pbrd: $(BUILD)/daemon/pbrd/main.o $(BUILD)/libpbrd.a $(BUILD)/libpbr.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/pbrctl: $(CTL_OBJ) $(BUILD)/libpbrgen.a $(BUILD)/libpbr.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# pbrgen is pbrctl's `gen` command under its own name.
$(BUILD)/pbrgen: $(BUILD)/pbrctl
	ln -sf pbrctl $@

$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(wildcard daemon/pbrd/*.[ch]) $(BUILD)/libpbrd.a $(BUILD)/libpbrgen.a $(BUILD)/libpbr.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -MMD -MP -o $@ $< $(BUILD)/libpbrd.a $(BUILD)/libpbrgen.a $(BUILD)/libpbr.a $(LIBS) $(CHECK_LIBS)

# -iquote: the reference sees the public settle.h it was written against
# (tests/ref_api/), searched before -Iinclude.
$(REF_OBJ): CFLAGS += -include tests/ref_eval/rename.h -iquote tests/ref_api
$(REF_OBJ): tests/ref_eval/rename.h tests/ref_eval/eval.h tests/ref_api/pbr/settle.h

$(BUILD)/tests/test_diffeval: tests/test_diffeval.c $(wildcard tests/*.h) $(REF_OBJ) $(BUILD)/libpbrgen.a $(BUILD)/libpbr.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -MMD -MP -o $@ $< $(REF_OBJ) $(BUILD)/libpbrgen.a $(BUILD)/libpbr.a $(LIBS) $(CHECK_LIBS)

$(BUILD)/bench/%: bench/%.c $(wildcard bench/*.h) $(BUILD)/libpbrgen.a $(BUILD)/libpbr.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(BUILD)/libpbrgen.a $(BUILD)/libpbr.a $(LIBS) -lm

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "all Debian packages present"; fi

# what `make check` needs, without installing anything: a clear message
# naming the missing packages and `make deps`
deps-present:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "make check: missing Debian packages:$$missing (run 'make deps' as root, or 'make demo', first)"; exit 1; fi

demo: deps all
	./scripts/demo.sh $(BUILD)

# check needs the Debian packages (`make deps` installs them); it never runs
# apt-get itself, so it works offline and without root.
check: deps-present all check-layers check-man
	PBR_BUILD=$(BUILD) ./tests/run-tests.sh $(BUILD)

# The evaluator (daemon/libpbr/eval/) is a pure function of contract, events
# and quarter: its objects may reference only the symbols scripts/check-layers.sh
# allows (no store, ZeroMQ, LMDB, JSON, files or clock).
# tests/layers/planted.c (time, fopen, mdb_*, zmq_*, pbr_store_*, json_*) must
# be refused, naming each symbol, or the check itself is broken.
check-layers: $(EVAL_OBJ) $(BUILD)/tests/layers/planted.o
	./scripts/check-layers.sh $(EVAL_OBJ)
	@out=$$(./scripts/check-layers.sh $(BUILD)/tests/layers/planted.o 2>&1); rc=$$?; \
	for s in time fopen fclose mdb_env_open zmq_send pbr_store_open json_loads; do \
	  echo "$$out" | grep -q "references $$s:" || { echo "check-layers self-test: planted $$s not reported"; exit 1; }; \
	done; [ $$rc -eq 1 ] || { echo "check-layers self-test: exit $$rc, expected 1"; exit 1; }; \
	echo "check-layers self-test: planted clock, file, LMDB, ZeroMQ, store and JSON references all refused"

$(BUILD)/man/%: man/% debian/changelog Makefile
	@mkdir -p $(dir $@)
	$(SUBST) $< > $@

man: $(MAN_OUT)

# mandoc -T lint clean, and the pages, --help and the completion agree.
check-man: $(MAN_OUT) $(BUILD)/pbrd $(BUILD)/pbrctl $(BUILD)/pbrgen
	./tests/docs-check.sh $(BUILD)

test: all
	PBR_BUILD=$(BUILD) ./tests/run-tests.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp PBR_BUILD=build-asan PBR_SANITIZED=1 ./tests/run-tests.sh build-asan

# Formatting: .clang-format is the style; `make format` applies it,
# `make check-format` (CI) fails on any file that differs.
FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRC)

check-format:
	clang-format --dry-run --Werror $(FORMAT_SRC)

# Static analysis (cppcheck): warnings fail. jansson's iteration macros are
# unknown to cppcheck without its headers, hence unknownMacro.
lint:
	cppcheck --quiet --enable=warning,performance,portability --std=c11 --error-exitcode=1 \
	  -Iinclude -Idaemon -D_GNU_SOURCE --suppress=missingIncludeSystem --suppress=unknownMacro daemon

schemas:
	/usr/bin/python3 tests/validate-schemas.py --root .

valgrind: all
	./tests/valgrind.sh $(BUILD)

bench: all
	./bench/run.sh $(BUILD)

fuzz:
	./tests/fuzz/run.sh $${FUZZ_SECONDS:-60}

# The unit runs $(BINDIR)/pbrd -c $(SYSCONFDIR)/pbrd/pbrd.yaml. An existing
# config is left as it is. The contracts directory is created empty: the
# example contracts go to $(EXAMPLESDIR), never live (a daemon with live
# examples would issue their statements at once).
INSTALL_FILES = $(BINDIR)/pbrd $(BINDIR)/pbrctl $(BINDIR)/pbrgen $(UNITDIR)/pbrd.service \
                $(MANDIR)/man8/pbrd.8 $(MANDIR)/man1/pbrctl.1 $(MANDIR)/man1/pbrgen.1 \
                $(MANDIR)/man5/pbrd.yaml.5 $(MANDIR)/man5/pbrd-contract.5 \
                $(BASHCOMPDIR)/pbrctl $(BASHCOMPDIR)/pbrgen

install: programs
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/pbrd \
	  $(DESTDIR)$(SYSCONFDIR)/pbrd/contracts $(DESTDIR)$(EXAMPLESDIR) $(DESTDIR)$(BASHCOMPDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/pbrd $(BUILD)/pbrctl $(DESTDIR)$(BINDIR)/
	ln -sf pbrctl $(DESTDIR)$(BINDIR)/pbrgen
	sed 's|/usr/local/bin/pbrd|$(BINDIR)/pbrd|; s|/etc/pbrd/|$(SYSCONFDIR)/pbrd/|g' systemd/pbrd.service \
	  > $(DESTDIR)$(UNITDIR)/pbrd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/pbrd.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/pbrd/pbrd.yaml ] || \
	  { $(SUBST) etc/pbrd.yaml > $(DESTDIR)$(SYSCONFDIR)/pbrd/pbrd.yaml && \
	    chmod 0644 $(DESTDIR)$(SYSCONFDIR)/pbrd/pbrd.yaml; }
	install -m 0644 contracts/*.yaml $(DESTDIR)$(EXAMPLESDIR)/
	sed 's|/etc/pbrd/|$(SYSCONFDIR)/pbrd/|g' systemd/pbrd-credentials.conf \
	  > $(DESTDIR)$(EXAMPLESDIR)/pbrd-credentials.conf
	chmod 0644 $(DESTDIR)$(EXAMPLESDIR)/pbrd-credentials.conf
	for m in $(MAN_SRC); do n=$${m#man/}; \
	  $(SUBST) $$m > $(DESTDIR)$(MANDIR)/man$${n##*.}/$$n && chmod 0644 $(DESTDIR)$(MANDIR)/man$${n##*.}/$$n; done
	install -m 0644 completions/pbrctl $(DESTDIR)$(BASHCOMPDIR)/pbrctl
	for d in . api ingest publish; do install -d $(DESTDIR)$(SCHEMADIR)/$$d && \
	  install -m 0644 docs/schema/$$d/*.json $(DESTDIR)$(SCHEMADIR)/$$d/ || exit 1; done
	ln -sf pbrctl $(DESTDIR)$(BASHCOMPDIR)/pbrgen
	@echo "installed; example contracts in $(EXAMPLESDIR); copy the ones you run into" \
	  "$(SYSCONFDIR)/pbrd/contracts, then: systemctl daemon-reload && systemctl enable --now pbrd"

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALL_FILES))
	rm -f $(addprefix $(DESTDIR)$(EXAMPLESDIR)/,$(notdir $(wildcard contracts/*.yaml)) pbrd-credentials.conf)
	rm -rf $(DESTDIR)$(SCHEMADIR)
	-rmdir $(DESTDIR)$(EXAMPLESDIR) $(DESTDIR)$(PREFIX)/share/pbrd 2>/dev/null
	@echo "removed; kept $(SYSCONFDIR)/pbrd (config, contracts) and the data directory (/var/lib/pbrd);" \
	  "run systemctl daemon-reload"

# dpkg-buildpackage writes to the parent directory, so the package is built
# from a copy of the tree in $(BUILD)/deb and the .deb copied back here.
# DEB_BUILD_OPTIONS=nocheck skips the test suite inside the package build
# (and, as the nocheck build profile, the test-only build dependencies).
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB_FILE := pbrd_$(VERSION)_$(DEB_ARCH).deb
deb:
	@for p in $(DEB_BUILD_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || \
	  { echo "make deb needs $$p (apt-get install $(DEB_BUILD_PACKAGES))"; exit 1; }; done
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/pbrd-$(VERSION)
	tar -cf - --exclude=./.git --exclude='./build*' --exclude='./$(BUILD)' --exclude='./*.deb' . | \
	  tar -xf - -C $(BUILD)/deb/pbrd-$(VERSION)
	cd $(BUILD)/deb/pbrd-$(VERSION) && \
	  $(if $(findstring nocheck,$(DEB_BUILD_OPTIONS)),DEB_BUILD_PROFILES=nocheck) dpkg-buildpackage -us -uc -b -j2
	cp $(BUILD)/deb/$(DEB_FILE) .
	@echo "built $(DEB_FILE) (lintian: lintian $(DEB_FILE))"

clean:
	rm -rf build build-asan build-fuzz $(BUILD)
