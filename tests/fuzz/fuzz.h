/* fuzz.h - shared by the libFuzzer targets: the input as a NUL-terminated string, and
 * REQUIRE for the parsers' promises (the sanitizers check memory; REQUIRE checks results). */
#ifndef PGP_FUZZ_H
#define PGP_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                        \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

/* A malloc'd copy of the input with a NUL after it (NULL when larger than MAX). */
static inline char *fuzz_text(const uint8_t *data, size_t size, size_t max)
{
	char *t;

	if (size > max)
		return NULL;
	t = malloc(size + 1);
	if (!t)
		return NULL;
	memcpy(t, data, size);
	t[size] = '\0';
	return t;
}

/* True when S lies within [BUF, BUF+LEN]. */
static inline int fuzz_inside(const char *s, const char *buf, size_t len)
{
	return s >= buf && s <= buf + len;
}

#endif
