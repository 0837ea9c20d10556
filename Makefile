# pbrd -- payment-by-results settlement daemon.
#
#   make deps      install the Debian packages (needs root; skipped when present)
#   make           build libpbr, pbrd, pbrctl, the tests and the benchmarks
#   make demo      deps + build + run the demo (temp data dir, example contracts, generated events)
#   make check     deps + build + the whole test suite (Check)
#   make asan      the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make valgrind  a short daemon run under valgrind, failing on leaks or errors
#   make bench     build and run the benchmarks (prints figures)
#   make fuzz      run each libFuzzer target for FUZZ_SECONDS (clang)
#   make schemas   check docs/schema/ (JSON Schema 2020-12) against the fixtures; `make check`
#                  also checks them against every reply the integration tests received
#   make install   install pbrd, pbrctl, pbrgen, the systemd unit, a config and the
#                  contracts (PREFIX=/usr/local, DESTDIR for staging; keeps existing config)

CC      ?= cc
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
               libjansson-dev libgmp-dev libsystemd-dev valgrind python3 \
               libmicrohttpd-dev python3-jsonschema

LIB_SRC   := $(sort $(wildcard daemon/libpbr/*.c))
PBRD_SRC  := $(sort $(wildcard daemon/pbrd/*.c))
CTL_SRC   := $(sort $(wildcard daemon/pbrctl/*.c))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
PBRD_OBJ  := $(PBRD_SRC:%.c=$(BUILD)/%.o)
CTL_OBJ   := $(CTL_SRC:%.c=$(BUILD)/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR    ?= /etc/systemd/system

.PHONY: all deps demo check test asan valgrind bench fuzz install clean schemas
all: $(BUILD)/libpbr.a $(BUILD)/pbrd $(BUILD)/pbrctl $(BUILD)/pbrgen $(TEST_BIN) $(BENCH_BIN)

$(BUILD)/%.o: %.c $(wildcard include/pbr/*.h daemon/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libpbr.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(BUILD)/pbrd: $(PBRD_OBJ) $(BUILD)/libpbr.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/pbrctl: $(CTL_OBJ) $(BUILD)/libpbr.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# pbrgen is pbrctl's `gen` command under its own name.
$(BUILD)/pbrgen: $(BUILD)/pbrctl
	ln -sf pbrctl $@

$(BUILD)/tests/%: tests/%.c tests/check_main.h tests/daemon_harness.h tests/settle_helpers.h $(wildcard daemon/pbrd/*.[ch]) $(BUILD)/libpbr.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libpbr.a $(LIBS) $(CHECK_LIBS)

$(BUILD)/bench/%: bench/%.c $(wildcard bench/*.h) $(BUILD)/libpbr.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libpbr.a $(LIBS) -lm

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "all Debian packages present"; fi

demo: deps all
	./scripts/demo.sh $(BUILD)

check: deps all
	PBR_BUILD=$(BUILD) ./tests/run-tests.sh $(BUILD)

test: all
	PBR_BUILD=$(BUILD) ./tests/run-tests.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  PBR_BUILD=build-asan PBR_SANITIZED=1 ./tests/run-tests.sh build-asan

schemas:
	/usr/bin/python3 tests/validate-schemas.py --root .

valgrind: all
	./tests/valgrind.sh $(BUILD)

bench: all
	./bench/run.sh $(BUILD)

fuzz:
	./tests/fuzz/run.sh $${FUZZ_SECONDS:-60}

# The unit runs $(PREFIX)/bin/pbrd -c $(SYSCONFDIR)/pbrd/pbrd.yaml; an existing
# config and contracts directory are left as they are.
install: $(BUILD)/pbrd $(BUILD)/pbrctl
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/pbrd
	install -m 0755 $(BUILD)/pbrd $(BUILD)/pbrctl $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/share/pbrd/schema/api $(DESTDIR)$(PREFIX)/share/pbrd/schema/ingest
	install -m 0644 docs/schema/*.json $(DESTDIR)$(PREFIX)/share/pbrd/schema/
	install -m 0644 docs/schema/api/*.json $(DESTDIR)$(PREFIX)/share/pbrd/schema/api/
	install -m 0644 docs/schema/ingest/*.json $(DESTDIR)$(PREFIX)/share/pbrd/schema/ingest/
	ln -sf pbrctl $(DESTDIR)$(PREFIX)/bin/pbrgen
	sed 's|/usr/local/bin/pbrd|$(PREFIX)/bin/pbrd|; s|/etc/pbrd/|$(SYSCONFDIR)/pbrd/|g' systemd/pbrd.service \
	  > $(DESTDIR)$(UNITDIR)/pbrd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/pbrd.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/pbrd/pbrd.yaml ] || \
	  printf 'contracts_dir: $(SYSCONFDIR)/pbrd/contracts\n' > $(DESTDIR)$(SYSCONFDIR)/pbrd/pbrd.yaml
	[ -e $(DESTDIR)$(SYSCONFDIR)/pbrd/contracts ] || \
	  { install -d $(DESTDIR)$(SYSCONFDIR)/pbrd/contracts && install -m 0644 contracts/*.yaml $(DESTDIR)$(SYSCONFDIR)/pbrd/contracts/; }
	@echo "installed; then: systemctl daemon-reload && systemctl enable --now pbrd"

clean:
	rm -rf build build-asan build-fuzz
