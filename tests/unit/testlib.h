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

#endif
