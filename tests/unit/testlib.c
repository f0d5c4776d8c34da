/* testlib.c - see testlib.h. */
#include "testlib.h"

#include <stdio.h>
#include <sys/stat.h>

#include "fakesys.h"
#include "harness.h"

struct sysroot test_root_with(const char *spec)
{
	static int n;
	char dir[300];
	struct sysroot sr;
	int line = 0;

	snprintf(dir, sizeof(dir), "%s/root%d", test_tmpdir(), n++);
	CHECK_INT(mkdir(dir, 0755), 0);
	if (fakesys_build(dir, spec, &line) < 0)
		test_fail(__FILE__, __LINE__, "fakesys spec line %d", line);
	CHECK_INT(sr_open(&sr, dir), 0);
	return sr;
}

void capture_log(void *ud, enum ho_level level, const char *msg)
{
	struct capture *c = ud;
	int n = snprintf(c->text + c->len, sizeof(c->text) - c->len, "%s%s\n",
			 level == HO_ERROR ? "E: " : level == HO_WARN ? "W: " : "", msg);

	if (n > 0 && (size_t)n < sizeof(c->text) - c->len)
		c->len += (size_t)n;
}
