/* testlib.h - what several unit tests share: a fresh fake root from a fakesys spec, and a log
 * sink that collects the engine's lines. */
#ifndef PGP_TESTLIB_H
#define PGP_TESTLIB_H

#include <stddef.h>

#include "dev_handoff.h"
#include "sysroot.h"

/* A fresh root below the test's temporary directory (root0, root1, ...) built from SPEC
 * (tests/fixture/fakesys.h) and opened; a malformed spec fails the test. */
struct sysroot test_root_with(const char *spec);

/* The handoff's log lines, "E: " before errors and "W: " before warnings, one per line;
 * capture_log is a handoff_ops log callback with a struct capture as its ud. */
struct capture {
	char text[16384];
	size_t len;
};
void capture_log(void *ud, enum ho_level level, const char *msg);

/* An Intel iGPU PF at 00:02.0 that can make 7 VFs (none made, autoprobe on, the first VF at
 * 00:02.1): the SR-IOV attributes of a fakesys spec (test_sriov.c, test_variant.c). */
#define PFDIR "/sys/devices/pci0000:00/0000:00:02.0"
#define IGPU_PF_SRIOV_SPEC \
	"file " PFDIR "/sriov_totalvfs 7\n" \
	"file " PFDIR "/sriov_numvfs 0\n" \
	"file " PFDIR "/sriov_drivers_autoprobe 1\n" \
	"file " PFDIR "/sriov_offset 1\n" \
	"file " PFDIR "/sriov_stride 1\n"

#endif
