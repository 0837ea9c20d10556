# pbrd -- payment-by-results settlement daemon.
#
#   make deps      install the Debian packages (needs root; skipped when present)
#   make           build libpbr, pbrd, pbrctl, the tests and the benchmarks
#   make demo      deps + build + run the demo (temp data dir, example contracts, generated events)
#   make check     build + layer check + the whole test suite (Check); needs `make deps` first
#   make asan      the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make lint      static analysis (cppcheck)
#   make valgrind  a short daemon run under valgrind, failing on leaks or errors
#   make bench     build and run the benchmarks (prints figures)
#   make fuzz      run each libFuzzer target for FUZZ_SECONDS (clang)
#   make install   install pbrd, pbrctl, pbrgen, the systemd unit, a config and the
#                  contracts (PREFIX=/usr/local, DESTDIR for staging; keeps existing config)

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2 -g
SAN     ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
           -Wstrict-prototypes -Wmissing-prototypes -Iinclude -Idaemon $(SAN)
LDFLAGS += $(SAN)
LIBS     = -lzmq -llmdb -lyaml -ljansson -lgmp -lpthread $(SYSTEMD_LIBS)
SYSTEMD_LIBS := $(shell pkg-config --libs libsystemd 2>/dev/null)
ifneq ($(SYSTEMD_LIBS),)
CFLAGS  += -DPBR_HAVE_SYSTEMD=1
endif
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt)

DEB_PACKAGES = build-essential pkg-config libzmq3-dev liblmdb-dev lmdb-utils libyaml-dev check \
               libjansson-dev libgmp-dev libsystemd-dev valgrind python3 chromium

EVAL_SRC  := $(sort $(wildcard daemon/libpbr/eval/*.c))
LIB_SRC   := $(sort $(wildcard daemon/libpbr/*.c)) $(EVAL_SRC)
PBRD_SRC  := $(sort $(wildcard daemon/pbrd/*.c))
CTL_SRC   := $(sort $(wildcard daemon/pbrctl/*.c))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
EVAL_OBJ  := $(EVAL_SRC:%.c=$(BUILD)/%.o)
PBRD_OBJ  := $(PBRD_SRC:%.c=$(BUILD)/%.o)
CTL_OBJ   := $(CTL_SRC:%.c=$(BUILD)/%.o)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR    ?= /etc/systemd/system

.PHONY: all deps demo check check-layers lint test asan valgrind bench fuzz install clean
all: $(BUILD)/libpbr.a $(BUILD)/pbrd $(BUILD)/pbrctl $(BUILD)/pbrgen $(TEST_BIN) $(BENCH_BIN)

# -MMD -MP: each object depends on exactly the headers it includes.
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(LIB_OBJ:.o=.d) $(PBRD_OBJ:.o=.d) $(CTL_OBJ:.o=.d)

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

# check needs the Debian packages (`make deps` installs them); it never runs
# apt-get itself, so it works offline and without root.
check: all check-layers
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

test: all
	PBR_BUILD=$(BUILD) ./tests/run-tests.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  PBR_BUILD=build-asan PBR_SANITIZED=1 ./tests/run-tests.sh build-asan

# Static analysis (cppcheck): warnings fail. jansson's iteration macros are
# unknown to cppcheck without its headers, hence unknownMacro.
lint:
	cppcheck --quiet --enable=warning,performance,portability --std=c11 --error-exitcode=1 \
	  -Iinclude -Idaemon -D_GNU_SOURCE --suppress=missingIncludeSystem --suppress=unknownMacro daemon

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
