/* parallel.c - see parallel.h. */
#define _GNU_SOURCE
#include "parallel.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread struct par_log *current;

struct par_log *par_log_current(void)
{
	return current;
}

void par_log_add(struct par_log *log, int level, const char *msg)
{
	size_t need = strlen(msg) + 2;

	if (log->len + need > log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 4096;
		char *t;

		while (cap < log->len + need)
			cap *= 2;
		t = realloc(log->text, cap);
		if (!t) {
			log->lost++;
			return;
		}
		log->text = t;
		log->cap = cap;
	}
	log->text[log->len] = (char)level;
	memcpy(log->text + log->len + 1, msg, need - 1);
	log->len += need;
}

void par_log_flush(struct par_log *log, void (*emit)(void *ud, int level, const char *msg),
		   void *ud, int lost_level)
{
	for (size_t off = 0; off < log->len;) {
		const char *msg = log->text + off + 1;

		emit(ud, (unsigned char)log->text[off], msg);
		off += strlen(msg) + 2;
	}
	if (log->lost) {
		char line[96];

		snprintf(line, sizeof(line), "(%u log line%s lost: out of memory)", log->lost,
			 log->lost == 1 ? "" : "s");
		emit(ud, lost_level, line);
	}
	free(log->text);
	memset(log, 0, sizeof(*log));
}

struct task {
	int (*fn)(void *ctx, int i);
	void *ctx;
	int i;
	struct par_log *log;
	int result;
	pthread_t thread;
	bool started;
};

static void *task_main(void *arg)
{
	struct task *t = arg;

	current = t->log;
	t->result = t->fn(t->ctx, t->i);
	current = NULL;
	return NULL;
}

void par_run(int n, int (*fn)(void *ctx, int i), void *ctx, struct par_log *logs, int *results,
	     void (*joined)(void *ctx, int i))
{
	struct task *t = calloc((size_t)(n > 0 ? n : 1), sizeof(*t));

	if (!t) { /* no memory for the bookkeeping: one after the other, in this thread */
		struct par_log *saved = current;

		for (int i = 0; i < n; i++) {
			current = &logs[i];
			results[i] = fn(ctx, i);
			current = saved;
			if (joined)
				joined(ctx, i);
		}
		return;
	}
	for (int i = 0; i < n; i++) {
		t[i] = (struct task){ .fn = fn, .ctx = ctx, .i = i, .log = &logs[i] };
		/* one task needs no thread; a thread that cannot be made runs its task below */
		t[i].started = n > 1 && pthread_create(&t[i].thread, NULL, task_main, &t[i]) == 0;
	}
	for (int i = 0; i < n; i++) {
		if (t[i].started)
			pthread_join(t[i].thread, NULL);
		else
			task_main(&t[i]);
		results[i] = t[i].result;
		if (joined)
			joined(ctx, i);
	}
	free(t);
}
