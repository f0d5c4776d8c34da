/* main.c - the Proxmox hookscript (work in progress: phases not implemented yet). */
#include <stdio.h>

int main(int argc, char **argv)
{
	fprintf(stderr, "pve-gpu-passthrough-hook: not implemented yet (%d args, %s)\n", argc, argv[0]);
	return 1;
}
