/* cmd_report.c - `pve-gpu-passthrough report [-o FILE]`: one file holding what list, check
 * and the hookscript read on this host, redacted, for a bug report; the file is a fake host
 * tree spec that replays unchanged (common/report_capture.h). Reads only.
 *
 * Unlike the other verbs' FILE arguments, -o FILE is not taken inside --sysroot: the root is
 * what the report describes, and writing into it would change it. An existing FILE is refused
 * unless --force; FILE is written atomically and made readable by its owner only.
 *
 * Exit status: 0 written, 1 the report could not be made or written, 64 bad command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "report_capture.h"
#include "util.h"

#define PROG "pve-gpu-passthrough"

static void usage(FILE *out)
{
	fprintf(out, "usage: " PROG " report [-o FILE [--force]]\n\n"
		     "Write what list, check and the hookscript read on this host, with private data\n"
		     "left out, to FILE (or standard output): attach it to a bug report.\n\n"
		     "  -o, --output FILE   write the report to FILE (never one that exists)\n"
		     "  -f, --force         replace FILE if it exists\n"
		     "  -h, --help          this text\n");
}

/* FILE in the caller's working directory (or "/" for an absolute name), never --sysroot:
 * with DATA NULL, 1 when it exists, else 0; with DATA, written. -errno on failure. */
static int write_out(const char *file, const char *data, size_t len)
{
	struct sysroot dir;
	int r;

	r = sr_open(&dir, file[0] == '/' ? "/" : ".");
	if (r < 0)
		return r;
	r = data ? sr_write_file_atomic(&dir, file, data, len, 0600) : sr_exists(&dir, file);
	sr_close(&dir);
	return r;
}

static int cmd_report(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct report_opts o = { .node = g->node, .version = PGP_VERSION };
	struct report_stats st = { 0 };
	const char *file = NULL;
	bool force = false;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	FILE *mem;
	int c, r;

	while ((c = getopt_long(argc, argv, "o:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			file = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("report", argv, opts);
		}
	}
	if (optind < argc) {
		return cli_unexpected_arg("report", argv[optind]);
	}
	if (file && !*file)
		return cli_usage_error("report", "empty file name after -o");
	if (force && !file)
		return cli_usage_error("report", "--force goes with -o FILE");
	/* asked before the capture, which takes a while; write_out replaces atomically */
	if (file && !force && write_out(file, NULL, 0) == 1) {
		cli_err("report", "'%s' exists; use another name, or --force to replace it", file);
		return CLI_EXIT_FAIL;
	}
	mem = open_memstream(&data, &len);
	if (!mem) {
		fprintf(stderr, PROG " report: cannot make the report: %s\n", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	r = report_write(&g->root, &o, mem, &st);
	if (fclose(mem) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		fprintf(stderr, PROG " report: cannot make the report: %s\n", strerror(-r));
		return CLI_EXIT_FAIL;
	}
	if (file) {
		r = write_out(file, data, len);
		if (r < 0) {
			fprintf(stderr, PROG " report: cannot write '%s': %s\n", file, strerror(-r));
			return CLI_EXIT_FAIL;
		}
		fprintf(stderr, "wrote '%s': %d files, %d links, %d directories, %d modules, "
				"%d VM configs\n", file, st.files, st.links, st.dirs, st.modules, st.vms);
	} else if (fwrite(data, 1, len, stdout) != len) {
		fprintf(stderr, PROG " report: write error on stdout\n");
		return CLI_EXIT_FAIL;
	}
	if (st.skipped)
		fprintf(stderr, PROG " report: warning: %d path%s with blanks in %s left out\n", st.skipped,
			st.skipped == 1 ? "" : "s", st.skipped == 1 ? "its name" : "their names");
	return CLI_EXIT_OK;
}

CLI_COMMAND(report, "report", cmd_report, "[-o FILE]", "a host snapshot for bug reports");
