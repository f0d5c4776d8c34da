/* test_sriov.c - the [sriov] engine (common/dev_sriov.c) on the fake kernel
 * (tests/fixture/fakekernel.c, which makes VFs on a write to sriov_numvfs): a Raptor Lake iGPU
 * PF on i915 offering seven VFs. The VFs are made with the INI's count and driver,
 * sriov_drivers_autoprobe goes to 0 before sriov_numvfs, a second run writes nothing, and a PF
 * that cannot make VFs, or has another count, is refused with nothing written. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"
#include "dev_sriov.h"
#include "fakekernel.h"
#include "fakesys.h"
#include "harness.h"

#define PF "0000:00:02.0"
#define PFDIR "/sys/devices/pci0000:00/0000:00:02.0"

static const char *igpu_spec =
	"pci 0000:00:02.0 vendor=8086 device=a7a0 class=030000 driver=i915 group=0 boot_vga=1\n"
	"file " PFDIR "/sriov_totalvfs 7\n"
	"file " PFDIR "/sriov_numvfs 0\n"
	"file " PFDIR "/sriov_drivers_autoprobe 1\n"
	"file " PFDIR "/sriov_offset 1\n"
	"file " PFDIR "/sriov_stride 1\n"
	"pci 0000:00:1f.2 vendor=8086 device=7a62 class=010601 driver=ahci group=12\n"
	"driver i915\n";

struct world {
	struct sysroot sr;
	struct fake_kernel k;
	struct sriov_ops ops;
	struct sriov_state st;
	char err[512];
};

/* The host, with vfio-pci registered unless NO_VFIO. */
static struct world *world_of(const char *extra, bool no_vfio)
{
	static struct world w;
	char spec[4096];
	int line = 0;

	memset(&w, 0, sizeof(w));
	snprintf(spec, sizeof(spec), "%s%s%s", igpu_spec, no_vfio ? "" : "driver vfio-pci\n",
		 extra ? extra : "");
	if (fakesys_build(test_tmpdir(), spec, &line) < 0)
		test_fail(__FILE__, __LINE__, "fakesys spec line %d", line);
	CHECK_INT(sr_open(&w.sr, test_tmpdir()), 0);
	fk_init(&w.k, test_tmpdir(), &w.sr);
	w.ops = (struct sriov_ops){ .sr = &w.sr, .timeout_ms = 2000, .load = fk_load,
				    .data = &w.k };
	return &w;
}

static struct world *world(const char *extra)
{
	return world_of(extra, false);
}

static struct sriov_opts ini(const char *text)
{
	struct cfg c;
	char err[256];

	if (cfg_parse(text, "t.ini", &c, err, sizeof(err)) < 0)
		test_fail(__FILE__, __LINE__, "%s", err);
	return c.sriov;
}

static const char *attr(struct world *w, const char *name)
{
	static char buf[64];

	if (sr_read_str(&w->sr, name, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "(none)");
	return buf;
}

TEST(vfs_made_with_the_ini_count_and_driver)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 3\n");
	int changes = -1;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	CHECK_STR(attr(w, "/sys/bus/pci/devices/" PF "/sriov_numvfs"), "3");
	CHECK_STR(attr(w, "/sys/bus/pci/devices/" PF "/sriov_drivers_autoprobe"), "0");
	CHECK_INT(w->st.nvfs, 3);
	CHECK_STR(w->st.vf[0].name, "0000:00:02.1");
	CHECK_STR(w->st.vf[2].name, "0000:00:02.3");
	for (int i = 0; i < 3; i++) {
		CHECK_STR(fk_driver(&w->k, w->st.vf[i].name), "vfio-pci");
		CHECK_STR(fk_override(&w->k, w->st.vf[i].name), "vfio-pci");
	}
	CHECK(strcmp(fk_driver(&w->k, "0000:00:02.4"), "") == 0); /* no fourth VF */
	CHECK_STR(fk_driver(&w->k, PF), "i915");                  /* the PF untouched */
	CHECK_INT(changes, 2 + 3 * 2);
}

TEST(autoprobe_off_before_numvfs)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 8086:a7a0\nvfs = 7\n");
	const char *ap, *nv;
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	ap = strstr(w->k.log, PF "/sriov_drivers_autoprobe=0");
	nv = strstr(w->k.log, PF "/sriov_numvfs=7");
	CHECK(ap && nv && ap < nv);
	/* with autoprobe on, i915 would have taken them: none is on it */
	for (int i = 0; i < 7; i++)
		CHECK_STR(fk_driver(&w->k, w->st.vf[i].name), "vfio-pci");
}

TEST(second_run_writes_nothing)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 7\n");
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	CHECK(changes > 0);
	w->k.log[0] = '\0';
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	CHECK_INT(changes, 0);
	CHECK_STR(w->k.log, "");
	CHECK_INT(w->st.nvfs, 7);
}

TEST(variant_driver_is_used)
{
	struct world *w = world("driver xe_vfio_pci\n");
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 2\ndriver = xe_vfio_pci\n");
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	CHECK_STR(fk_driver(&w->k, "0000:00:02.1"), "xe_vfio_pci");
	CHECK_STR(fk_driver(&w->k, "0000:00:02.2"), "xe_vfio_pci");
}

TEST(pf_without_driver_is_refused_with_nothing_written)
{
	struct world *w = world("rm /sys/bus/pci/drivers/i915/" PF "\n"
				"rm " PFDIR "/driver\n");
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 7\n");
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), -ENODEV);
	CHECK_CONTAINS(w->err, "PF 0000:00:02.0 has no driver");
	CHECK_STR(w->k.log, "");
	CHECK_STR(attr(w, "/sys/bus/pci/devices/" PF "/sriov_drivers_autoprobe"), "1");
}

TEST(pf_that_cannot_make_vfs_is_refused)
{
	struct world *w = world("rm " PFDIR "/sriov_totalvfs\n");
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 7\n");
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)),
		  -EOPNOTSUPP);
	CHECK_CONTAINS(w->err, "cannot make VFs");
	CHECK_STR(w->k.log, "");

	w = world(NULL);
	o = ini("[sriov]\npf = 00:02.0\nvfs = 8\n");
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), -ERANGE);
	CHECK_CONTAINS(w->err, "at most 7 VFs");
	CHECK_STR(w->k.log, "");

	w = world(NULL);
	o = ini("[sriov]\npf = 10de:2204\nvfs = 1\n");
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), -ENODEV);
	CHECK_CONTAINS(w->err, "no PF has the id 10de:2204");
}

TEST(another_count_is_refused_not_torn_down)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 2\n");
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	w->k.log[0] = '\0';
	o.vfs = 4;
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), -EBUSY);
	CHECK_CONTAINS(w->err, "has 2 VFs, the INI asks for 4");
	CHECK_STR(w->k.log, "");
	CHECK_STR(fk_driver(&w->k, "0000:00:02.2"), "vfio-pci");
}

TEST(vf_on_a_host_driver_is_left_and_reported)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 3\n");
	int changes;

	/* VFs made earlier with autoprobe on (a sysfsutils line): i915 took them */
	CHECK_INT(sr_write(&w->sr, "/sys/bus/pci/devices/" PF "/sriov_numvfs", "3"), 0);
	CHECK_STR(fk_driver(&w->k, "0000:00:02.1"), "i915");
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), -EBUSY);
	CHECK_CONTAINS(w->err, "VF 0000:00:02.1 is on i915");
	CHECK_CONTAINS(w->err, "3 VFs on other drivers");
	CHECK_STR(fk_driver(&w->k, "0000:00:02.1"), "i915");
}

TEST(dry_run_writes_nothing)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 7\n");
	struct sr_write_point dry = { .dry_run = true, .next = w->sr.wp };
	int changes;

	w->sr.wp = &dry;
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	CHECK_INT(changes, 2);
	w->sr.wp = dry.next;
	CHECK_STR(w->k.log, "");
	CHECK_STR(attr(w, "/sys/bus/pci/devices/" PF "/sriov_numvfs"), "0");
	CHECK_STR(attr(w, "/sys/bus/pci/devices/" PF "/sriov_drivers_autoprobe"), "1");
}

TEST(vfio_pci_is_loaded_when_missing)
{
	struct world *w = world_of(NULL, true);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 2\n");
	int changes;

	CHECK(!w->k.loaded);
	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), 0);
	CHECK(w->k.loaded);
	CHECK_STR(fk_driver(&w->k, "0000:00:02.2"), "vfio-pci");
}

TEST(variant_driver_that_does_not_register_is_refused_before_any_write)
{
	struct world *w = world(NULL);
	struct sriov_opts o = ini("[sriov]\npf = 00:02.0\nvfs = 2\ndriver = xe_vfio_pci\n");
	int changes;

	CHECK_INT(sriov_apply(&w->ops, &o, &w->st, &changes, w->err, sizeof(w->err)), -ENOENT);
	CHECK_CONTAINS(w->err, "xe_vfio_pci is not loaded");
	CHECK_STR(w->k.log, "");
	CHECK_STR(attr(w, "/sys/bus/pci/devices/" PF "/sriov_numvfs"), "0");
}
