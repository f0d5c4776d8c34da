/* dev_modload_linked.c - modload's table filled from the linked libkmod (see dev_modload.h).
 * In its own object so that only the programs that call modload_use_linked() link libkmod: the
 * hook does not, and dlopen()s it on first use. */
#include "dev_modload.h"

void modload_use_linked(void)
{
	static const struct modload_api api = {
#define MODLOAD_LINKED(f) .f = f,
		MODLOAD_KMOD_FUNCS(MODLOAD_LINKED)
#undef MODLOAD_LINKED
	};

	modload_set_api(&api);
}
