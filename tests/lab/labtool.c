/* labtool.c - the lab's VFIO prober, run inside the guest (static):
 *   labtool vfio GROUP DEV [DEV...] [--bar0]
 * prints "vfio ok" or "vfio FAIL <stage>: <error>", and with --bar0 "bar0 mmap ok|FAIL <error>";
 * exit 0 only when every requested step worked. It uses the product's own prover. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vfio.h"

int main(int argc, char **argv)
{
	const char *devs[16];
	struct vfio_report rep;
	struct sysroot sr;
	unsigned flags = VFIO_PROVE_DMA_MAP;
	int ndev = 0, r;

	if (argc < 4 || strcmp(argv[1], "vfio") != 0) {
		fprintf(stderr, "usage: labtool vfio GROUP DEV [DEV...] [--bar0]\n");
		return 2;
	}
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--bar0") == 0)
			flags |= VFIO_PROVE_MMAP_BAR0;
		else if (ndev < 16)
			devs[ndev++] = argv[i];
	}
	if (sr_open(&sr, "/") < 0)
		return 2;
	r = vfio_prove(&sr, atoi(argv[2]), devs, ndev, flags, &rep);
	if (r < 0) {
		printf("vfio FAIL %s: %s\n", rep.stage, strerror(-r));
		return 1;
	}
	printf("vfio ok\n");
	if (flags & VFIO_PROVE_MMAP_BAR0) {
		if (rep.bar0_mmap < 0) {
			printf("bar0 mmap FAIL %s\n", strerror(-rep.bar0_mmap));
			return 1;
		}
		printf("bar0 mmap ok\n");
	}
	return 0;
}
