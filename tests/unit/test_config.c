/* test_config.c - our INI file: defaults, every key, per-VM sections, hostile input. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg_ini.h"
#include "fakesys.h"
#include "harness.h"

TEST(missing_file_gives_defaults)
{
	struct cfg c;
	struct sysroot sr;
	char err[256];

	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(cfg_load(&sr, NULL, &c, err, sizeof(err)), 0);
	CHECK(!c.from_file);
	CHECK_INT(c.hook.unbind_timeout_ms, 10000);
	CHECK(c.hook.return_on_stop);
	CHECK(c.hook.holders_refuse);
	CHECK_INT(cfg_hook_opts(&c, 100)->bind_timeout_ms, 5000);
	sr_close(&sr);
}

TEST(all_keys_and_vm_sections)
{
	struct cfg c;
	char err[256];
	const char *ini = "; comment\n"
			  "[vm:101]\n"
			  "holders = warn\n"
			  "[hook]\n"
			  "unbind_timeout = 3s\n"
			  "bind_timeout = 750ms\n"
			  "release_timeout = 60\n"
			  "return_on_stop = no\n"
			  "[early]\n"
			  "ids = 10de:0fc6, 10de:0E1B\n"
			  "addresses = 0000:02:00.0,03:00.1\n"
			  "disable_vga = yes\n";

	CHECK_INT(cfg_parse(ini, "t.ini", &c, err, sizeof(err)), 0);
	CHECK_INT(c.hook.unbind_timeout_ms, 3000);
	CHECK_INT(c.hook.bind_timeout_ms, 750);
	CHECK_INT(c.hook.release_timeout_ms, 60000);
	CHECK(!c.hook.return_on_stop);
	CHECK_INT(c.early.nids, 2);
	CHECK_INT(c.early.ids[1].device, 0x0e1b);
	CHECK_INT(c.early.naddrs, 2);
	CHECK_INT(c.early.addrs[1].bus, 3);
	CHECK_INT(c.early.addrs[1].func, 1);
	CHECK(c.early.disable_vga);
	CHECK_INT(c.early.line_ids, 10);
	/* the VM section sets holders and inherits the rest, even from a later [hook] */
	const struct hook_opts *o = cfg_hook_opts(&c, 101);
	CHECK(!o->holders_refuse);
	CHECK_INT(o->unbind_timeout_ms, 3000);
	CHECK(!o->return_on_stop);
	CHECK(cfg_hook_opts(&c, 102)->holders_refuse);
}

static void expect_error(const char *ini, const char *msg)
{
	struct cfg c;
	char err[256];

	CHECK_INT(cfg_parse(ini, "t.ini", &c, err, sizeof(err)), -EINVAL);
	CHECK_CONTAINS(err, msg);
}

TEST(errors_name_file_and_line)
{
	expect_error("[hook]\nunbind_timeout = soon\n", "t.ini:2: unbind_timeout: 'soon'");
	expect_error("[hook]\n\nfoo = 1\n", "t.ini:3: unknown key 'foo'");
	expect_error("[hooks]\nx = 1\n", "t.ini:1: unknown section [hooks]");
	expect_error("[early]\nids = 10de:fc6\n", "t.ini:2: ids: '10de:fc6'");
	expect_error("[early]\naddresses = 02:00\n", "t.ini:2: addresses: '02:00'");
	expect_error("[vm:abc]\nholders = warn\n", "t.ini:1: section [vm:abc]");
	expect_error("[hook]\nholders = kill\n", "t.ini:2: holders: 'kill'");
	expect_error("[hook]\njunk line\n", "t.ini:2: syntax error");
	expect_error("[hook]\nunbind_timeout = 0\n", "t.ini:2:");
}

/* The [hook] keys whose value is one of two words (cfg_ini.c: choice_keys): each word sets its
 * flag, in [hook] and in [vm:N], and any other value is refused naming both words. */
TEST(two_word_keys_set_their_flag_and_name_both_words)
{
	struct cfg c;
	char e[256];
	const struct hook_opts *o;

	CHECK_INT(cfg_parse("[hook]\nreturn_on_stop = off\nholders = warn\n"
			       "nvidia_persistenced = stop\nbackup = refuse\ncontainers = stop\n"
			       "[vm:107]\nreturn_on_stop = TRUE\nholders = refuse\n"
			       "nvidia_persistenced = refuse\nbackup = handoff\ncontainers = refuse\n",
			       "t.ini", &c, e, sizeof(e)), 0);
	CHECK(!c.hook.return_on_stop);
	CHECK(!c.hook.holders_refuse);
	CHECK(c.hook.persistenced_stop);
	CHECK(c.hook.backup_refuse);
	CHECK(c.hook.containers_stop);
	o = cfg_hook_opts(&c, 107);
	CHECK(o->return_on_stop);
	CHECK(o->holders_refuse);
	CHECK(!o->persistenced_stop);
	CHECK(!o->backup_refuse);
	CHECK(!o->containers_stop);
	expect_error("[hook]\nreturn_on_stop = maybe\n",
		     "t.ini:2: return_on_stop: 'maybe' is not yes or no");
	expect_error("[hook]\nholders = Refuse\n",
		     "t.ini:2: holders: 'Refuse' is not 'refuse' or 'warn'");
	expect_error("[vm:107]\nnvidia_persistenced = kill\n",
		     "t.ini:2: nvidia_persistenced: 'kill' is not 'refuse' or 'stop'");
	expect_error("[hook]\nbackup = stop\n", "t.ini:2: backup: 'stop' is not 'handoff' or 'refuse'");
	expect_error("[hook]\ncontainers = warn\n",
		     "t.ini:2: containers: 'warn' is not 'refuse' or 'stop'");
	expect_error("[hook]\ncontainers = stop\ncontainers = stop\n",
		     "t.ini:3: duplicate key 'containers'");
}

/* Issue 28: every error is listed (check's ini.valid), in file order; a refused line or
 * section header does not hide the lines after it, nor give its keys to another section. */
TEST(every_error_is_listed)
{
	struct cfg c;
	char err[256], ini[1024];

	CHECK_INT(cfg_parse("[hook]\nunbind_timout = 5s\nholders = warn\n[early]\n"
			       "ids = 10de:fc6\n  indented = 1\n[hooks]\nholders = kill\n"
			       "[sriov]\nnumvfs = 2\n", "t.ini", &c, err, sizeof(err)), -EINVAL);
	CHECK_CONTAINS(err, "t.ini:2: unknown key 'unbind_timout'");
	CHECK_INT(c.nerrors, 5);
	CHECK_INT(c.errors[0].line, 2);
	CHECK_STR(c.errors[0].file, "t.ini");
	CHECK_CONTAINS(c.errors[0].text, "unbind_timout");
	CHECK_INT(c.errors[1].line, 5);
	CHECK_CONTAINS(c.errors[1].text, "ids: '10de:fc6'");
	CHECK_INT(c.errors[2].line, 6);
	CHECK_CONTAINS(c.errors[2].text, "indented line");
	CHECK_INT(c.errors[3].line, 7);
	CHECK_CONTAINS(c.errors[3].text, "unknown section [hooks]");
	CHECK_INT(c.errors[4].line, 10);
	CHECK_CONTAINS(c.errors[4].text, "unknown key 'numvfs'");
	CHECK(!c.hook.holders_refuse); /* line 3 was read after line 2's error */

	/* Bounded: the list keeps CONFIG_MAX_ERRORS, nerrors counts them all. */
	snprintf(ini, sizeof(ini), "[hook]\n");
	for (int i = 0; i < CONFIG_MAX_ERRORS + 4; i++)
		snprintf(ini + strlen(ini), sizeof(ini) - strlen(ini), "k%d = 1\n", i);
	CHECK_INT(cfg_parse(ini, "t.ini", &c, err, sizeof(err)), -EINVAL);
	CHECK_INT(c.nerrors, CONFIG_MAX_ERRORS + 4);
	CHECK_INT(c.errors[CONFIG_MAX_ERRORS - 1].line, CONFIG_MAX_ERRORS + 1);
	CHECK_CONTAINS(err, "t.ini:2: unknown key 'k0'");
}

TEST(long_lines_are_errors_not_truncations)
{
	char ini[512];

	snprintf(ini, sizeof(ini), "[early]\nids = 10de:0fc6%0250d\n", 0);
	expect_error(ini, "t.ini:2: line longer than");
}

TEST(file_permissions_are_checked)
{
	struct cfg c;
	struct sysroot sr;
	char err[256], path[512];

	CHECK_INT(fakesys_build(test_tmpdir(), "file /etc/pve-gpu-passthrough.ini [hook]\\nholders = warn\n", NULL), 0);
	snprintf(path, sizeof(path), "%s/etc/pve-gpu-passthrough.ini", test_tmpdir());
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	chmod(path, 0644);
	if (geteuid() == 0) {
		CHECK_INT(cfg_load(&sr, NULL, &c, err, sizeof(err)), 0);
		CHECK(c.from_file);
		CHECK(!c.hook.holders_refuse);
	}
	chmod(path, 0666);
	CHECK_INT(cfg_load(&sr, NULL, &c, err, sizeof(err)), -EPERM);
	CHECK_CONTAINS(err, "not writable by group or other");
	sr_close(&sr);
}

/* Strict INI: what Debian's inih would take silently is an error with FILE:LINE. */
TEST(strict_syntax)
{
	/* an indented line would continue the previous value: refuse becomes warn */
	expect_error("[hook]\nholders = refuse\n  warn\n", "t.ini:3: indented line");
	expect_error("[hook]\n\tholders = warn\n", "t.ini:2: indented line");
	expect_error("[hook]\nholders : warn\n", "t.ini:2: ':' is not a separator");
	expect_error("[hook]\n[nothing]\n", "t.ini:2: unknown section [nothing]");
	expect_error("[vm:0100]\n", "t.ini:1: section [vm:0100]");
	expect_error("[vm:99]\n", "t.ini:1: section [vm:99]");
	expect_error("[hook] trailing\n", "t.ini:1: a section header is '[name]' alone");
	expect_error("[hook\n", "t.ini:1: a section header");
	expect_error("[hook]\njust words\n", "t.ini:2: syntax error");
	expect_error("[hook]\nholders = warn\nholders = refuse\n", "t.ini:3: duplicate key 'holders'");
	expect_error("[hook]\nholders = warn\n[hook]\nholders = refuse\n", "t.ini:4: duplicate key");
	expect_error("[vm:101]\nholders = warn\nholders = warn\n", "t.ini:3: duplicate key");
	expect_error("[early]\nids = 10de:0fc6\nids = 10de:0e1b\n", "t.ini:3: duplicate key 'ids'");
	/* what stays valid: comments (also indented), blank lines, ':' inside a value */
	{
		struct cfg c;
		char err[256];

		CHECK_INT(cfg_parse("# c\n  ; indented comment\n\n[early]\nids = 10de:0fc6\n"
				       "[vm:100]\nholders = warn\n[vm:101]\nholders = warn\n",
				       "t.ini", &c, err, sizeof(err)), 0);
		CHECK_INT(c.early.nids, 1);
		CHECK_INT(c.nvms, 2);
	}
}

/* An explicit --config must exist; a dangling link is an error even at the default path. */
TEST(explicit_config_must_exist)
{
	struct cfg c;
	struct sysroot sr;
	char err[256], p[600];

	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	CHECK_INT(cfg_load(&sr, "/etc/missing.ini", &c, err, sizeof(err)), -ENOENT);
	CHECK_CONTAINS(err, "/etc/missing.ini: cannot open");
	CHECK_INT(fakesys_build(test_tmpdir(), "link /etc/pve-gpu-passthrough.ini /etc/gone.ini\n"
			       "link /etc/other.ini gone.ini\n", NULL), 0);
	CHECK_INT(cfg_load(&sr, NULL, &c, err, sizeof(err)), -ENOENT);
	CHECK_CONTAINS(err, "a symlink to nothing");
	CHECK_INT(cfg_load(&sr, "/etc/other.ini", &c, err, sizeof(err)), -ENOENT);
	CHECK_CONTAINS(err, "a symlink to nothing");
	snprintf(p, sizeof(p), "%s/etc/fifo.ini", test_tmpdir());
	CHECK_INT(mkfifo(p, 0600), 0);
	CHECK(cfg_load(&sr, "/etc/fifo.ini", &c, err, sizeof(err)) < 0);
	CHECK_CONTAINS(err, "not a regular file");
	sr_close(&sr);
}

TEST(sriov_section)
{
	struct cfg c;
	char err[256];

	CHECK_INT(cfg_parse("[hook]\n", "t.ini", &c, err, sizeof(err)), 0);
	CHECK(!c.sriov.set);
	CHECK_INT(cfg_parse("[hook]\nholders = warn\n[sriov]\npf = 00:02.0\nvfs = 7\n", "t.ini", &c,
			       err, sizeof(err)), 0);
	CHECK(c.sriov.set);
	CHECK(!c.sriov.by_id);
	CHECK_INT(c.sriov.pf.bus, 0);
	CHECK_INT(c.sriov.pf.slot, 2);
	CHECK_INT(c.sriov.vfs, 7);
	CHECK_STR(c.sriov.driver, "vfio-pci");
	CHECK_INT(c.sriov.line, 3);
	CHECK_INT(cfg_parse("[sriov]\npf = 8086:a7a0\nvfs = 255\ndriver = xe_vfio_pci\n", "t.ini",
			       &c, err, sizeof(err)), 0);
	CHECK(c.sriov.by_id);
	CHECK_INT(c.sriov.vendor, 0x8086);
	CHECK_INT(c.sriov.device, 0xa7a0);
	CHECK_INT(c.sriov.vfs, 255);
	CHECK_STR(c.sriov.driver, "xe_vfio_pci");
	expect_error("[sriov]\npf = 00:02\nvfs = 7\n", "t.ini:2: pf: '00:02'");
	expect_error("[sriov]\npf = 00:02.0\nvfs = 0\n", "t.ini:3: vfs: '0'");
	expect_error("[sriov]\npf = 00:02.0\nvfs = 256\n", "t.ini:3: vfs: '256'");
	expect_error("[sriov]\npf = 00:02.0\nvfs = -1\n", "t.ini:3: vfs: '-1'");
	expect_error("[sriov]\npf = 00:02.0\nvfs = 7\ndriver = i915\n", "t.ini:4: driver: 'i915'");
	expect_error("[sriov]\npf = 00:02.0\nvfs = 7\ndriver = ../vfio_pci\n", "t.ini:4: driver:");
	expect_error("[sriov]\npf = 00:02.0\nvfs = 7\nvfs = 2\n", "t.ini:4: duplicate key 'vfs'");
	expect_error("[sriov]\npf = 00:02.0\nnumvfs = 2\n", "t.ini:3: unknown key 'numvfs'");
	expect_error("[hook]\n[sriov]\npf = 00:02.0\n", "t.ini:2: [sriov] needs both pf and vfs");
	expect_error("[sriov]\n", "t.ini:1: [sriov] needs both pf and vfs");
}
