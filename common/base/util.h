/* util.h - small helpers shared by every module: cleanup attributes, bounded string copies,
 * number parsing with end-pointer checks, monotonic deadlines. */
#ifndef PGP_UTIL_H
#define PGP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_free_ __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))

/* Copies SRC into DST of SIZE bytes; -ENAMETOOLONG (and DST untouched) when it does not fit. */
int str_copy(char *dst, size_t size, const char *src);
/* Copies at most N bytes of SRC; -ENAMETOOLONG when they do not fit. */
int str_copy_n(char *dst, size_t size, const char *src, size_t n);
bool str_has_prefix(const char *s, const char *prefix);
/* True when S starts with one of the N PREFIXES. */
bool str_has_any_prefix(const char *s, const char *const *prefixes, size_t n);
/* Trims spaces and tabs at both ends in place; returns S advanced past leading blanks. */
char *str_trim(char *s);

/* True when S can be a kernel driver or device name that becomes one sysfs path component:
 * 1 to 63 printable characters, no '/' or '\\', not "." or "..". */
bool kernel_name_valid(const char *s);

/* Parses a whole string as an unsigned number in BASE no larger than MAX. */
int parse_ulong(const char *s, int base, unsigned long max, unsigned long *ret);
/* A kernel release's series: "6.8.12-4-pve" -> 608; -1 when it does not start with
 * MAJOR.MINOR. */
int kernel_series(const char *release);
/* Parses "yes/no/on/off/true/false/1/0" (case-insensitive). */
int parse_bool(const char *s, bool *ret);
/* Parses a duration: "10" or "10s" seconds, "500ms"; at most one hour. Result in ms. */
int parse_duration_ms(const char *s, unsigned long *ret);

/* Monotonic clock in milliseconds. */
uint64_t now_ms(void);
/* Sleeps for the next step of a bounded backoff (1, 2, 4 ... 50 ms) without passing DEADLINE;
 * returns false once the deadline has passed. Used only inside poll loops. */
bool backoff_wait(unsigned *step, uint64_t deadline);

/* Closes every fd from 3 up except KEEP (-1: none); for a forked child that must hold nothing
 * of its parent's (device locks, the caller's pipes). Async-signal-safe. */
void fds_close_except(int keep);

#endif
