# pkish build. `make` builds the programs; `make check` builds and runs every test;
# `make check SANITIZE=1` does the same under ASan+UBSan (in build/san);
# `make demo` runs the main job; `make fuzz` builds the libFuzzer targets (clang),
# `make fuzz-long` runs them on a budget; `make torture` kills pkish and cmpca at
# random instants and loads cmpca (not part of check); `make bench` measures (a
# table in build/bench.txt); `make install` / `make uninstall` (PREFIX, DESTDIR
# and the GNU directory variables below).
#
# Modules are folders (util storage pki cmp ca device cli); every .c in them is
# part of the library that the programs and tests link. Program mains: cli/main.c
# -> pkish, tools/NAME.c -> NAME. Tests: test/check_NAME.c -> check_NAME (Check suites),
# test/*.sh run by test/run_tests.sh. Fuzz targets: test/fuzz/fuzz_NAME.c.

PKGS     := openssl libedit libxml-2.0 check libmicrohttpd sqlite3
SANITIZE ?= 0
CC       ?= cc

ifeq ($(SANITIZE),1)
BUILD    ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      := -O1
else
BUILD    ?= build
SANFLAGS :=
OPT      := -O2
endif

# Evaluated when used (not at parse time), so a fresh machine gets its packages
# from the deps step below before the first compile asks pkg-config.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

# ---- version and installation directories ----
# One version for every program: the file VERSION. The installation directories
# follow the GNU names; PREFIX (default /usr/local) sets prefix, and each one can be
# given on the command line (make install prefix=/usr sysconfdir=/etc ...).
# DESTDIR stages an installation (packaging): it prefixes every installed path
# but never a path compiled into the programs or written into the units.
VERSION        := $(strip $(file <VERSION))
PREFIX         ?= /usr/local
prefix          = $(PREFIX)
exec_prefix     = $(prefix)
bindir          = $(exec_prefix)/bin
sbindir         = $(exec_prefix)/sbin
datarootdir     = $(prefix)/share
datadir         = $(datarootdir)
pkgdatadir      = $(datadir)/pkish
schemadir       = $(pkgdatadir)/schemas
mandir          = $(datarootdir)/man
man1dir         = $(mandir)/man1
man8dir         = $(mandir)/man8
docdir          = $(datarootdir)/doc/pkish
sysconfdir      = $(prefix)/etc
localstatedir   = $(prefix)/var
systemdunitdir  = $(prefix)/lib/systemd/system
bashcompdir     = $(datadir)/bash-completion/completions
INSTALL         = install
INSTALL_PROGRAM = $(INSTALL) -m 755
INSTALL_DATA    = $(INSTALL) -m 644

# What the programs are built with: the version and the installed grammar
# directory (pkish's default; an uninstalled build finds the tree's schemas/
# through the link $(BUILD)/schemas beside the programs, see cli/main.c).
# $(BUILD)/defs holds these values and changes only when they do, so a new PREFIX
# or VERSION recompiles exactly the files that use them.
DEFS       := -DPKISH_VERSION='"$(VERSION)"' -DPKISH_SCHEMA_DIR='"$(schemadir)"'
DEFS_STAMP := $(BUILD)/defs
ifneq ($(file <$(DEFS_STAMP)),$(DEFS))
$(shell mkdir -p $(BUILD))
$(file >$(DEFS_STAMP),$(DEFS))
endif

CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(DEFS) -Wall -Wextra -Werror -Wshadow -Wformat=2 \
           -Wno-format-nonliteral -MMD -MP $(SANFLAGS) $(PKG_CFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lpthread

MODULES  := util storage pki cmp ca device cli
LIBSRC   := $(filter-out cli/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIBOBJ   := $(LIBSRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libpkish.a

TOOLSRC  := $(wildcard tools/*.c)
TOOLS    := $(TOOLSRC:tools/%.c=$(BUILD)/%)
PROGS    := $(BUILD)/pkish $(TOOLS)

TESTSRC  := $(wildcard test/check_*.c)
TESTHELP := $(filter-out $(TESTSRC),$(wildcard test/*.c))
TESTS    := $(TESTSRC:test/%.c=$(BUILD)/test/%)

# Test programs with a main of their own (test/prog/NAME.c -> $(BUILD)/test/NAME,
# e.g. the fault-injecting server of t_faults.sh), linked with the test helpers.
TESTPROGSRC := $(wildcard test/prog/*.c)
TESTPROGS   := $(TESTPROGSRC:test/prog/%.c=$(BUILD)/test/%)

BENCHSRC := $(wildcard bench/*.c)
BENCHES  := $(BENCHSRC:bench/%.c=$(BUILD)/bench/%)

FUZZSRC  := $(wildcard test/fuzz/fuzz_*.c)

# The fuzz targets built without libFuzzer (test/fuzz/replay.c gives them a
# main): `make check` replays their regression inputs and corpus with them
# (test/t_fuzz_regress.sh), with the sanitizers under SANITIZE=1.
FUZZ_REPLAY := $(FUZZSRC:test/fuzz/%.c=$(BUILD)/fuzz-replay/%)

# The torture suite's helper programs (test/torture/NAME.c -> torture/NAME);
# `make check` builds them too: t_torture_checks shows that they find faults.
TORTSRC  := $(wildcard test/torture/*.c)
TORTURE_HELPERS := $(TORTSRC:test/torture/%.c=$(BUILD)/torture/%)

# Generated with the installation directories: the man pages (man/NAME.S.in ->
# $(BUILD)/man/manS/NAME.S) and the systemd units (dist/NAME.service.in ->
# $(BUILD)/dist/NAME.service). $(BUILD)/paths changes when a directory does.
SUBST_VARS  := bindir sbindir sysconfdir schemadir docdir systemdunitdir VERSION
SUBST_VALS  := $(foreach v,$(SUBST_VARS),$(v)=$($(v)))
PATHS_STAMP := $(BUILD)/paths
ifneq ($(file <$(PATHS_STAMP)),$(SUBST_VALS))
$(shell mkdir -p $(BUILD))
$(file >$(PATHS_STAMP),$(SUBST_VALS))
endif
SUBST = sed $(foreach v,$(SUBST_VARS),-e 's|@$(v)@|$($(v))|g')
MANSRC := $(wildcard man/*.in)
MANS   := $(foreach f,$(notdir $(MANSRC:.in=)),$(BUILD)/man/man$(subst .,,$(suffix $(f)))/$(f))
UNITS  := $(patsubst dist/%.in,$(BUILD)/dist/%,$(wildcard dist/*.service.in))

.PHONY: all check demo fuzz fuzz-long torture bench clean install uninstall valgrind deps \
	man units
.SECONDARY:
all: $(DEPS_STAMP) $(PROGS) $(BUILD)/schemas $(MANS) $(UNITS)
man: $(MANS)
units: $(UNITS)

# The sources that use a DEFS value are rebuilt when $(BUILD)/defs changes.
ALLSRC     := $(LIBSRC) cli/main.c $(TOOLSRC) $(TESTSRC) $(TESTHELP) $(BENCHSRC) \
              $(TESTPROGSRC) $(TORTSRC) $(FUZZSRC)
DEFS_USERS := $(shell grep -l -E 'PKISH_(VERSION|SCHEMA_DIR)' $(ALLSRC))
$(DEFS_USERS:%.c=$(BUILD)/obj/%.o): $(DEFS_STAMP)

# Benchmarks and fuzz targets are never installed: they read the tree's grammar.
$(BUILD)/obj/bench/%.o $(BUILD)/obj/test/fuzz/%.o: DEFS := \
	-DPKISH_VERSION='"$(VERSION)"' -DPKISH_SCHEMA_DIR='"$(CURDIR)/schemas"'

# Set-up on a fresh machine: install the Debian packages that are missing (once).
DEPS_STAMP := build/.deps-installed
$(DEPS_STAMP): scripts/install-deps.sh
	@sh scripts/install-deps.sh
	@mkdir -p build && touch $@
deps: $(DEPS_STAMP)

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIBOBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/pkish: $(BUILD)/obj/cli/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The uninstalled build's grammar: a relative link to the tree's schemas/ beside
# the programs (so the tree can move); an installed or copied pkish has none.
$(BUILD)/schemas:
	@mkdir -p $(BUILD)
	ln -sfn $$(realpath -m --relative-to=$(BUILD) schemas) $@

$(BUILD)/%: $(BUILD)/obj/tools/%.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test/%: $(BUILD)/obj/test/%.o $(TESTHELP:%.c=$(BUILD)/obj/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(TESTPROGS): $(BUILD)/test/%: $(BUILD)/obj/test/prog/%.o \
    $(TESTHELP:%.c=$(BUILD)/obj/%.o) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz-replay/%: $(BUILD)/obj/test/fuzz/%.o $(BUILD)/obj/test/fuzz/replay.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/man/man1/%.1: man/%.1.in $(PATHS_STAMP)
	@mkdir -p $(dir $@)
	$(SUBST) $< >$@.tmp && mv $@.tmp $@
$(BUILD)/man/man8/%.8: man/%.8.in $(PATHS_STAMP)
	@mkdir -p $(dir $@)
	$(SUBST) $< >$@.tmp && mv $@.tmp $@
$(BUILD)/dist/%.service: dist/%.service.in $(PATHS_STAMP)
	@mkdir -p $(dir $@)
	$(SUBST) $< >$@.tmp && mv $@.tmp $@

check: $(DEPS_STAMP) $(PROGS) $(BUILD)/schemas $(MANS) $(UNITS) $(TESTS) $(TESTPROGS) \
	$(TORTURE_HELPERS) $(FUZZ_REPLAY)
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) sh test/run_tests.sh

# Every Check program under valgrind memcheck (no fork, so leaks are seen);
# VALGRIND_TESTS narrows the list (e.g. VALGRIND_TESTS=check_cli).
VALGRIND_TESTS ?= $(notdir $(TESTS))
valgrind: $(PROGS) $(TESTS)
	@rc=0; for t in $(VALGRIND_TESTS); do echo "== valgrind $$t"; \
	  CK_FORK=no BUILD=$(BUILD) PKISH_TOP=$(CURDIR) valgrind -q --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect --error-exitcode=9 \
	    $(BUILD)/test/$$t || rc=1; done; exit $$rc

demo: $(DEPS_STAMP) $(PROGS) $(BUILD)/schemas
	BUILD=$(BUILD) sh examples/demo.sh

# The measuring instrument (bench/bench.sh): one table of figures beside their
# anchors measured in the same run, also written to $(BUILD)/bench.txt. Never
# part of `make check`. RUNS=N runs per whole-process figure (default 10).
bench: $(PROGS) $(BUILD)/schemas $(BENCHES)
	BUILD=$(BUILD) bash bench/bench.sh

# libFuzzer targets: clang only; each links the library sources compiled with the
# fuzzer's instrumentation.
FUZZ_BUILD := build/fuzz
fuzz: $(DEPS_STAMP)
	@mkdir -p $(FUZZ_BUILD)
	@for f in $(FUZZSRC); do \
	  n=$$(basename $$f .c); echo "  FUZZ $$n"; \
	  clang -g -O1 -std=c11 -D_GNU_SOURCE -DPKISH_VERSION='"$(VERSION)"' \
	    -DPKISH_SCHEMA_DIR='"$(CURDIR)/schemas"' -fsanitize=fuzzer,address,undefined \
	    $(PKG_CFLAGS) -o $(FUZZ_BUILD)/$$n $$f $(LIBSRC) $(PKG_LIBS) -lpthread || exit 1; \
	done
	@echo "fuzz targets in $(FUZZ_BUILD)/ (run e.g. mkdir -p $(FUZZ_BUILD)/corpus &&" \
	    "$(FUZZ_BUILD)/fuzz_cmp_client -max_total_time=60 $(FUZZ_BUILD)/corpus test/vectors:" \
	    "libFuzzer writes new inputs into the first directory, never give it test/vectors first)"

# `make fuzz-long`: every target to FUZZ_RUNS executions on the corpus kept in
# test/fuzz/corpus/ (minimised and written back), crashes into
# test/fuzz/regress/ (replayed by make check); the table in build/fuzz/long.txt.
# FUZZ_JOBS targets at a time (test/fuzz/long.sh).
FUZZ_RUNS ?= 10000000
FUZZ_JOBS ?= 1
fuzz-long: fuzz
	FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_JOBS=$(FUZZ_JOBS) FUZZ_BUILD=$(FUZZ_BUILD) \
	    bash test/fuzz/long.sh

# ---- the torture suite (not part of check) ----
# `make torture`: crash consistency of the device and of the CA under kill -9,
# and a load test of cmpca (test/torture/run.sh); one table of trials, faults and
# losses, exit status 1 on any loss. About 10 minutes on 2 cores; TORTURE_SCALE=N
# runs N times the trials.
TORTURE_SCALE ?= 1
$(BUILD)/torture/%: $(BUILD)/obj/test/torture/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

torture: $(DEPS_STAMP) $(PROGS) $(BUILD)/schemas $(TORTURE_HELPERS)
	BUILD=$(BUILD) TORTURE_SCALE=$(TORTURE_SCALE) bash test/torture/run.sh

# ---- install / uninstall ----
# `make install` installs what `make` built (give make the same PREFIX): the
# programs (cmpca, a service, to sbindir), the grammar, the man pages, the
# documentation and examples, the systemd units, the bash completion, and the
# cmpca service's configuration sysconfdir/cmpca.conf (dist/cmpca.conf) where
# there is none yet. `make uninstall` removes exactly these (cmpca.conf only
# when unchanged), and the package's own directories when they are left empty.
INST_SBIN    := cmpca
INST_BIN     := $(filter-out $(INST_SBIN),$(notdir $(PROGS)))
INST_SCHEMAS := $(wildcard schemas/*.xsd schemas/*.xml)
INST_DOCS    := README.md $(wildcard doc/*.md)
INST_EXAMPLES:= $(wildcard examples/*.cfg examples/*.conf)
COMPLETIONS  := pkish cmpca cmpdump cmpload

install: all
	$(INSTALL) -d $(DESTDIR)$(bindir) $(DESTDIR)$(sbindir) $(DESTDIR)$(schemadir) \
	    $(DESTDIR)$(man1dir) $(DESTDIR)$(man8dir) $(DESTDIR)$(docdir)/examples \
	    $(DESTDIR)$(systemdunitdir) $(DESTDIR)$(bashcompdir) $(DESTDIR)$(sysconfdir)
	$(INSTALL_PROGRAM) $(addprefix $(BUILD)/,$(INST_BIN)) $(DESTDIR)$(bindir)/
	$(INSTALL_PROGRAM) $(addprefix $(BUILD)/,$(INST_SBIN)) $(DESTDIR)$(sbindir)/
	$(INSTALL_DATA) $(INST_SCHEMAS) $(DESTDIR)$(schemadir)/
	$(INSTALL_DATA) $(filter %.1,$(MANS)) $(DESTDIR)$(man1dir)/
	$(INSTALL_DATA) $(filter %.8,$(MANS)) $(DESTDIR)$(man8dir)/
	$(INSTALL_DATA) $(INST_DOCS) $(DESTDIR)$(docdir)/
	$(INSTALL_DATA) $(INST_EXAMPLES) $(DESTDIR)$(docdir)/examples/
	$(INSTALL_DATA) $(UNITS) $(DESTDIR)$(systemdunitdir)/
	$(INSTALL_DATA) dist/completion.bash $(DESTDIR)$(bashcompdir)/pkish
	for c in $(filter-out pkish,$(COMPLETIONS)); do \
	    ln -sf pkish $(DESTDIR)$(bashcompdir)/$$c || exit 1; done
	[ -e $(DESTDIR)$(sysconfdir)/cmpca.conf ] || \
	    $(INSTALL_DATA) dist/cmpca.conf $(DESTDIR)$(sysconfdir)/cmpca.conf

uninstall:
	rm -f $(addprefix $(DESTDIR)$(bindir)/,$(INST_BIN)) \
	    $(addprefix $(DESTDIR)$(sbindir)/,$(INST_SBIN)) \
	    $(addprefix $(DESTDIR)$(schemadir)/,$(notdir $(INST_SCHEMAS))) \
	    $(addprefix $(DESTDIR)$(man1dir)/,$(notdir $(filter %.1,$(MANS)))) \
	    $(addprefix $(DESTDIR)$(man8dir)/,$(notdir $(filter %.8,$(MANS)))) \
	    $(addprefix $(DESTDIR)$(docdir)/,$(notdir $(INST_DOCS))) \
	    $(addprefix $(DESTDIR)$(docdir)/examples/,$(notdir $(INST_EXAMPLES))) \
	    $(addprefix $(DESTDIR)$(systemdunitdir)/,$(notdir $(UNITS))) \
	    $(addprefix $(DESTDIR)$(bashcompdir)/,$(COMPLETIONS))
	! cmp -s dist/cmpca.conf $(DESTDIR)$(sysconfdir)/cmpca.conf || \
	    rm -f $(DESTDIR)$(sysconfdir)/cmpca.conf
	rmdir $(DESTDIR)$(schemadir) $(DESTDIR)$(pkgdatadir) \
	    $(DESTDIR)$(docdir)/examples $(DESTDIR)$(docdir) 2>/dev/null || true

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
