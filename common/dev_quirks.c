/* dev_quirks.c - see dev_quirks.h. */
#define _GNU_SOURCE
#include "dev_quirks.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev_modload.h"
#include "sysfs.h"
#include "spawn.h"
#include "util.h"

/* ---- SR-IOV ------------------------------------------------------------------------------ */

static int read_int_attr(const struct sysroot *sr, const char *name, const char *attr, int *ret)
{
	char path[SR_PATH_MAX], buf[32];
	unsigned long v;
	int r;

	if ((r = sysfs_pci_dev(path, name, attr)) < 0)
		return r;
	if ((r = (int)sr_read_str(sr, path, buf, sizeof(buf))) < 0)
		return r;
	if (parse_ulong(buf, 10, 65535, &v) < 0)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

/* The PCI address a device link (physfn, virtfnN) points to: its last component. */
static int link_name(const struct sysroot *sr, const char *path, char out[PCI_ADDR_LEN])
{
	char target[SR_PATH_MAX];
	struct pci_addr a;
	const char *base;
	int r = sr_readlink(sr, path, target, sizeof(target));

	if (r < 0)
		return r;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (pci_addr_parse(base, &a) < 0)
		return -EINVAL;
	pci_addr_fmt(&a, out);
	return 0;
}

int quirks_sriov(const struct sysroot *sr, const char *name, struct sriov_info *ret)
{
	char path[SR_PATH_MAX];
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = sysfs_pci_dev(path, name, NULL)) < 0)
		return r;
	if (!sr_exists(sr, path))
		return -ENOENT;
	if (read_int_attr(sr, name, "sriov_totalvfs", &ret->totalvfs) < 0)
		ret->totalvfs = 0;
	if (ret->totalvfs > 0 && read_int_attr(sr, name, "sriov_numvfs", &ret->numvfs) < 0)
		ret->numvfs = 0;
	if (sysfs_pci_dev(path, name, "physfn") == 0 &&
	    link_name(sr, path, ret->pf) == 0)
		ret->is_vf = true;
	return 0;
}

int quirks_sriov_vfs(const struct sysroot *sr, const char *pf, char (*vfs)[PCI_ADDR_LEN], int max)
{
	char path[SR_PATH_MAX];
	struct sriov_info si;
	int n = 0, r;

	if ((r = quirks_sriov(sr, pf, &si)) < 0)
		return r;
	/* virtfn0..virtfnN-1: the kernel numbers them densely up to numvfs */
	for (int i = 0; i < si.totalvfs && n < max; i++) {
		char attr[24];

		snprintf(attr, sizeof(attr), "virtfn%d", i);
		if ((r = sysfs_pci_dev(path, pf, attr)) < 0)
			return r;
		if (link_name(sr, path, vfs[n]) == 0)
			n++;
	}
	return n;
}

const char *quirks_sriov_boot_param(const char *driver)
{
	/* i915-sriov-dkms and the xe driver take max_vfs (strongtz/i915-sriov-dkms README);
	 * without it sriov_totalvfs can read 0 or VFs are refused */
	if (!strcmp(driver, "i915"))
		return "i915.max_vfs=7 (i915-sriov-dkms)";
	if (!strcmp(driver, "xe"))
		return "xe.max_vfs=7";
	return NULL;
}

/* ---- AMD ------------------------------------------------------------------------------------ */

/* Ids from vendor-reset's src/device-db.h (gnif/vendor-reset 084881c, April 2024): every
 * device it handles. Its README's table gives the cards. */
static const struct amd_generation gen_polaris10 = { "Polaris 10", "RX 470/480/570/580/590",
						     AMD_RESET_VENDOR_RESET };
static const struct amd_generation gen_polaris11 = { "Polaris 11", "RX 460/560",
						     AMD_RESET_VENDOR_RESET };
static const struct amd_generation gen_polaris12 = { "Polaris 12", "RX 540/550",
						     AMD_RESET_VENDOR_RESET };
static const struct amd_generation gen_vega10 = { "Vega 10", "Vega 56/64/FE",
						  AMD_RESET_VENDOR_RESET };
static const struct amd_generation gen_vega20 = { "Vega 20", "Radeon VII, Instinct MI100",
						  AMD_RESET_VENDOR_RESET };
static const struct amd_generation gen_navi10 = { "Navi 10", "RX 5600 XT/5700/5700 XT",
						  AMD_RESET_VENDOR_RESET };
static const struct amd_generation gen_navi12 = { "Navi 12", "Pro 5600M", AMD_RESET_VENDOR_RESET };
static const struct amd_generation gen_navi14 = { "Navi 14", "RX 5300/5500 XT, Pro 5300",
						  AMD_RESET_VENDOR_RESET };
/* Later generations are not in vendor-reset's list. Navi 2x id blocks: the kernel's amdgpu
 * pciidlist (drivers/gpu/drm/amd/amdgpu/amdgpu_drv.c, Sienna Cichlid 73A0-73BF, Navy
 * Flounder 73C0-73DF, Dimgrey Cavefish 73E0-73FF, Beige Goby 7420-743F); Navi 3x has no id
 * table there (IP discovery), so its ids are pci.ids' named ones. */
static const struct amd_generation gen_navi21 = { "Navi 21", "RX 6800/6800 XT/6900 XT/6950 XT",
						  AMD_RESET_NOT_COVERED };
static const struct amd_generation gen_navi22 = { "Navi 22", "RX 6700/6700 XT/6750 XT",
						  AMD_RESET_NOT_COVERED };
static const struct amd_generation gen_navi23 = { "Navi 23", "RX 6600/6600 XT/6650 XT",
						  AMD_RESET_NOT_COVERED };
static const struct amd_generation gen_navi24 = { "Navi 24", "RX 6400/6500 XT",
						  AMD_RESET_NOT_COVERED };
static const struct amd_generation gen_navi31 = { "Navi 31", "RX 7900 XT/7900 XTX",
						  AMD_RESET_NOT_COVERED };
static const struct amd_generation gen_navi33 = { "Navi 33", "RX 7600 (mobile)",
						  AMD_RESET_NOT_COVERED };

static const struct {
	uint16_t first, last;
	const struct amd_generation *gen;
} amd_ids[] = {
	{ 0x67C0, 0x67C2, &gen_polaris10 }, { 0x67C4, 0x67C4, &gen_polaris10 },
	{ 0x67C7, 0x67CA, &gen_polaris10 }, { 0x67CC, 0x67CC, &gen_polaris10 },
	{ 0x67CF, 0x67D0, &gen_polaris10 }, { 0x67DF, 0x67DF, &gen_polaris10 },
	{ 0x6FDF, 0x6FDF, &gen_polaris10 },
	{ 0x67E0, 0x67E1, &gen_polaris11 }, { 0x67E3, 0x67E3, &gen_polaris11 },
	{ 0x67E7, 0x67E9, &gen_polaris11 }, { 0x67EB, 0x67EB, &gen_polaris11 },
	{ 0x67EF, 0x67EF, &gen_polaris11 }, { 0x67FF, 0x67FF, &gen_polaris11 },
	{ 0x6980, 0x6981, &gen_polaris12 }, { 0x6985, 0x6987, &gen_polaris12 },
	{ 0x6995, 0x6995, &gen_polaris12 }, { 0x6997, 0x6997, &gen_polaris12 },
	{ 0x699F, 0x699F, &gen_polaris12 },
	{ 0x6860, 0x6864, &gen_vega10 },    { 0x6867, 0x686F, &gen_vega10 },
	{ 0x687F, 0x687F, &gen_vega10 },
	{ 0x66A0, 0x66A4, &gen_vega20 },    { 0x66A7, 0x66A7, &gen_vega20 },
	{ 0x66AF, 0x66AF, &gen_vega20 },    { 0x738C, 0x738C, &gen_vega20 },
	{ 0x7310, 0x7310, &gen_navi10 },    { 0x7312, 0x7312, &gen_navi10 },
	{ 0x7318, 0x731B, &gen_navi10 },    { 0x731E, 0x731F, &gen_navi10 },
	{ 0x7360, 0x7360, &gen_navi12 },    { 0x7362, 0x7362, &gen_navi12 },
	{ 0x7340, 0x7341, &gen_navi14 },    { 0x7347, 0x7347, &gen_navi14 },
	{ 0x734F, 0x734F, &gen_navi14 },
	{ 0x73A0, 0x73BF, &gen_navi21 },    { 0x73C0, 0x73DF, &gen_navi22 },
	{ 0x73E0, 0x73FF, &gen_navi23 },    { 0x7420, 0x743F, &gen_navi24 },
	{ 0x744C, 0x744C, &gen_navi31 },    { 0x7480, 0x7480, &gen_navi33 },
	{ 0x7483, 0x7483, &gen_navi33 },
};

const struct amd_generation *quirks_amd_generation(uint16_t vendor, uint16_t device)
{
	if (vendor != 0x1002)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(amd_ids); i++)
		if (device >= amd_ids[i].first && device <= amd_ids[i].last)
			return amd_ids[i].gen;
	return NULL;
}

int quirks_secure_boot(const struct sysroot *sr)
{
	/* 4 bytes of attributes, then the value byte (UEFI spec, global variable SecureBoot) */
	char buf[16];
	ssize_t n = sr_read(sr, "/sys/firmware/efi/efivars/"
				"SecureBoot-8be4df61-93ca-11d2-aa0d-e0a5d8c9e0b4", buf, sizeof(buf));

	return n >= 5 && buf[4] == 1;
}

#define MODULE_SIG_MAGIC "~Module signature appended~\n"

/* 1 when the module file PATH ends with the kernel's signature marker, 0 when it does not,
 * -1 when it is compressed (the marker is inside). */
static int module_signed(const struct sysroot *sr, const char *path)
{
	char tail[sizeof(MODULE_SIG_MAGIC)];
	size_t len = sizeof(MODULE_SIG_MAGIC) - 1;
	struct stat st;
	int fd, r = 0;

	size_t plen = strlen(path);

	if (plen < 3 || strcmp(path + plen - 3, ".ko"))
		return -1;
	fd = sr_openat(sr, path, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (off_t)len &&
	    pread(fd, tail, len, st.st_size - (off_t)len) == (ssize_t)len)
		r = memcmp(tail, MODULE_SIG_MAGIC, len) == 0;
	close(fd);
	return r;
}

struct file_of {
	const char *dir; /* the modules directory as libkmod opens it */
	char *buf;
	size_t size;
	int found;
};

static int file_of(void *data, const char *name, const char *path)
{
	struct file_of *f = data;
	size_t dl = strlen(f->dir);

	if (!path)
		return 0; /* built in: no file */
	if (strncmp(path, f->dir, dl) || path[dl] != '/')
		return 0; /* not below the modules directory: not ours to read */
	f->found = snprintf(f->buf, f->size, "%s", path + dl) < (int)f->size ? 1 : -ENAMETOOLONG;
	return 1;
}

/* The module file of NAME for the root's running kernel, as a path below the root: 1 found,
 * -ENOENT none (or built in), -errno. */
static int module_file(const struct sysroot *sr, const char *name, char *buf, size_t size)
{
	char moddir[SR_PATH_MAX], rel[SR_PATH_MAX];
	struct file_of f = { .buf = rel, .size = sizeof(rel), .found = -ENOENT };
	struct kmod_ctx *ctx;
	const char *d;
	int r;

	r = modload_ctx_new(sr, NULL, NULL, MODLOAD_NO_CONFIG, &ctx);
	if (r < 0)
		return r;
	f.dir = modload_ctx_dirname(ctx);
	r = modload_lookup(ctx, name, file_of, &f);
	/* the root-relative modules directory: libkmod's with the root's directory cut off */
	d = f.dir;
	if (!sr->host && str_has_prefix(d, sr->dir))
		d += strlen(sr->dir);
	while (d > f.dir && *d != '/')
		d--; /* a root given with a trailing slash */
	if (r >= 0 && f.found == 1)
		r = snprintf(moddir, sizeof(moddir), "%s%s", d, rel) < (int)sizeof(moddir) &&
			    str_copy(buf, size, moddir) == 0 ? 1 : -ENAMETOOLONG;
	else if (r >= 0)
		r = f.found;
	modload_ctx_free(ctx);
	return r;
}

int quirks_vendor_reset(const struct sysroot *sr, struct vendor_reset_state *ret)
{
	char taint[32];
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->loaded = sr_exists(sr, "/sys/module/vendor_reset");
	if (ret->loaded && sr_read_str(sr, "/sys/module/vendor_reset/taint", taint,
				       sizeof(taint)) >= 0)
		ret->tainted = strchr(taint, 'E') != NULL;
	r = module_file(sr, "vendor-reset", ret->path, sizeof(ret->path));
	if (r < 0 && r != -ENOENT && r != -ENOSYS)
		return r;
	ret->file = r > 0;
	ret->file_signed = ret->file ? module_signed(sr, ret->path) : 0;
	return 0;
}

/* ---- reset_method -------------------------------------------------------------------------- */

/* The kernel's methods (drivers/pci/pci.c, pci_reset_fn_methods). */
static const char *const reset_methods[] = { "device_specific", "acpi", "flr", "af_flr",
					     "pm", "bus", "cxl_bus" };

bool quirks_reset_method_valid(const char *value)
{
	char buf[128], *save = NULL;
	bool seen[ARRAY_SIZE(reset_methods)] = { false };
	int n = 0;

	if (!strcmp(value, "default"))
		return true;
	if (str_copy(buf, sizeof(buf), value) < 0)
		return false;
	for (const char *c = value; *c; c++)
		if (*c != ' ' && *c != '_' && !islower((unsigned char)*c))
			return false;
	for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(reset_methods); i++)
			if (!strcmp(w, reset_methods[i]))
				break;
		if (i == ARRAY_SIZE(reset_methods) || seen[i])
			return false;
		seen[i] = true;
		n++;
	}
	return n > 0;
}

int quirks_reset_method_read(const struct sysroot *sr, const char *name, char *buf, size_t size)
{
	char path[SR_PATH_MAX];
	int r;

	if ((r = sysfs_pci_dev(path, name, "reset_method")) < 0)
		return r;
	r = (int)sr_read_str(sr, path, buf, size);
	return r < 0 ? r : 0;
}

int quirks_reset_method_write(const struct sysroot *sr, const char *name, const char *value)
{
	char path[SR_PATH_MAX], now[128];
	int r;

	if ((r = quirks_reset_method_read(sr, name, now, sizeof(now))) < 0)
		return r;
	if (!strcmp(now, value))
		return 0;
	if ((r = sysfs_pci_dev(path, name, "reset_method")) < 0)
		return r;
	/* an empty value switches reset off; the kernel takes a lone newline as empty */
	r = sr_write(sr, path, *value ? value : "\n");
	return r < 0 ? r : 1;
}

/* ---- NVIDIA -------------------------------------------------------------------------------- */

/* True when /proc/PID/cgroup places PID in the system unit nvidia-persistenced.service: only
 * systemd (root) puts a process there, whatever the process calls itself (a user's own
 * "systemctl --user" unit of that name sits below user.slice). Lines are
 * "HIERARCHY:CONTROLLERS:PATH": cgroup v2's "0::PATH", v1's "1:name=systemd:PATH". */
static bool in_daemon_unit(const struct sysroot *sr, unsigned long pid)
{
	static const char unit[] = "/system.slice/" QUIRKS_PERSISTENCED_UNIT;
	char path[SR_PATH_MAX], text[4096];
	const char *p = text;

	if (sr_path(path, "/proc/%lu/cgroup", pid) < 0 || sr_read(sr, path, text, sizeof(text)) < 0)
		return false;
	while (*p) {
		size_t n = strcspn(p, "\n");
		const char *end = p + n, *c1 = memchr(p, ':', n), *c2 = NULL;

		if (c1)
			c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
		if (c2 && (size_t)(end - c2 - 1) == sizeof(unit) - 1 &&
		    !strncmp(c2 + 1, unit, sizeof(unit) - 1))
			return true;
		p += n + (p[n] == '\n');
	}
	return false;
}

/* True when /proc/PID/exe is a program named nvidia-persistenced (" (deleted)" after the
 * package replaced it while it ran). */
static bool exe_is_daemon(const struct sysroot *sr, unsigned long pid)
{
	static const char deleted[] = " (deleted)";
	char path[SR_PATH_MAX], exe[SR_PATH_MAX];
	const char *base;
	size_t n;

	if (sr_path(path, "/proc/%lu/exe", pid) < 0 || sr_readlink(sr, path, exe, sizeof(exe)) < 0)
		return false;
	n = strlen(exe);
	if (n > sizeof(deleted) - 1 && !strcmp(exe + n - (sizeof(deleted) - 1), deleted))
		exe[n - (sizeof(deleted) - 1)] = '\0';
	base = strrchr(exe, '/');
	return exe[0] == '/' && base && !strcmp(base + 1, QUIRKS_PERSISTENCED);
}

pid_t quirks_nvidia_daemon(const struct sysroot *sr)
{
	DIR *d = sr_opendir(sr, "/proc");
	struct dirent *de;
	pid_t found = 0;

	if (!d)
		return -errno;
	while (!found && (de = readdir(d))) {
		char path[SR_PATH_MAX], comm[32];
		unsigned long pid;

		if (parse_ulong(de->d_name, 10, 4194304, &pid) < 0 || pid == 0)
			continue;
		if (sr_path(path, "/proc/%lu/comm", pid) < 0 ||
		    sr_read_str(sr, path, comm, sizeof(comm)) < 0)
			continue;
		/* comm is cut at 15 characters: "nvidia-persiste". Any process may call itself
		 * that; the daemon is the one systemd runs in its unit, from its program. */
		if (!strncmp(comm, QUIRKS_PERSISTENCED, 15) && in_daemon_unit(sr, pid) &&
		    exe_is_daemon(sr, pid))
			found = (pid_t)pid;
	}
	closedir(d);
	return found;
}

int quirks_nvidia_persistence(const struct quirks_exec *ex, const char *name)
{
	const char *argv[] = { "/usr/bin/nvidia-smi", "--query-gpu=persistence_mode",
			       "--format=csv,noheader", "-i", name, NULL };
	char out[256];
	int r = ex->run(ex->data, argv, out, sizeof(out));

	if (r < 0)
		return r;
	if (r != 0)
		return -EIO;
	out[strcspn(out, "\r\n")] = '\0';
	if (!strcmp(str_trim(out), "Enabled"))
		return 1;
	if (!strcmp(str_trim(out), "Disabled"))
		return 0;
	return -EINVAL;
}

int quirks_persistenced(const struct quirks_exec *ex, bool start)
{
	const char *argv[] = { "/usr/bin/systemctl", start ? "start" : "stop",
			       QUIRKS_PERSISTENCED_UNIT, NULL };
	char out[256];
	int r = ex->run(ex->data, argv, out, sizeof(out));

	return r < 0 ? r : r == 0 ? 0 : -EIO;
}

int quirks_exec_real(void *data, const char *const *argv, char *out, size_t outsize)
{
	const struct sysroot *sr = data;
	static const char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	char sink[1];
	struct spawn_cmd cmd = { .argv = argv, .envp = envp,
				 .timeout_ms = QUIRKS_EXEC_TIMEOUT_S * 1000UL,
				 .out = SPAWN_CAPTURE, .err = SPAWN_NULL,
				 .buf = outsize ? out : sink, .bufsize = outsize ? outsize : sizeof(sink) };

	if (!sr->host)
		return -EPERM;
	return spawn_run(&cmd, NULL);
}
