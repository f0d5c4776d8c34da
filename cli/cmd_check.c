/* cmd_check.c - `pve-gpu-passthrough check [--json] [VMID...]`: the host's passthrough
 * checklist (and, per VMID, the VM's), each check with a stable id, PASS / INFO / WARN / FAIL
 * and the fix for this host. The checks live in common/check_list.c; this file only renders them.
 *
 * Exit status: 0 when nothing is worse than INFO, 1 with warnings, 2 with failures; 64 for a
 * bad command line, 3 when the host cannot be examined at all.
 *
 * JSON (stable, "version": 1; keys may be added, none renamed or removed):
 *   { "version": 1,
 *     "host": { "cpu_vendor": "intel"|"amd"|"other", "cpu_vendor_id", "cpu_model",
 *               "kernel", "cmdline" (null: unreadable),
 *               "iommu": { "enabled", "groups", "unit", "acpi_table": "DMAR"|"IVRS"|null,
 *                          "interrupt_remapping": BOOL|null, "unsafe_interrupts": BOOL|null },
 *               "boot": { "loader": "grub"|"systemd-boot"|"unknown", "file", "line",
 *                         "variable", "refresh" } },
 *     "host_critical": [ { "address", "reason" } ],
 *     "devices": [ { "address", "vendor_id", "device_id", "class", "driver", "boot_vga",
 *                    "iommu_group" (null: none), "from_vm",
 *                    "group_members": [ { "address", "driver", "bridge", "same_card",
 *                                         "host_critical" (reason|null) } ],
 *                    "framebuffer": { "name", "start", "end", "bar" } | null,
 *                    "reset_method" (null: attribute absent), "reset" } ],
 *     "vms": [ { "vmid", "config" (BOOL: read and parsed), "devices": [ ADDRESS ] } ],
 *     "checks": [ { "id", "status": "pass"|"info"|"warn"|"fail", "subject" (null: host),
 *                   "message", "fix": [ LINE ] | null,
 *                   "edit": { "file", "line" (0: add), "old", "new" } | null,
 *                   "run": COMMAND | null } ],
 *     "cmdline_edit": { "file", "line", "old", "new", "run" } | null,
 *     "cluster": { "name" (null: none), "single", "nodes": [ { "name", "online" (null:
 *                  not said), "version" (null: publishes nothing), "snippets": [ VOLUME ] } ] }
 *                (only with --cluster),
 *     "summary": { "pass", "info", "warn", "fail" }, "exit": 0|1|2 }
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "check_list.h"
#include "cli.h"
#include "json.h"
#include "pve_cluster.h"
#include "pve_conf.h"
#include "util.h"

#define PROG "pve-gpu-passthrough"
#define CHECK_EXIT_ERROR PGP_EXIT_UNEXAMINED /* the host could not be examined */

static const char *const colors[] = { "\033[32m", "\033[36m", "\033[33m", "\033[1;31m" };
#define C_BOLD "\033[1m"
#define C_OFF "\033[0m"

static const char *nz(const char *s)
{
	return s && *s ? s : NULL;
}

static const char *jbool(bool b)
{
	return b ? "true" : "false";
}

/* "fix" as an array of its lines. */
static void json_lines(FILE *out, const char *text)
{
	if (!text) {
		fputs("null", out);
		return;
	}
	fputc('[', out);
	for (const char *p = text; p;) {
		const char *nl = strchr(p, '\n');
		char *line = strndup(p, nl ? (size_t)(nl - p) : strlen(p));

		if (p != text)
			fputc(',', out);
		json_str(out, line ? line : "");
		free(line);
		p = nl ? nl + 1 : NULL;
	}
	fputc(']', out);
}

static void json_host(FILE *out, const struct check_report *rep)
{
	const struct hostinfo *h = &rep->host;
	const struct host_boot *b = &rep->boot;

	fputs("\"host\":{\"cpu_vendor\":", out);
	json_str(out, h->cpu == CPU_INTEL ? "intel" : h->cpu == CPU_AMD ? "amd" : "other");
	fputs(",\"cpu_vendor_id\":", out);
	json_str(out, nz(h->cpu_vendor_id));
	fputs(",\"cpu_model\":", out);
	json_str(out, nz(h->cpu_model));
	fputs(",\"kernel\":", out);
	json_str(out, nz(h->release));
	fputs(",\"cmdline\":", out);
	json_str(out, h->cmdline_known ? h->cmdline : NULL);
	fprintf(out, ",\"iommu\":{\"enabled\":%s,\"groups\":%d,\"unit\":", jbool(h->iommu_groups > 0),
		h->iommu_groups);
	json_str(out, nz(h->iommu_unit));
	fputs(",\"acpi_table\":", out);
	json_str(out, h->dmar ? "DMAR" : h->ivrs ? "IVRS" : NULL);
	fprintf(out, ",\"interrupt_remapping\":%s,\"unsafe_interrupts\":%s}",
		h->intremap < 0 ? "null" : jbool(h->intremap == 1),
		h->unsafe_interrupts < 0 ? "null" : jbool(h->unsafe_interrupts == 1));
	fputs(",\"boot\":{\"loader\":", out);
	json_str(out, b->kind == BOOT_GRUB ? "grub" : b->kind == BOOT_SYSTEMD_BOOT ? "systemd-boot"
										: "unknown");
	fputs(",\"file\":", out);
	json_str(out, nz(b->file));
	fprintf(out, ",\"line\":%d,\"variable\":", b->line);
	json_str(out, nz(b->var));
	fputs(",\"refresh\":", out);
	json_str(out, nz(b->refresh));
	fputs("}}", out);
}

static void json_devices(FILE *out, const struct check_report *rep)
{
	fputs(",\"host_critical\":[", out);
	for (int i = 0; rep->hd && i < hostdev_count(rep->hd); i++) {
		fprintf(out, "%s{\"address\":", i ? "," : "");
		json_str(out, hostdev_device(rep->hd, i));
		fputs(",\"reason\":", out);
		json_str(out, hostdev_reason(rep->hd, i));
		fputc('}', out);
	}
	fputs("],\"devices\":[", out);
	for (int i = 0; i < rep->ndevs; i++) {
		const struct check_device *cd = &rep->devs[i];
		const struct pci_dev_info *d = cd->dev;

		fprintf(out, "%s{\"address\":\"%s\",\"vendor_id\":\"%04x\",\"device_id\":\"%04x\","
			     "\"class\":\"%06x\",\"driver\":",
			i ? "," : "", d->name, d->vendor, d->device, d->class);
		json_str(out, nz(d->driver));
		fprintf(out, ",\"boot_vga\":%s,\"iommu_group\":",
			d->boot_vga < 0 ? "null" : jbool(d->boot_vga == 1));
		if (d->iommu_group >= 0)
			fprintf(out, "%d", d->iommu_group);
		else
			fputs("null", out);
		fprintf(out, ",\"from_vm\":%s,\"group_members\":[", jbool(cd->from_vm));
		for (int j = 0; j < cd->nmembers; j++) {
			const struct check_member *m = &cd->members[j];

			fprintf(out, "%s{\"address\":\"%s\",\"driver\":", j ? "," : "", m->dev->name);
			json_str(out, nz(m->dev->driver));
			fprintf(out, ",\"bridge\":%s,\"same_card\":%s,\"host_critical\":",
				jbool(m->dev->is_bridge), jbool(m->companion));
			json_str(out, nz(m->critical));
			fputc('}', out);
		}
		fputs("],\"framebuffer\":", out);
		if (cd->fb) {
			fputs("{\"name\":", out);
			json_str(out, cd->fb->name);
			fprintf(out, ",\"start\":\"%#llx\",\"end\":\"%#llx\",\"bar\":%d}",
				(unsigned long long)cd->fb->start, (unsigned long long)cd->fb->end,
				cd->fb_bar);
		} else {
			fputs("null", out);
		}
		fputs(",\"reset_method\":", out);
		json_str(out, cd->has_reset_method ? cd->reset_method : NULL);
		fprintf(out, ",\"reset\":%s}", jbool(d->has_reset));
	}
	fputs("],\"vms\":[", out);
	for (int i = 0; i < rep->nvms; i++) {
		const struct check_vm *vm = &rep->vms[i];

		fprintf(out, "%s{\"vmid\":%d,\"config\":%s,\"devices\":[", i ? "," : "", vm->vmid,
			jbool(vm->loaded));
		for (int j = 0; j < vm->ndevs; j++)
			fprintf(out, "%s\"%s\"", j ? "," : "", vm->devs[j]);
		fputs("]}", out);
	}
	fputc(']', out);
}

/* check --cluster: the members and what each published. */
static void json_cluster(FILE *out, const struct pve_cluster *cl)
{
	fputs(",\"cluster\":{\"name\":", out);
	json_str(out, nz(cl->m.cluster));
	fprintf(out, ",\"single\":%s,\"nodes\":[", jbool(cl->single));
	for (int i = 0; i < cl->m.nnodes; i++) {
		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_str(out, cl->m.nodes[i].name);
		fprintf(out, ",\"online\":%s,\"version\":", cl->m.nodes[i].online < 0 ? "null"
			: jbool(cl->m.nodes[i].online == 1));
		json_str(out, cl->nodes[i].rc == 0 ? cl->nodes[i].pub.version : NULL);
		fputs(",\"snippets\":[", out);
		for (int k = 0; cl->nodes[i].rc == 0 && k < cl->nodes[i].pub.nsnippets; k++) {
			if (k)
				fputc(',', out);
			json_str(out, cl->nodes[i].pub.snippets[k]);
		}
		fputs("]}", out);
	}
	fputs("]}", out);
}

static void print_json(FILE *out, const struct check_report *rep)
{
	char line[2 * HI_CMDLINE_MAX];

	fputs("{\"version\":1,", out);
	json_host(out, rep);
	json_devices(out, rep);
	fputs(",\"checks\":[", out);
	for (int i = 0; i < rep->nres; i++) {
		const struct check_result *r = &rep->res[i];

		fprintf(out, "%s{\"id\":\"%s\",\"status\":\"%s\",\"subject\":", i ? "," : "", r->id,
			check_status_key(r->status));
		json_str(out, nz(r->subject));
		fputs(",\"message\":", out);
		json_str(out, r->message);
		fputs(",\"fix\":", out);
		json_lines(out, r->fix);
		fputs(",\"edit\":", out);
		if (r->edit_new) {
			fputs("{\"file\":", out);
			json_str(out, r->edit_file);
			fprintf(out, ",\"line\":%d,\"old\":", r->edit_line);
			json_str(out, r->edit_old);
			fputs(",\"new\":", out);
			json_str(out, r->edit_new);
			fputc('}', out);
		} else {
			fputs("null", out);
		}
		fputs(",\"run\":", out);
		json_str(out, r->run);
		fputc('}', out);
	}
	fputc(']', out);
	if (rep->cluster)
		json_cluster(out, rep->cluster);
	fputs(",\"cmdline_edit\":", out);
	if (checks_cmdline_edit(rep, line, sizeof(line)) == 1) {
		fputs("{\"file\":", out);
		json_str(out, rep->boot.file);
		fprintf(out, ",\"line\":%d,\"old\":", rep->boot.line);
		json_str(out, rep->boot.line ? rep->boot.text : "");
		fputs(",\"new\":", out);
		json_str(out, line);
		fputs(",\"run\":", out);
		json_str(out, rep->boot.refresh);
		fputc('}', out);
	} else {
		fputs("null", out);
	}
	fprintf(out, ",\"summary\":{\"pass\":%d,\"info\":%d,\"warn\":%d,\"fail\":%d},\"exit\":%d}\n",
		rep->counts[CHECK_PASS], rep->counts[CHECK_INFO], rep->counts[CHECK_WARN],
		rep->counts[CHECK_FAIL], checks_exit_code(rep));
}

static int count_words(const char *s)
{
	int n = 0;

	for (const char *p = s; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		n++;
		while (*p && *p != ' ')
			p++;
	}
	return n;
}

/* The width text output wraps at: PGP_COLUMNS when set (tests, or to force a width), else the
 * terminal's when stdout is one; 0 (never wrap) for a pipe or a file. */
static int text_width(void)
{
	const char *env = getenv("PGP_COLUMNS");
	struct winsize ws;

	if (env && *env)
		return atoi(env) >= 40 ? atoi(env) : 0;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
		return ws.ws_col;
	return 0;
}

/* Prints the LEN bytes of TEXT, whose first line starts at column COL, wrapped at spaces to WIDTH
 * (0: not wrapped) with every further line indented to column CONT. A word longer than a line
 * stays whole. */
static void put_wrapped(FILE *out, const char *text, int len, int col, int cont, int width)
{
	const char *p = text, *end = text + len;

	while (width && end - p > width - col) {
		const char *cut = p + (width - col);

		while (cut > p && *cut != ' ')
			cut--;
		if (cut == p) /* one long word: up to its end */
			for (cut = p + (width - col); cut < end && *cut != ' '; cut++)
				;
		if (cut >= end)
			break;
		fprintf(out, "%.*s\n%*s", (int)(cut - p), p, cont, "");
		p = cut + 1;
		col = cont;
	}
	fprintf(out, "%.*s\n", (int)(end - p), p);
}

static void print_text(FILE *out, const struct check_report *rep, bool color, bool quiet)
{
	const struct hostinfo *h = &rep->host;
	char line[2 * HI_CMDLINE_MAX], lline[2 * HI_CMDLINE_MAX];
	int idw = 0, width = text_width();

	if (!quiet)
		fprintf(out, "host: %s, kernel %s, boot loader %s\n\n",
		h->cpu_model[0] ? h->cpu_model : cpu_vendor_name(h->cpu),
		h->release[0] ? h->release : "unknown", boot_kind_name(rep->boot.kind));
	for (int i = 0; i < rep->nres; i++)
		if ((int)strlen(rep->res[i].id) > idw)
			idw = (int)strlen(rep->res[i].id);
	for (int i = 0; i < rep->nres; i++) {
		const struct check_result *r = &rep->res[i];
		int indent = 4 + 2 + idw + 2;

		if (quiet && r->status == CHECK_PASS)
			continue;
		char *text = NULL;

		fprintf(out, "%s%s%s  %-*s  ", color ? colors[r->status] : "",
			check_status_name(r->status), color ? C_OFF : "", idw, r->id);
		if (asprintf(&text, "%s%s%s", r->subject, r->subject[0] ? ": " : "", r->message) < 0)
			text = NULL;
		put_wrapped(out, text ? text : r->message, (int)strlen(text ? text : r->message),
			    indent, indent, width);
		free(text);
		/* an INFO line's text is a note, not a fix: nothing needs fixing */
		const char *head = r->status == CHECK_INFO ? "note: " : "fix: ";
		int hw = (int)strlen(head);
		for (const char *p = r->fix; p;) {
			const char *nl = strchr(p, '\n');
			int len = nl ? (int)(nl - p) : (int)strlen(p);

			fprintf(out, "%*s%-*s", indent, "", hw, p == r->fix ? head : "");
			/* an indented line is a file's line or a command: never broken */
			put_wrapped(out, p, len, indent + hw, indent + hw + 2, *p == ' ' ? 0 : width);
			p = nl ? nl + 1 : NULL;
		}
	}
	/* Several command line changes: one edit that makes them all. */
	if (count_words(rep->cmdline_add) + count_words(rep->cmdline_remove) > 1 &&
	    checks_cmdline_edit(rep, line, sizeof(line)) == 1 &&
	    !(rep->boot.line && !strcmp(line, rep->boot.text))) { /* the file has them all */
		fprintf(out, "\n%sall kernel command line changes at once%s: ", color ? C_BOLD : "",
			color ? C_OFF : "");
		if (rep->boot.line)
			fprintf(out, "edit '%s' line %d to read:\n", rep->boot.file, rep->boot.line);
		else
			fprintf(out, "add this line to '%s':\n", rep->boot.file);
		fprintf(out, "    %s\n", line);
		if (host_boot_edit_linux(&rep->boot, rep->cmdline_remove, lline, sizeof(lline)) == 1)
			fprintf(out, "and edit '%s' line %d (GRUB_CMDLINE_LINUX) to read:\n    %s\n",
				rep->boot.linux_file, rep->boot.linux_line, lline);
		fprintf(out, "then run: %s, and reboot\n", rep->boot.refresh);
		fprintf(out, "(or run: pve-gpu-passthrough setup%s, which makes them and runs %s)\n",
			strstr(rep->cmdline_add, "initcall_blacklist=") ? " --no-fb" : "",
			rep->boot.refresh);
	}
	if (quiet)
		return;
	fprintf(out, "\n%d passed, %d info, %d warning%s, %d failure%s\n", rep->counts[CHECK_PASS],
		rep->counts[CHECK_INFO], rep->counts[CHECK_WARN],
		rep->counts[CHECK_WARN] == 1 ? "" : "s", rep->counts[CHECK_FAIL],
		rep->counts[CHECK_FAIL] == 1 ? "" : "s");
}

static void usage(FILE *out)
{
	fprintf(out, "usage: " PROG " check [--quiet] [--json] [--cluster] [VMID...]\n\n"
		     "Check the host (and each VM given) for GPU passthrough; print the fix for every\n"
		     "problem. Exit status: 0 all passed (INFO lines are notes), 1 warnings (the VM\n"
		     "may start, but look at them), 2 failures.\n\n"
		     "  -q, --quiet  print only what did not pass (nothing when all passed)\n"
		     "  -j, --json   machine-readable output\n"
		     "  -c, --cluster  also every VM with our hookscript on every node of the\n"
		     "               cluster: nodes where it may run without the package, the\n"
		     "               snippet or an entry of its mappings; its backup jobs\n"
		     "  -h, --help   this text\n");
}

static int cmd_check(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "cluster", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct check_opts o = { .config = g->config, .node = g->node };
	_cleanup_free_ int *vmids = NULL;
	struct check_report *rep = NULL;
	bool json = false, quiet = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "jqch", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.cluster = true;
			break;
		case 'j':
			json = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("check", argv, opts);
		}
	}
	vmids = calloc((size_t)(argc - optind + 1), sizeof(*vmids));
	if (!vmids)
		return CHECK_EXIT_ERROR;
	for (int i = optind; i < argc; i++) {
		int v;

		if (pve_vmid_parse(argv[i], &v) < 0) {
			return cli_usage_error("check", "invalid VMID '%s' (a number from 100 to "
							"999999999)", argv[i]);
		}
		bool seen = false; /* `check 100 100` checks VM 100 once */

		for (int k = 0; k < o.nvmids; k++)
			seen = seen || vmids[k] == v;
		if (!seen)
			vmids[o.nvmids++] = v;
	}
	o.vmids = vmids;
	r = checks_run(&g->root, &o, &rep);
	if (r < 0) {
		fprintf(stderr, PROG " check: cannot examine the host: %s\n", strerror(-r));
		return CHECK_EXIT_ERROR;
	}
	if (json)
		print_json(stdout, rep);
	else
		print_text(stdout, rep, g->color, quiet);
	r = checks_exit_code(rep);
	checks_free(rep);
	return r;
}

CLI_COMMAND(check, "check", cmd_check, "[-q] [--json] [--cluster] [VMID...]", "check the host (and VMs) for passthrough");
