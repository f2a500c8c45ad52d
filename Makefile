# wasmpack — see README.md. `make` builds, `make test` runs the suite, `make check` runs it
# again under AddressSanitizer and UndefinedBehaviorSanitizer, `make demo` runs the demo.

CC ?= cc
PKGS := libarchive libcurl openssl jansson libgit2 zlib libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wshadow
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -fvisibility=hidden -I. $(PKG_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS := $(PKG_LIBS) -lpthread

O ?= build
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_SRCS := $(sort $(wildcard common/*.c oci/*.c registry/*.c spin/*.c node/*.c trust/*.c shim/*.c))
CLI_SRCS := $(sort $(wildcard cli/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJS := $(LIB_SRCS:%.c=$(O)/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(O)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)

WASM_CC := clang --target=wasm32-wasi
WASM_APPS := $(patsubst testdata/apps/%.c,$(O)/testdata/%.wasm,$(wildcard testdata/apps/*.c))

.PHONY: all deps test check demo clean install uninstall completions fuzz fuzz-build bench bench-smoke wasm-apps helpers
SHIM := containerd-shim-wasmpack-v1
all: $(O)/wasmpack $(O)/wasmpack-core $(O)/$(SHIM) $(UNIT_BINS)

# The commit and the build date `version` prints: the date is the commit's (or
# SOURCE_DATE_EPOCH's), so a rebuild of the same commit prints the same. The header is
# rewritten only when they change, so only cmd_version.o follows a commit.
$(O)/gen/version.h: FORCE
	@mkdir -p $(dir $@)
	@c=$$(git -C $(CURDIR) rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	 git -C $(CURDIR) diff --quiet HEAD -- 2>/dev/null || c="$$c-modified"; \
	 t=$${SOURCE_DATE_EPOCH:-$$(git -C $(CURDIR) log -1 --format=%ct 2>/dev/null || date +%s)}; \
	 d=$$(date -u -d "@$$t" +%Y-%m-%d 2>/dev/null || echo unknown); \
	 printf '#define WP_GIT_COMMIT "%s"\n#define WP_BUILD_DATE "%s"\n' "$$c" "$$d" > $@.tmp; \
	 cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(O)/cli/cmd_version.o: $(O)/gen/version.h
$(O)/cli/cmd_version.o: ALL_CFLAGS += -I$(O)

# The engines' runners are files of their own (node/runners), embedded in the binaries:
# each as a header under $(O)/gen that its engine's file includes.
$(O)/gen/runner_node_wasi.h: node/runners/node-wasi.cjs scripts/embed.sh
	@mkdir -p $(dir $@)
	@scripts/embed.sh $< node_launcher > $@.tmp && mv $@.tmp $@
$(O)/gen/runner_jco_run.h: node/runners/jco-run.cjs scripts/embed.sh
	@mkdir -p $(dir $@)
	@scripts/embed.sh $< jco_runner > $@.tmp && mv $@.tmp $@
$(O)/gen/runner_jco_transpile.h: node/runners/jco-transpile.mjs scripts/embed.sh
	@mkdir -p $(dir $@)
	@scripts/embed.sh $< jco_transpiler > $@.tmp && mv $@.tmp $@
$(O)/gen/runner_jco_io.h: node/runners/jco-io.mjs scripts/embed.sh
	@mkdir -p $(dir $@)
	@scripts/embed.sh $< jco_io > $@.tmp && mv $@.tmp $@
$(O)/gen/runner_spin_http.h: node/runners/spin-http.mjs scripts/embed.sh
	@mkdir -p $(dir $@)
	@scripts/embed.sh $< spin_http_runner > $@.tmp && mv $@.tmp $@
$(O)/node/engine_node.o: $(O)/gen/runner_node_wasi.h
$(O)/node/engine_jco.o: $(O)/gen/runner_jco_run.h $(O)/gen/runner_jco_transpile.h $(O)/gen/runner_jco_io.h
$(O)/node/engine_spin.o: $(O)/gen/runner_spin_http.h
$(O)/node/engine_node.o $(O)/node/engine_jco.o $(O)/node/engine_spin.o: ALL_CFLAGS += -I$(O)
.PHONY: FORCE
FORCE:

# Each object depends on the headers it includes, as the compiler found them (-MMD).
$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(O)/cli/front/front.d $(O)/cli/shim/main.d

$(O)/libwasmpack.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# wasmpack-core is the whole CLI; wasmpack is the front that serves a warm `run` with
# only libc and jansson loaded and hands everything else to the core (cli/front/front.c).
$(O)/wasmpack-core: $(CLI_OBJS) $(O)/libwasmpack.a
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJS) $(O)/libwasmpack.a $(LDLIBS)

# The front parses a warm run with the core's own parser and run's option table.
FRONT_OBJS := $(O)/cli/front/front.o $(O)/cli/options.o $(O)/cli/run_opts.o
$(O)/wasmpack: $(FRONT_OBJS) $(O)/libwasmpack.a
	$(CC) $(ALL_CFLAGS) -o $@ $(FRONT_OBJS) $(O)/libwasmpack.a $(shell pkg-config --libs jansson libseccomp 2>/dev/null) -lpthread

# The containerd shim (cli/shim/main.c): containerd starts it, one per pod.
# Like the front it links only libc and jansson (it lives as long as its containers);
# artifact images are fetched and unpacked by `wasmpack-core __shim-fetch`.
$(O)/$(SHIM): $(O)/cli/shim/main.o $(O)/libwasmpack.a
	$(CC) $(ALL_CFLAGS) -o $@ $(O)/cli/shim/main.o $(O)/libwasmpack.a $(shell pkg-config --libs jansson libseccomp 2>/dev/null) -lpthread

$(O)/tests/%: tests/unit/%.c tests/unit/tap.h $(O)/libwasmpack.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(O)/libwasmpack.a $(LDLIBS)

$(O)/testdata/%.wasm: testdata/apps/%.c
	@mkdir -p $(dir $@)
	$(WASM_CC) -O2 -Wl,--strip-all -o $@ $<

# A Spin HTTP component (wasi:http) of C, for the Spin trigger's tests and the sample app.
$(O)/testdata/http-hello.wasm: testdata/http/http-hello.c testdata/http/world.wit testdata/http/fermyon/spin.wit scripts/http-component.sh scripts/http-component.mjs
	@mkdir -p $(dir $@)
	scripts/http-component.sh $< $@

# A Spin HTTP app of JavaScript, built with Spin's own JS SDK tooling (j2w, pinned in
# scripts/spin-js and installed by make deps); left out where npm could not install it.
J2W := $(wildcard .deps/spin-js/node_modules/.bin/j2w)
ifneq ($(J2W),)
# j2w writes its build data beside its input: it builds a copy under $(O), not the source.
$(O)/testdata/spin-js.wasm: testdata/spin-js/src/index.js scripts/spin-js/package-lock.json
	@mkdir -p $(dir $@) $(O)/testdata/spin-js-src
	cp $< $(O)/testdata/spin-js-src/index.js
	cd .deps/spin-js && node_modules/.bin/j2w -i $(abspath $(O)/testdata/spin-js-src/index.js) -o $(abspath $@).tmp >/dev/null
	mv $@.tmp $@
JS_APPS := $(O)/testdata/spin-js.wasm
endif

wasm-apps: $(WASM_APPS) $(O)/testdata/http-hello.wasm $(JS_APPS)

# Servers the integration tests start (never installed).
HELPERS := $(patsubst tests/helpers/%.c,$(O)/tests/helpers/%,$(wildcard tests/helpers/*.c))
$(O)/tests/helpers/%: tests/helpers/%.c $(O)/libwasmpack.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-format-truncation -Wno-missing-prototypes -o $@ $< $(O)/libwasmpack.a $(LDLIBS)
helpers: $(HELPERS)

deps:
	@scripts/deps.sh

completions: $(O)/wasmpack
	for sh in bash zsh fish; do $(O)/wasmpack completion $$sh > completions/wasmpack.$$sh; done
	$(O)/wasmpack __man > docs/wasmpack.1

# The suite: C unit tests and shell integration tests, all TAP, run by prove.
test: deps
	$(MAKE) all wasm-apps helpers
	WASMPACK_BUILD=$(abspath $(O)) prove -j2 --exec '' --timer $(UNIT_BINS) tests/integration/*.sh

check: deps
	$(MAKE) O=build-san EXTRA_CFLAGS="$(SAN_FLAGS)" all wasm-apps helpers
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 UBSAN_OPTIONS=print_stacktrace=1 \
	WASMPACK_SAN_LOGS=1 WASMPACK_BUILD=$(abspath build-san) prove -j2 --exec '' $(UNIT_BINS:$(O)/%=build-san/%) tests/integration/*.sh

demo: deps
	$(MAKE) all wasm-apps
	WASMPACK_BUILD=$(abspath $(O)) scripts/demo.sh

# Every bench at its full size, one after another (bench/*.sh says what each compares);
# the shim's needs root (containerd), and is said to be skipped otherwise.
BENCHES := build push pull unpack spin spin_toml components spin_http
bench: deps
	$(MAKE) all wasm-apps helpers
	export WASMPACK_BUILD=$(abspath $(O)); set -e; \
	for b in $(BENCHES); do echo "== bench/$$b.sh"; bench/$$b.sh; done; \
	echo "== bench/shim.sh"; \
	if [ "$$(id -u)" = 0 ]; then bench/shim.sh; else echo "bench/shim.sh needs root (it runs containerd): not run"; fi

# Every bench once at a tiny size, so a bench that broke shows (CI runs it): each checks
# its contenders' outputs and stops on a failing run, so passing means it works.
bench-smoke: deps
	$(MAKE) all wasm-apps helpers
	export WASMPACK_BUILD=$(abspath $(O)) RUNS=1; set -e; \
	WASM_MIB=4 FILES=20 bench/build.sh; \
	BLOBS=3 TOTAL_MIB=6 bench/push.sh; \
	BLOBS=3 TOTAL_MIB=6 bench/pull.sh; \
	WASM_MIB=2 FILES=20 WARM_RUNS=3 bench/unpack.sh; \
	FILES=20 bench/spin.sh; \
	CAP_MIB=1 bench/spin_toml.sh; \
	bench/components.sh; \
	DURATION=1 bench/spin_http.sh; \
	if [ "$$(id -u)" = 0 ]; then RUNS=2 IDLE=1 bench/shim.sh; else echo "bench/shim.sh needs root: not run"; fi

clean:
	rm -rf build build-san build-fuzz

# wasmpack, its core and the containerd shim side by side (containerd finds the shim on
# PATH); docs/kubernetes.md says how nodes get them.
PREFIX ?= /usr/local
bindir ?= $(PREFIX)/bin
mandir ?= $(PREFIX)/share/man
datadir ?= $(PREFIX)/share
# The binaries, the man page and the completions where bash-completion, zsh and fish look.
INSTALLED := $(bindir)/wasmpack $(bindir)/wasmpack-core $(bindir)/$(SHIM) $(mandir)/man1/wasmpack.1 \
	$(datadir)/bash-completion/completions/wasmpack $(datadir)/zsh/site-functions/_wasmpack \
	$(datadir)/fish/vendor_completions.d/wasmpack.fish
install: all
	install -D -m 0755 $(O)/wasmpack $(DESTDIR)$(bindir)/wasmpack
	install -D -m 0755 $(O)/wasmpack-core $(DESTDIR)$(bindir)/wasmpack-core
	install -D -m 0755 $(O)/$(SHIM) $(DESTDIR)$(bindir)/$(SHIM)
	install -D -m 0644 docs/wasmpack.1 $(DESTDIR)$(mandir)/man1/wasmpack.1
	install -D -m 0644 completions/wasmpack.bash $(DESTDIR)$(datadir)/bash-completion/completions/wasmpack
	install -D -m 0644 completions/wasmpack.zsh $(DESTDIR)$(datadir)/zsh/site-functions/_wasmpack
	install -D -m 0644 completions/wasmpack.fish $(DESTDIR)$(datadir)/fish/vendor_completions.d/wasmpack.fish
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

# libFuzzer targets over every parser of untrusted input; each runs FUZZ_SECONDS.
FUZZ_SECONDS ?= 10
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build-fuzz/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
SHARED ?= ../shared

fuzz-build:
	$(MAKE) O=build-fuzz CC=clang EXTRA_CFLAGS="$(FUZZ_FLAGS)" build-fuzz/libwasmpack.a
	@mkdir -p build-fuzz/fuzz
	@for t in $(FUZZ_TARGETS); do \
	  echo "clang ... -o $$t"; \
	  clang $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $$t tests/fuzz/$$(basename $$t).c build-fuzz/libwasmpack.a $(LDLIBS) || exit 1; \
	done

fuzz: deps fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do n=$$(basename $$t); c=build-fuzz/corpus/$${n#fuzz_}; \
	  mkdir -p $$c; extra=""; \
	  if [ $$n = fuzz_toml ] && [ -d $(SHARED)/toml-test ]; then extra="$(SHARED)/toml-test/valid $(SHARED)/spin-loader-tests"; fi; \
	  echo "fuzzing $$n for $(FUZZ_SECONDS)s"; \
	  if ! LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 \
	    $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=0 -artifact_prefix=build-fuzz/ \
	    $$c tests/fuzz/corpus/$${n#fuzz_} $$extra > build-fuzz/$$n.log 2>&1; then \
	    grep -A30 -E 'ERROR|SUMMARY' build-fuzz/$$n.log | head -60; echo "$$n FAILED"; exit 1; fi; \
	  tail -1 build-fuzz/$$n.log; done
