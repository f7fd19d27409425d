# kmemd - user-space DMA memory broker.
#
#   make run     install missing packages, build, start the daemon / demo
#   make test    install missing packages, build, run every test
#   make check   the tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench   benchmarks (medians, ratios against peers in the same run)
#
# Everything is built out of tree in $(BUILD) (default build/).

CC       ?= gcc
BUILD    ?= build
PREFIX   ?= /usr/local
DESTDIR  ?=
SANITIZE ?= 0
OPT      ?= -O2

PKGS     := libuv libprotobuf-c jansson cmocka

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wvla
CPPFLAGS := -D_GNU_SOURCE -Ilib/include -Ilib
CFLAGS   := -std=c11 $(OPT) -g $(WARN) -MMD -MP -fPIC
LDFLAGS  :=
LDLIBS   :=

ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# ---------------------------------------------------------------- engine
LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
# The test variant of the engine carries the fault-injection hook.
LIBT_OBJ := $(LIB_SRC:%.c=$(BUILD)/fi/%.o)
LIB_A    := $(BUILD)/libkmemcore.a
LIBT_A   := $(BUILD)/libkmemcore-fi.a

# ---------------------------------------------------------------- protocol
# kmem.pb-c.{c,h} are generated from proto/kmem.proto into $(BUILD)/proto
# and never committed.  libkmemproto.a (generated code + framing) is linked
# by whatever speaks the protocol: daemon, client library, tests.
PROTO_GEN_C := $(BUILD)/proto/kmem.pb-c.c
PROTO_GEN_H := $(BUILD)/proto/kmem.pb-c.h
PROTO_SRC   := $(wildcard proto/*.c)
PROTO_OBJ   := $(BUILD)/proto/kmem.pb-c.o $(PROTO_SRC:%.c=$(BUILD)/%.o)
PROTO_A     := $(BUILD)/libkmemproto.a
PROTO_LIBS   = $(shell pkg-config --libs libprotobuf-c)
CPPFLAGS    += -Iproto -I$(BUILD)/proto $(shell pkg-config --cflags libprotobuf-c)

# ---------------------------------------------------------------- daemon
DAEMON_SRC := $(wildcard daemon/*.c)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
KMEMD      := $(BUILD)/kmemd
DAEMON_LIBS = $(shell pkg-config --libs libuv jansson inih libsystemd) $(PROTO_LIBS)

# ---------------------------------------------------------------- client
# libkmem: the client library (static and shared, soname libkmem.so.0).
CLIENT_SRC := $(filter-out client/kmemctl%,$(wildcard client/*.c))
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(BUILD)/%.o)
CLIENT_A   := $(BUILD)/libkmem.a
CLIENT_SO  := $(BUILD)/libkmem.so.0
CPPFLAGS   += -Iclient/include
CLIENT_LIBS = $(PROTO_LIBS) -lpthread

# ---------------------------------------------------------------- tests
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_BINS = $(UNIT_BIN)

# ---------------------------------------------------------------- integration
# Integration tests drive the real kmemd ($(KMEMD), passed as $KMEMD_BIN)
# through libkmem and raw sockets.  The folder's other .c files (harness,
# raw client) are code shared by them, not tests.  Their rules are at the
# end of the rules section.
INTEG_SRC := $(wildcard tests/integration/test_*.c)
INTEG_BIN := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
INTEG_LIB := $(filter-out $(INTEG_SRC),$(wildcard tests/integration/*.c))
INTEG_HARNESS := $(INTEG_LIB:%.c=$(BUILD)/%.o)
TEST_BINS += $(INTEG_BIN)

# systemd integration: units verified, sd_notify, socket activation.
SYSTEMD_TEST := $(BUILD)/tests/systemd/test_systemd
TEST_BINS += $(SYSTEMD_TEST)

# ---------------------------------------------------------------- bench
# benchutil.c is shared code linked into every benchmark, not one itself.
BENCH_SRC := $(filter-out bench/benchutil.c,$(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
BENCH_UTIL := $(BUILD)/bench/benchutil.o
BENCH_LIBS = -ljemalloc -lmimalloc

# ---------------------------------------------------------------- http
# The stats endpoint (daemon/http.c) parses with Debian's http-parser,
# which ships no pkg-config file.  Its tests drive the real kmemd.
DAEMON_LIBS   += -lhttp_parser
HTTP_TEST_SRC := $(wildcard tests/http/test_*.c)
HTTP_TEST_BIN := $(HTTP_TEST_SRC:tests/http/%.c=$(BUILD)/tests/http/%)
TEST_BINS     += $(HTTP_TEST_BIN)

DEMO_BIN := $(BUILD)/kmem-demo

# ---------------------------------------------------------------- kmemctl
# The command-line tool (client/kmemctl*.c, not part of libkmem): a libkmem
# client; human sizes come from the engine's fmt.o.  Its tests (tests/cli/)
# run the real kmemd and kmemctl, named by $KMEMD_BIN and $KMEMCTL_BIN.
KMEMCTL_SRC := $(wildcard client/kmemctl*.c)
KMEMCTL_OBJ := $(KMEMCTL_SRC:%.c=$(BUILD)/%.o)
KMEMCTL     := $(BUILD)/kmemctl
CLI_TEST    := $(BUILD)/tests/cli/test_kmemctl
TEST_BINS   += $(CLI_TEST)
export KMEMD_BIN = $(abspath $(KMEMD))
export KMEMCTL_BIN = $(abspath $(KMEMCTL))

# ---------------------------------------------------------------- fuzz
# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang into
# $(BUILD)/fuzz.  The engine, the daemon (less main.c) and the protocol
# code are compiled again under $(BUILD)/fuzz/obj, instrumented for the
# fuzzer and always under ASan+UBSan, so the gcc builds are untouched; lib/
# carries the fault-injection hook there (fuzz_engine arms it).
# `make fuzz FUZZ_SECONDS=N` runs each target N seconds on a copy of its
# seed corpus (kept in $(BUILD)/fuzz/corpus); in `make test`,
# tests/fuzz/test_fuzz runs each one's crash inputs (tests/fuzz/regress)
# and then FUZZ_TEST_SECONDS of fuzzing.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TEST_SECONDS ?= 10
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -O1 -g $(WARN) -MMD -MP $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link
FUZZ_FLAGS   := -timeout=10 -rss_limit_mb=2048
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_CORE    := $(FUZZ_LIB_OBJ) $(FUZZ_DIR)/obj/proto/kmem.pb-c.o \
                $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(PROTO_SRC) tests/fuzz/fuzzd.c \
                  $(filter-out daemon/main.c,$(DAEMON_SRC)))
FUZZ_TEST    := $(BUILD)/tests/fuzz/test_fuzz
TEST_BINS    += $(FUZZ_TEST)
export FUZZ_BIN_DIR = $(abspath $(FUZZ_DIR))
export FUZZ_SRC_DIR = $(abspath tests/fuzz)
export FUZZ_TEST_SECONDS

VERSION  := 0.1.0
SYSCONFDIR ?= /etc
UNITDIR  ?= /lib/systemd/system

.PHONY: all test check bench bench-deps run demo deps install clean test-run valgrind
.SECONDARY:
all: $(LIB_A) $(KMEMD) $(CLIENT_A) $(CLIENT_SO) $(DEMO_BIN) $(KMEMCTL)

deps:
	@sh scripts/deps.sh

test: deps
	@sh scripts/test-tools.sh $(BUILD)/tools
	@$(MAKE) --no-print-directory test-run

check: deps
	@sh scripts/test-tools.sh build/tools
	@$(MAKE) --no-print-directory BUILD=build/san SANITIZE=1 OPT=-O1 test-run

# The daemon under valgrind memcheck, driven by the integration tests.
valgrind: deps
	@command -v valgrind >/dev/null || { echo "valgrind is not installed"; exit 1; }
	@$(MAKE) --no-print-directory $(INTEG_BIN) $(KMEMD)
	@rm -f $(BUILD)/valgrind.*.log
	@KMEMD_REAL_BIN=$(abspath $(KMEMD)) KMEMD_BIN=$(abspath tests/valgrind-kmemd.sh) \
	  KMEMD_VALGRIND_LOG=$(abspath $(BUILD))/valgrind.%p.log KMEM_INTEG_NOHUGE=1 \
	  sh tests/run-tests.sh $(INTEG_BIN); rc=$$?; \
	  if cat $(BUILD)/valgrind.*.log 2>/dev/null | grep -q .; then \
	    echo "valgrind: reports in $(BUILD)/valgrind.*.log:"; cat $(BUILD)/valgrind.*.log; exit 1; fi; \
	  echo "valgrind: no memcheck error in any daemon run"; exit $$rc

test-run: $(TEST_BINS) $(KMEMD)
	@PATH="$(abspath build/tools/bin):$(abspath $(BUILD)/tools/bin):$$PATH" \
	  KMEMD_BIN=$(abspath $(KMEMD)) sh tests/run-tests.sh $(TEST_BINS)

# bench-deps: DPDK for bench_dpdk's peer figures (only for make bench: it
# is big); when it cannot be installed bench_dpdk says so and skips them.
bench-deps:
	@sh scripts/deps.sh bench || echo "bench-deps: libdpdk-dev could not be installed; bench_dpdk will skip its DPDK figures"

bench: deps bench-deps
	@$(MAKE) --no-print-directory $(BENCH_BIN)
	@mkdir -p $(BUILD)/bench
	@for b in $(BENCH_BIN); do KMEMD_BIN=$(abspath $(KMEMD)) \
	  $$b --json-dir $(BUILD)/bench || exit 1; done

# The developer default: one 64 MiB pool, hugepages when free ones exist,
# else 4 KiB pages with a loud warning.  As root the socket is the system
# one; otherwise it goes under build/run.
RUN_SOCKET ?= $(if $(filter 0,$(shell id -u)),/run/kmemd/kmemd.sock,$(abspath $(BUILD))/run/kmemd.sock)
run: deps
	@$(MAKE) --no-print-directory $(KMEMD)
	@echo "kmemd: starting on $(RUN_SOCKET) (Ctrl-C stops it); clients: KMEMD_SOCKET=$(RUN_SOCKET)"
	$(KMEMD) --dev --config none --socket $(RUN_SOCKET) $(RUN_ARGS)

demo: $(DEMO_BIN)
	$(DEMO_BIN)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include/kmem
	install -m 0755 $(KMEMD) $(DESTDIR)$(PREFIX)/sbin/kmemd
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(KMEMCTL) $(DESTDIR)$(PREFIX)/bin/kmemctl
	install -m 0644 $(CLIENT_A) $(DESTDIR)$(PREFIX)/lib/libkmem.a
	install -m 0755 $(CLIENT_SO) $(DESTDIR)$(PREFIX)/lib/libkmem.so.0
	ln -sf libkmem.so.0 $(DESTDIR)$(PREFIX)/lib/libkmem.so
	install -m 0644 client/include/kmem/client.h lib/include/kmem/error.h \
	  $(DESTDIR)$(PREFIX)/include/kmem/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' client/kmem.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/kmem.pc
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/kmemd \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/share/doc/kmemd
	for u in kmemd.service kmemd.socket; do \
	  sed -e 's|@SBINDIR@|$(PREFIX)/sbin|' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|' \
	    systemd/$$u.in > $(DESTDIR)$(UNITDIR)/$$u; done
	install -m 0644 systemd/kmemd.conf.example systemd/kmemd-hugepages.conf \
	  $(DESTDIR)$(PREFIX)/share/doc/kmemd/
	test -e $(DESTDIR)$(SYSCONFDIR)/kmemd/kmemd.conf || install -m 0644 \
	  systemd/kmemd.conf.example $(DESTDIR)$(SYSCONFDIR)/kmemd/kmemd.conf
	install -m 0644 daemon/kmemd.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 daemon/kmemd.8 client/kmemctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/

clean:
	rm -rf build

# ---------------------------------------------------------------- rules
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/fi/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DKMEM_FAULT_INJECT $(CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIBT_A): $(LIBT_OBJ)
	@rm -f $@
	ar rcs $@ $^

# A multi-target pattern rule: one protoc-c run makes both files.
$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(dir $@)
	protoc-c --c_out=$(BUILD)/proto --proto_path=proto $<

$(BUILD)/proto/kmem.pb-c.o: $(PROTO_GEN_C)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Everything that includes frame.h needs the generated header first.
$(PROTO_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tests/unit/test_frame.o \
  $(BUILD)/tests/unit/test_fastpb.o: $(PROTO_GEN_H)
$(DAEMON_OBJ) $(CLIENT_OBJ): | $(PROTO_GEN_H)

# The client library carries the protocol code it needs (frame + pb-c)
# and the one engine file it uses (error strings).
$(CLIENT_A): $(CLIENT_OBJ) $(PROTO_OBJ) $(BUILD)/lib/error.o
	@rm -f $@
	ar rcs $@ $^

$(CLIENT_SO): $(CLIENT_OBJ) $(PROTO_OBJ) $(BUILD)/lib/error.o
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libkmem.so.0 -o $@ $^ $(CLIENT_LIBS)

$(KMEMD): $(DAEMON_OBJ) $(PROTO_A) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS) $(LDLIBS)

$(PROTO_A): $(PROTO_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(KMEMCTL): $(KMEMCTL_OBJ) $(CLIENT_A) $(BUILD)/lib/fmt.o
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs jansson) \
	  $(CLIENT_LIBS) $(LDLIBS)

$(KMEMCTL_OBJ): CPPFLAGS += $(shell pkg-config --cflags jansson)

# The CLI test runs the binaries: building it builds them.
$(CLI_TEST): $(BUILD)/tests/cli/test_kmemctl.o $(BUILD)/tests/cli/cliutil.o \
		| $(KMEMD) $(KMEMCTL)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs cmocka jansson) $(LDLIBS)

$(BUILD)/tests/cli/%.o: tests/cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell pkg-config --cflags cmocka jansson) \
	  -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/tests/unit/testutil.o $(LIBT_A) $(PROTO_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs cmocka) $(PROTO_LIBS) $(LDLIBS)

# The configuration test links the daemon's config code.
CONFIG_OBJ := $(BUILD)/daemon/config.o $(BUILD)/daemon/conffile.o $(BUILD)/daemon/log.o
$(BUILD)/tests/test_config: $(BUILD)/tests/unit/test_config.o $(BUILD)/tests/unit/testutil.o $(CONFIG_OBJ) $(LIBT_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs cmocka inih) $(LDLIBS)
$(BUILD)/tests/unit/test_config.o: CPPFLAGS += -Idaemon

# The request arena's test links it alone; the steady-state allocation
# test runs a kmemd inside its own process (the daemon less main.c) and
# counts the heap allocations its loop makes, telling the engine's own
# (lib/meta.c's kmem__malloc and friends, wrapped) from the daemon's.
$(BUILD)/tests/test_arena: $(BUILD)/tests/unit/test_arena.o $(BUILD)/tests/unit/testutil.o \
		$(BUILD)/daemon/arena.o $(PROTO_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs cmocka) $(PROTO_LIBS) $(LDLIBS)
$(BUILD)/tests/test_dispatch_heap: $(BUILD)/tests/unit/test_dispatch_heap.o \
		$(BUILD)/tests/unit/testutil.o $(filter-out %/main.o,$(DAEMON_OBJ)) \
		$(PROTO_A) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -Wl,--wrap=kmem__malloc,--wrap=kmem__calloc,--wrap=kmem__realloc \
	  -o $@ $^ $(shell pkg-config --libs cmocka) $(DAEMON_LIBS) $(LDLIBS)
$(BUILD)/tests/unit/test_arena.o $(BUILD)/tests/unit/test_dispatch_heap.o: CPPFLAGS += -Idaemon
$(BUILD)/tests/unit/test_arena.o $(BUILD)/tests/unit/test_dispatch_heap.o: | $(PROTO_GEN_H)

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DKMEM_FAULT_INJECT $(CFLAGS) \
	  $(shell pkg-config --cflags cmocka) -c -o $@ $<

# The lease table's test links daemon/lease.c alone, with calloc,
# posix_memalign and mmap wrapped so that it can fail the Nth allocation.
$(BUILD)/tests/test_lease: $(BUILD)/tests/unit/test_lease.o $(BUILD)/tests/unit/testutil.o \
		$(BUILD)/daemon/lease.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -Wl,--wrap=calloc,--wrap=posix_memalign,--wrap=mmap -o $@ $^ \
	  $(shell pkg-config --libs cmocka) $(LDLIBS)
$(BUILD)/tests/unit/test_lease.o: CPPFLAGS += -Idaemon

$(BUILD)/tests/http/%: $(BUILD)/tests/http/%.o $(BUILD)/tests/http/httpc.o \
		$(CLIENT_A) $(PROTO_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs cmocka jansson) \
	  -lhttp_parser $(PROTO_LIBS) -lpthread -lm $(LDLIBS)

$(BUILD)/tests/http/%.o: tests/http/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(shell pkg-config --cflags cmocka jansson) \
	  -c -o $@ $<

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BENCH_UTIL) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(BENCH_LIBS) -lm $(LDLIBS)

# bench_daemon runs the real kmemd ($KMEMD_BIN) and links libkmem, not the
# engine; its helpers in bench/rpc/ also speak the wire protocol (frame.h).
BENCH_RPC_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/rpc/*.c))
$(BUILD)/bench/bench_daemon.o $(BENCH_RPC_OBJ): | $(PROTO_GEN_H)
$(BUILD)/bench/bench_daemon: $(BUILD)/bench/bench_daemon.o $(BENCH_RPC_OBJ) \
		$(BENCH_UTIL) $(CLIENT_A) | $(KMEMD)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS) -lm $(LDLIBS)

# bench_scaling drives kmemd as bench_daemon does and also creates pools
# in-process, so it links the engine too.
$(BUILD)/bench/bench_scaling.o: | $(PROTO_GEN_H)
$(BUILD)/bench/bench_scaling: $(BUILD)/bench/bench_scaling.o $(BENCH_RPC_OBJ) \
		$(BENCH_UTIL) $(CLIENT_A) $(LIB_A) | $(KMEMD)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS) -lm $(LDLIBS)

# bench_dpdk: DPDK's flags when libdpdk-dev is installed (`make bench`
# installs it through scripts/deps.sh bench); without it the DPDK figures
# are compiled out and the run says so.  DPDK's headers are system headers
# here (not held to -Werror) and want GNU C.
HAVE_DPDK   = $(shell pkg-config --exists libdpdk 2>/dev/null && echo 1)
DPDK_CFLAGS = $(if $(HAVE_DPDK),-DKMEM_HAVE_DPDK $(subst -I/,-isystem /,$(shell pkg-config --cflags libdpdk)))
DPDK_LIBS   = $(if $(HAVE_DPDK),$(shell pkg-config --libs libdpdk))
$(BUILD)/bench/bench_dpdk.o: bench/bench_dpdk.c | $(PROTO_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -std=gnu11 $(DPDK_CFLAGS) -c -o $@ $<
$(BUILD)/bench/bench_dpdk: $(BUILD)/bench/bench_dpdk.o $(BENCH_RPC_OBJ) \
		$(BENCH_UTIL) $(CLIENT_A) $(LIB_A) | $(KMEMD)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(BENCH_LIBS) $(DPDK_LIBS) $(CLIENT_LIBS) -ldl -lm $(LDLIBS)

$(DEMO_BIN): $(BUILD)/tools/kmem-demo.o $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Integration tests (see the integration variables above).
$(BUILD)/tests/integration/%: $(BUILD)/tests/integration/%.o $(INTEG_HARNESS) \
		$(BUILD)/tests/unit/testutil.o $(CLIENT_A) $(PROTO_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs cmocka jansson) \
	  $(PROTO_LIBS) -lpthread $(LDLIBS)

$(BUILD)/tests/integration/%.o: tests/integration/%.c | $(PROTO_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) \
	  $(shell pkg-config --cflags cmocka jansson) -c -o $@ $<

# The crash storm (tests/integration/test_daemon_storm.c) for SOAK_SECONDS
# (default 60; at least 30 for a figure worth recording) with
# STORM_CLIENTS client processes (default 32).  It prints the totals that
# RELIABILITY.md records: operations, clients killed, bytes lost.
SOAK_SECONDS ?= 60
.PHONY: soak
soak: deps
	@$(MAKE) --no-print-directory $(BUILD)/tests/integration/test_daemon_storm $(KMEMD)
	@STORM_SECONDS=$(SOAK_SECONDS) KMEMD_BIN=$(abspath $(KMEMD)) \
	  $(BUILD)/tests/integration/test_daemon_storm

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# systemd integration tests (variables with the other tests above).
$(SYSTEMD_TEST): $(BUILD)/tests/systemd/test_systemd.o $(BUILD)/tests/unit/testutil.o \
		$(CLIENT_A) $(PROTO_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs cmocka) $(CLIENT_LIBS) $(LDLIBS)
$(BUILD)/tests/systemd/%.o: tests/systemd/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(shell pkg-config --cflags cmocka) -c -o $@ $<

# libFuzzer targets (variables with the other tests above).
.PHONY: fuzz fuzz-seeds
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@fail=0; for t in $(FUZZ_TARGETS); do mkdir -p $(FUZZ_DIR)/corpus/$$t && \
	  cp tests/fuzz/corpus/$$t/* $(FUZZ_DIR)/corpus/$$t/ && \
	  $(FUZZ_DIR)/$$t $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
	    -dict=tests/fuzz/$$t.dict -artifact_prefix=$(FUZZ_DIR)/$$t- \
	    -print_final_stats=1 $(FUZZ_DIR)/corpus/$$t || \
	  { echo "fuzz: $$t failed; its input is $(FUZZ_DIR)/$$t-*"; fail=1; }; \
	done; exit $$fail

# Regenerate the committed seeds (tests/fuzz/gen_seeds.c says how).
fuzz-seeds: $(BUILD)/tests/fuzz/gen_seeds
	$(BUILD)/tests/fuzz/gen_seeds tests/fuzz/corpus

$(FUZZ_DIR)/obj/%.o: %.c | $(PROTO_GEN_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Idaemon -DKMEM_FAULT_INJECT $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/obj/proto/kmem.pb-c.o: $(PROTO_GEN_C)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/fuzz_engine: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_engine.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_CORE)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(DAEMON_LIBS)

$(FUZZ_TEST): $(BUILD)/tests/fuzz/test_fuzz.o | $(FUZZ_BIN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs cmocka) $(LDLIBS)

$(BUILD)/tests/fuzz/gen_seeds: $(BUILD)/tests/fuzz/gen_seeds.o $(PROTO_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(PROTO_LIBS) $(LDLIBS)
$(BUILD)/tests/fuzz/gen_seeds.o: | $(PROTO_GEN_H)
