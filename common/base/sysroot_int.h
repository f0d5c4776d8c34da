/* sysroot_int.h - what sysroot.c shares with sysroot_timed.c (not part of the library's
 * interface): the raw write, the strip of a read's trailing blanks, and the write points
 * around a change. */
#ifndef PGP_SYSROOT_INT_H
#define PGP_SYSROOT_INT_H

#include <stdbool.h>
#include <sys/types.h>

#include "sysroot.h"

/* One write() of VALUE to the existing file PATH, no write points. */
int sr_int_write_raw(const struct sysroot *sr, const char *path, const char *value);
/* Strips trailing newlines, spaces and tabs of the N bytes read into BUF; the new length. */
ssize_t sr_int_strip(char *buf, ssize_t n);
/* The write points before a change: 1 when the caller makes it (and then hands its result
 * to sr_int_wp_after), 0 when a point refused, took or failed it (*ret is then the result). */
int sr_int_wp_gate(const struct sysroot *sr, const char *path, const char *value, int *ret);
/* The write points after a change with RESULT (DONE: it took effect); returns RESULT. */
int sr_int_wp_after(const struct sysroot *sr, const char *path, const char *value, int result,
		    bool done);

#endif
