/* test_early.c - early binding: which devices the [early] section selects, the modprobe.d
 * lines for ids (softdeps found through libkmod in a stub module tree made with gcc + depmod),
 * the boot-time sysfs sequence against a fake tree whose "kernel" the test plays, the /run
 * record and the initramfs listing scan. */
#define _GNU_SOURCE
#include <errno.h>
#include <libkmod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg_ini.h"
#include "early_bind.h"
#include "fakekernel.h"
#include "fakesys.h"
#include "harness.h"
#include "sysroot.h"

/* The seed's host: GTX 650 + its HDMI audio (group 29), a GT 620 + audio (group 30), two
 * identical NICs, the SATA controller. */
static const char *seed_spec =
	"pci 0000:00:1f.2 vendor=8086 device=8d02 class=010601 driver=ahci group=27\n"
	"pci 0000:01:00.0 vendor=14e4 device=1639 class=020000 driver=bnx2 group=28\n"
	"pci 0000:01:00.1 vendor=14e4 device=1639 class=020000 driver=bnx2 group=28\n"
	"pci 0000:02:00.0 vendor=10de device=0fc6 class=030000 driver=nouveau group=29\n"
	"pci 0000:02:00.1 vendor=10de device=0e1b class=040300 driver=snd_hda_intel group=29\n"
	"pci 0000:03:00.0 vendor=10de device=1049 class=030000 driver=nouveau group=30\n"
	"pci 0000:03:00.1 vendor=10de device=0e08 class=040300 driver=snd_hda_intel group=30\n"
	"pci 0000:04:00.0 vendor=1234 device=1111 class=030000 group=31\n"
	"driver vfio-pci\n"
	"file /proc/sys/kernel/osrelease 9.9.9-test\n";

static struct sysroot root_with(const char *spec)
{
	struct sysroot sr;
	int line = 0;

	if (fakesys_build(test_tmpdir(), spec, &line) < 0)
		test_fail(__FILE__, __LINE__, "fakesys spec line %d", line);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	return sr;
}

static void parse(const char *ini, struct cfg *c)
{
	char err[256];

	if (cfg_parse(ini, "t.ini", c, err, sizeof(err)) < 0)
		test_fail(__FILE__, __LINE__, "config: %s", err);
}

static const struct early_dev *find(const struct early_sel *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->devs[i].name, name))
			return &s->devs[i];
	return NULL;
}

TEST(select_by_address_is_exact)
{
	struct sysroot sr = root_with(seed_spec);
	static struct cfg c;
	static struct early_sel s;

	parse("[early]\naddresses = 0000:01:00.1, 02:00.0, 0000:09:00.0\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 3);
	/* present ones first, sorted by address; the identical 01:00.0 is not taken */
	CHECK_STR(s.devs[0].name, "0000:01:00.1");
	CHECK_STR(s.devs[1].name, "0000:02:00.0");
	CHECK(s.devs[1].present && s.devs[1].by_addr && !s.devs[1].by_id);
	CHECK_INT(s.devs[1].vendor, 0x10de);
	CHECK_INT(s.devs[1].iommu_group, 29);
	CHECK_STR(s.devs[1].driver, "nouveau");
	CHECK_STR(s.devs[2].name, "0000:09:00.0");
	CHECK(!s.devs[2].present);
	CHECK(find(&s, "0000:01:00.0") == NULL);
	CHECK_INT(s.nid_unmatched, 0);
	sr_close(&sr);
}

TEST(select_by_ids_takes_every_identical_device)
{
	struct sysroot sr = root_with(seed_spec);
	static struct cfg c;
	static struct early_sel s;

	parse("[early]\nids = 14e4:1639, 10de:0e1b, 8086:ffff\naddresses = 0000:02:00.1\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 3);
	CHECK_STR(s.devs[0].name, "0000:01:00.0");
	CHECK_STR(s.devs[1].name, "0000:01:00.1");
	CHECK(s.devs[0].by_id && s.devs[1].by_id);
	CHECK_STR(s.devs[2].name, "0000:02:00.1");
	CHECK(s.devs[2].by_id && s.devs[2].by_addr); /* listed both ways: one entry */
	CHECK_INT(s.nid_unmatched, 1);
	CHECK_INT(s.id_unmatched[0], 2);
	sr_close(&sr);
}

TEST(select_nothing_configured)
{
	struct sysroot sr = root_with(seed_spec);
	static struct cfg c;
	static struct early_sel s;

	parse("[hook]\nholders = warn\n", &c);
	CHECK(!early_configured(&c.early));
	CHECK_INT(early_select(&sr, &c.early, &s), 0);
	CHECK_INT(s.n, 0);
	sr_close(&sr);
}

TEST(select_without_pci_bus_reports_all_missing)
{
	struct sysroot sr = root_with("dir /sys/bus\n");
	static struct cfg c;
	static struct early_sel s;

	parse("[early]\naddresses = 0000:02:00.0\nids = 10de:0fc6\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 1);
	CHECK(!s.devs[0].present);
	CHECK_INT(s.nid_unmatched, 1);
	sr_close(&sr);
}

/* A stub module tree for kernel 9.9.9-test below the test root, made the way the kernel's
 * build would (modinfo aliases), indexed by the real depmod. */
static void stub_modules(void)
{
	static const struct {
		const char *file, *name, *alias;
	} mods[] = {
		{ "nouveau", "nouveau", "pci:v000010DEd*sv*sd*bc03sc*i*" },
		{ "snd-hda-intel", "snd_hda_intel", "pci:v000010DEd*sv*sd*bc04sc03i00*" },
		{ "bnx2", "bnx2", "pci:v000014E4d00001639sv*sd*bc*sc*i*" },
		{ "bochs", "bochs", "pci:v00001234d00001111sv*sd*bc*sc*i*" },
		{ "vfio-pci", "vfio_pci", "vfio_pci:v*d*sv*sd*bc*sc*i*" },
	};
	const char *t = test_tmpdir();
	char cmd[4096], path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/stub.c", t);
	f = fopen(path, "we");
	CHECK(f != NULL);
	fputs("#define S2(x) #x\n#define S(x) S2(x)\n"
	      "__attribute__((section(\".gnu.linkonce.this_module\"), used)) static char m[1024];\n"
	      "#define MI(n, v) __attribute__((section(\".modinfo\"), used, aligned(1))) "
	      "static const char n[] = v\n"
	      "MI(a, \"name=\" S(NAME));\nMI(b, \"license=GPL\");\n"
	      "MI(c, \"vermagic=9.9.9-test SMP mod_unload \");\nMI(d, \"alias=\" ALIAS);\n",
	      f);
	fclose(f);
	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		snprintf(cmd, sizeof(cmd),
			 "mkdir -p %s/lib/modules/9.9.9-test/kernel && cc -c -o "
			 "%s/lib/modules/9.9.9-test/kernel/%s.ko -DNAME=%s -DALIAS='\"%s\"' %s",
			 t, t, mods[i].file, mods[i].name, mods[i].alias, path);
		CHECK_INT(system(cmd), 0);
	}
	/* ahci built in, with its class alias (modules.builtin.modinfo, NUL-separated) */
	snprintf(cmd, sizeof(cmd),
		 "cd %s/lib/modules/9.9.9-test && echo kernel/drivers/ata/ahci.ko >modules.builtin && "
		 "printf 'ahci.alias=pci:v*d*sv*sd*bc01sc06i01*\\0' >modules.builtin.modinfo && "
		 ": >modules.order && depmod -b %s 9.9.9-test",
		 t, t);
	CHECK_INT(system(cmd), 0);
}

static struct kmod_ctx *stub_ctx(const struct sysroot *sr)
{
	struct kmod_ctx *ctx = NULL;

	stub_modules();
	CHECK_INT(early_kmod_new(sr, NULL, &ctx), 0); /* from /proc/sys/kernel/osrelease */
	return ctx;
}

TEST(host_modules_from_modalias)
{
	struct sysroot sr = root_with(seed_spec);
	struct kmod_ctx *ctx = stub_ctx(&sr);
	char names[8][PCIDEV_NAME_MAX];
	bool builtin;

	CHECK_INT(early_host_modules(ctx, "pci:v000010DEd00000FC6sv00001043sd00008428bc03sc00i00",
				     names, 8, &builtin),
		  1);
	CHECK_STR(names[0], "nouveau");
	CHECK(!builtin);
	CHECK_INT(early_host_modules(ctx, "pci:v000010DEd00000E1Bsv00001043sd00008428bc04sc03i00",
				     names, 8, &builtin),
		  1);
	CHECK_STR(names[0], "snd_hda_intel");
	/* a built-in driver is no softdep candidate, but is reported */
	CHECK_INT(early_host_modules(ctx, "pci:v00008086d00008D02sv00001234sd00005678bc01sc06i01",
				     names, 8, &builtin),
		  0);
	CHECK(builtin);
	/* nothing claims it */
	CHECK_INT(early_host_modules(ctx, "pci:v0000ABCDd00001234sv00000000sd00000000bc0Bsc40i00",
				     names, 8, &builtin),
		  0);
	CHECK(!builtin);
	kmod_unref(ctx);
	sr_close(&sr);
}

TEST(kmod_dir_missing_is_enoent)
{
	struct sysroot sr = root_with(seed_spec);
	struct kmod_ctx *ctx = NULL;

	CHECK_INT(early_kmod_new(&sr, NULL, &ctx), -ENOENT);
	CHECK_INT(early_kmod_new(&sr, "/lib/modules/1.2.3", &ctx), -ENOENT);
	sr_close(&sr);
}

TEST(modprobe_conf_for_the_seed_host)
{
	struct sysroot sr = root_with(seed_spec);
	struct kmod_ctx *ctx = stub_ctx(&sr);
	static struct cfg c;
	static struct early_sel s;
	char buf[2048];

	parse("[early]\nids = 10de:0fc6,10de:0e1b\ndisable_vga = yes\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 2);
	CHECK(early_modprobe_conf(&sr, ctx, &c.early, &s, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "options vfio-pci ids=10de:0fc6,10de:0e1b disable_vga=1\n"
		       "softdep nouveau pre: vfio-pci\n"
		       "softdep snd_hda_intel pre: vfio-pci\n");
	kmod_unref(ctx);
	sr_close(&sr);
}

TEST(modprobe_conf_dedups_and_marks_builtins)
{
	struct sysroot sr = root_with(seed_spec);
	struct kmod_ctx *ctx = stub_ctx(&sr);
	static struct cfg c;
	static struct early_sel s;
	char buf[2048];

	/* both NICs by id (one driver), the GT 620 by id, ahci (built in) by id */
	parse("[early]\nids = 14e4:1639, 10de:1049, 8086:8d02\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 4);
	CHECK(early_modprobe_conf(&sr, ctx, &c.early, &s, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "options vfio-pci ids=14e4:1639,10de:1049,8086:8d02\n"
		       "# 0000:00:1f.2: a driver built into the kernel claims it; the boot script "
		       "unbinds it\n"
		       "softdep bnx2 pre: vfio-pci\n"
		       "softdep nouveau pre: vfio-pci\n");
	kmod_unref(ctx);
	sr_close(&sr);
}

TEST(modprobe_conf_addresses_only_is_empty)
{
	struct sysroot sr = root_with(seed_spec);
	static struct cfg c;
	static struct early_sel s;
	char buf[256];

	parse("[early]\naddresses = 0000:02:00.0,0000:02:00.1\ndisable_vga = yes\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 2);
	CHECK_INT(early_modprobe_conf(&sr, NULL, &c.early, &s, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "");
	sr_close(&sr);
}

TEST(modprobe_conf_too_small_buffer)
{
	struct sysroot sr = root_with(seed_spec);
	static struct cfg c;
	static struct early_sel s;
	char buf[16];

	parse("[early]\nids = 10de:0fc6,10de:0e1b\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 2);
	s.n = 0; /* no lookups: only the options line, which does not fit */
	CHECK_INT(early_modprobe_conf(&sr, NULL, &c.early, &s, buf, sizeof(buf)), -ENOSPC);
	sr_close(&sr);
}

TEST(config_alias_to_vfio_is_not_a_softdep)
{
	struct sysroot sr = root_with(
		"pci 0000:02:00.0 vendor=10de device=0fc6 class=030000 driver=nouveau group=29\n"
		"file /proc/sys/kernel/osrelease 9.9.9-test\n"
		"file /etc/modprobe.d/local.conf alias pci:v000010DEd00000FC6sv*sd*bc*sc*i* vfio_pci\n");
	struct kmod_ctx *ctx = stub_ctx(&sr);
	char names[8][PCIDEV_NAME_MAX];

	CHECK_INT(early_host_modules(ctx, "pci:v000010DEd00000FC6sv00000000sd00000000bc03sc00i00",
				     names, 8, NULL),
		  0);
	kmod_unref(ctx);
	sr_close(&sr);
}

TEST(cmdline_opt_out)
{
	struct sysroot sr = root_with("file /proc/cmdline BOOT_IMAGE=/vmlinuz quiet intel_iommu=on\n");

	CHECK(early_enabled_on_cmdline(&sr));
	sr_close(&sr);
	sr = root_with("file /proc/cmdline quiet pve-gpu-passthrough.early=0 ro\n");
	CHECK(!early_enabled_on_cmdline(&sr));
	sr_close(&sr);
	sr = root_with("file /proc/cmdline pve_gpu_passthrough.early=off\n");
	CHECK(!early_enabled_on_cmdline(&sr));
	sr_close(&sr);
	sr = root_with("file /proc/cmdline pve-gpu-passthrough.early=1\n");
	CHECK(early_enabled_on_cmdline(&sr));
	sr_close(&sr);
}

/* The fake kernel (tests/fixture/fakekernel.c) plays the PCI core at the write point: every
 * sysfs write is logged, and driver links move the way the kernel moves them. */
static void read_override(const char *name, char *buf, size_t size)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/%s/driver_override", test_tmpdir(),
		 name);
	f = fopen(path, "re");
	if (!f) {
		strcpy(buf, "(absent)");
		return;
	}
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static const char *bind_spec =
	"pci 0000:02:00.0 vendor=10de device=0fc6 class=030000 driver=nouveau group=29\n"
	"pci 0000:02:00.1 vendor=10de device=0e1b class=040300 group=29\n"
	"pci 0000:03:00.0 vendor=10de device=1049 class=030000\n";

TEST(bind_unbinds_a_builtin_driver_and_probes)
{
	struct sysroot sr = root_with(bind_spec);
	static struct fake_kernel k;
	struct early_ops ops = { .load = fk_load, .data = &k };
	static struct cfg c;
	static struct early_sel s;
	static struct early_result res[EARLY_MAX_DEVS];
	char line[256], ov[64];

	fk_init(&k, test_tmpdir(), &sr);
	parse("[early]\naddresses = 0000:02:00.0,0000:02:00.1\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 2);
	CHECK_INT(early_bind(&sr, &s, &ops, res), 0);
	/* the audio function had no driver: vfio-pci took it when it registered */
	CHECK_INT(res[1].outcome, EARLY_BOUND);
	CHECK_STR(res[1].old_driver, "");
	CHECK_INT(res[0].outcome, EARLY_BOUND);
	CHECK_STR(res[0].old_driver, "nouveau");
	CHECK_STR(res[0].driver, "vfio-pci");
	CHECK_STR(k.log, "/sys/bus/pci/devices/0000:02:00.0/driver_override=vfio-pci\n"
			 "/sys/bus/pci/devices/0000:02:00.1/driver_override=vfio-pci\n"
			 "/sys/bus/pci/drivers/nouveau/unbind=0000:02:00.0\n"
			 "/sys/bus/pci/drivers_probe=0000:02:00.0\n");
	read_override("0000:02:00.0", ov, sizeof(ov));
	CHECK_STR(ov, "vfio-pci");
	CHECK_INT(early_result_line(&s.devs[0], &res[0], line, sizeof(line)), 0);
	CHECK_STR(line, "0000:02:00.0 10de:0fc6 -> vfio-pci (unbound from nouveau)");
	CHECK_INT(early_result_line(&s.devs[1], &res[1], line, sizeof(line)), 0);
	CHECK_STR(line, "0000:02:00.1 10de:0e1b -> vfio-pci");
	sr_close(&sr);
}

TEST(bind_failure_gives_the_device_back)
{
	struct sysroot sr = root_with(bind_spec);
	static struct fake_kernel k;
	struct early_ops ops = { .load = fk_load, .data = &k, .timeout_ms = 50 };
	static struct cfg c;
	static struct early_sel s;
	static struct early_result res[EARLY_MAX_DEVS];
	char line[256], ov[64];

	fk_init(&k, test_tmpdir(), &sr);
	k.vfio_refuses = true;
	parse("[early]\naddresses = 0000:02:00.0\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 1);
	CHECK_INT(early_bind(&sr, &s, &ops, res), 1);
	CHECK_INT(res[0].outcome, EARLY_FAILED);
	CHECK_STR(res[0].step, "verify");
	CHECK_STR(res[0].driver, "nouveau"); /* given back */
	CHECK_CONTAINS(k.log, "/sys/bus/pci/devices/0000:02:00.0/driver_override=\\n\n"
			      "/sys/bus/pci/drivers_probe=0000:02:00.0\n");
	read_override("0000:02:00.0", ov, sizeof(ov));
	CHECK_STR(ov, "(null)"); /* cleared */
	CHECK_INT(early_result_line(&s.devs[0], &res[0], line, sizeof(line)), 0);
	CHECK_STR(line, "0000:02:00.0 10de:0fc6 -> nouveau: vfio-pci did not take it (see dmesg)");
	sr_close(&sr);
}

TEST(bind_without_vfio_module_clears_overrides)
{
	struct sysroot sr = root_with(bind_spec);
	static struct fake_kernel k;
	struct early_ops ops = { .load = fk_load, .data = &k };
	static struct cfg c;
	static struct early_sel s;
	static struct early_result res[EARLY_MAX_DEVS];
	char line[256], ov[64];

	fk_init(&k, test_tmpdir(), &sr);
	k.load_result = -ENOENT;
	parse("[early]\naddresses = 0000:02:00.1\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 1);
	CHECK_INT(early_bind(&sr, &s, &ops, res), 1);
	CHECK_INT(res[0].outcome, EARLY_FAILED);
	CHECK_INT(res[0].err, -ENOENT);
	read_override("0000:02:00.1", ov, sizeof(ov));
	CHECK_STR(ov, "(null)"); /* cleared */
	CHECK_INT(early_result_line(&s.devs[0], &res[0], line, sizeof(line)), 0);
	CHECK_STR(line, "0000:02:00.1 10de:0e1b -> no driver: loading vfio-pci failed: No such file "
			"or directory");
	sr_close(&sr);
}

TEST(bind_skips_missing_and_iommu_less_devices)
{
	struct sysroot sr = root_with(bind_spec);
	static struct fake_kernel k;
	struct early_ops ops = { .load = fk_load, .data = &k };
	static struct cfg c;
	static struct early_sel s;
	static struct early_result res[EARLY_MAX_DEVS];
	char line[256], ov[64];

	fk_init(&k, test_tmpdir(), &sr);
	parse("[early]\naddresses = 0000:03:00.0, 0000:05:00.0\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 2);
	CHECK_INT(early_bind(&sr, &s, &ops, res), 0);
	CHECK_INT(res[0].outcome, EARLY_NO_IOMMU);
	CHECK_INT(res[1].outcome, EARLY_MISSING);
	CHECK_STR(k.log, ""); /* nothing written, nothing loaded */
	CHECK(!k.loaded);
	read_override("0000:03:00.0", ov, sizeof(ov));
	CHECK_STR(ov, "(null)");
	CHECK_INT(early_result_line(&s.devs[0], &res[0], line, sizeof(line)), 0);
	CHECK_STR(line, "0000:03:00.0 10de:1049 has no IOMMU group (is the IOMMU on?), left to no "
			"driver");
	CHECK_INT(early_result_line(&s.devs[1], &res[1], line, sizeof(line)), 0);
	CHECK_STR(line, "0000:05:00.0 not present, skipped");
	sr_close(&sr);
}

TEST(bind_already_on_vfio)
{
	struct sysroot sr = root_with(
		"pci 0000:02:00.0 vendor=10de device=0fc6 class=030000 driver=vfio-pci group=29\n");
	static struct fake_kernel k;
	struct early_ops ops = { .load = fk_load, .data = &k };
	static struct cfg c;
	static struct early_sel s;
	static struct early_result res[EARLY_MAX_DEVS];
	char line[256];

	fk_init(&k, test_tmpdir(), &sr);
	parse("[early]\nids = 10de:0fc6\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 1);
	CHECK_INT(early_bind(&sr, &s, &ops, res), 0);
	CHECK_INT(res[0].outcome, EARLY_ALREADY);
	CHECK_INT(early_result_line(&s.devs[0], &res[0], line, sizeof(line)), 0);
	CHECK_STR(line, "0000:02:00.0 10de:0fc6 -> vfio-pci (already)");
	sr_close(&sr);
}

TEST(record_round_trip)
{
	struct sysroot sr = root_with(bind_spec);
	static struct fake_kernel k;
	struct early_ops ops = { .load = fk_load, .data = &k };
	static struct cfg c;
	static struct early_sel s;
	static struct early_result res[EARLY_MAX_DEVS];
	char msg[256];

	fk_init(&k, test_tmpdir(), &sr);
	CHECK_INT(early_record_lookup(&sr, "0000:02:00.0", msg, sizeof(msg)), -ENOENT);
	parse("[early]\naddresses = 0000:02:00.0, 0000:07:00.0\n", &c);
	CHECK_INT(early_select(&sr, &c.early, &s), 2);
	CHECK_INT(early_bind(&sr, &s, &ops, res), 0);
	CHECK_INT(early_record_write(&sr, &s, res), 0);
	CHECK_INT(early_record_lookup(&sr, "0000:02:00.0", msg, sizeof(msg)), EARLY_BOUND);
	CHECK_STR(msg, "0000:02:00.0 10de:0fc6 -> vfio-pci (unbound from nouveau)");
	CHECK_INT(early_record_lookup(&sr, "0000:07:00.0", NULL, 0), EARLY_MISSING);
	CHECK_INT(early_record_lookup(&sr, "0000:02:00.1", NULL, 0), -ENOENT);
	sr_close(&sr);
}

TEST(image_listing_scan)
{
	struct early_image img;

	early_image_scan(".\nkernel/x86/microcode/GenuineIntel.bin\n"
			 "usr/sbin/pve-gpu-passthrough-early\n"
			 "etc/pve-gpu-passthrough.ini\n"
			 "etc/modprobe.d/pve-gpu-passthrough.conf\n"
			 "scripts/init-top/pve-gpu-passthrough\n"
			 "scripts/init-top/udev\n"
			 "usr/lib/modules/6.1.0-50-amd64/kernel/drivers/vfio/vfio.ko\n"
			 "usr/lib/modules/6.1.0-50-amd64/kernel/drivers/vfio/pci/vfio-pci.ko\n"
			 "usr/lib/modules/6.12.95+deb12-amd64/kernel/drivers/vfio/vfio_iommu_type1.ko.xz",
			 &img);
	CHECK(img.binary && img.ini && img.script && img.modprobe_conf && img.udev);
	CHECK(early_image_has_vfio(&img));
	early_image_scan("usr/lib/modules/6.1.0-50-amd64/kernel/drivers/vfio/pci/vfio-pci-core.ko\n"
			 "usr/lib/modules/6.1.0-50-amd64/kernel/drivers/vfio/vfio_virqfd.ko\n"
			 "etc/pve-gpu-passthrough.ini.bak\n",
			 &img);
	CHECK(!img.vfio[0] && !img.vfio[2] && !early_image_has_vfio(&img) && !img.ini && !img.binary && !img.script);
	/* the module's file may spell vfio-pci with an underscore */
	early_image_scan("lib/modules/7.3.4-lab-pve/kernel/drivers/vfio/vfio.ko\n"
			 "lib/modules/7.3.4-lab-pve/kernel/drivers/vfio/pci/vfio_pci.ko.zst\n"
			 "lib/modules/7.3.4-lab-pve/kernel/drivers/vfio/vfio_iommu_type1.ko\n",
			 &img);
	CHECK(early_image_has_vfio(&img));
}
