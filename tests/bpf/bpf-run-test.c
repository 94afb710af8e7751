/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bpf-run-test.c - standalone driver of the BPF mode, for tests that must not
 * depend on mptcpify-run:
 *   bpf-run-test [-q] [--] COMMAND [ARG...]   bpf_mode_run() (verbose unless -q)
 *   bpf-run-test --check                      bpf_mode_probe(): "ok" or the reason */
#include <stdio.h>
#include <string.h>

#include "bpf-mode.h"

int main(int argc, char *argv[])
{
	int verbose = 1, i = 1;

	if (i < argc && !strcmp(argv[i], "-q")) {
		verbose = 0;
		i++;
	}
	if (i < argc && !strcmp(argv[i], "--check")) {
		char why[512];

		if (bpf_mode_probe(why, sizeof why) == 0) {
			puts("ok");
			return 0;
		}
		printf("--bpf: %s\n", why);
		return BPF_MODE_EXIT_REFUSED;
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	return bpf_mode_run(argv + i, verbose);
}
