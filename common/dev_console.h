/* dev_console.h - what holds a GPU for the host's console: framebuffer vtconsoles (fbcon) and
 * firmware framebuffers (efifb, vesafb, simplefb/simpledrm platform devices), found by
 * scanning, never by fixed names like vtcon1 or efi-framebuffer.0.
 *
 * Kernel facts this module relies on (tests/lab shows each of them):
 *  - fbcon's vtconsole is the one whose name contains "frame buffer"; its number varies.
 *  - A firmware framebuffer is a platform device named efi-framebuffer.N, vesa-framebuffer.N
 *    or simple-framebuffer.N (since 6.11 it sits below the PCI device, but
 *    /sys/bus/platform/devices lists it everywhere); its memory shows in /proc/iomem as
 *    efifb/vesafb/BOOTFB/simplefb/simpledrm inside the GPU's BAR.
 *  - Unbinding a firmware framebuffer that no longer holds a framebuffer crashes 5.10 (a
 *    double free in efifb_remove after a DRM driver took over): only unbind one that still has
 *    a /dev/fb (graphics/fbN or drm below it) AND whose memory is still inside a BAR.
 *  - Since 6.0, vfio-pci removes the firmware framebuffer of a class 0x0300 GPU itself; after
 *    that the platform device is gone and cannot be rebound: "already gone" is success.
 */
#ifndef PGP_DEV_CONSOLE_H
#define PGP_DEV_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "host_iomem.h"
#include "pci_dev.h"
#include "sysroot.h"

#define CONSOLE_MAX 16
/* fbcon's consoles are tty1..tty63 (MAX_NR_CONSOLES); a set of them is a bit mask, bit N-1
 * for ttyN. */
#define CONSOLE_NR 63
#define CONSOLE_ALL ((UINT64_C(1) << CONSOLE_NR) - 1)

struct console_plan {
	int nvtcons;
	int vtcons[CONSOLE_MAX];           /* fbcon vtconsoles bound now, to unbind */
	int nfbs;
	char fbs[CONSOLE_MAX][64];         /* firmware framebuffer platform devices to unbind */
	char fb_drivers[CONSOLE_MAX][64];  /* their platform drivers */
	char why[160];                     /* why the console must go, for the log */
	/* Two GPUs: another card's framebuffer can carry the consoles. Then the hook moves the
	 * consoles in move_mask from the handed-over card's framebuffer (move_from_fb, on
	 * move_from) to move_to_fb (on move_to) instead of unbinding fbcon (which cannot go
	 * while another framebuffer exists: the kernel takes the write and changes nothing, and
	 * 5.10 then crashes when the card's driver comes back). move_mask 0: no move. */
	uint64_t move_mask;
	int move_from_fb, move_to_fb;
	char move_from[64], move_to[64];
};

/* Decides what must be released for the display devices among DEVS (N of them): nothing when
 * no framebuffer lives on them. Reads only. */
int console_plan(const struct sysroot *sr, const struct pci_dev_info *devs, int n,
		 struct console_plan *ret);

/* A firmware framebuffer still inside one of DEV's memory BARs (after vfio-pci took it): 1
 * with the region and the BAR number, 0 none, -errno. With CONFIG_SYSFB_SIMPLEFB (Proxmox's
 * kernels) the region belongs to the simple-framebuffer platform device itself, so unbinding
 * its driver frees nothing; it goes only when the kernel unregisters the device, which
 * vfio-pci does for a VGA-class (0x0300) GPU and a GPU's own DRM driver does at probe. */
int console_fb_left(const struct sysroot *sr, const struct pci_dev_info *dev,
		    struct iomem_entry *fb, int *bar);
/* How a firmware framebuffer region REGION (its /proc/iomem name) in DEV's BAR goes away:
 *  CONSOLE_FB_RELEASED: its driver claimed it (efifb, vesafb): the hook unbinds the driver and
 *     rebinds it at post-stop;
 *  CONSOLE_FB_REMOVED: the simple-framebuffer device owns it (BOOTFB) and DEV is a VGA
 *     controller: vfio-pci unregisters the device when it binds, for good (until reboot);
 *  CONSOLE_FB_STAYS: the simple-framebuffer device owns it and DEV is not a VGA controller:
 *     nothing the hook does frees it (the hook refuses). */
enum console_fb_fate { CONSOLE_FB_RELEASED, CONSOLE_FB_REMOVED, CONSOLE_FB_STAYS };
enum console_fb_fate console_fb_fate(const struct pci_dev_info *dev, const char *region);

/* What to do about a firmware framebuffer that stays in a BAR: shared by the hook's refusal
 * and check's advice. */
#define CONSOLE_FB_LEFT_FIX                                                                     \
	"boot without a firmware framebuffer on this GPU (kernel parameter "                    \
	"initcall_blacklist=sysfb_init; pve-gpu-passthrough check shows the line to edit), or "  \
	"let the card's own driver load once before the VM starts (it removes the firmware "    \
	"framebuffer)"

/* The single steps (each idempotent: "already there" is success). console_vtcon_bind reads
 * the state back: 1 when the kernel took the write but nothing changed (no other console
 * driver could take over), 0 done, -errno. */
int console_vtcon_bind(const struct sysroot *sr, int vtcon, bool bind);
int console_fb_unbind(const struct sysroot *sr, const char *dev, const char *driver);
/* Rebinds a firmware framebuffer: 0 rebound (or already bound), 1 gone (the kernel removed
 * it), -errno: -EINVAL when DEV or DRIVER is not one path component (kernel_name_valid),
 * -ENOENT when /sys/bus/platform/drivers/DRIVER does not exist. */
int console_fb_bind(const struct sysroot *sr, const char *dev, const char *driver);

/* VGA text mode: 1 when binding vfio-pci to DEV removes the VGA text console (vgacon) for
 * good: DEV is the boot VGA device (class 0x0300, boot_vga 1), vgacon is a console driver now
 * (a vtconsole named "VGA+"), and the kernel (RELEASE, 6.0 and later) has vfio-pci remove
 * conflicting consoles (aperture_remove_conflicting_pci_devices, which unregisters vgacon:
 * "vgaarb: deactivate vga console"; the dummy console takes its place, the lab shows it).
 * 0 when not, -errno. */
int console_vgacon_lost(const struct sysroot *sr, const struct pci_dev_info *dev,
			const char *release);
#define CONSOLE_VGACON_LOST_MSG                                                              \
	"the VGA text console (vgacon) on this boot GPU goes when vfio-pci takes it: the kernel " \
	"replaces it by the dummy console and nothing brings it back before the next boot"
#define CONSOLE_VGACON_LOST_FIX                                                              \
	"nothing to do for passthrough; for a host console while the GPU is handed over use a "  \
	"serial console (console=ttyS0) or a second GPU, whose driver's framebuffer carries the " \
	"console (fbcon)"

/* Two VGA-class cards: 1 when binding vfio-pci to DEV (class 0x0300, not the boot VGA device)
 * removes the firmware framebuffer that another card carries (and the console on it), with
 * its name in FB: kernels before 6.12 whose vfio-pci removes the system framebuffer whichever
 * card it is on (aperture_remove_conflicting_pci_devices calls sysfb_disable; the lab shows it
 * on 6.1 and not on 6.12). 0 when not, -errno. */
int console_other_fb_lost(const struct sysroot *sr, const struct pci_dev_info *dev,
			  const char *release, char fb[64]);
#define CONSOLE_OTHER_FB_LOST_MSG                                                            \
	"on this kernel vfio-pci taking this VGA card removes the firmware framebuffer %s of "   \
	"the boot GPU too, and the console on it, until the next boot"
#define CONSOLE_OTHER_FB_LOST_FIX                                                            \
	"nothing to do for passthrough (kernels from 6.12 keep it); the boot GPU's own driver "   \
	"can carry the console instead, or a serial console (console=ttyS0)"
/* The firmware framebuffer platform devices that exist now (their names in NAMES): their
 * number, at most MAX. */
int console_fw_fbs(const struct sysroot *sr, char (*names)[64], int max);

/* The framebuffer (/sys/class/graphics/fbN) that device DEV (a PCI address or platform
 * device name) or a child of it provides: N, or -ENOENT. */
int console_fb_of(const struct sysroot *sr, const char *dev);
/* The framebuffer console ttyCONSOLE (1..CONSOLE_NR) is mapped to, read through /dev/fbFB
 * (FBIOGET_CON2FBMAP): the fb number, -1 for none, or -errno. */
int console_con2fb_get(const struct sysroot *sr, int fb, int console);
/* Maps the consoles in MASK to framebuffer TO (FBIOPUT_CON2FBMAP on /dev/fbTO, one console
 * at a time, each read back). Consoles already there count as done. *DONE gets the consoles
 * that are on TO afterwards; 0 when all of MASK are, -errno at the first that fails. */
int console_con2fb_move(const struct sysroot *sr, uint64_t mask, int to, uint64_t *done);
/* "tty1-tty6,tty9" for MASK. */
void console_mask_format(uint64_t mask, char *buf, size_t size);

#endif
