/* spawn.h - the one way to run a program: a deadline, nothing of ours inherited, stdin from
 * /dev/null, its output captured within a bound or passed through, one error contract.
 * Callers decide whether a program may run at all (never below --sysroot). */
#ifndef PGP_SPAWN_H
#define PGP_SPAWN_H

#include <stdbool.h>
#include <stddef.h>

/* Where the program's stdout or stderr goes. */
enum spawn_fd {
	SPAWN_NULL,    /* /dev/null */
	SPAWN_INHERIT, /* this process's own fd 1 or 2 */
	SPAWN_CAPTURE, /* into the caller's buffer (both streams into the same one, unless stderr
			* has its own: errbuf) */
};

#define SPAWN_NO_DEADLINE (~0UL)

struct spawn_cmd {
	const char *const *argv;  /* argv[0]: an absolute path, or a name looked up in PATH */
	const char *const *envp;  /* the program's environment; NULL: this process's own */
	unsigned long timeout_ms; /* the deadline, from the start; 0 is refused (-EINVAL);
				   * SPAWN_NO_DEADLINE: none (a VM's own hookscript, which
				   * Proxmox runs without one) */
	enum spawn_fd out, err;
	char *buf;       /* SPAWN_CAPTURE: the output, NUL-terminated, at most BUFSIZE - 1 bytes */
	size_t bufsize;
	bool keep_tail;  /* a longer output keeps its last bytes instead of its first */
	char *errbuf;    /* err = SPAWN_CAPTURE with an ERRBUF: stderr into it alone (not into
			  * BUF), NUL-terminated, its first ERRBUFSIZE - 1 bytes */
	size_t errbufsize;
};

struct spawn_result {
	int exit_status; /* 0..255 when it exited, -1 otherwise */
	int signal;      /* the signal that ended it, 0 when it exited */
	bool truncated;  /* the capture dropped bytes */
};

/* Runs CMD and waits for it until its deadline. Returns its exit status (0..255), 128 + N
 * when signal N ended it (as a shell's $?), or -errno: -ENOENT (not found), -EACCES and the
 * like (exec failed), -ETIMEDOUT (the deadline passed: its process group was killed and
 * reaped), -EINVAL (a bad CMD). RES (optional) gets the details. Output past the buffer is
 * read and dropped, so the program never blocks on a full pipe. */
int spawn_run(const struct spawn_cmd *cmd, struct spawn_result *res);

#endif
