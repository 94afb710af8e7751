/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* seccomp-maps.c - does a process's memory map (the text of /proc/PID/maps)
 * allow reading or writing a range? The supervisor asks before it reads or
 * writes a program's memory through /proc/PID/mem, which ignores page
 * protections. libc only (tests/seccomp/test-maps.c links it). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "seccomp-maps.h"

bool sc_maps_allow(int fd, uint64_t addr, size_t len, char access)
{
	char buf[4096];
	uint64_t need = addr, end = addr + len;
	size_t have = 0, used;
	bool refused = false, skipping = false;
	ssize_t n;
	char *nl;

	if (end < addr || end > (uint64_t)INT64_MAX)
		return false; /* beyond any user address */
	/* one line at a time; the lines are sorted by address */
	while (need < end && !refused) {
		bool full;
		nl = memchr(buf, '\n', have);
		if (!nl && have < sizeof(buf) - 1) {
			n = read(fd, buf + have, sizeof(buf) - 1 - have);
			if (n > 0) {
				have += (size_t)n;
				continue;
			}
			if (have == 0)
				break;
			buf[have++] = '\n'; /* a last line without its newline */
			continue;
		}
		/* a line longer than the buffer (a long file name): its
		 * addresses and permissions are at its start, the rest of it
		 * is skipped */
		full = !nl;
		if (full)
			buf[have] = 0;
		else
			*nl = 0;
		if (!skipping) {
			unsigned long long lo, hi;
			char perm[5];
			if (sscanf(buf, "%llx-%llx %4s", &lo, &hi, perm) == 3 && lo <= need &&
			    need < hi) {
				if ((access == 'w' ? perm[1] : perm[0]) == access)
					need = hi;
				else
					refused = true;
			}
		}
		skipping = full;
		if (full) {
			have = 0;
			continue;
		}
		used = (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, have - used);
		have -= used;
	}
	return !refused && need >= end;
}

