/* test_variant.c - variant VFIO drivers (issue 31) in the hook's handoff, on the fake kernel
 * (tests/fixture/fakekernel.c) with a fake modules index (tests/fixture/fakekmod.c) whose
 * modules.alias has a vfio_pci: alias of xe_vfio_pci for one Intel GPU id. A driver=keep
 * entry whose device the asked variant matches goes to the variant and comes back at
 * post-stop; without a variant asked it is untouched; an entry without keep goes to vfio-pci
 * with one warning line and the fix; a device the variant does not match (the GPU's audio
 * function) goes to vfio-pci; a VF already on the variant is "already there". */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"
#include "dev_bind.h"
#include "dev_handoff.h"
#include "dev_modload.h"
#include "dev_sriov.h"
#include "dev_state.h"
#include "fakekernel.h"
#include "fakesys.h"
#include "harness.h"
#include "howorld.h"
#include "testlib.h"
#include "util.h"

#define GPU "0000:03:00.0"
#define AUDIO "0000:03:00.1"
#define PF "0000:00:02.0"
#define VF "0000:00:02.1"
#define REL "6.12.0-test"

/* A discrete Intel GPU on xe with its audio function (group 30), an iGPU PF that can make
 * VFs, a disk holding /, vfio-pci and xe_vfio_pci registered, and the modules index of the
 * running kernel: vfio-pci's catch-all alias and xe_vfio_pci's for the two GPU ids. */
static const char *base_spec =
	"pci 0000:03:00.0 vendor=8086 device=e20b class=030000 subvendor=8086 subdevice=1100 "
	"driver=xe group=30 bar0=f6000000:1000000\n"
	"pci 0000:03:00.1 vendor=8086 device=e2f7 class=040300 driver=snd_hda_intel group=30\n"
	"pci 0000:00:02.0 vendor=8086 device=a7a0 class=030000 driver=i915 group=0\n"
	IGPU_PF_SRIOV_SPEC
	"pci 0000:00:1f.2 vendor=8086 device=7a62 class=010601 driver=ahci group=12\n"
	"link /sys/dev/block/8:0 ../../devices/pci0000:00/0000:00:1f.2/ata1/host0/block/sda\n"
	"dir /sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/block/sda\n"
	"file /proc/self/mountinfo 22 1 8:0 / / rw,relatime - ext4 /dev/sda rw\n"
	"file /proc/iomem 00000000-00000fff : Reserved\n"
	"vtcon 0 (S) dummy device\n"
	"driver i915\n"
	"driver vfio-pci\n"
	"dir /sys/module/vfio_iommu_type1\n"
	"dir /dev/vfio\n"
	"file /proc/sys/kernel/osrelease " REL "\n"
	"kmod " REL " module kernel/drivers/vfio/pci/vfio-pci.ko\n"
	"kmod " REL " module kernel/drivers/vfio/pci/xe/xe_vfio_pci.ko\n"
	"kmod " REL " alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n"
	"kmod " REL " alias vfio_pci:v00008086d0000E20Bsv*sd*bc*sc*i* xe_vfio_pci\n"
	"kmod " REL " alias vfio_pci:v00008086d0000A7A0sv*sd*bc*sc*i* xe_vfio_pci\n";

static const char *timeouts = "[hook]\nunbind_timeout = 1s\nbind_timeout = 100ms\n"
			      "release_timeout = 100ms\n";

static struct cfg cfg; /* the world's INI (its ops point here) */

/* The host with VM 100's config CONF and the INI INI (after the timeouts); xe_vfio_pci not
 * registered with NO_VARIANT. */
static struct world *world_of(const char *conf, const char *ini, bool no_variant)
{
	char spec[8192], text[1024], err[256];

	snprintf(spec, sizeof(spec), "%s%sfile /etc/pve/qemu-server/100.conf %s\n", base_spec,
		 no_variant ? "" : "driver xe_vfio_pci\n", conf);
	snprintf(text, sizeof(text), "%s%s", timeouts, ini);
	if (cfg_parse(text, "t.ini", &cfg, err, sizeof(err)) < 0)
		test_fail(__FILE__, __LINE__, "%s", err);
	return ho_world(spec, NULL, &cfg, NULL);
}

static struct world *world(const char *conf, const char *ini)
{
	return world_of(conf, ini, false);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static struct pci_dev_info info_of(struct world *w, const char *name)
{
	struct pci_dev_info d;

	CHECK_INT(pcidev_read(&w->sr, name, &d), 0);
	return d;
}

TEST(variant_matches_through_the_vfio_pci_alias_only)
{
	struct world *w = world("hostpci0: 0000:03:00,driver=keep", "");
	struct pci_dev_info gpu = info_of(w, GPU), audio = info_of(w, AUDIO);

	CHECK_INT(bind_variant_matches(&w->sr, &gpu, "xe_vfio_pci"), 1);
	CHECK_INT(bind_variant_matches(&w->sr, &gpu, "xe-vfio-pci"), 1); /* the module's name */
	CHECK_INT(bind_variant_matches(&w->sr, &audio, "xe_vfio_pci"), 0);
	CHECK_INT(bind_variant_matches(&w->sr, &gpu, "i915_vfio_pci"), 0); /* no such module */
}

TEST(module_names_are_written_with_underscores)
{
	char buf[12];

	CHECK_INT(modload_modname("xe-vfio-pci", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "xe_vfio_pci");
	CHECK_INT(modload_modname("i915-vfio-pci", buf, sizeof(buf)), -ENAMETOOLONG);
}

TEST(keep_entry_with_variant_is_bound_to_it_and_given_back)
{
	struct world *w = world("hostpci0: 0000:03:00,pcie=1,driver=keep",
				"[vm:100]\nvfio_driver = xe_vfio_pci\n");
	char state[4096];

	if (handoff_prepare(&w->ops, 100) != 0)
		test_fail(__FILE__, __LINE__, "%s", w->cap.text);
	CHECK_STR(fk_driver(&w->k, GPU), "xe_vfio_pci");
	CHECK_STR(fk_override(&w->k, GPU), "xe_vfio_pci");
	/* the audio function: the variant does not drive it, vfio-pci does */
	CHECK_STR(fk_driver(&w->k, AUDIO), "vfio-pci");
	CHECK_CONTAINS(w->cap.text, GPU " 8086:e20b: xe -> xe_vfio_pci");
	CHECK_CONTAINS(w->cap.text, AUDIO " 8086:e2f7: snd_hda_intel -> vfio-pci");
	CHECK_CONTAINS(w->cap.text, "IOMMU group 30 (" GPU " " AUDIO ") ready");
	CHECK(!strstr(w->cap.text, "W: "));
	CHECK(!strstr(w->cap.text, "left as it is")); /* the audio function went with its group */
	CHECK(sr_read_str(&w->sr, STATE_DIR "/100.state", state, sizeof(state)) > 0);
	CHECK_CONTAINS(state, "target " GPU " xe_vfio_pci");
	CHECK(!strstr(state, "target " AUDIO));

	ho_world_reset_log(w);
	if (handoff_release(&w->ops, 100) != 0)
		test_fail(__FILE__, __LINE__, "%s", w->cap.text);
	CHECK_STR(fk_driver(&w->k, GPU), "xe");
	CHECK_STR(fk_override(&w->k, GPU), "");
	CHECK_STR(fk_driver(&w->k, AUDIO), "snd_hda_intel");
	CHECK_CONTAINS(w->k.log, "/sys/bus/pci/drivers/xe_vfio_pci/unbind=" GPU "\n");
	CHECK_CONTAINS(w->cap.text, GPU ": xe_vfio_pci -> xe");
	/* Proxmox wrote no new_id for a driver=keep entry: none is removed for it */
	CHECK(!strstr(w->k.log, "remove_id=8086 e20b"));
	CHECK(!sr_exists(&w->sr, STATE_DIR "/100.state"));
}

TEST(variant_that_cannot_be_loaded_fails_the_start_with_everything_undone)
{
	struct world *w = world_of("hostpci0: 0000:03:00,pcie=1,driver=keep",
				   "[vm:100]\nvfio_driver = xe_vfio_pci\n", true);

	/* a test root is not the running system: the module load is refused */
	CHECK(handoff_prepare(&w->ops, 100) < 0);
	CHECK_CONTAINS(w->cap.text, "E: not loading xe_vfio_pci below a test root");
	CHECK_STR(fk_driver(&w->k, GPU), "xe");
	CHECK_STR(fk_override(&w->k, GPU), "");
	CHECK_STR(fk_driver(&w->k, AUDIO), "snd_hda_intel");
	CHECK_STR(fk_override(&w->k, AUDIO), "");
	CHECK(!sr_exists(&w->sr, STATE_DIR "/100.state"));
}

TEST(keep_entry_without_variant_is_untouched)
{
	struct world *w = world("hostpci0: 0000:03:00,pcie=1,driver=keep", "");
	char err[128];
	struct pve_vmconf c;

	CHECK_INT(handoff_vm_load(&w->sr, 100, &c, err, sizeof(err)), 2);
	CHECK(!handoff_variant_asked(&cfg, 100));
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	CHECK_STR(w->k.log, "");
	CHECK_STR(w->cap.text, "");
	CHECK_STR(fk_driver(&w->k, GPU), "xe");
	CHECK_STR(fk_driver(&w->k, AUDIO), "snd_hda_intel");
	CHECK(!sr_exists(&w->sr, STATE_DIR "/100.state"));
}

TEST(keep_entry_the_variant_does_not_match_is_left_alone)
{
	struct world *w = world("hostpci0: 0000:03:00.1,driver=keep",
				"[hook]\nvfio_driver = xe_vfio_pci\n");

	CHECK(handoff_variant_asked(&cfg, 100));
	CHECK_INT(handoff_prepare(&w->ops, 100), 0);
	CHECK_STR(w->k.log, "");
	CHECK_CONTAINS(w->cap.text, "hostpci0: " AUDIO ": xe_vfio_pci does not drive it");
	CHECK_STR(fk_driver(&w->k, AUDIO), "snd_hda_intel");
}

TEST(entry_without_keep_goes_to_vfio_pci_with_one_warning)
{
	struct world *w = world("hostpci0: 0000:03:00,pcie=1",
				"[vm:100]\nvfio_driver = xe_vfio_pci\n");

	if (handoff_prepare(&w->ops, 100) != 0)
		test_fail(__FILE__, __LINE__, "%s", w->cap.text);
	CHECK_STR(fk_driver(&w->k, GPU), "vfio-pci");
	CHECK_STR(fk_override(&w->k, GPU), "vfio-pci");
	CHECK_STR(fk_driver(&w->k, AUDIO), "vfio-pci");
	CHECK_INT(count(w->cap.text, "W: "), 1);
	CHECK_CONTAINS(w->cap.text, "W: " GPU ": xe_vfio_pci is asked for it, but hostpci0 passes "
				    "it without driver=keep");
	CHECK_CONTAINS(w->cap.text, "add ,driver=keep to hostpci0");
	CHECK(!strstr(w->k.log, "xe_vfio_pci"));
	ho_world_reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_STR(fk_driver(&w->k, GPU), "xe");
}

/* The iGPU's VFs made by `sriov apply` with [sriov] driver = xe_vfio_pci. */
static struct world *vf_world(const char *conf)
{
	struct world *w = world(conf, "[sriov]\npf = 00:02.0\nvfs = 2\ndriver = xe_vfio_pci\n");
	struct sriov_ops so = { .sr = &w->sr, .timeout_ms = 2000, .load = fk_load, .data = &w->k };
	struct sriov_state st;
	char err[256];
	int changes;

	CHECK_INT(sriov_apply(&so, &cfg.sriov, &st, &changes, err, sizeof(err)), 0);
	CHECK_STR(fk_driver(&w->k, VF), "xe_vfio_pci");
	ho_world_reset_log(w);
	return w;
}

TEST(vf_already_on_the_variant_is_already_there)
{
	struct world *w = vf_world("hostpci0: 0000:00:02.1,driver=keep");
	char state[4096];

	if (handoff_prepare(&w->ops, 100) != 0)
		test_fail(__FILE__, __LINE__, "%s", w->cap.text);
	CHECK_STR(w->k.log, ""); /* nothing written */
	CHECK_CONTAINS(w->cap.text, VF " 8086:a7a0: already on xe_vfio_pci");
	CHECK(sr_read_str(&w->sr, STATE_DIR "/100.state", state, sizeof(state)) > 0);
	CHECK_CONTAINS(state, "target " VF " xe_vfio_pci");
	CHECK_CONTAINS(state, "driver - override - vfio 1");
	ho_world_reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_STR(w->k.log, ""); /* nothing to give back */
	CHECK_CONTAINS(w->cap.text, VF ": stays on xe_vfio_pci");
	CHECK_STR(fk_driver(&w->k, VF), "xe_vfio_pci");
}

TEST(vf_without_keep_under_a_variant_sriov_goes_to_vfio_pci_and_back)
{
	struct world *w = vf_world("hostpci0: 0000:00:02.1");

	if (handoff_prepare(&w->ops, 100) != 0)
		test_fail(__FILE__, __LINE__, "%s", w->cap.text);
	CHECK_STR(fk_driver(&w->k, VF), "vfio-pci");
	CHECK_INT(count(w->cap.text, "W: "), 1);
	CHECK_CONTAINS(w->cap.text, "add ,driver=keep to hostpci0");
	ho_world_reset_log(w);
	CHECK_INT(handoff_release(&w->ops, 100), 0);
	CHECK_STR(fk_driver(&w->k, VF), "xe_vfio_pci");
	CHECK_STR(fk_override(&w->k, VF), "xe_vfio_pci");
}

TEST(state_target_lines_are_checked)
{
	static const char head[] = "pve-gpu-passthrough-state 1\nvmid 100\n"
		"device 0000:03:00.0 group 30 id 8086:e20b driver xe override - vfio 0\n";
	static const char *const bad[] = {
		"target 0000:03:00.0 vfio-pci\n",      /* vfio-pci is no line of its own */
		"target 0000:03:00.0 xe\n",            /* not a VFIO driver */
		"target 0000:03:00.0 ../x_vfio_pci\n", /* not a name */
		"target 0000:04:00.0 xe_vfio_pci\n",   /* no such device line */
		"target 0000:03:00.0 xe_vfio_pci\ntarget 0000:03:00.0 xe_vfio_pci\n",
		"target 0000:03:00.0\n",
	};
	struct handoff_state s;
	char text[1024], out[1024];

	/* a file from before the variants (no target line) loads: vfio-pci */
	CHECK_INT(state_parse(head, &s), 0);
	CHECK_STR(s.devs[0].target, "");
	snprintf(text, sizeof(text), "%starget 0000:03:00.0 xe_vfio_pci\n", head);
	CHECK_INT(state_parse(text, &s), 0);
	CHECK_STR(s.devs[0].target, "xe_vfio_pci");
	CHECK(state_format(&s, out, sizeof(out)) > 0);
	CHECK_STR(out, text);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", head, bad[i]);
		CHECK_INT(state_parse(text, &s), -EINVAL);
	}
}

TEST(vfio_driver_key_is_validated_and_inherited)
{
	struct cfg c;
	char err[256];

	CHECK_INT(cfg_parse("[hook]\nvfio_driver = xe_vfio_pci\n[vm:101]\nholders = warn\n", "t.ini",
			    &c, err, sizeof(err)), 0);
	CHECK_STR(cfg_hook_opts(&c, 101)->vfio_driver, "xe_vfio_pci");
	CHECK_STR(cfg_hook_opts(&c, 102)->vfio_driver, "xe_vfio_pci");
	CHECK_INT(cfg_parse("[vm:101]\nvfio_driver = vfio-pci\n", "t.ini", &c, err, sizeof(err)), 0);
	CHECK_STR(cfg_hook_opts(&c, 100)->vfio_driver, "vfio-pci");
	CHECK(cfg_parse("[hook]\nvfio_driver = nouveau\n", "t.ini", &c, err, sizeof(err)) < 0);
	CHECK_CONTAINS(err, "t.ini:2: vfio_driver: 'nouveau' is not vfio-pci or a variant VFIO driver");
	CHECK(cfg_parse("[hook]\nvfio_driver = xe_vfio_pci\nvfio_driver = xe_vfio_pci\n", "t.ini",
			&c, err, sizeof(err)) < 0);
}
