// SPDX-License-Identifier: GPL-2.0
/*
 * labtest - a PCI driver for the lab's fault scenarios, never for a real host.
 *
 * It has no id table: it takes a device only through driver_override ("labtest"), so loading
 * it changes nothing until a scenario hands it a device. What it does there is set by module
 * parameters (all writable at run time under /sys/module/labtest/parameters/):
 *
 *   remove_delay_ms  0: remove() returns at once; N > 0: remove() waits N ms (or until
 *                    release is set); -1: remove() waits until release is set. The wait is
 *                    uninterruptible, as a driver's own teardown is: the process that wrote
 *                    "unbind" sits in D state and no signal ends it (a stuck NVIDIA driver).
 *   release          writing 1 lets every waiting remove() go and keeps later ones from
 *                    waiting (until 0 is written); it also gives up the busy claims below.
 *   probe_errno      0: probe() succeeds; N > 0: probe() fails with -N (a re-probe that
 *                    fails at give-back).
 *   probe_delay_ms   N > 0: probe() sleeps N ms first (a large card's slow initialisation).
 *   hold_busy        1: probe() claims BAR 0 as "labtest-busy" and keeps the claim after
 *                    remove(), until release is set or the module goes (a firmware
 *                    framebuffer that does not let go of the BAR: /proc/iomem shows it).
 *   probes, removes  read-only counters, for the scenarios' assertions.
 *
 * Every probe and remove is logged in one line (dmesg "labtest 0000:01:00.0: ...").
 */
#include <linux/delay.h>
#include <linux/ioport.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/wait.h>

#define LABTEST_MAX_BUSY 16

static int remove_delay_ms;
module_param(remove_delay_ms, int, 0644);
MODULE_PARM_DESC(remove_delay_ms, "remove() waits this long in ms (-1: until release=1)");

static int probe_errno;
module_param(probe_errno, int, 0644);
MODULE_PARM_DESC(probe_errno, "probe() fails with -probe_errno (0: succeeds)");

static int probe_delay_ms;
module_param(probe_delay_ms, int, 0644);
MODULE_PARM_DESC(probe_delay_ms, "probe() sleeps this long in ms first (0: not at all)");

static bool hold_busy;
module_param(hold_busy, bool, 0644);
MODULE_PARM_DESC(hold_busy, "probe() claims BAR 0 and keeps it after remove() until release=1");

static int probes, removes;
module_param(probes, int, 0444);
MODULE_PARM_DESC(probes, "successful probes so far");
module_param(removes, int, 0444);
MODULE_PARM_DESC(removes, "removes so far");

static DECLARE_WAIT_QUEUE_HEAD(release_wq);
static bool released;

/* The BAR claims that outlive a remove(), given up on release or at module exit. */
static DEFINE_MUTEX(busy_lock);
static struct resource *busy[LABTEST_MAX_BUSY];

static void drop_busy(void)
{
	int i;

	mutex_lock(&busy_lock);
	for (i = 0; i < LABTEST_MAX_BUSY; i++) {
		if (busy[i]) {
			release_mem_region(busy[i]->start, resource_size(busy[i]));
			busy[i] = NULL;
		}
	}
	mutex_unlock(&busy_lock);
}

static int release_set(const char *val, const struct kernel_param *kp)
{
	int r = param_set_bool(val, kp);

	if (r)
		return r;
	if (READ_ONCE(released)) {
		pr_info("labtest: released\n");
		wake_up_all(&release_wq);
		drop_busy();
	}
	return 0;
}

static const struct kernel_param_ops release_ops = {
	.set = release_set,
	.get = param_get_bool,
};
module_param_cb(release, &release_ops, &released, 0644);
MODULE_PARM_DESC(release, "1: let waiting remove() calls go and drop the busy claims");

static void claim_busy(struct pci_dev *pdev)
{
	resource_size_t start = pci_resource_start(pdev, 0), len = pci_resource_len(pdev, 0);
	struct resource *res;
	int i;

	if (!len || !(pci_resource_flags(pdev, 0) & IORESOURCE_MEM))
		return;
	res = request_mem_region(start, len, "labtest-busy");
	if (!res) {
		pci_info(pdev, "BAR 0 already claimed, no busy claim\n");
		return;
	}
	mutex_lock(&busy_lock);
	for (i = 0; i < LABTEST_MAX_BUSY && busy[i]; i++)
		;
	if (i < LABTEST_MAX_BUSY)
		busy[i] = res;
	mutex_unlock(&busy_lock);
	if (i == LABTEST_MAX_BUSY) {
		release_mem_region(start, len);
		return;
	}
	pci_info(pdev, "holds BAR 0 busy (%pa, %pa bytes)\n", &start, &len);
}

static int labtest_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int err = READ_ONCE(probe_errno), ms = READ_ONCE(probe_delay_ms);

	if (ms > 0)
		msleep(ms);
	if (err > 0) {
		pci_info(pdev, "probe fails with -%d\n", err);
		return -err;
	}
	if (READ_ONCE(hold_busy))
		claim_busy(pdev);
	probes++;
	pci_info(pdev, "bound\n");
	return 0;
}

static void labtest_remove(struct pci_dev *pdev)
{
	int ms = READ_ONCE(remove_delay_ms);

	if (ms < 0) {
		pci_info(pdev, "remove waits for release\n");
		wait_event(release_wq, READ_ONCE(released));
	} else if (ms > 0) {
		pci_info(pdev, "remove waits %d ms\n", ms);
		wait_event_timeout(release_wq, READ_ONCE(released), msecs_to_jiffies(ms));
	}
	removes++;
	pci_info(pdev, "unbound\n");
}

static struct pci_driver labtest_driver = {
	.name = "labtest",
	.id_table = NULL, /* driver_override only */
	.probe = labtest_probe,
	.remove = labtest_remove,
};

static int __init labtest_init(void)
{
	return pci_register_driver(&labtest_driver);
}

static void __exit labtest_exit(void)
{
	WRITE_ONCE(released, true);
	wake_up_all(&release_wq);
	pci_unregister_driver(&labtest_driver);
	drop_busy();
}

module_init(labtest_init);
module_exit(labtest_exit);
MODULE_DESCRIPTION("pve-gpu-passthrough lab fault driver (driver_override only)");
MODULE_LICENSE("GPL");
