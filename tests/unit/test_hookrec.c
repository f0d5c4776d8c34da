/* test_hookrec.c - issue 29: attach's records (common/pve_hookrec.c), hostile input: the VM's
 * own hookscript (one strict line), the list of snippet copies (bounded, line by line), and
 * the scan for VMs that still name a snippet volume. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "fakesys.h"
#include "harness.h"
#include "pve_hookrec.h"
#include "sysroot.h"

/* ROOT/PATH with TEXT (through fakesys: its "file" line, newlines escaped). */
static void put(const char *root, const char *path, const char *text)
{
	char spec[8192];
	size_t n = (size_t)snprintf(spec, sizeof(spec), "file %s ", path);

	for (; *text && n < sizeof(spec) - 3; text++) {
		if (*text == '\n') {
			spec[n++] = '\\';
			spec[n++] = 'n';
		} else {
			spec[n++] = *text;
		}
	}
	spec[n++] = '\n';
	spec[n] = '\0';
	CHECK_INT(fakesys_build(root, spec, NULL), 0);
}

TEST(hookrec_volids)
{
	CHECK(pve_snippet_volid_valid("local:snippets/other.pl"));
	CHECK(pve_snippet_volid_valid("nas-1:snippets/a b.sh"));
	CHECK(!pve_snippet_volid_valid("local:snippets/"));
	CHECK(!pve_snippet_volid_valid("local:snippets/.."));
	CHECK(!pve_snippet_volid_valid("local:snippets/a/b"));
	CHECK(!pve_snippet_volid_valid("local:iso/x.iso"));
	CHECK(!pve_snippet_volid_valid("l:snippets/x"));          /* storage id too short */
	CHECK(!pve_snippet_volid_valid("/root/x.sh"));
	CHECK(!pve_snippet_volid_valid("local:snippets/x\ty"));
	CHECK(pve_snippet_volid_ours("hooks:snippets/" SNIPPET_NAME));
	CHECK(!pve_snippet_volid_ours("hooks:snippets/" SNIPPET_NAME ".bak"));
}

TEST(hookrec_parse_strict)
{
	char v[VOLID_MAX];

	CHECK_INT(hookrec_parse("hookscript: local:snippets/other.pl\n", v, sizeof(v)), 0);
	CHECK_STR(v, "local:snippets/other.pl");
	CHECK_INT(hookrec_parse("hookscript: local:snippets/other.pl", v, sizeof(v)), 0);
	/* anything else is not ours to follow */
	CHECK_INT(hookrec_parse("", v, sizeof(v)), -EBADMSG);
	CHECK_INT(hookrec_parse("hookscript:local:snippets/x", v, sizeof(v)), -EBADMSG);
	CHECK_INT(hookrec_parse("hookscript: local:snippets/x\nmore\n", v, sizeof(v)), -EBADMSG);
	CHECK_INT(hookrec_parse("hookscript: local:snippets/x\n\n", v, sizeof(v)), -EBADMSG);
	CHECK_INT(hookrec_parse("hookscript: /usr/bin/rm\n", v, sizeof(v)), -EBADMSG);
	CHECK_INT(hookrec_parse("hookscript: local:snippets/../../x\n", v, sizeof(v)), -EBADMSG);
	/* ours would run itself for ever */
	CHECK_INT(hookrec_parse("hookscript: local:snippets/" SNIPPET_NAME "\n", v, sizeof(v)),
		  -EBADMSG);
	/* too long for the caller's buffer */
	CHECK_INT(hookrec_parse("hookscript: local:snippets/other.pl\n", v, 8), -EBADMSG);
}

TEST(hookrec_roundtrip_below_root)
{
	const char *root = test_tmpdir();
	struct sysroot sr;
	char v[VOLID_MAX];

	CHECK_INT(sr_open(&sr, root), 0);
	CHECK_INT(hookrec_load(&sr, 101, v, sizeof(v)), -ENOENT);
	CHECK_INT(hookrec_save(&sr, 101, "local:snippets/other.pl"), 0);
	CHECK_INT(hookrec_load(&sr, 101, v, sizeof(v)), 0);
	CHECK_STR(v, "local:snippets/other.pl");
	CHECK_INT(hookrec_save(&sr, 101, "local:snippets/" SNIPPET_NAME), -EINVAL);
	CHECK_INT(hookrec_remove(&sr, 101), 0);
	CHECK_INT(hookrec_remove(&sr, 101), 0); /* already gone */
	/* a file with a NUL, or too big, is refused */
	put(root, HOOKREC_DIR "/102", "hookscript: local:snippets/a");
	CHECK_INT(hookrec_load(&sr, 102, v, sizeof(v)), 0);
	CHECK_INT(sr_write_file_atomic(&sr, HOOKREC_DIR "/104", "hookscript: local:snippets/a\0b\n",
				       sizeof("hookscript: local:snippets/a\0b\n") - 1, 0600), 0);
	CHECK_INT(hookrec_load(&sr, 104, v, sizeof(v)), -EBADMSG);
	put(root, HOOKREC_DIR "/103", "hookscript: local:snippets/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK_INT(hookrec_load(&sr, 103, v, sizeof(v)), -EBADMSG);
	sr_close(&sr);
}

TEST(snipcopy_parse_lines)
{
	struct snippet_copy c[4];
	int bad;

	CHECK_INT(snipcopy_parse("local:snippets/" SNIPPET_NAME " /var/lib/vz/snippets/" SNIPPET_NAME "\n"
				 "/srv/old/" SNIPPET_NAME "\n", c, 4, &bad), 2);
	CHECK_INT(bad, 0);
	CHECK_STR(c[0].volid, "local:snippets/" SNIPPET_NAME);
	CHECK_STR(c[0].path, "/var/lib/vz/snippets/" SNIPPET_NAME);
	CHECK_STR(c[1].volid, ""); /* an older version's symlink */
	CHECK_STR(c[1].path, "/srv/old/" SNIPPET_NAME);
	/* skipped and counted: relative, "..", another name, a volume not ours, spaces, too many */
	CHECK_INT(snipcopy_parse("snippets/" SNIPPET_NAME "\n"
				 "/a/../etc/" SNIPPET_NAME "\n"
				 "/var/lib/vz/snippets/other.pl\n"
				 "local:snippets/x.pl /var/lib/vz/snippets/" SNIPPET_NAME "\n"
				 "local:snippets/" SNIPPET_NAME " /a b/" SNIPPET_NAME "\n"
				 "\n", c, 4, &bad), 0);
	CHECK_INT(bad, 5);
	CHECK_INT(snipcopy_parse("/a/" SNIPPET_NAME "\n/b/" SNIPPET_NAME "\n/c/" SNIPPET_NAME "\n",
				 c, 2, &bad), 2);
	CHECK_INT(bad, 1);
}

TEST(snipcopy_roundtrip_below_root)
{
	const char *root = test_tmpdir();
	struct snippet_copy c[2] = { { "local:snippets/" SNIPPET_NAME, "/var/lib/vz/snippets/" SNIPPET_NAME },
				     { "", "/srv/old/" SNIPPET_NAME } }, back[4];
	struct sysroot sr;
	int bad;

	CHECK_INT(sr_open(&sr, root), 0);
	CHECK_INT(snipcopy_load(&sr, back, 4, &bad), 0);
	CHECK_INT(snipcopy_save(&sr, c, 2), 0);
	CHECK_INT(snipcopy_load(&sr, back, 4, &bad), 2);
	CHECK_STR(back[0].path, c[0].path);
	CHECK_STR(back[1].volid, "");
	/* a NUL byte in it: refused, not read as the lines before it */
	CHECK_INT(sr_write_file_atomic(&sr, SNIPPET_RECORD, "/srv/old/" SNIPPET_NAME "\n\0",
				       sizeof("/srv/old/" SNIPPET_NAME "\n\0") - 1, 0600), 0);
	CHECK_INT(snipcopy_load(&sr, back, 4, &bad), -EBADMSG);
	CHECK_INT(snipcopy_save(&sr, c, 0), 0);
	CHECK(!sr_exists(&sr, SNIPPET_RECORD));
	sr_close(&sr);
}

TEST(hookscript_users_every_node)
{
	const char *root = test_tmpdir();
	const char *vol = "local:snippets/" SNIPPET_NAME;
	struct sysroot sr;

	CHECK_INT(sr_open(&sr, root), 0);
	CHECK_INT(pve_hookscript_users(&sr, vol, 0), 0);
	put(root, "/etc/pve/qemu-server/100.conf",
		     "memory: 1024\nhookscript: local:snippets/" SNIPPET_NAME "\n");
	put(root, "/etc/pve/nodes/pve2/qemu-server/200.conf",
		     "hookscript:  local:snippets/" SNIPPET_NAME " \n");
	put(root, "/etc/pve/nodes/pve3/qemu-server/300.conf",
		     "hookscript: nas:snippets/" SNIPPET_NAME "\n");       /* another volume */
	put(root, "/etc/pve/nodes/pve3/qemu-server/301.conf",
		     "#hookscript: local:snippets/" SNIPPET_NAME "\n");     /* a comment */
	CHECK_INT(pve_hookscript_users(&sr, vol, 0), 2);
	CHECK_INT(pve_hookscript_users(&sr, vol, 100), 1); /* VM 100's live section skipped */
	/* ... but not its snapshot: a rollback brings that line back */
	put(root, "/etc/pve/qemu-server/100.conf",
		     "memory: 1024\nhookscript: local:snippets/" SNIPPET_NAME "\n\n[snap]\n"
		     "hookscript: local:snippets/" SNIPPET_NAME "\n");
	CHECK_INT(pve_hookscript_users(&sr, vol, 100), 2);
	sr_close(&sr);
}

TEST(snippet_path_through_storage)
{
	const char *root = test_tmpdir();
	char path[SR_PATH_MAX];
	struct sysroot sr;

	CHECK_INT(sr_open(&sr, root), 0);
	put(root, "/etc/pve/storage.cfg", "dir: local\n\tpath /var/lib/vz\n\tcontent snippets\n\n"
					   "dir: hooks\n\tpath /srv/hooks\n\tcontent snippets\n"
					   "\tcontent-dirs snippets=hookscripts\n");
	CHECK_INT(pve_snippet_path(&sr, "local:snippets/user.sh", path), 0);
	CHECK_STR(path, "/var/lib/vz/snippets/user.sh");
	CHECK_INT(pve_snippet_path(&sr, "hooks:snippets/" SNIPPET_NAME, path), 0);
	CHECK_STR(path, "/srv/hooks/hookscripts/" SNIPPET_NAME);
	CHECK_INT(pve_snippet_path(&sr, "nas:snippets/user.sh", path), -ENOENT);
	CHECK_INT(pve_snippet_path(&sr, "local:snippets/../x", path), -EINVAL);
	sr_close(&sr);
}
