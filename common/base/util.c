/* util.c - see util.h. */
#define _GNU_SOURCE
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>

int str_copy(char *dst, size_t size, const char *src)
{
	return str_copy_n(dst, size, src, strlen(src));
}

int str_copy_n(char *dst, size_t size, const char *src, size_t n)
{
	size_t len = strnlen(src, n);

	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_any_prefix(const char *s, const char *const *prefixes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (str_has_prefix(s, prefixes[i]))
			return true;
	return false;
}

char *str_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

int parse_ulong(const char *s, int base, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (errno == ERANGE || v > max)
		return -ERANGE;
	if (errno || end == s || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "1", "yes", "on", "true" };
	static const char *const no[] = { "0", "no", "off", "false" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int parse_duration_ms(const char *s, unsigned long *ret)
{
	char num[32];
	size_t n = strspn(s, "0123456789");
	unsigned long v, mult;
	int r;

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	if (strcmp(s + n, "") == 0 || strcmp(s + n, "s") == 0)
		mult = 1000;
	else if (strcmp(s + n, "ms") == 0)
		mult = 1;
	else
		return -EINVAL;
	r = parse_ulong(num, 10, 3600UL * 1000, &v);
	if (r < 0)
		return r;
	if (v * mult > 3600UL * 1000)
		return -ERANGE;
	*ret = v * mult;
	return 0;
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool backoff_wait(unsigned *step, uint64_t deadline)
{
	uint64_t now = now_ms(), ms;
	struct timespec ts;

	if (now >= deadline)
		return false;
	ms = 1ULL << (*step < 6 ? *step : 6);
	if (ms > 50)
		ms = 50;
	if (now + ms > deadline)
		ms = deadline - now;
	(*step)++;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return true;
}

bool kernel_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]) || s[i] == '/' || s[i] == '\\')
			return false;
	return true;
}

int kernel_series(const char *release)
{
	unsigned long major, minor;
	char *end;

	errno = 0;
	major = strtoul(release, &end, 10);
	if (errno || end == release || *end != '.' || major > 99)
		return -1;
	release = end + 1;
	minor = strtoul(release, &end, 10);
	if (errno || end == release || minor > 99)
		return -1;
	return (int)(major * 100 + minor);
}

/* close_range(2) (Linux 5.9) in one call; on older kernels, one close() per possible fd. */
static void close_from_to(unsigned lo, unsigned hi)
{
	long max;

	if (lo > hi || syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (unsigned fd = lo; fd <= hi && fd < (unsigned)max; fd++)
		close((int)fd);
}

void fds_close_except(int keep)
{
	if (keep < 3) {
		close_from_to(3, ~0U);
		return;
	}
	close_from_to(3, (unsigned)keep - 1);
	close_from_to((unsigned)keep + 1, ~0U);
}
