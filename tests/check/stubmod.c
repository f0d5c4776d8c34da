/* stubmod.c - a stand-in kernel module for the fixtures' /lib/modules trees: just enough ELF
 * (.modinfo, .gnu.linkonce.this_module) for depmod to index it, so libkmod finds it by name.
 * Built by tests/check/run.sh with -DNAME=module_name (and -DALIAS="pattern" for a module
 * with a modalias, such as a variant VFIO driver's vfio_pci: one); never loaded anywhere. */
#define STR(x) #x
#define XSTR(x) STR(x)
static const char modinfo_name[] __attribute__((section(".modinfo"), used, aligned(1))) =
	"name=" XSTR(NAME);
static const char modinfo_license[] __attribute__((section(".modinfo"), used, aligned(1))) =
	"license=GPL";
#ifdef ALIAS
static const char modinfo_alias[] __attribute__((section(".modinfo"), used, aligned(1))) =
	"alias=" ALIAS;
#endif
char __this_module[64] __attribute__((section(".gnu.linkonce.this_module")));
