/* dev_reconcile.h - devices handed over for a VM that is not running come back without anyone
 * acting. Proxmox runs no post-stop when a start fails after pre-start (QEMU refuses a ROM, the
 * PCI reservation or the mapping check fails, the start times out), and before qemu-server
 * 9.1.13 none when the guest powered itself off; a state file then stays with its devices on
 * vfio-pci.
 *
 * A VM counts as running when the pid in /run/qemu-server/VMID.pid is a process whose command
 * line names the VM ("-id VMID", as qemu-server starts QEMU), and as starting while its config
 * lock (/var/lock/qemu-server/lock-VMID.conf, flock) is held: Proxmox holds it for the whole
 * start, pre-start included. Reconcile takes that lock itself and keeps it while it decides
 * and gives back, so no start can begin in between; a VM that is running or starting is never
 * touched. Without Proxmox's lock directory (no Proxmox start made the state file: a manual
 * prepare, the lab) whether a start is under way cannot be told, and nothing is touched. Each device gets one line saying what was done. Library code: reports through
 * ops->log, returns 0 or -errno. */
#ifndef PGP_DEV_RECONCILE_H
#define PGP_DEV_RECONCILE_H

#include "dev_handoff.h"
#include "sysroot.h"

#define PVE_CONF_LOCK "/var/lock/qemu-server/lock-%d.conf"
#define PVE_QEMU_PIDFILE "/run/qemu-server/%d.pid"

/* 1 when VMID's QEMU is running, 0 when not, -errno when that cannot be told: the process's
 * command line unreadable, or -EFBIG when it is longer than 64 KiB and names no VM in its
 * first 64 KiB (a longer QEMU command line whose beginning has "-id VMID" is read as that). */
int vm_qemu_running(const struct sysroot *sr, int vmid);

/* Takes VMID's config lock, waiting up to WAIT_MS (0: one try): the held fd; -EBUSY when it
 * is still held (the VM is starting or being changed); -ENOENT when Proxmox has no lock
 * directory; -errno. */
int vm_config_lock(const struct sysroot *sr, int vmid, unsigned long wait_ms);

/* Gives VMID's devices back as post-stop would when the VM is neither starting nor running
 * (waiting up to WAIT_MS for its config lock); says per device why it is left otherwise.
 * 0 (given back, left alone, or nothing recorded), or -errno. */
int reconcile_vm(const struct handoff_ops *ops, int vmid, unsigned long wait_ms);

/* reconcile_vm for every state file but SKIP_VMID's (0: none), without waiting for a lock.
 * 0, or the first -errno (the others are still done). */
int reconcile_all(const struct handoff_ops *ops, int skip_vmid);

/* Leaves a watcher for VMID that outlives the caller: a detached process (its own session,
 * stdin/stdout/stderr on /dev/null, no other fd of the caller but the root's) that waits up to
 * WAIT_MS for the VM's config lock (Proxmox's start to end) and then runs reconcile_vm. Returns
 * once the watcher is detached: 0 or -errno. */
int reconcile_watch(const struct handoff_ops *ops, int vmid, unsigned long wait_ms);

#endif
