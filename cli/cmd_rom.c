/* cmd_rom.c - `pve-gpu-passthrough rom dump|check|patch`: read a GPU's vBIOS through sysfs,
 * judge a ROM file (does OVMF get an x64 EFI image, is it for this card), and strip the vendor
 * header in front of the first image into a new file.
 *
 * FILE arguments are opened through the sysroot like everything else: with the real root a
 * relative name is taken from the working directory; under --sysroot (tests) it is taken
 * inside that root. ROM data is hostile input and is only handled by common/dev_rom.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "pciaddr.h"
#include "pci_db.h"
#include "pci_dev.h"
#include "dev_rom.h"
#include "dev_vfct.h"
#include "util.h"
#include "sysfs.h"

/* Exit codes of the rom verbs, from exitcode.h (see man/verb-rom.8.part). */
enum {
	ROM_EXIT_OK = PGP_EXIT_OK,           /* check: valid and OVMF can use it; dump/patch: done,
					      * valid */
	ROM_EXIT_WARN = PGP_EXIT_FAILURE,    /* check: valid, but no x64 EFI image or ids
					      * mismatch; dump/patch: failed or refused */
	ROM_EXIT_INVALID = PGP_EXIT_PROBLEM, /* check: invalid; dump: data saved but invalid;
					      * patch: no valid image chain in FILE */
	ROM_EXIT_UNREADABLE = PGP_EXIT_UNEXAMINED, /* check: the file or device cannot be read */
};

#define PROG "pve-gpu-passthrough"

static void usage(FILE *out)
{
	fprintf(out, "usage: " PROG " rom dump ADDR [-o FILE] [--force]\n"
		     "   or: " PROG " rom dump --vfct ADDR [-o FILE]\n"
		     "   or: " PROG " rom check FILE [--device ADDR] [--json]\n"
		     "   or: " PROG " rom patch FILE -o OUT\n\n"
		     "dump    read the vBIOS of the card at ADDR (enabled for the read, then disabled)\n"
		     "  --vfct              take it from the ACPI VFCT table instead (AMD APUs)\n"
		     "  -o, --output FILE   write it to FILE (never replaced; default: stdout, not a tty)\n"
		     "  -f, --force         dump also while a host driver is bound to the card\n"
		     "check   walk FILE's images and say whether OVMF can use it\n"
		     "  -d, --device ADDR   also compare its ids with the card at ADDR\n"
		     "  -j, --json          machine-readable output\n"
		     "patch   strip a vendor header from FILE into a new file\n"
		     "  -o, --output OUT    the new file (required; FILE is never changed)\n"
		     "  -h, --help          this text\n");
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return cli_usage_error("rom", "%s", buf);
}

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG " rom: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A user-given file name as a path below the root (see the comment at the top). */
static int user_path(const struct cli_globals *g, const char *in, char out[SR_PATH_MAX])
{
	char cwd[SR_PATH_MAX];

	if (!*in)
		return -EINVAL;
	if (in[0] == '/' || !sr_is_host(&g->root))
		return sr_path(out, "%s", in);
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	return sr_path(out, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, in);
}

/* Accepts "01:00.0" or "0000:01:00.0" (function .0 when omitted); canonical form out. */
static int parse_addr(const char *s, char out[PCI_ADDR_LEN])
{
	struct pci_addr a;
	bool has_func;
	int r;

	r = pci_addr_parse_loose(s, &a, &has_func);
	if (r < 0)
		return r;
	pci_addr_fmt(&a, out);
	return 0;
}

/* ---- text and JSON reports ---- */

static void print_image(FILE *out, unsigned i, const struct rom_image *img)
{
	fprintf(out, "image %u at 0x%zx: %s (type %u), %04x:%04x, class %06x, revision %u, "
		     "%zu bytes", i, img->offset, rom_code_type_str(img->code_type),
		img->code_type, img->vendor, img->device, img->class_code, img->code_revision,
		img->length);
	if (img->checksum_checked)
		fprintf(out, ", checksum %s", img->checksum_ok ? "ok" : "bad");
	if (img->code_type == ROM_CODE_EFI && !img->efi_ok)
		fprintf(out, ", bad EFI header (signature 0x%x)", img->efi_signature);
	else if (img->code_type == ROM_CODE_EFI)
		fprintf(out, ", EFI %s %s (machine 0x%04x, subsystem %u)%s",
			rom_efi_machine_str(img->efi_machine),
			rom_efi_subsystem_str(img->efi_subsystem), img->efi_machine,
			img->efi_subsystem, img->efi_compression ? ", compressed" : "");
	fprintf(out, "%s\n", img->last ? ", last" : "");
}

static void print_verdict(FILE *out, const struct rom_info *info)
{
	const struct rom_image *img;
	int i;

	switch (rom_verdict(info)) {
	case ROM_INVALID:
		fprintf(out, "verdict: invalid: ");
		if (info->error_image >= 0)
			fprintf(out, "image %d: ", info->error_image);
		fprintf(out, "%s (at 0x%zx)\n", rom_error_str(info->error), info->error_offset);
		break;
	case ROM_VALID_NO_EFI:
		fprintf(out, "verdict: valid, but no x64 EFI image: OVMF (UEFI) VMs cannot use "
			     "this ROM to initialise the card\n");
		break;
	case ROM_VALID_OVMF:
		i = rom_find_ovmf_image(info);
		img = &info->images[i];
		fprintf(out, "verdict: valid, OVMF can use image %d (x64 EFI %s)\n", i,
			rom_efi_subsystem_str(img->efi_subsystem));
		if (rom_is_gop_driver(info))
			fprintf(out, "kind: a GOP driver ROM (UEFI display driver, no legacy video "
				     "BIOS): for an AMD APU it goes on the GPU's audio function, next "
				     "to the VFCT image on the GPU\n");
		break;
	}
}

static void print_report(FILE *out, const char *name, const uint8_t *buf,
			 const struct rom_info *info)
{
	size_t start;

	fprintf(out, "'%s': %zu bytes, %u image%s\n", name, info->size, info->n_images,
		info->n_images == 1 ? "" : "s");
	for (unsigned i = 0; i < info->n_images; i++)
		print_image(out, i, &info->images[i]);
	if (info->no_last_flag)
		fprintf(out, "note: the chain ends at 0x%zx without an image marked last\n",
			info->end);
	if (info->error == ROM_OK && info->end < info->size)
		fprintf(out, "%zu bytes follow the last image\n", info->size - info->end);
	print_verdict(out, info);
	if (info->error != ROM_OK && rom_find_start(buf, info->size, &start) == 0 && start > 0)
		fprintf(out, "hint: a valid display ROM starts at 0x%zx after a %zu-byte header; "
			     "strip it with '" PROG " rom patch FILE -o OUT'\n", start, start);
}

static void json_image(FILE *out, const struct rom_image *img)
{
	fprintf(out, "{\"offset\":%zu,\"length\":%zu,\"code_type\":%u,\"code_type_name\":",
		img->offset, img->length, img->code_type);
	json_str(out, rom_code_type_str(img->code_type));
	fprintf(out, ",\"vendor\":\"%04x\",\"device\":\"%04x\",\"device_list\":[", img->vendor,
		img->device);
	for (unsigned i = 0; i < img->n_device_list; i++)
		fprintf(out, "%s\"%04x\"", i ? "," : "", img->device_list[i]);
	fprintf(out, "],\"class\":\"%06x\",\"revision\":%u,\"pcir_revision\":%u,\"last\":%s,"
		     "\"checksum\":%s,\"efi\":", img->class_code, img->code_revision,
		img->pcir_revision, img->last ? "true" : "false",
		!img->checksum_checked ? "null" : img->checksum_ok ? "\"ok\"" : "\"bad\"");
	if (img->code_type != ROM_CODE_EFI) {
		fprintf(out, "null}");
		return;
	}
	fprintf(out, "{\"header_ok\":%s,\"signature\":%u,\"subsystem\":%u,\"subsystem_name\":",
		img->efi_ok ? "true" : "false", img->efi_signature, img->efi_subsystem);
	json_str(out, rom_efi_subsystem_str(img->efi_subsystem));
	fprintf(out, ",\"machine\":%u,\"machine_name\":", img->efi_machine);
	json_str(out, rom_efi_machine_str(img->efi_machine));
	fprintf(out, ",\"compressed\":%s,\"ovmf_usable\":%s}}",
		img->efi_compression ? "true" : "false",
		rom_image_ovmf_usable(img) ? "true" : "false");
}

static const char *verdict_name(enum rom_verdict v)
{
	return v == ROM_VALID_OVMF ? "ovmf" : v == ROM_VALID_NO_EFI ? "no-efi" : "invalid";
}

/* DEV is NULL without --device; GPU names the display of DEV's card a GOP driver ROM is for
 * ("" when none, see gop_card_gpu). */
static void print_json(FILE *out, const char *name, const struct rom_info *info,
		       const struct pci_dev_info *dev, const char *gpu)
{
	enum rom_verdict v = rom_verdict(info);

	fprintf(out, "{\"file\":");
	json_str(out, name);
	fprintf(out, ",\"size\":%zu,\"verdict\":\"%s\",\"valid\":%s,\"ovmf_usable\":%s,\"error\":",
		info->size, verdict_name(v), v != ROM_INVALID ? "true" : "false",
		v == ROM_VALID_OVMF ? "true" : "false");
	if (info->error == ROM_OK) {
		fprintf(out, "null");
	} else {
		json_str(out, rom_error_str(info->error));
		fprintf(out, ",\"error_offset\":%zu,\"error_image\":%d", info->error_offset,
			info->error_image);
	}
	if (dev) {
		fprintf(out, ",\"device\":{\"address\":\"%s\",\"vendor\":\"%04x\",\"device\":\"%04x\","
			     "\"match\":%s,\"gop_driver_of\":", dev->name, dev->vendor, dev->device,
			rom_matches_ids(info, dev->vendor, dev->device) || gpu[0] ? "true" : "false");
		json_str(out, gpu[0] ? gpu : NULL);
		fputc('}', out);
	}
	fprintf(out, ",\"images\":[");
	for (unsigned i = 0; i < info->n_images; i++) {
		if (i)
			fputc(',', out);
		json_image(out, &info->images[i]);
	}
	fprintf(out, "]}\n");
}

/* ---- rom check ---- */

static int load_file(const struct cli_globals *g, const char *name, uint8_t **buf, size_t *len)
{
	char path[SR_PATH_MAX];
	int r;

	r = user_path(g, name, path);
	if (r == 0)
		r = rom_load(&g->root, path, buf, len);
	if (r == -EFBIG)
		err("cannot read '%s': larger than %u MiB, not a ROM", name, ROM_MAX_SIZE >> 20);
	else if (r < 0)
		err("cannot read '%s': %s", name, sr_strerror(r));
	return r;
}

static int check_device_ids(const struct cli_globals *g, const char *addr,
			    struct pci_dev_info *dev)
{
	char name[PCI_ADDR_LEN];
	int r;

	r = parse_addr(addr, name);
	if (r < 0) {
		err("invalid PCI address '%s'", addr);
		return r;
	}
	r = pcidev_read(&g->root, name, dev);
	if (r == -ENOENT)
		err("no PCI device '%s'", name);
	else if (r < 0)
		err("cannot read the ids of '%s': %s", name, strerror(-r));
	return r;
}

/* For a GOP driver ROM checked against a function that is not a display (the audio function
 * the APU recipe puts it on): the display function of the same card whose ids it carries, or
 * "" (NAME has PCI_ADDR_LEN bytes). */
static void gop_card_gpu(const struct cli_globals *g, const struct rom_info *info,
			 const struct pci_dev_info *dev, char *name)
{
	struct pcidb *db = NULL;

	name[0] = '\0';
	if (rom_verdict(info) == ROM_INVALID || !rom_is_gop_driver(info) || pcidev_is_display(dev) ||
	    pcidb_load(&g->root, &db) < 0)
		return;
	for (int i = 0; i < db->ndev && !name[0]; i++) {
		const struct pci_dev_info *o = &db->dev[i];

		if (pcidev_is_display(o) && rom_matches_ids(info, o->vendor, o->device) &&
		    pcidb_same_card(db, o, dev))
			snprintf(name, PCI_ADDR_LEN, "%s", o->name);
	}
	pcidb_free(db);
}

static int check_exit(const struct rom_info *info, const struct pci_dev_info *dev,
		      const char *gpu, bool json)
{
	enum rom_verdict v = rom_verdict(info);
	bool match = !dev || rom_matches_ids(info, dev->vendor, dev->device) || gpu[0];

	if (dev && !json && v != ROM_INVALID && gpu[0])
		printf("device %s is %04x:%04x: the ROM is the GOP driver of %s, the GPU of the same "
		       "card: it belongs on this function's romfile (the AMD APU recipe)\n",
		       dev->name, dev->vendor, dev->device, gpu);
	else if (dev && !json && v != ROM_INVALID)
		printf("device %s is %04x:%04x: %s\n", dev->name, dev->vendor, dev->device,
		       match ? "the ROM's ids match" : "the ROM is for another device");
	if (v == ROM_INVALID)
		return ROM_EXIT_INVALID;
	return v == ROM_VALID_OVMF && match ? ROM_EXIT_OK : ROM_EXIT_WARN;
}

static int rom_check(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *device = NULL;
	char gpu[PCI_ADDR_LEN] = "";
	struct pci_dev_info dev;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ struct rom_info *info = NULL;
	bool json = false;
	size_t len = 0;
	int c;

	while ((c = getopt_long(argc, argv, "d:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			device = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("rom check", argv, opts);
		}
	}
	if (optind >= argc)
		return bad_usage("check: expected a FILE");
	if (argc - optind > 1)
		return bad_usage("check: unexpected argument '%s'", argv[optind + 1]);
	if (device && check_device_ids(g, device, &dev) < 0)
		return ROM_EXIT_UNREADABLE;
	if (load_file(g, argv[optind], &buf, &len) < 0)
		return ROM_EXIT_UNREADABLE;
	info = malloc(sizeof(*info));
	if (!info) {
		err("out of memory");
		return ROM_EXIT_UNREADABLE;
	}
	rom_parse(buf, len, info);
	if (device && !rom_matches_ids(info, dev.vendor, dev.device))
		gop_card_gpu(g, info, &dev, gpu);
	if (json)
		print_json(stdout, argv[optind], info, device ? &dev : NULL, gpu);
	else
		print_report(stdout, argv[optind], buf, info);
	return check_exit(info, device ? &dev : NULL, gpu, json);
}

/* ---- rom patch ---- */

static int patch_write(const struct cli_globals *g, const char *out_name, const char *out_path,
		       const uint8_t *buf, size_t len)
{
	_cleanup_free_ uint8_t *back = NULL;
	_cleanup_free_ struct rom_info *info = NULL;
	size_t back_len = 0;
	int r;

	r = rom_save(&g->root, out_path, buf, len);
	if (r == -EEXIST) {
		err("'%s' already exists; refusing to overwrite it", out_name);
		return ROM_EXIT_WARN;
	}
	if (r < 0) {
		err("cannot write '%s': %s", out_name, strerror(-r));
		return ROM_EXIT_WARN;
	}
	/* Judge what reached the disk, not what we meant to write. */
	info = malloc(sizeof(*info));
	if (!info || load_file(g, out_name, &back, &back_len) < 0 ||
	    rom_parse(back, back_len, info) < 0) {
		err("'%s' does not validate after writing; removed it", out_name);
		sr_unlink(&g->root, out_path);
		return ROM_EXIT_INVALID;
	}
	print_report(stdout, out_name, back, info);
	return ROM_EXIT_OK;
}

static int rom_patch(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char in_path[SR_PATH_MAX], out_path[SR_PATH_MAX];
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ struct rom_info *info = NULL;
	const char *out = NULL, *in;
	size_t len = 0, start;
	int c, r;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("rom patch", argv, opts);
		}
	}
	if (optind >= argc)
		return bad_usage("patch: expected a FILE");
	if (argc - optind > 1)
		return bad_usage("patch: unexpected argument '%s'", argv[optind + 1]);
	if (!out)
		return bad_usage("patch: -o OUT is required (the input is never changed)");
	in = argv[optind];
	if (user_path(g, in, in_path) < 0 || user_path(g, out, out_path) < 0)
		return bad_usage("patch: invalid file name");
	if (strcmp(in_path, out_path) == 0) {
		err("'%s' is the input file; rom patch never writes in place", out);
		return ROM_EXIT_WARN;
	}
	if (load_file(g, in, &buf, &len) < 0)
		return ROM_EXIT_INVALID;
	info = malloc(sizeof(*info));
	if (!info) {
		err("out of memory");
		return ROM_EXIT_WARN;
	}
	if (rom_parse(buf, len, info) == 0) {
		err("'%s' already starts with a valid ROM image; nothing to strip, use it as it is",
		    in);
		return ROM_EXIT_WARN;
	}
	r = rom_find_start(buf, len, &start);
	if (r < 0) {
		err("no valid display ROM image in '%s'; refusing to patch", in);
		return ROM_EXIT_INVALID;
	}
	printf("stripping a %zu-byte header: the display ROM starts at 0x%zx\n", start, start);
	return patch_write(g, out, out_path, buf + start, len - start);
}

/* ---- rom dump ---- */

/* Who owns the device: only an unbound device or vfio-pci is safe to read from. */
static int dump_allowed(const struct pci_dev_info *dev, bool force)
{
	if (!dev->driver[0] || strcmp(dev->driver, "vfio-pci") == 0)
		return 0;
	if (force) {
		fprintf(stderr, PROG " rom dump: warning: '%s' is bound to '%s'; dumping anyway "
				"(--force)\n", dev->name, dev->driver);
		return 0;
	}
	err("'%s' is bound to '%s', a host driver; bind it to vfio-pci (or unbind it) first, or "
	    "pass --force", dev->name, dev->driver);
	return -EBUSY;
}

static void dump_explain(const struct cli_globals *g, const struct pci_dev_info *dev, int r)
{
	if (r == -ENOENT) {
		if (dev->vendor == 0x1002 && sr_exists(&g->root, VFCT_PATH))
			err("'%s' has no 'rom' attribute in sysfs: the device exposes no option ROM; an "
			    "AMD APU's video BIOS is in the ACPI VFCT table: " PROG " rom dump --vfct %s -o FILE",
			    dev->name, dev->name);
		else
			err("'%s' has no 'rom' attribute in sysfs: the device exposes no option ROM "
			    "(integrated GPUs keep their vBIOS in the system firmware)", dev->name);
		return;
	}
	/* the ROM often reads only before a driver has run it; the boot GPU may show a shadow
	 * copy or nothing */
	if (r == -ENODATA || r == -EIO)
		err("the ROM of '%s' %s (it often reads only before a driver has run it); have the "
		    "card bound to vfio-pci early at boot, reboot and dump again (booting with CSM "
		    "enabled can help too)", dev->name,
		    r == -ENODATA ? "reads empty" : "cannot be read: Input/output error");
	else
		err("cannot read the ROM of '%s': %s", dev->name, strerror(-r));
}

static int dump_save(const struct cli_globals *g, const char *out, const uint8_t *buf,
		     size_t len)
{
	char path[SR_PATH_MAX];
	int r;

	if (!out) {
		r = sr_write_fd_all(STDOUT_FILENO, buf, len);
		if (r < 0)
			err("cannot write the ROM to stdout: %s", strerror(-r));
		return r;
	}
	r = user_path(g, out, path);
	if (r == 0)
		r = rom_save(&g->root, path, buf, len);
	if (r == -EEXIST)
		err("'%s' already exists; refusing to overwrite it", out);
	else if (r < 0)
		err("cannot write '%s': %s", out, strerror(-r));
	return r;
}

/* The image the firmware published for DEV in the ACPI VFCT table (AMD APUs: their GPU has no
 * ROM BAR), taken by the kernel's own rules (dev_vfct.h). 0 with *ret_buf set, or -errno after
 * the error was printed. */
static int vfct_image(const struct cli_globals *g, const struct pci_dev_info *dev,
		      uint8_t **ret_buf, size_t *ret_len)
{
	_cleanup_free_ uint8_t *table = NULL;
	_cleanup_free_ struct vfct_info *info = NULL;
	const struct vfct_entry *e;
	size_t len = 0;
	int r, i;

	r = rom_load(&g->root, VFCT_PATH, &table, &len);
	if (r == -ENOENT) {
		err("no ACPI VFCT table ('%s'): the firmware publishes no video BIOS there; only AMD "
		    "APUs (and some laptops' GPUs) have one, a card with a ROM BAR is read with '"
		    PROG " rom dump ADDR'", VFCT_PATH);
		return r;
	}
	if (r < 0) {
		err("cannot read '%s': %s", VFCT_PATH, sr_strerror(r));
		return r;
	}
	info = malloc(sizeof(*info));
	if (!info) {
		err("out of memory");
		return -ENOMEM;
	}
	r = vfct_parse(table, len, info);
	if (r < 0 && info->error != VFCT_ERR_IMAGE && info->error != VFCT_ERR_ENTRY_HEADER &&
	    info->error != VFCT_ERR_TOO_MANY) {
		err("'%s' is not a valid VFCT table: %s", VFCT_PATH, vfct_error_str(info->error));
		return r;
	}
	i = vfct_find(info, &dev->addr, dev->vendor, dev->device);
	if (i < 0) {
		/* the kernel stops at a broken entry too: what follows it is never used */
		if (r < 0)
			err("'%s' is broken at 0x%zx (%s) before an image for '%s' [%04x:%04x]",
			    VFCT_PATH, info->error_offset, vfct_error_str(info->error), dev->name,
			    dev->vendor, dev->device);
		else
			err("'%s' holds no image for '%s' [%04x:%04x]", VFCT_PATH, dev->name,
			    dev->vendor, dev->device);
		for (unsigned k = 0; k < info->n; k++)
			if (info->e[k].length)
				fprintf(stderr, PROG " rom dump: note: it holds one for %02x:%02x.%x [%04x:%04x], "
						"%zu bytes\n", info->e[k].bus & 0xff,
					info->e[k].device & 0x1f, info->e[k].function & 7,
					info->e[k].vendor, info->e[k].device_id, info->e[k].length);
		return -ENOENT;
	}
	e = &info->e[i];
	if (!e->atom) {
		err("the VFCT image for '%s' fails the kernel's ATOM BIOS check; amdgpu does not use it "
		    "either", dev->name);
		return -EBADMSG;
	}
	*ret_buf = malloc(e->length);
	if (!*ret_buf) {
		err("out of memory");
		return -ENOMEM;
	}
	memcpy(*ret_buf, table + e->offset, e->length);
	*ret_len = e->length;
	return 0;
}

static int rom_dump(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "vfct", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char name[PCI_ADDR_LEN], rom_path[SR_PATH_MAX], out_path[SR_PATH_MAX];
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ struct rom_info *info = NULL;
	const char *out = NULL;
	struct pci_dev_info dev;
	bool force = false, vfct = false;
	size_t len = 0;
	int c, r, restore = 0;
	FILE *msg;

	while ((c = getopt_long(argc, argv, "o:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'V':
			vfct = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_bad_option("rom dump", argv, opts);
		}
	}
	if (optind >= argc)
		return bad_usage("dump: expected a PCI address (ADDR)");
	if (argc - optind > 1)
		return bad_usage("dump: unexpected argument '%s'", argv[optind + 1]);
	if (parse_addr(argv[optind], name) < 0)
		return bad_usage("dump: invalid PCI address '%s'", argv[optind]);
	if (!out && isatty(STDOUT_FILENO))
		return bad_usage("dump: refusing to write a binary ROM to a terminal; use -o FILE");
	if ((r = cli_need_root(g, "rom dump"))) /* it enables the card's ROM */
		return r;
	msg = out ? stdout : stderr;
	/* rom_save() refuses too; asking first spares an enable/read/disable cycle. */
	if (out && (user_path(g, out, out_path) < 0 || sr_exists(&g->root, out_path))) {
		err("'%s' already exists or is not a valid name; refusing to overwrite it", out);
		return ROM_EXIT_WARN;
	}
	r = pcidev_read(&g->root, name, &dev);
	if (r < 0) {
		if (r == -ENOENT)
			err("no PCI device '%s'", name);
		else
			err("cannot read '%s': %s", name, strerror(-r));
		return ROM_EXIT_WARN;
	}
	if (vfct) {
		/* a table in memory: the device and its driver are not touched */
		if (vfct_image(g, &dev, &buf, &len) < 0)
			return ROM_EXIT_WARN;
	} else {
		if (dump_allowed(&dev, force) < 0)
			return ROM_EXIT_WARN;
		if (dev.boot_vga == 1)
			fprintf(stderr, PROG " rom dump: note: '%s' is the boot VGA device: the kernel "
					"may return the copy the firmware left in memory, not the card's "
					"flash\n", name);
		r = rom_sysfs_dump(&g->root, name, &buf, &len, &restore);
		if (restore < 0 && sysfs_pci_dev(rom_path, name, "rom") == 0)
			err("cannot disable the ROM again (write 0 to '%s'): %s", rom_path,
			    strerror(-restore));
		if (r < 0) {
			dump_explain(g, &dev, r);
			return ROM_EXIT_WARN;
		}
	}
	if (dump_save(g, out, buf, len) < 0)
		return ROM_EXIT_WARN;
	fprintf(msg, "read %zu bytes from the %s of '%s'%s%s%s\n", len,
		vfct ? "ACPI VFCT image" : "ROM", name, out ? " into '" : "", out ? out : "",
		out ? "'" : "");
	info = malloc(sizeof(*info));
	if (!info) {
		err("out of memory");
		return ROM_EXIT_WARN;
	}
	rom_parse(buf, len, info);
	print_report(msg, out ? out : "(stdout)", buf, info);
	if (restore < 0)
		return ROM_EXIT_WARN;
	if (rom_verdict(info) != ROM_INVALID)
		return ROM_EXIT_OK;
	fprintf(stderr, PROG " rom dump: warning: the data read is not a valid ROM; it was kept for "
			"inspection\n");
	return ROM_EXIT_INVALID;
}

static int cmd_rom(struct cli_globals *g, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub)
		return bad_usage("expected a subcommand: dump, check or patch");
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	optind = 0;
	if (!strcmp(sub, "dump"))
		return rom_dump(g, argc - 1, argv + 1);
	if (!strcmp(sub, "check"))
		return rom_check(g, argc - 1, argv + 1);
	if (!strcmp(sub, "patch"))
		return rom_patch(g, argc - 1, argv + 1);
	return bad_usage("unknown subcommand '%s'", sub);
}

CLI_COMMAND(rom, "rom", cmd_rom, "dump|check|patch ...", "dump, check or patch a vBIOS ROM");
