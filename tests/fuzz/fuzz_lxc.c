/* fuzz_lxc.c - Proxmox container configs (common/pve_lxc.c): no crash; at most LXC_MAX_USES
 * entries, every device path below /dev without "..", every cgroup rule a DRM, NVIDIA or
 * every-device one; an error names its line (a NUL byte: line 0). */
#include <errno.h>

#include "fuzz.h"
#include "pve_lxc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lxc_conf c;
	char *text = fuzz_text(data, size, 65536), err[256];
	int line = -1, r;

	if (!text)
		return 0;
	r = pve_lxc_parse(text, size, &c, &line, err, sizeof(err));
	if (r == 0) {
		REQUIRE(c.nuses >= 0 && c.nuses <= LXC_MAX_USES);
		REQUIRE(memchr(c.hostname, '\0', sizeof(c.hostname)));
		for (int i = 0; i < c.nuses; i++) {
			const struct lxc_use *u = &c.uses[i];

			REQUIRE(u->line >= 1);
			if (u->kind == LXC_USE_CGROUP) {
				REQUIRE(u->resolved && !u->path[0]);
				REQUIRE(u->major == LXC_ANY || u->major == LXC_MAJOR_DRM ||
					u->major == LXC_MAJOR_NVIDIA);
				continue;
			}
			REQUIRE(memchr(u->path, '\0', sizeof(u->path)));
			REQUIRE(!strncmp(u->path, "/dev/", 5) && !strstr(u->path, "/.."));
			REQUIRE(!strchr(u->path, ' ') && !strchr(u->path, ','));
			REQUIRE(u->kind == LXC_USE_MOUNT ? u->index == -1 : u->index >= 0 && u->index <= 255);
		}
	} else {
		REQUIRE(r == -EINVAL || r == -E2BIG);
		REQUIRE(memchr(text, '\0', size) ? line == 0 : line >= 1);
	}
	free(text);
	return 0;
}
