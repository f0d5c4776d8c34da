/* test_health.c - the health mark (common/dev_health.c): its text form both ways, every way a
 * hostile file is refused, a mark of another boot, the probe of a device, and the fix by kind
 * of card. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev_health.h"
#include "harness.h"
#include "testlib.h"
#include "util.h"

#define BOOT "6f1c2d3e-0a1b-4c5d-8e9f-0123456789ab"
#define GOOD "pve-gpu-passthrough-health 1\nboot " BOOT "\nvmid 100\nid 1002:744c\n" \
	     "fault ffff\ndriver amdgpu\n"

TEST(health_mark_round_trip)
{
	struct health_mark m, t;
	char buf[512];

	CHECK_INT(health_parse(GOOD, &m), 0);
	CHECK_STR(m.boot, BOOT);
	CHECK_INT(m.vmid, 100);
	CHECK_INT(m.vendor, 0x1002);
	CHECK_INT(m.device, 0x744c);
	CHECK_INT(m.fault, HEALTH_FFFF);
	CHECK_STR(m.driver, "amdgpu");
	CHECK(health_format(&m, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, GOOD);
	CHECK_INT(health_parse("pve-gpu-passthrough-health 1\nboot -\nvmid 999999999\n"
			       "id 10de:2684\nfault driver\ndriver -\n", &t), 0);
	CHECK_STR(t.boot, "");
	CHECK_STR(t.driver, "");
	CHECK_INT(t.fault, HEALTH_NO_DRIVER);
	CHECK_INT(health_format(&t, buf, 10), -ENOSPC);
	t.fault = HEALTH_OK; /* nothing to mark */
	CHECK_INT(health_format(&t, buf, sizeof(buf)), -EINVAL);
}

TEST(health_mark_hostile_text_is_refused)
{
	static const char *const bad[] = {
		"",
		"pve-gpu-passthrough-health 2\nboot -\nvmid 100\nid 1002:744c\nfault ffff\ndriver -\n",
		/* a line missing, out of order, twice, or something after the last */
		"pve-gpu-passthrough-health 1\nvmid 100\nid 1002:744c\nfault ffff\ndriver -\n",
		"pve-gpu-passthrough-health 1\nboot -\nid 1002:744c\nvmid 100\nfault ffff\ndriver -\n",
		"pve-gpu-passthrough-health 1\nboot -\nvmid 100\nid 1002:744c\nfault ffff\ndriver -\n"
		"driver -\n",
		"pve-gpu-passthrough-health 1\nboot -\nvmid 100\nid 1002:744c\nfault ffff\ndriver -",
		/* values */
		"pve-gpu-passthrough-health 1\nboot ../x\nvmid 100\nid 1002:744c\nfault ffff\ndriver -\n",
		"pve-gpu-passthrough-health 1\nboot -\nvmid 99\nid 1002:744c\nfault ffff\ndriver -\n",
		"pve-gpu-passthrough-health 1\nboot -\nvmid 0100\nid 1002:744c\nfault ffff\ndriver -\n",
		"pve-gpu-passthrough-health 1\nboot -\nvmid 100\nid 1002:744\nfault ffff\ndriver -\n",
		"pve-gpu-passthrough-health 1\nboot -\nvmid 100\nid 1002-744c\nfault ffff\ndriver -\n",
		"pve-gpu-passthrough-health 1\nboot -\nvmid 100\nid 1002:+44c\nfault ffff\ndriver -\n",
		"pve-gpu-passthrough-health 1\nboot -\nvmid 100\nid 1002:744c\nfault gone\ndriver -\n",
		"pve-gpu-passthrough-health 1\nboot -\nvmid 100\nid 1002:744c\nfault ffff\ndriver a/b\n",
		"pve-gpu-passthrough-health 1\nboot -\nvmid 100\nid 1002:744c\nfault ffff\ndriver ..\n",
		"pve-gpu-passthrough-health 1\nboot -\nvmid 100\nid 1002:744c\nfault ffff\ndriver a b\n",
		"pve-gpu-passthrough-health 1\nboot  -\nvmid 100\nid 1002:744c\nfault ffff\ndriver -\n",
		"pve-gpu-passthrough-health 1\r\nboot -\nvmid 100\nid 1002:744c\nfault ffff\ndriver -\n",
	};
	struct health_mark m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (health_parse(bad[i], &m) != -EINVAL)
			test_fail(__FILE__, __LINE__, "accepted bad[%zu]", i);
}

/* A mark of this boot counts, one of another boot is void, a file that is not a mark (or too
 * long, or under a name that is no canonical address) is an error, no file is no mark. */
TEST(health_mark_load_save_and_boot)
{
	struct sysroot sr = test_root_with("file /proc/sys/kernel/random/boot_id " BOOT "\n");
	struct health_mark m = { .boot = BOOT, .vmid = 100, .vendor = 0x1002, .device = 0x744c,
				 .fault = HEALTH_FFFF }, got;
	char big[2048];

	CHECK_INT(health_mark_load(&sr, "0000:03:00.0", &got), 0);
	CHECK_INT(health_mark_save(&sr, "0000:03:00.0", &m), 0);
	CHECK_INT(health_mark_load(&sr, "0000:03:00.0", &got), 1);
	CHECK_INT(got.vendor, 0x1002);
	CHECK_INT(health_mark_load(&sr, "0000:03:00.1", &got), 0);
	CHECK_INT(health_mark_load(&sr, "03:00.0", &got), -EINVAL);
	CHECK_INT(health_mark_save(&sr, "../../etc/x", &m), -EINVAL);
	str_copy(m.boot, sizeof(m.boot), "11111111-2222-4333-8444-555555555555");
	CHECK_INT(health_mark_save(&sr, "0000:03:00.0", &m), 0);
	CHECK_INT(health_mark_load(&sr, "0000:03:00.0", &got), 0); /* another boot's */
	CHECK_INT(sr_write_file_atomic(&sr, HEALTH_DIR "/0000:03:00.0", "garbage\n", 8, 0600), 0);
	CHECK_INT(health_mark_load(&sr, "0000:03:00.0", &got), -EINVAL);
	memset(big, 'a', sizeof(big));
	CHECK_INT(sr_write_file_atomic(&sr, HEALTH_DIR "/0000:03:00.0", big, sizeof(big), 0600), 0);
	CHECK_INT(health_mark_load(&sr, "0000:03:00.0", &got), -EINVAL);
	sr_close(&sr);
}

/* The probe: ids in config space, all ones, no driver where one is expected, a device gone. */
TEST(health_probe_reads_config_and_driver)
{
	struct sysroot sr = test_root_with(
		"pci 0000:03:00.0 vendor=1002 device=744c class=030000 driver=amdgpu group=3\n"
		"pci 0000:03:00.1 vendor=1002 device=ab30 class=040300 group=3\n");
	unsigned char ones[64];

	CHECK_INT(health_probe(&sr, "0000:03:00.0", "amdgpu"), HEALTH_OK);
	CHECK_INT(health_probe(&sr, "0000:03:00.1", ""), HEALTH_OK);
	CHECK_INT(health_probe(&sr, "0000:03:00.1", "snd_hda_intel"), HEALTH_NO_DRIVER);
	CHECK_INT(health_probe(&sr, "0000:04:00.0", "amdgpu"), -ENOENT);
	memset(ones, 0xff, sizeof(ones));
	CHECK_INT(sr_write_file_atomic(&sr, "/sys/bus/pci/devices/0000:03:00.0/config",
				       (const char *)ones, sizeof(ones), 0644), 0);
	CHECK_INT(health_probe(&sr, "0000:03:00.0", "amdgpu"), HEALTH_FFFF);
	CHECK_INT(sr_write_file_atomic(&sr, "/sys/bus/pci/devices/0000:03:00.0/config", "", 0,
				       0644), 0);
	CHECK_INT(health_probe(&sr, "0000:03:00.0", "amdgpu"), HEALTH_CONFIG);
	sr_close(&sr);
}

/* The fix names vendor-reset for an id it knows (Navi 10), a reset_method otherwise. */
TEST(health_fix_by_kind_of_card)
{
	struct health_mark navi = { .vmid = 100, .vendor = 0x1002, .device = 0x731f,
				    .fault = HEALTH_FFFF },
			   rdna3 = { .vmid = 100, .vendor = 0x1002, .device = 0x744c,
				     .fault = HEALTH_FFFF };
	char fix[512];

	health_fix("0000:03:00.0", &navi, fix, sizeof(fix));
	CHECK_CONTAINS(fix, "reboot the host");
	CHECK_CONTAINS(fix, "load vendor-reset (it has Navi 10) and set reset_method = "
			    "device_specific in [vm:100]");
	health_fix("0000:03:00.0", &rdna3, fix, sizeof(fix));
	CHECK_CONTAINS(fix, "set a reset_method 0000:03:00.0 has in [vm:100]");
	CHECK_CONTAINS(fix, "vendor-reset has no reset for 1002:744c");
	CHECK_CONTAINS(fix, "reboot: 0 in VM 100");
}
