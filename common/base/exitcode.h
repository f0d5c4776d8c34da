/* exitcode.h - the one exit vocabulary of the three programs (the CLI, the hookscript, the
 * early binary), after systemd's EXIT_* (LSB's init script codes) and sysexits.h: a status
 * means the same in every program and verb that uses it, and each man page lists the ones its
 * program returns. Library code never exits: only main() and the verbs map results to these. */
#ifndef PGP_EXITCODE_H
#define PGP_EXITCODE_H

enum {
	PGP_EXIT_OK = 0,            /* done; examined and found nothing to report */
	PGP_EXIT_FAILURE = 1,       /* failed or refused (what was done is undone); an examining
				     * verb (check, rom check): warnings only */
	PGP_EXIT_PROBLEM = 2,       /* an examining verb found a failure: a FAIL check, an invalid
				     * ROM */
	PGP_EXIT_UNEXAMINED = 3,    /* an examining verb could not look at all: the PCI device
				     * list, the ROM file or device cannot be read */
	PGP_EXIT_LEFT_CHANGED = 4,  /* a change failed and could not be undone completely (the
				     * hookscript's pre-start): what is still changed is named,
				     * with the command that finishes the job */
	PGP_EXIT_NOTCONFIGURED = 6, /* nothing is configured, so there is nothing to do (LSB's
				     * and systemd's "program is not configured") */
	PGP_EXIT_USAGE = 64,        /* bad command line (sysexits.h EX_USAGE) */
};

#endif
