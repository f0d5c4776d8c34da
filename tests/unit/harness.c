/* harness.c - see harness.h. */
#define _GNU_SOURCE
#include "harness.h"

#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

extern const struct test_case __start_pgp_tests[], __stop_pgp_tests[];

static char tmpdir[256];

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stdout, "  %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	_exit(1);
}

const char *test_tmpdir(void)
{
	return tmpdir;
}

static const char *program;

const char *test_program(void)
{
	return program;
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	const char *suite = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int passed = 0, failed = 0;

	program = argv[0];

	for (const struct test_case *t = __start_pgp_tests; t < __stop_pgp_tests; t++) {
		int status;
		pid_t pid;

		if (only && strcmp(only, t->name) != 0)
			continue;
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/pgp-test-XXXXXX");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			return 2;
		}
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			t->fn();
			fflush(stdout);
			_exit(0);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0) {
			perror("fork");
			return 2;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("PASS %s.%s\n", suite, t->name);
			passed++;
		} else {
			printf("FAIL %s.%s%s\n", suite, t->name,
			       WIFSIGNALED(status) ? " (crashed)" : "");
			failed++;
		}
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "warning: cannot remove %s\n", tmpdir);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
