/* test_attach.c - issue 5: storage.cfg parsing for `attach` (common/pve_storage.c), and the INI
 * the package ships (doc/pve-gpu-passthrough.ini). The verbs themselves are tested end to end
 * by tests/attach/run.sh against a fake `qm`, the package by tests/deb/run.sh. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "cfg_ini.h"
#include "fakesys.h"
#include "harness.h"
#include "pve_storage.h"
#include "sysroot.h"

/* The installer-written file, plus the kinds of storages an admin adds. */
static const char storage_cfg[] =
	"dir: local\n"
	"\tpath /var/lib/vz\n"
	"\tcontent iso,vztmpl,backup\n"
	"\n"
	"zfspool: local-zfs\n"
	"\tpool rpool/data\n"
	"\tsparse\n"
	"\tcontent images,rootdir\n"
	"\n"
	"# a comment between sections\n"
	"dir: hooks\n"
	"\tpath /srv/hooks\n"
	"\tcontent snippets;iso\n"
	"\tcontent-dirs iso=isos,snippets=hookscripts\n"
	"\tnodes pve1, pve2\n"
	"\tdisable\n"
	"\n"
	"nfs: nas\n"
	"\texport /export/pve\n"
	"\tpath /mnt/pve/nas\n"
	"\tserver 10.0.0.5\n"
	"\tcontent snippets,images\n"
	"\n"
	"dir: plain\n"
	"\tpath /data\n"
	"\tshared 0\n";

TEST(storage_installer_local)
{
	struct pve_storage s;
	char dir[SR_PATH_MAX];

	CHECK_INT(pve_storage_parse(storage_cfg, "local", &s), 0);
	CHECK_STR(s.type, "dir");
	CHECK_STR(s.path, "/var/lib/vz");
	CHECK(s.has_content);
	CHECK_STR(s.content, "iso,vztmpl,backup");
	CHECK(!pve_storage_has_content(&s, "snippets"));
	CHECK(pve_storage_has_content(&s, "iso"));
	CHECK(!pve_storage_has_content(&s, "is"));
	CHECK(!s.shared);
	CHECK(!s.synthesized);
	CHECK_INT(pve_storage_snippets_dir(&s, dir), 0);
	CHECK_STR(dir, "/var/lib/vz/snippets");
}

TEST(storage_properties)
{
	struct pve_storage s;
	char dir[SR_PATH_MAX];

	CHECK_INT(pve_storage_parse(storage_cfg, "hooks", &s), 0);
	CHECK(pve_storage_has_content(&s, "snippets"));
	CHECK(pve_storage_has_content(&s, "iso"));
	CHECK(s.disabled);
	CHECK(pve_storage_on_node(&s, "pve2"));
	CHECK(!pve_storage_on_node(&s, "pve3"));
	CHECK(!pve_storage_on_node(&s, "pve"));
	CHECK_INT(pve_storage_snippets_dir(&s, dir), 0);
	CHECK_STR(dir, "/srv/hooks/hookscripts");

	CHECK_INT(pve_storage_parse(storage_cfg, "nas", &s), 0);
	CHECK_STR(s.type, "nfs");
	CHECK(s.shared); /* network types are shared without saying so */
	CHECK_STR(s.path, "/mnt/pve/nas");

	CHECK_INT(pve_storage_parse(storage_cfg, "plain", &s), 0);
	CHECK(!s.shared);
	CHECK(!s.has_content);
	CHECK(!pve_storage_has_content(&s, "snippets"));

	/* A storage without a path cannot hold snippets. */
	CHECK_INT(pve_storage_parse(storage_cfg, "local-zfs", &s), 0);
	CHECK_STR(s.path, "");
	CHECK_INT(pve_storage_snippets_dir(&s, dir), -ENOTDIR);

	CHECK_INT(pve_storage_parse(storage_cfg, "missing", &s), -ENOENT);
	CHECK_INT(pve_storage_parse(storage_cfg, "loc", &s), -ENOENT);
}

TEST(storage_local_fixups)
{
	struct pve_storage s;

	/* No file, or no "local" in it: Proxmox makes one up, with snippets. */
	CHECK_INT(pve_storage_parse("", "local", &s), 0);
	CHECK(s.synthesized);
	CHECK_STR(s.path, "/var/lib/vz");
	CHECK(pve_storage_has_content(&s, "snippets"));
	CHECK_INT(pve_storage_parse("", "other", &s), -ENOENT);

	/* "local" without a path gets /var/lib/vz; its nodes restriction is dropped. */
	CHECK_INT(pve_storage_parse("dir: local\n\tcontent iso\n\tnodes a\n", "local", &s), 0);
	CHECK(!s.synthesized);
	CHECK_STR(s.path, "/var/lib/vz");
	CHECK(!pve_storage_has_content(&s, "snippets"));
	CHECK(pve_storage_on_node(&s, "b"));

	/* A moved or non-dir "local" is replaced. */
	CHECK_INT(pve_storage_parse("dir: local\n\tpath /srv\n\tcontent iso\n", "local", &s), 0);
	CHECK(s.synthesized);
	CHECK_STR(s.path, "/var/lib/vz");
	CHECK_INT(pve_storage_parse("nfs: local\n\tpath /var/lib/vz\n", "local", &s), 0);
	CHECK(s.synthesized);
}

TEST(storage_syntax_edges)
{
	struct pve_storage s;

	/* Only an empty line ends a section: a header right below a property line is not one
	 * (Proxmox ignores it), and the first of two sections with one id wins. */
	CHECK_INT(pve_storage_parse("dir: a1\n\tpath /one\ndir: b1\n\tpath /two\n", "b1", &s),
		  -ENOENT);
	CHECK_INT(pve_storage_parse("dir: a1\n\tpath /one\n\ndir: a1\n\tpath /two\n", "a1", &s), 0);
	CHECK_STR(s.path, "/one");
	/* Blank lines made of blanks, CRLF, headers without a space, junk outside sections. */
	CHECK_INT(pve_storage_parse("junk line\n DIR:x1\r\n\tpath /x\r\n \t\nDir:y1\r\n"
				    "\tpath  /y y \r\n\tcontent snippets\r\n",
				    "y1", &s),
		  0);
	CHECK_STR(s.type, "dir");
	CHECK_STR(s.path, "/y y");
	CHECK(pve_storage_has_content(&s, "snippets"));
	/* An indented header is not a header. */
	CHECK_INT(pve_storage_parse(" dir: z1\n\tpath /z\n", "z1", &s), -ENOENT);
	/* A header with two words after the colon is not a header either. */
	CHECK_INT(pve_storage_parse("dir: z1 z2\n\tpath /z\n", "z1", &s), -ENOENT);

	/* A value that does not fit is an error, not a silently cut path. */
	char big[8000];
	int n = snprintf(big, sizeof(big), "dir: big\n\tpath /");
	memset(big + n, 'a', sizeof(big) - (size_t)n - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(pve_storage_parse(big, "big", &s), -ENAMETOOLONG);
	/* ... but an over-long line elsewhere is harmless. */
	big[4] = 'X';
	CHECK_INT(pve_storage_parse(big, "big", &s), -ENOENT);
}

/* content-dirs entries as Proxmox's verify_dir_override takes them: no "..", no trailing dot;
 * one bad entry makes the whole property (and so the storage) refused. */
TEST(storage_content_dirs_refused)
{
	struct pve_storage s;
	char dir[SR_PATH_MAX];

	CHECK_INT(pve_storage_parse("dir: a\n\tpath /srv/a\n\tcontent-dirs snippets=../../..\n",
				    "a", &s), -EBADMSG);
	CHECK_INT(pve_storage_parse("dir: a\n\tpath /srv/a\n\tcontent-dirs snippets=x/../../y\n",
				    "a", &s), -EBADMSG);
	CHECK_INT(pve_storage_parse("dir: a\n\tpath /srv/a\n\tcontent-dirs iso=..,snippets=ok\n",
				    "a", &s), -EBADMSG);
	CHECK_INT(pve_storage_parse("dir: a\n\tpath /srv/a\n\tcontent-dirs snippets=hooks.\n",
				    "a", &s), -EBADMSG);
	CHECK_INT(pve_storage_parse("dir: a\n\tpath /srv/a\n\tcontent-dirs Snippets=x\n",
				    "a", &s), -EBADMSG);
	/* another storage's bad entry does not matter */
	CHECK_INT(pve_storage_parse("dir: b\n\tcontent-dirs snippets=..\n\ndir: a\n\tpath /srv/a\n",
				    "a", &s), 0);
	/* single dots and dot files are fine */
	CHECK_INT(pve_storage_parse("dir: a\n\tpath /srv/a\n\tcontent-dirs snippets=./.hooks/v1.2\n",
				    "a", &s), 0);
	CHECK_INT(pve_storage_snippets_dir(&s, dir), 0);
	CHECK_STR(dir, "/srv/a/./.hooks/v1.2");
}

TEST(storage_ids)
{
	CHECK(pve_storage_id_valid("local"));
	CHECK(pve_storage_id_valid("Local-ZFS.2"));
	CHECK(pve_storage_id_valid("a1"));
	CHECK(!pve_storage_id_valid("a"));
	CHECK(!pve_storage_id_valid("1abc"));
	CHECK(!pve_storage_id_valid("abc-"));
	CHECK(!pve_storage_id_valid("a/b"));
	CHECK(!pve_storage_id_valid("a b"));
	CHECK(!pve_storage_id_valid(""));
}

TEST(storage_load_below_root)
{
	const char *root = test_tmpdir();
	struct sysroot sr;
	struct pve_storage s;

	CHECK_INT(sr_open(&sr, root), 0);
	/* No storage.cfg at all: only "local" exists. */
	CHECK_INT(pve_storage_load(&sr, "local", &s), 0);
	CHECK(s.synthesized);
	CHECK_INT(pve_storage_load(&sr, "nas", &s), -ENOENT);
	CHECK_INT(fakesys_build(root, "file /etc/pve/storage.cfg dir: local\\n\\tpath /var/lib/vz"
				      "\\n\\tcontent iso,snippets\\n\\nnfs: nas\\n\\tpath /mnt/pve/nas\n",
				NULL),
		  0);
	CHECK_INT(pve_storage_load(&sr, "local", &s), 0);
	CHECK(!s.synthesized);
	CHECK(pve_storage_has_content(&s, "snippets"));
	CHECK_INT(pve_storage_load(&sr, "nas", &s), 0);
	CHECK(s.shared);
	sr_close(&sr);
}

/* The shipped INI parses as it is (all defaults), and with every setting uncommented: its
 * "#key = value" lines are valid settings. Run from the top of the tree (tests/run-unit). */
TEST(shipped_ini_parses)
{
	static char text[CONFIG_MAX_SIZE], open_text[CONFIG_MAX_SIZE];
	static struct cfg c;
	char err[512] = "";
	FILE *f = fopen("doc/pve-gpu-passthrough.ini", "re");
	size_t n, o = 0;

	CHECK(f != NULL);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	CHECK_INT(cfg_parse(text, "doc/pve-gpu-passthrough.ini", &c, err, sizeof(err)), 0);
	CHECK(c.hook.holders_refuse);
	CHECK_INT(c.early.nids, 0);

	/* "#word" and "#[vm:" lines are settings; "# text" lines are prose. */
	for (char *line = text, *next; *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			next++;
		/* inih reads lines with fgets(200): text and newline must fit in 199 bytes. */
		CHECK(next - line <= 199);
		if (line[0] == '#' && ((line[1] >= 'a' && line[1] <= 'z') || line[1] == '['))
			line++;
		memcpy(open_text + o, line, (size_t)(next - line));
		o += (size_t)(next - line);
	}
	open_text[o] = '\0';
	CHECK_INT(cfg_parse(open_text, "uncommented", &c, err, sizeof(err)), 0);
	CHECK_INT(c.early.nids, 2);
	CHECK_INT(c.early.naddrs, 2);
	CHECK_INT(c.nvms, 1);
	CHECK_INT(cfg_hook_opts(&c, 100)->unbind_timeout_ms, 20000);
	CHECK(!cfg_hook_opts(&c, 100)->return_on_stop);
	CHECK(cfg_hook_opts(&c, 101)->return_on_stop);
	/* every [hook] key is there, as "the same ten keys" of [vm:VMID] says */
	CHECK(c.hook.holders_refuse && !c.hook.persistenced_stop);
	CHECK(!strcmp(c.hook.reset_method, "device_specific"));
	CHECK(!c.hook.containers_stop);
	CHECK(!strcmp(c.hook.vfio_driver, "vfio-pci"));
	CHECK(strstr(text, "the same ten keys") != NULL);
}
