/* harness.h - a small unit-test runner. Each TEST() lands in an ELF section; main() runs every
 * test in a forked child (a crash fails one test, not the suite), prints "PASS name" or
 * "FAIL name: why" per test and a closing "N passed, N failed" line. */
#ifndef PGP_HARNESS_H
#define PGP_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST(fname)                                                                     \
	static void fname(void);                                                        \
	static const struct test_case tc_##fname                                        \
		__attribute__((used, section("pgp_tests"), aligned(sizeof(void *)))) = { \
			#fname, fname                                                   \
		};                                                                      \
	static void fname(void)

void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

#define CHECK(cond)                                                      \
	do {                                                             \
		if (!(cond))                                             \
			test_fail(__FILE__, __LINE__, "%s", #cond);      \
	} while (0)
#define CHECK_INT(a, b)                                                                      \
	do {                                                                                 \
		long long _a = (long long)(a), _b = (long long)(b);                          \
		if (_a != _b)                                                                \
			test_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, \
				  _a, #b, _b);                                               \
	} while (0)
#define CHECK_STR(a, b)                                                                    \
	do {                                                                               \
		const char *_a = (a), *_b = (b);                                           \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                     \
			test_fail(__FILE__, __LINE__, "%s is \"%s\", expected \"%s\"", #a, \
				  _a ? _a : "(null)", _b ? _b : "(null)");                 \
	} while (0)
#define CHECK_CONTAINS(hay, needle)                                                       \
	do {                                                                              \
		const char *_h = (hay), *_n = (needle);                                   \
		if (!_h || !strstr(_h, _n))                                               \
			test_fail(__FILE__, __LINE__, "%s (\"%s\") lacks \"%s\"", #hay,   \
				  _h ? _h : "(null)", _n);                                \
	} while (0)

/* A fresh temporary directory for the running test (removed after it). */
const char *test_tmpdir(void);
/* The test program as it was started (argv[0]): works without /proc (a package build's
 * chroot has none). */
const char *test_program(void);

#endif
