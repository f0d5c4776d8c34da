# pve-gpu-passthrough - plain Makefile. `make` builds everything into $(BUILD)/;
# `make check` installs test dependencies (apt), then runs unit tests (also under ASan/UBSan),
# tool tests and the QEMU lab; `make demo` runs the lab demo.
VERSION := 0.1
BUILD ?= build
CC ?= cc
PKGS := libpci libkmod inih

# Debian's hardening flags, as dpkg-buildflags gives them (debian/rules passes its own).
HARDEN_CFLAGS := $(shell DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CFLAGS 2>/dev/null || echo -g -O2 -fstack-protector-strong -Wformat -Werror=format-security)
HARDEN_CPPFLAGS := $(shell DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CPPFLAGS 2>/dev/null || echo -D_FORTIFY_SOURCE=2)
HARDEN_LDFLAGS := $(shell DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get LDFLAGS 2>/dev/null || echo -Wl,-z,relro -Wl,-z,now)
CFLAGS ?= $(HARDEN_CFLAGS)
CPPFLAGS ?= $(HARDEN_CPPFLAGS)
LDFLAGS ?= $(HARDEN_LDFLAGS)

ifeq ($(SAN),1)
CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
CPPFLAGS :=
LDFLAGS := -fsanitize=address,undefined
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpci -lkmod -linih) -pthread
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter -fno-strict-aliasing -MMD -MP
override CPPFLAGS += -Icommon/base -Icommon -DPGP_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
# The test support headers are for the tests and test tools only, never the programs.
TEST_CPPFLAGS := -Itests/fixture -Itests/unit

COMMON_SRC := $(sort $(wildcard common/base/*.c common/*.c))
CLI_SRC := $(sort $(wildcard cli/*.c))
HOOK_SRC := $(sort $(wildcard hookscript/*.c))
EARLY_SRC := $(sort $(wildcard initramfs-hooks/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_SUPPORT_SRC := tests/unit/harness.c tests/unit/testlib.c tests/fixture/fakesys.c tests/fixture/fakekmod.c tests/fixture/fakekernel.c
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

ifeq ($(V),1)
Q :=
else
Q := @
endif
obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
LIBCOMMON := $(BUILD)/libcommon.a
CLI := $(BUILD)/pve-gpu-passthrough
HOOK := $(BUILD)/pve-gpu-passthrough-hook
EARLY := $(BUILD)/pve-gpu-passthrough-early
SNIPPET := $(BUILD)/pve-gpu-passthrough-snippet
TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TOOLS := $(BUILD)/fakesys $(BUILD)/labtool $(BUILD)/labtool-dyn $(BUILD)/tests/snippet-test

PROGRAMS := $(CLI) $(HOOK) $(SNIPPET) $(if $(EARLY_SRC),$(EARLY))

all: $(PROGRAMS) $(TESTS) $(TOOLS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo '  CC      $<'
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	@echo '  CC      $<'
	$(Q)$(CC) $(CPPFLAGS) $(TEST_CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

$(CLI): $(call obj,$(CLI_SRC)) $(LIBCOMMON)
	@echo '  LD      $@'
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(HOOK): $(call obj,$(HOOK_SRC)) $(LIBCOMMON)
	@echo '  LD      $@'
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(EARLY): $(call obj,$(EARLY_SRC)) $(LIBCOMMON)
	@echo '  LD      $@'
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The static programs (the snippet, the lab's labtool) are built without sanitizers (SAN=1):
# they do not link statically.
STATIC_CFLAGS = $(filter-out -MMD -MP -fsanitize=% -fno-sanitize-recover=%,$(CFLAGS))

# The snippet attach copies into snippets storages (snippet/main.c): static, so it runs on a
# node without the package; nothing of common/ (it only execs the installed hook).
SNIPPET_FLAGS = $(CPPFLAGS) $(STATIC_CFLAGS) $(filter-out -pie -fsanitize=%,$(LDFLAGS)) -static-pie
$(SNIPPET): snippet/main.c common/pve_hookrec.h
	@mkdir -p $(dir $@)
	@echo '  LD      $@ (static)'
	$(Q)$(CC) $(SNIPPET_FLAGS) -o $@ $<

# The same for tests/attach: the installed hook's path may come from PGP_TEST_SNIPPET_HOOK.
$(BUILD)/tests/snippet-test: snippet/main.c common/pve_hookrec.h
	@mkdir -p $(dir $@)
	@echo '  LD      $@ (static)'
	$(Q)$(CC) $(SNIPPET_FLAGS) -DSNIPPET_TEST -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(call obj,$(TEST_SUPPORT_SRC)) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@echo '  LD      $@'
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# test_bind runs the hook program itself (a kill point stops it).
$(BUILD)/tests/test_bind: | $(HOOK)

$(BUILD)/fakesys: $(BUILD)/tests/fixture/fakesys_main.o $(BUILD)/tests/fixture/fakesys.o \
		$(BUILD)/tests/fixture/fakekmod.o $(LIBCOMMON)
	@echo '  LD      $@'
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The lab's VFIO prober runs inside the guest; static so it needs nothing there.
# Its headers are listed here, not in a .d file: compiled and linked in one step, its .d file
# would name the sources, and a stale one (from before a source moved) would stop make.
$(BUILD)/labtool: tests/lab/labtool.c common/dev_vfio.c common/base/sysroot.c common/base/util.c \
		common/dev_vfio.h common/base/sysroot.h common/base/util.h
	@mkdir -p $(dir $@)
	@echo '  LD      $@ (static)'
	$(Q)$(CC) $(CPPFLAGS) $(TEST_CPPFLAGS) $(STATIC_CFLAGS) -static -o $@ $(filter %.c,$^)

# The same, linked as the hook is (dynamic, PIE, relro/now): bench/handoff.sh's minimal program
# then pays the same loader and libc start, and the ratio is only our own overhead.
$(BUILD)/labtool-dyn: tests/lab/labtool.c common/dev_vfio.c common/base/sysroot.c \
		common/base/util.c common/dev_vfio.h common/base/sysroot.h common/base/util.h
	@mkdir -p $(dir $@)
	@echo '  LD      $@'
	$(Q)$(CC) $(CPPFLAGS) $(TEST_CPPFLAGS) $(filter-out -MMD -MP,$(CFLAGS)) $(LDFLAGS) -o $@ \
		$(filter %.c,$^)

unit: $(TESTS)
	tests/run-unit $(BUILD)

check:
	tests/deps.sh
	$(MAKE) all
	$(MAKE) BUILD=build-san SAN=1 build-san/pve-gpu-passthrough build-san/pve-gpu-passthrough-hook build-san/pve-gpu-passthrough-early $(patsubst $(BUILD)/%,build-san/%,$(TESTS)) build-san/fakesys
	tests/run-all

demo:
	tests/deps.sh --lab
	$(MAKE) all
	tests/lab/demo.sh

clean:
	rm -rf build build-san build-fuzz

.PHONY: all unit check demo clean
.SECONDARY:
-include $(filter-out $(BUILD)/labtool.d $(BUILD)/labtool-dyn.d,$(shell find $(BUILD) -name '*.d' -type f 2>/dev/null))

# --- install, man pages, Debian package (issue 5) ---
# `make install` installs what the Debian package ships (PREFIX=/usr: the CLI hard-codes the
# hookscript's path /usr/libexec/pve-gpu-passthrough/); `make man` assembles the man pages;
# `make deb [RELEASE=bookworm|trixie]` builds the package for that Debian release (Proxmox VE 8
# or 9; default: this machine's) in a root of it, from a temporary copy of the tree, into
# $(BUILD)/deb/$(RELEASE)/ (tests/deb/mkdeb.sh).
PREFIX ?= /usr
SYSCONFDIR ?= /etc
SBINDIR ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec/pve-gpu-passthrough
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
INSTALL ?= install
MAN_DATE := $(shell date -u -d "@$${SOURCE_DATE_EPOCH:-$$(date +%s)}" +%Y-%m-%d)
MAN_PARTS := $(sort $(wildcard man/verb-*.8.part))
MANPAGES := $(BUILD)/man/pve-gpu-passthrough.8 $(BUILD)/man/pve-gpu-passthrough-hook.8 \
	$(BUILD)/man/pve-gpu-passthrough.ini.5
man_subst = sed -e 's/@VERSION@/$(VERSION)/g' -e 's/@DATE@/$(MAN_DATE)/g'

man: $(MANPAGES)

# What the package ships, without the tests and test tools of `all`.
programs: $(PROGRAMS)

# pve-gpu-passthrough(8) = head + one ".SS" part per command (sorted) + tail.
$(BUILD)/man/pve-gpu-passthrough.8: man/pve-gpu-passthrough.8.head $(MAN_PARTS) man/pve-gpu-passthrough.8.tail
	@mkdir -p $(dir $@)
	cat $^ | $(man_subst) >$@.tmp && mv $@.tmp $@

$(BUILD)/man/%: man/%
	@mkdir -p $(dir $@)
	$(man_subst) $< >$@.tmp && mv $@.tmp $@

install: $(PROGRAMS) man
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SYSCONFDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DATADIR)/bash-completion/completions
	$(INSTALL) -m 0755 $(CLI) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0755 $(HOOK) $(SNIPPET) $(if $(EARLY_SRC),$(EARLY)) $(DESTDIR)$(LIBEXECDIR)/
	$(INSTALL) -m 0644 doc/pve-gpu-passthrough.ini $(DESTDIR)$(SYSCONFDIR)/
	$(INSTALL) -m 0644 $(filter %.8,$(MANPAGES)) $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 $(filter %.5,$(MANPAGES)) $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 completion/pve-gpu-passthrough.bash \
		$(DESTDIR)$(DATADIR)/bash-completion/completions/pve-gpu-passthrough
	$(if $(wildcard initramfs-hooks/hook),$(INSTALL) -D -m 0755 initramfs-hooks/hook \
		$(DESTDIR)$(DATADIR)/initramfs-tools/hooks/pve-gpu-passthrough)
	$(if $(wildcard initramfs-hooks/init-top),$(INSTALL) -D -m 0755 initramfs-hooks/init-top \
		$(DESTDIR)$(DATADIR)/initramfs-tools/scripts/init-top/pve-gpu-passthrough)

RELEASE ?= $(shell . /etc/os-release 2>/dev/null && echo $$VERSION_CODENAME)

deb:
	tests/deb/mkdeb.sh -r '$(RELEASE)' $(BUILD)/deb/$(RELEASE)

.PHONY: man programs install deb
