/* parallel.h - runs independent tasks at the same time (one thread each) and hands their
 * results back in a fixed order: the handoff moves each IOMMU group in its own thread, and
 * its log lines come out group by group, as if the groups had been done one after the other.
 *
 * Each task gets a log buffer (par_log) that stands in for the caller's log function while
 * the task runs in its thread; after the tasks are joined (in index order) the buffers are
 * replayed through that function, task 0 first. One task, or a thread that cannot be made,
 * runs in the calling thread. Library code: nothing is printed here. */
#ifndef PGP_PARALLEL_H
#define PGP_PARALLEL_H

#include <stddef.h>

/* The log lines of one task: (level, message) pairs kept in order. */
struct par_log {
	char *text; /* entries: one level byte, the message, a NUL */
	size_t len, cap;
	unsigned lost; /* lines that did not fit (out of memory) */
};

/* The buffer of the task running in this thread, NULL outside a task: a logging function
 * calls par_log_add when it is set instead of writing the line itself. */
struct par_log *par_log_current(void);
void par_log_add(struct par_log *log, int level, const char *msg);
/* Replays LOG through EMIT (lost lines as one last line at level LOST_LEVEL) and frees it. */
void par_log_flush(struct par_log *log, void (*emit)(void *ud, int level, const char *msg),
		   void *ud, int lost_level);

/* Runs FN(CTX, i) for i in 0..N-1 at the same time, each with LOGS[i] current, and joins
 * them in index order: JOINED(CTX, i) (may be NULL) runs in the calling thread as soon as
 * tasks 0..i are done (to replay their logs while the others still run). RESULTS[i] gets
 * each return value. */
void par_run(int n, int (*fn)(void *ctx, int i), void *ctx, struct par_log *logs, int *results,
	     void (*joined)(void *ctx, int i));

#endif
