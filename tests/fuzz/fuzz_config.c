/* fuzz_config.c - libFuzzer target for our INI (common/cfg_ini.c through inih): any text gives
 * 0 or -EINVAL with a "NAME:LINE: " message, and a parsed config stays inside its bounds
 * (the [sriov] section included). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cfg c;
	char *text, err[256];
	int r;

	if (size > CONFIG_MAX_SIZE)
		return 0;
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	r = cfg_parse(text, "f.ini", &c, err, sizeof(err));
	if (r != 0 && r != -EINVAL && r != -ENOMEM)
		__builtin_trap();
	if (r == -EINVAL && strncmp(err, "f.ini:", 6) != 0)
		__builtin_trap();
	if (r == 0 && (c.nvms > CONFIG_MAX_VMS || c.early.nids > CONFIG_MAX_EARLY ||
		       c.early.naddrs > CONFIG_MAX_EARLY || !cfg_hook_opts(&c, 100)))
		__builtin_trap();
	/* [sriov]: both keys given, a count in bounds, a driver that passes our own check */
	if (r == 0 && c.sriov.set &&
	    (c.sriov.vfs < 1 || c.sriov.vfs > CONFIG_MAX_VFS ||
	     !memchr(c.sriov.driver, '\0', sizeof(c.sriov.driver)) ||
	     !cfg_vfio_driver_valid(c.sriov.driver)))
		__builtin_trap();
	if (r == 0 && !c.sriov.set && c.sriov.vfs != 0)
		__builtin_trap();
	/* vfio_driver: in every section a driver that passes the same check */
	if (r == 0 && !cfg_vfio_driver_valid(c.hook.vfio_driver))
		__builtin_trap();
	for (int i = 0; r == 0 && i < c.nvms; i++)
		if (!cfg_vfio_driver_valid(c.vms[i].opts.vfio_driver))
			__builtin_trap();
	free(text);
	return 0;
}
