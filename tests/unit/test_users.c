/* test_users.c - who uses a device (common/pve_users.c): one scan of the VM configs and the
 * containers, read by list's "used by" line, its VF rows, list --json and check. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "pve_users.h"
#include "testlib.h"

/* An iGPU at 00:02.0 and a dGPU at 03:00 (two functions). VM 100 passes the dGPU's whole slot;
 * VM 101 uses mapping gpus, whose first entry (the iGPU) a start takes now and whose second is
 * the dGPU's whole slot; container 200 has the dGPU's render node, 201 the iGPU's. */
static const char *spec =
	"pci 0000:00:02.0 vendor=8086 device=a780 class=030000 driver=i915 group=0 drm=card1,renderD129\n"
	"pci 0000:03:00.0 vendor=1002 device=73bf class=030000 driver=amdgpu group=1 drm=card0,renderD128\n"
	"pci 0000:03:00.1 vendor=1002 device=ab28 class=040300 driver=snd_hda_intel group=1\n"
	"file /etc/pve/qemu-server/100.conf onboot: 1\\nhostpci0: 0000:03:00,pcie=1\n"
	"file /etc/pve/qemu-server/101.conf onboot: 1\\nhostpci2: mapping=gpus\n"
	"file /etc/pve/mapping/pci.cfg gpus\\n"
	"\\tmap id=8086:a780,node=pve1,path=0000:00:02.0,iommugroup=0,subsystem-id=0000:0000\\n"
	"\\tmap id=1002:73bf,node=pve1,path=0000:03:00,iommugroup=1,subsystem-id=0000:0000\n"
	"file /etc/pve/lxc/200.conf hostname: jellyfin\\ndev0: /dev/dri/renderD128,gid=104\n"
	"file /etc/pve/lxc/201.conf hostname: plex\\nlxc.cgroup2.devices.allow: c 226:129 rwm\n"
	"dir /var/lib/lxc/200\n"
	"file /sys/fs/cgroup/lxc/200/cgroup.events populated 1\n";

TEST(users_one_scan_vms_and_containers)
{
	struct sysroot sr = test_root_with(spec);
	const char *gpus[] = { "0000:00:02.0", "0000:03:00.0" };
	struct pve_dev_user w[8];
	struct pve_users u;
	char who[128];
	int n;

	CHECK_INT(pve_users_scan(&sr, "pve1", gpus, 2, &u), 0);
	n = pve_users_who(&u, "0000:03:00.0", w, 8);
	/* the mapping's whole-slot entry is VM 101's pool: a later start may pick it
	 * (before: only entries with a function were pooled, and 101 was missing here) */
	CHECK_INT(n, 3);
	CHECK(!w[0].ct);
	CHECK_INT(w[0].id, 100);
	CHECK_STR(w[0].what, "hostpci0");
	CHECK_INT(w[1].id, 101);
	CHECK_STR(w[1].what, "mapping gpus, hostpci2");
	CHECK(w[2].ct);
	CHECK_INT(w[2].id, 200);
	CHECK(w[2].running);
	CHECK_STR(w[2].what, "dev0 /dev/dri/renderD128");
	/* the audio function: the same VMs (a whole slot), no container asked for */
	CHECK_INT(pve_users_who(&u, "0000:03:00.1", w, 8), 2);
	CHECK(pve_users_pooled(&u, 101, "gpus"));
	CHECK(pve_users_of(&u, "0000:03:00.1", who, sizeof(who)));
	CHECK_STR(who, "VM 100; mapping gpus: VM 101");
	n = pve_users_who(&u, "0000:00:02.0", w, 8);
	CHECK_INT(n, 2);
	CHECK_INT(w[0].id, 101);
	CHECK(w[1].ct);
	CHECK_INT(w[1].id, 201);
	CHECK(!w[1].running);
	CHECK_STR(w[1].what, "lxc.cgroup2.devices.allow c 226:129");
	/* a bound on what is shown: the lowest VMID */
	CHECK_INT(pve_users_who(&u, "0000:03:00.0", w, 1), 1);
	CHECK_INT(w[0].id, 100);
	pve_users_free(&u);

	/* no devices asked for: the VMs only */
	CHECK_INT(pve_users_scan(&sr, "pve1", NULL, 0, &u), 0);
	CHECK_INT(u.ncts, 0);
	CHECK_INT(pve_users_who(&u, "0000:03:00.0", w, 8), 2);
	pve_users_free(&u);
}
