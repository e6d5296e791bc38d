# One non-recursive Makefile for the six servers, their tests and the bench.
#
#   make            build every server into bin/ (and www/big/1mib.bin,
#                   www/live.js.gz)
#   make test       unit tests, the contract and adversarial suites against
#                   every server, the soak check (make soak), and the live
#                   page in headless Chromium (skipped without it)
#   make asan       the same tests, built with AddressSanitizer + UBSan
#   make tsan       the same tests for the threaded models under ThreadSanitizer
#   make deploy     deploy/ against real nginx and systemd-analyze (in make test)
#   make deploy-measure  what nginx in front costs a request (docs/deploy.md)
#   make bench      the benchmark matrix into build/bench/; PUBLISH=1 also
#                   rewrites docs/bench.md (see tests/bench/README.md)
#   make measure-NN  rerun the hand-measured figures of docs/NN_*.md (memory
#                   per idle connection, the demonstrations) and print that
#                   page's tables; make measure runs all six
#                   (tests/measure/README.md)
#   make run        serve www/ on 127.0.0.1:8080 (MODEL=01_blocking ...)
#   make diffs      docs/diffs/NN-MM.diff between neighbouring models
#   make check-diffs  fail if docs/diffs/ is not what `make diffs` writes,
#                   or a figure in docs/ is not the published run's
#   make docs-figures  write the published run's figures into the docs
#                   (tests/bench/docfigures.sh; PUBLISH=1 does it too)
#   make fuzz       run each fuzz target for FUZZ_SECONDS (needs clang)
#   make fuzz-replay  each fuzz target once over its seed corpus (needs clang)
#   make BREAK=no-reap  build with one lesson undone (docs/labs/breaks.md)
#   make break-check  every break must fail its named test, the clean build
#                   must pass it
#   make format / check-format / lint / clean
#
# MODE=asan or MODE=tsan selects a sanitizer build; its objects and binaries
# live under build/$(MODE)/ so they never mix with the normal build.

# tests/measure/NN.sh: one script per page of docs/.
MEASURES := 01 02 03 04 05 06

VARIANTS := 01_blocking 02_fork 03_threads 04_threadpool \
	    05_nonblocking_poll 06_epoll_async
# Only the variants whose folder has a main.c are built.
BUILT := $(foreach v,$(VARIANTS),$(if $(wildcard $(v)/main.c),$(v)))

MODE ?= release
CC ?= cc
WERROR ?= -Werror
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wformat=2 -Wimplicit-fallthrough -Wvla -Wundef
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) $(WERROR) -MMD -MP \
	-Icommon
# zlib (Debian zlib1g-dev): gzip of static files, common/encoding.c.
LDLIBS := -pthread -lz

ifeq ($(MODE),release)
OUT := build
BIN := bin
SAN :=
else ifeq ($(MODE),asan)
OUT := build/asan
BIN := $(OUT)/bin
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
else ifeq ($(MODE),tsan)
OUT := build/tsan
BIN := $(OUT)/bin
SAN := -fsanitize=thread
else
$(error MODE must be release, asan or tsan)
endif

# BREAK=name undoes one lesson (-DBREAK_NAME) in a build of its own.
BREAKS := no-reap sigpipe fd-race cond-if et-no-drain no-emfile-backoff \
	no-header-timeout no-linger
ifneq ($(BREAK),)
ifeq ($(filter $(BREAK),$(BREAKS)),)
$(error BREAK must be one of $(BREAKS))
endif
OUT := $(OUT)/break-$(BREAK)
BIN := $(OUT)/bin
BREAK_DEF := -DBREAK_$(subst -,_,$(shell echo $(BREAK) | tr a-z A-Z))
endif

CFLAGS := $(CFLAGS_BASE) $(SAN) $(BREAK_DEF) $(EXTRA_CFLAGS)
LDFLAGS := $(SAN)

COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(OUT)/%.o)
LIB := $(OUT)/libcommon.a
SERVERS := $(BUILT:%=$(BIN)/%)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(OUT)/tests/%)
# tests/lib: the client, server process and /proc helpers the suites and the
# soak check use.
TESTLIB_SRC := $(wildcard tests/lib/*.c)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(OUT)/%.o)
TESTLIB := $(OUT)/libtests.a
CONTRACT := $(OUT)/tests/contract-suite
ADVERSARIAL := $(OUT)/tests/adversarial-suite
SOAK := $(OUT)/tests/soak-check

ifneq ($(V),1)
Q := @
endif

.PHONY: all test unit contract soak browser asan tsan bench run diffs \
	check-diffs format check-format lint fuzz fuzz-replay clean deps \
	deps-bench \
	deploy deploy-measure docs-figures check-docs-figures measure \
	$(MEASURES:%=measure-%)
.DEFAULT_GOAL := all

all: $(SERVERS)

$(OUT)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN)/%: $(OUT)/%/main.o $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)/tests/test_%: $(OUT)/tests/unit/test_%.o $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(OUT)/tests/lib/%.o $(OUT)/tests/contract/%.o $(OUT)/tests/adversarial/%.o \
	$(OUT)/tests/soak/%.o: CFLAGS += -Itests/lib

$(TESTLIB): $(TESTLIB_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(CONTRACT): $(patsubst %.c,$(OUT)/%.o,$(wildcard tests/contract/*.c)) \
	$(TESTLIB) $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(ADVERSARIAL): $(patsubst %.c,$(OUT)/%.o,$(wildcard tests/adversarial/*.c)) \
	$(TESTLIB) $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(SOAK): $(OUT)/tests/soak/soak.o $(TESTLIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- tests -----------------------------------------------------------------

# Which servers the contract suite runs against (default: every one built).
MODELS ?= $(BUILT)

# The soak comes last, on its own: not beside the suites under make -j.
test: deps
	$(Q)$(MAKE) --no-print-directory unit contract
	$(Q)$(MAKE) --no-print-directory soak
	$(Q)$(MAKE) --no-print-directory browser
	$(Q)$(MAKE) --no-print-directory deploy

unit: $(UNIT_BIN)
	$(Q)set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

contract: $(CONTRACT) $(ADVERSARIAL) $(SERVERS)
	$(Q)set -e; for m in $(MODELS); do \
		echo "== contract suite: $$m ($(MODE))"; \
		$(CONTRACT) $(BIN)/$$m; \
		echo "== adversarial suite: $$m ($(MODE))"; \
		$(ADVERSARIAL) $(BIN)/$$m; \
	done

# The live page (www/index.html) in headless Chromium, served by 04 under
# load: its figures must match /api/stats (tests/browser/live_page.py).
BROWSER_MODEL := $(BIN)/04_threadpool
browser: $(BROWSER_MODEL)
	$(Q)if command -v python3 >/dev/null && { [ -n "$${CHROMIUM:-}" ] || \
		command -v chromium >/dev/null || \
		command -v chromium-browser >/dev/null; }; then \
		echo "== browser: live page on $(BROWSER_MODEL)"; \
		python3 tests/browser/live_page.py $(BROWSER_MODEL); \
	else \
		echo "chromium not found: live page test skipped"; \
	fi

# Each server under a mixed load for SOAK_SECONDS (default 5), then /proc:
# descriptors, threads, children and memory back where they started.  A
# sanitizer keeps freed memory in quarantine: its RSS is shown, not judged.
soak: $(SOAK) $(SERVERS)
	$(Q)set -e; for m in $(MODELS); do \
		$(SOAK) $(if $(SAN),--no-rss-check) $(BIN)/$$m; \
	done

# deploy/ (tests/deploy/): nginx.conf in front of real servers, then the
# systemd unit, install.sh and logrotate.  Each part that lacks its tool
# (nginx, systemd-analyze, logrotate) says so and is skipped.
deploy: $(SERVERS) $(BIG_FILE)
	$(Q)if command -v python3 >/dev/null; then \
		echo "== deploy: nginx in front ($(MODE))"; \
		python3 tests/deploy/proxy_test.py $(BIN) && \
		echo "== deploy: systemd unit, install.sh, logrotate" && \
		python3 tests/deploy/unit_test.py $(BIN); \
	else \
		echo "python3 not found: deploy tests skipped"; \
	fi

# Direct against through nginx: wrk, median of 3 (needs make deps-bench).
deploy-measure: $(BIN)/$(lastword $(BUILT))
	$(Q)python3 tests/deploy/measure.py $(BIN)/$(lastword $(BUILT))

asan:
	$(Q)$(MAKE) --no-print-directory MODE=asan test

# Each lab break (BREAKS above) must fail the test docs/labs/breaks.md
# names, and the clean build must pass it.  Builds what it needs.
.PHONY: break-check
break-check:
	$(Q)MAKE="$(MAKE)" BREAKS="$(BREAKS)" sh tests/break/break-check.sh

# ThreadSanitizer only means something where there are threads.
TSAN_MODELS ?= $(filter 03_threads 04_threadpool 06_epoll_async,$(BUILT))
tsan:
	$(Q)$(MAKE) --no-print-directory MODE=tsan MODELS="$(TSAN_MODELS)" test

deps:
	$(Q)sh tests/deps.sh test

deps-bench:
	$(Q)sh tests/deps.sh bench

# ---- running and reading -----------------------------------------------------

MODEL ?= $(lastword $(BUILT))
PORT ?= 8080
run: $(BIN)/$(MODEL)
	$(BIN)/$(MODEL) --port $(PORT) --root www

# PUBLISH=1, FORCE=1, QUICK=1, REPEAT=N ... reach bench.sh through the
# environment (make exports command-line variables).  bench.sh builds its
# own helper, tests/bench/hold_idle.c, into build/bench/bin/.
bench: deps-bench all
	$(Q)sh tests/bench/bench.sh

# The figures of docs/NN_*.md that are not bench cells, measured again and
# printed as that page's tables (tests/measure/README.md).  One after the
# other: two at once would measure each other.
$(MEASURES:%=measure-%): measure-%: deps-bench all
	$(Q)sh tests/measure/$*.sh

measure: deps-bench all
	$(Q)for n in $(MEASURES); do sh tests/measure/$$n.sh || exit 1; done

# The project's parser against picohttpparser and the nodejs http-parser
# (tests/bench/parser/, docs/parser.md).  The deps step comes first: it
# installs the two libraries the bench links with.  RUNS= sets the runs
# per figure (default 7).
BENCH_PARSER := $(OUT)/bench-parser
BENCH_PARSER_OBJ := $(patsubst %.c,$(OUT)/%.o,$(wildcard tests/bench/parser/*.c))
# parse_nodejs.c wants the system's <http_parser.h>, which -Icommon would hide.
$(OUT)/tests/bench/parser/parse_nodejs.o: CFLAGS := $(filter-out -Icommon,$(CFLAGS))
$(BENCH_PARSER): $(BENCH_PARSER_OBJ) $(LIB)
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -l:libh2o.so.0.13 -lhttp_parser $(LDLIBS)

.PHONY: bench-parser
bench-parser:
	$(Q)sh tests/deps.sh bench-parser
	$(Q)$(MAKE) --no-print-directory $(BENCH_PARSER)
	$(Q)if command -v taskset >/dev/null 2>&1; then pin="taskset -c 0"; \
	else pin=; fi; $$pin $(BENCH_PARSER) $(RUNS)

# The 1 MiB file that www/index.html links to.  Made, not stored: a megabyte
# in every clone for one link.  Deterministic (www/big/README.txt says what
# each line holds), so every build serves the same bytes.
BIG_FILE := www/big/1mib.bin
$(BIG_FILE):
	@mkdir -p $(@D)
	@echo "  GEN     $@"
	$(Q)awk 'BEGIN { \
		t = "%08x concurrency-servers 1 MiB test file, line %05d "; \
		for (i = 0; i < 16384; i++) { \
			s = sprintf(t, i * 64, i); \
			while (length(s) < 63) \
				s = s "."; \
			print substr(s, 1, 63); \
		} \
	}' > $@.tmp && mv $@.tmp $@

# www/live.js.gz: the precompressed variant of live.js that the servers
# send to a client taking gzip, as nginx's gzip_static would (static_files.h).
# Made, not stored, so it cannot fall out of step with live.js; gzip -n
# puts no name or time inside, so every build makes the same bytes.
WWW_GZ := www/live.js.gz
$(WWW_GZ): www/live.js
	@echo "  GZIP    $@"
	$(Q)gzip -9 -n -c $< > $@.tmp && mv $@.tmp $@

# Extra prerequisites only: these targets' rules live elsewhere.
all test run bench: $(BIG_FILE) $(WWW_GZ)

# docs/diffs/01-02.diff ... between neighbouring models' main.c, into
# directory $(1).  The labels replace diff's file times, so a file changes
# only when the code does.
define write_diffs
set -e; mkdir -p $(1); rm -f $(1)/[0-9][0-9]-[0-9][0-9].diff; \
set -- $(VARIANTS); \
while [ $$# -ge 2 ]; do \
	a=$$1; b=$$2; shift; \
	[ -f $$a/main.c ] && [ -f $$b/main.c ] || continue; \
	f=$(1)/$${a%%_*}-$${b%%_*}.diff; \
	diff -u --label $$a/main.c --label $$b/main.c \
		$$a/main.c $$b/main.c > $$f || [ $$? -eq 1 ]; \
	echo "  DIFF    $$f ($$(grep -c '^[-+][^-+]' $$f) changed lines)"; \
done
endef

diffs:
	$(Q)$(call write_diffs,docs/diffs)

check-diffs: check-docs-figures
	$(Q)set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	( $(call write_diffs,$$tmp) ) >/dev/null; \
	if ! diff -r docs/diffs "$$tmp" >/dev/null; then \
		diff -rq docs/diffs "$$tmp" | sed "s|$$tmp|(made now)|" >&2; \
		echo "check-diffs: docs/diffs/ is out of date:" \
			"run make diffs" >&2; \
		exit 1; \
	fi; \
	echo "check-diffs: docs/diffs/ is up to date"

# The figures that the docs quote from the published run (docs/bench/):
# docfigures.sh fills the marked ones, and the check fails when one differs.
# test_docfigures.sh first checks that the check itself fails a wrong one.
docs-figures:
	$(Q)sh tests/bench/docfigures.sh

check-docs-figures:
	$(Q)sh tests/bench/test_docfigures.sh
	$(Q)sh tests/bench/docfigures.sh --check && \
		echo "check-docs-figures: the docs quote the published run"

FORMAT_SRC = $(wildcard common/*.[ch] 0*/*.c tests/unit/*.c tests/adversarial/*.[ch] \
	tests/contract/*.[ch] tests/lib/*.[ch] tests/soak/*.c tests/fuzz/*.c \
	tests/bench/*.c tests/bench/parser/*.c)
format:
	clang-format -i $(FORMAT_SRC)

check-format:
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRC)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance \
		--std=c11 -D_GNU_SOURCE -Icommon --suppress=missingIncludeSystem \
		common $(BUILT)

# ---- fuzzing (clang's libFuzzer) -------------------------------------------

FUZZ_SECONDS ?= 30
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
# Each target's seed corpus.  What a run finds goes to build/fuzz/TARGET.corpus
# (the first folder, the one libFuzzer writes to), never into the seeds.
FUZZ_CORPUS_fuzz_http_parser := tests/fuzz/corpus
FUZZ_CORPUS_fuzz_conn := tests/fuzz/corpus_conn
# fuzz_conn makes app.c's nanosleep (/api/sleep) return at once.
FUZZ_LDFLAGS_fuzz_conn := -Wl,--wrap=nanosleep
build/fuzz/%: tests/fuzz/%.c $(COMMON_SRC)
	@mkdir -p $(@D)
	@echo "  FUZZ-CC $@"
	$(Q)clang -std=c11 -D_GNU_SOURCE -g -O1 -Icommon \
		-fsanitize=fuzzer,address,undefined -o $@ $< $(COMMON_SRC) \
		$(FUZZ_LDFLAGS_$*) -pthread -lz

fuzz: $(FUZZ_BIN)
	$(Q)set -e; $(foreach f,$(FUZZ_BIN), \
		echo "== $(f) for $(FUZZ_SECONDS) s"; \
		mkdir -p $(f).corpus; \
		$(f) -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
			$(f).corpus $(FUZZ_CORPUS_$(notdir $(f)));)

# Each fuzz target once over its seed corpus (-runs=0 runs every input and
# stops): a regression check of what fuzzing found, in a few seconds.  A
# failing input prints the log and is kept as build/fuzz/TARGET-crash-*.
# Not part of make test, which does not need clang; test_http_parser
# replays the parser's corpus there too.
fuzz-replay: $(FUZZ_BIN)
	$(Q)set -e; $(foreach f,$(FUZZ_BIN), \
		echo "== $(f) over $(FUZZ_CORPUS_$(notdir $(f)))"; \
		$(f) -runs=0 -artifact_prefix=$(f)- \
			$(FUZZ_CORPUS_$(notdir $(f))) > $(f).replay.log \
			2>&1 || { cat $(f).replay.log; exit 1; }; \
		tail -n 1 $(f).replay.log;)

clean:
	rm -rf build bin $(BIG_FILE) $(WWW_GZ)

-include $(shell find build -name '*.d' 2>/dev/null)
