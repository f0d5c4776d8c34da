/* test_cluster.c - the cluster files (pve_cluster.h) and what the hook does with them: a
 * migration target's pre-start (PVE_MIGRATED_FROM) reads the config on the source node and
 * hands over this node's mapping entry; a backup's start (lock: backup) under [hook] backup =
 * handoff | refuse. Dry runs on fake trees (the real binding: test_bind.c and the lab). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"
#include "dev_handoff.h"
#include "fakesys.h"
#include "harness.h"
#include "pve_cluster.h"
#include "testlib.h"

TEST(members_of_a_cluster_and_of_a_single_node)
{
	struct pve_members m;

	CHECK_INT(pve_members_parse("{\"nodename\": \"pve1\", \"version\": 7, \"cluster\": "
				    "{\"name\": \"lab\", \"version\": 3, \"nodes\": 2, \"quorate\": 1},"
				    " \"nodelist\": {\"pve1\": {\"id\": 1, \"online\": 1, \"ip\": "
				    "\"10.0.0.1\"}, \"pve2\": {\"id\": 2, \"online\": 0}}}", &m), 0);
	CHECK_STR(m.local, "pve1");
	CHECK_STR(m.cluster, "lab");
	CHECK_INT(m.nnodes, 2);
	CHECK_STR(m.nodes[1].name, "pve2");
	CHECK_INT(m.nodes[0].online, 1);
	CHECK_INT(m.nodes[1].online, 0);
	CHECK_INT(pve_members_parse("{\"nodename\": \"pve\", \"version\": 0}", &m), 0);
	CHECK_INT(m.nnodes, 0);
	/* hostile: a node name that could leave /etc/pve/nodes, a duplicate, bad JSON */
	CHECK_INT(pve_members_parse("{\"nodelist\": {\"../x\": {}}}", &m), -EINVAL);
	CHECK_INT(pve_members_parse("{\"nodelist\": {\"a\": {}, \"a\": {}}}", &m), -EINVAL);
	CHECK_INT(pve_members_parse("{\"nodename\": \"pve\"", &m), -EINVAL);
	CHECK_INT(pve_members_parse("{\"x\": [[[[[[[[[1]]]]]]]]]}", &m), -EINVAL);
	CHECK_INT(pve_members_parse("{} trailing", &m), -EINVAL);
}

/* Objects and arrays are walked alike: empty ones, a comma between two members only, the
 * same depth limit, and nothing kept from what is not .members' own. */
TEST(members_objects_and_arrays_walked_alike)
{
	struct pve_members m;

	CHECK_INT(pve_members_parse("{}", &m), 0);
	CHECK_INT(pve_members_parse(" {\"a\": [], \"b\": {}, \"c\": [ {} , [ ] , \"s\", -1.5, 2e3, "
				    "true, null, false ] } ", &m), 0);
	CHECK_INT(pve_members_parse("{\"a\": [1,]}", &m), -EINVAL);
	CHECK_INT(pve_members_parse("{\"a\": 1,}", &m), -EINVAL);
	CHECK_INT(pve_members_parse("{\"a\": [1 2]}", &m), -EINVAL);
	CHECK_INT(pve_members_parse("{\"a\": 1 \"b\": 2}", &m), -EINVAL);
	CHECK_INT(pve_members_parse("{\"a\": [,]}", &m), -EINVAL);
	CHECK_INT(pve_members_parse("{\"a\": {,}}", &m), -EINVAL);
	CHECK_INT(pve_members_parse("{\"a\": [1}", &m), -EINVAL);
	CHECK_INT(pve_members_parse("{\"a\": {\"b\": 1]}", &m), -EINVAL);
	CHECK_INT(pve_members_parse("[]", &m), -EINVAL);
	/* eight containers deep is the limit, objects and arrays counted together */
	CHECK_INT(pve_members_parse("{\"a\": [{\"b\": [{\"c\": [{\"d\": []}]}]}]}", &m), 0);
	CHECK_INT(pve_members_parse("{\"a\": [{\"b\": [{\"c\": [{\"d\": [{}]}]}]}]}", &m), -EINVAL);
	/* .members' keys count only where they belong */
	CHECK_INT(pve_members_parse("{\"x\": {\"nodename\": \"../x\", \"nodelist\": 1}, \"y\": "
				    "[{\"cluster\": {\"name\": 2}}], \"nodename\": \"pve\"}", &m), 0);
	CHECK_STR(m.local, "pve");
	CHECK_INT(m.nnodes, 0);
	CHECK_STR(m.cluster, "");
}

TEST(ha_groups_and_node_affinity_rules)
{
	const char *res = "vm: 100\n\tgroup gpus\n\tstate started\n\nvm: 101\n\tstate started\n"
			  "\nct: 102\n";
	const char *groups = "group: gpus\n\tnodes pve1:2,pve2\n\trestricted 1\n";
	const char *rules = "node-affinity: other\n\tresources vm:1010\n\tnodes pve3\n\tstrict 1\n\n"
			    "node-affinity: r1\n\tresources ct:5,vm:101\n\tnodes pve2:1,pve3\n\tstrict 1\n";
	struct pve_ha_vm ha;

	CHECK_INT(pve_ha_parse(res, groups, rules, 100, &ha), 0);
	CHECK(ha.ha && ha.restricted);
	CHECK_STR(ha.nodes, "pve1 pve2");
	CHECK_STR(ha.from, "HA group gpus");
	CHECK_INT(pve_ha_parse(res, groups, rules, 101, &ha), 0);
	CHECK(ha.ha && ha.restricted);
	CHECK_STR(ha.nodes, "pve2 pve3"); /* vm:1010 is another VM */
	CHECK_STR(ha.from, "HA rule r1");
	CHECK_INT(pve_ha_parse(res, groups, NULL, 101, &ha), 0);
	CHECK(ha.ha && !ha.restricted); /* HA without a group: any node */
	CHECK_INT(pve_ha_parse(res, groups, rules, 102, &ha), 0);
	CHECK(!ha.ha); /* ct: 102 is a container */
	CHECK_INT(pve_ha_parse("vm: 100\n\tgroup g\n", "group: g\n\tnodes ../etc\n", NULL, 100, &ha),
		  -EINVAL);
	CHECK_INT(pve_ha_parse("not a section\n", NULL, NULL, 100, &ha), -EINVAL);
}

TEST(backup_jobs_that_select_a_vm)
{
	const char *jobs = "vzdump: all\n\tschedule 02:00\n\tall 1\n\texclude 101,102\n\n"
			   "vzdump: list\n\tvmid 101,1010\n\tnode pve2\n\n"
			   "vzdump: off\n\tvmid 100\n\tenabled 0\n\n"
			   "vzdump: pool\n\tpool gpus\n\n"
			   "realm-sync: x\n\tvmid 100\n";
	struct pve_backup_jobs j;

	CHECK_INT(pve_backup_jobs_parse(jobs, 100, "pve1", &j), 0);
	CHECK_INT(j.n, 2);
	CHECK_STR(j.jobs[0].id, "all");
	CHECK(j.jobs[0].all && !j.jobs[0].by_pool);
	CHECK_STR(j.jobs[0].schedule, "02:00");
	CHECK_STR(j.jobs[1].id, "pool");
	CHECK(j.jobs[1].by_pool);
	CHECK_INT(pve_backup_jobs_parse(jobs, 101, "pve1", &j), 0);
	CHECK_INT(j.n, 1); /* excluded from "all", "list" runs on pve2 only */
	CHECK_INT(pve_backup_jobs_parse(jobs, 101, "pve2", &j), 0);
	CHECK_INT(j.n, 2);
	CHECK_STR(j.jobs[0].id, "list");
	CHECK_INT(pve_backup_jobs_parse(jobs, 1010, "pve1", &j), 0);
	CHECK_INT(j.n, 2); /* "all" and "pool"; "list" (vmid 1010) runs on pve2 */
}

TEST(published_node_file_round_trip_and_hostile_values)
{
	struct pve_published p, q;
	char buf[PVE_PUBLISH_MAX + 1];

	CHECK_INT(pve_published_parse("version=0.1+deb13\nhook=/usr/libexec/x/hook\n"
				      "snippet=local:snippets/pve-gpu-passthrough-hook\nfuture=1\n", &p), 0);
	CHECK_STR(p.version, "0.1+deb13");
	CHECK_INT(p.nsnippets, 1);
	CHECK_INT(pve_published_format(&p, buf, sizeof(buf)), 0);
	CHECK_INT(pve_published_parse(buf, &q), 0);
	CHECK(!memcmp(&p, &q, sizeof(p)));
	CHECK_INT(pve_published_parse("version=1\nhook=/a/../b\n", &p), -EINVAL);
	CHECK_INT(pve_published_parse("version=1 2\nhook=/a\n", &p), -EINVAL);
	CHECK_INT(pve_published_parse("version=1\nhook=/a\nsnippet=local:snippets/../x\n", &p),
		  -EINVAL);
	CHECK_INT(pve_published_parse("version=1\nhook=/a\nsnippet=local:images/x\n", &p), -EINVAL);
	CHECK_INT(pve_published_parse("version=1\n", &p), -EINVAL); /* no hook */
	CHECK_INT(pve_published_parse("version=1\nversion=2\nhook=/a\n", &p), -EINVAL);
}

/* ---- the hook's pre-start on a migration target and for a backup ------------------------ */

/* This node (pve2) has the card at 02:00, the source node pve1 at 03:00 (same model): one
 * mapping "gpu" with an entry per node. */
static const char *spec =
	"pci 0000:00:01.0 vendor=8086 device=2f02 class=060400 bridge=1 group=1 driver=pcieport\n"
	"pci 0000:02:00.0 vendor=10de device=0fc6 class=030000 driver=nouveau group=29 "
	"parent=0000:00:01.0 bar0=f6000000:1000000\n"
	"pci 0000:03:00.0 vendor=10de device=0fc6 class=030000 driver=nouveau group=30 "
	"parent=0000:00:01.0 bar0=f4000000:1000000\n"
	"driver vfio-pci\n"
	"dir /sys/module/vfio_iommu_type1\n"
	"dir /dev/vfio\n"
	"vtcon 0 (S) dummy device\n"
	"file /proc/iomem 00000000-00000fff : Reserved\n"
	"file /proc/self/mountinfo 22 1 8:0 / / rw,relatime - ext4 /dev/sda rw\n"
	"file /etc/pve/mapping/pci.cfg gpu\\n"
	"\\tmap id=10de:0fc6,iommugroup=30,node=pve1,path=0000:03:00.0,subsystem-id=0000:0000\\n"
	"\\tmap id=10de:0fc6,iommugroup=29,node=pve2,path=0000:02:00.0,subsystem-id=0000:0000\n"
	"dir /etc/pve/nodes/pve2/qemu-server\n"
	"link /etc/pve/qemu-server nodes/pve2/qemu-server\n"
	"file /etc/pve/nodes/pve1/qemu-server/105.conf hostpci0: mapping=gpu,pcie=1\\nmachine: q35\n"
	"file /etc/pve/nodes/pve2/qemu-server/106.conf hostpci0: mapping=gpu\\nlock: backup\n";

static int prepare(const char *from, int vmid, const struct cfg *cfg, struct capture *cap)
{
	static struct pve_vmconf conf;
	struct sysroot sr;
	char err[256];
	int r;

	CHECK_INT(fakesys_build(test_tmpdir(), spec, NULL), 0);
	CHECK_INT(sr_open(&sr, test_tmpdir()), 0);
	memset(cap, 0, sizeof(*cap));
	r = handoff_vm_load_from(&sr, vmid, from, &conf, err, sizeof(err));
	if (r < 0) {
		snprintf(cap->text, sizeof(cap->text), "load: %s\n", err);
		sr_close(&sr);
		return r;
	}
	struct handoff_ops ops = { .sr = &sr, .cfg = cfg, .node = "pve2", .dry_run = true,
				   .log = capture_log, .ud = cap, .vmconf = &conf };
	r = handoff_prepare(&ops, vmid);
	sr_close(&sr);
	return r;
}

/* qemu-server starts a migration target with the config still in the source node's
 * directory; the hook reads it there and takes this node's entry of the mapping. */
TEST(migration_target_reads_the_source_config_and_takes_this_nodes_entry)
{
	struct cfg cfg;
	struct capture cap;

	cfg_defaults(&cfg);
	CHECK(prepare(NULL, 105, &cfg, &cap) < 0); /* without PVE_MIGRATED_FROM: no config here */
	CHECK_CONTAINS(cap.text, "load: cannot read '/etc/pve/qemu-server/105.conf'");
	CHECK_INT(prepare("pve1", 105, &cfg, &cap), 0);
	CHECK_CONTAINS(cap.text, "would write 'vfio-pci' to /sys/bus/pci/devices/0000:02:00.0/driver_override");
	CHECK(!strstr(cap.text, "0000:03:00.0")); /* the source's card is not this node's */
	CHECK(prepare("../../x", 105, &cfg, &cap) < 0); /* a hostile variable names no path */
	CHECK_CONTAINS(cap.text, "invalid node name");
}

TEST(backup_start_follows_the_backup_policy)
{
	struct cfg cfg;
	struct capture cap;
	char err[256];

	cfg_defaults(&cfg);
	CHECK_INT(prepare(NULL, 106, &cfg, &cap), 0); /* default: handoff */
	CHECK_CONTAINS(cap.text, "would write 'vfio-pci' to /sys/bus/pci/devices/0000:02:00.0/driver_override");
	CHECK_INT(cfg_parse("[vm:106]\nbackup = refuse\n", "t.ini", &cfg, err, sizeof(err)), 0);
	CHECK_INT(prepare(NULL, 106, &cfg, &cap), -EPERM);
	CHECK_STR(cap.text, "E: VM 106: a backup starts it (lock: backup) and [hook] backup = "
			    "refuse: its GPU stays on the host and this backup fails; to back it up, "
			    "set backup = handoff in [vm:106] or exclude it from the job\n");
	/* a normal start of the same VM is not a backup */
	CHECK_INT(cfg_parse("[hook]\nbackup = refuse\n", "t.ini", &cfg, err, sizeof(err)), 0);
	CHECK_INT(prepare("pve1", 105, &cfg, &cap), 0);
	CHECK(cfg_parse("[hook]\nbackup = maybe\n", "t.ini", &cfg, err, sizeof(err)) < 0);
	CHECK_CONTAINS(err, "backup: 'maybe' is not 'handoff' or 'refuse'");
}
