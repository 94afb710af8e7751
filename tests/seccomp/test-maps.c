/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-maps.c - sc_maps_allow() (tools/seccomp-maps.c), which the seccomp
 * supervisor asks before it reads or writes a program's memory through
 * /proc/PID/mem (kernels without process_vm_readv): on synthetic maps
 * (long lines, gaps, adjacent mappings, wrap-around) and on this process's
 * own /proc/self/maps against the kernel's own verdict (process_vm_readv
 * and process_vm_writev on the same ranges). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "seccomp-maps.h"

static int fails;

static int maps_fd(const char *text)
{
	char path[] = "/tmp/mptcpify-test-maps.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("tmp");
		exit(2);
	}
	unlink(path);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void check(const char *what, const char *text, uint64_t addr, size_t len, char acc, int want)
{
	int fd = text ? maps_fd(text) : open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	int got = sc_maps_allow(fd, addr, len, acc);
	close(fd);
	if (got != want) {
		printf("FAIL: %s: %#llx+%zu '%c' -> %d, expected %d\n", what, (unsigned long long)addr,
		       len, acc, got, want);
		fails++;
	}
}

/* The kernel's verdict for this process: can it copy LEN bytes at P? */
static int kernel_allows(void *p, size_t len, char acc)
{
	char buf[64] = "";
	struct iovec l = { buf, len }, r = { p, len };
	ssize_t n = acc == 'w' ? process_vm_writev(getpid(), &l, 1, &r, 1, 0)
			       : process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	if (n < 0 && errno == ENOSYS)
		return -1;
	return n == (ssize_t)len;
}

static void real(const char *what, void *p, size_t len, char acc, int want)
{
	int k = kernel_allows(p, len, acc);
	if (k >= 0 && k != want) {
		printf("FAIL: %s: the kernel says %d, the test expected %d\n", what, k, want);
		fails++;
	}
	check(what, NULL, (uintptr_t)p, len, acc, want);
}

int main(void)
{
	static char text[16384], longname[6001];
	long pg = sysconf(_SC_PAGESIZE);
	int onstack = 0;

	/* synthetic */
	const char *two = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n"
			  "7f0000001000-7f0000002000 rw-p 00000000 00:00 0\n"
			  "7f0000002000-7f0000003000 r--p 00000000 00:00 0 /lib/x.so\n"
			  "7f0000004000-7f0000005000 rw-p 00000000 00:00 0\n"
			  "7f0000005000-7f0000006000 ---p 00000000 00:00 0\n";
	check("inside one", two, 0x7f0000000010, 8, 'w', 1);
	check("across two adjacent rw", two, 0x7f0000000ff0, 0x20, 'w', 1);
	check("rw then r--", two, 0x7f0000001ff0, 0x20, 'w', 0);
	check("r-- read", two, 0x7f0000002010, 8, 'r', 1);
	check("r-- write", two, 0x7f0000002010, 8, 'w', 0);
	check("across a gap", two, 0x7f0000003ff0, 0x20, 'r', 0);
	check("in the gap", two, 0x7f0000003010, 8, 'r', 0);
	check("---p read", two, 0x7f0000005010, 8, 'r', 0);
	check("below everything", two, 0x1000, 8, 'r', 0);
	check("above everything", two, 0x7f0000007000, 8, 'r', 0);
	check("zero length", two, 0x1000, 0, 'w', 1);
	check("wraps past 2^64", two, 0xfffffffffffff000ULL, 0x2000, 'r', 0);
	check("ends at 2^64", two, 0xfffffffffffff000ULL, 0x1000, 'r', 0);
	check("above 2^63", "8000000000000000-8000000000001000 rw-p 0 00:00 0\n",
	      0x8000000000000010ULL, 8, 'r', 0);
	check("last line without newline", "7f0000000000-7f0000001000 rw-p 00000000 00:00 0",
	      0x7f0000000010, 8, 'w', 1);
	check("empty maps", "", 0x7f0000000010, 8, 'r', 0);
	memset(longname, 'n', sizeof(longname) - 1);
	snprintf(text, sizeof(text),
		 "10000000-10001000 r--p 00000000 00:00 0 /%s\n"
		 "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 [stack]\n",
		 longname);
	check("after a 6000-byte line", text, 0x7f0000000010, 8, 'w', 1);
	check("the long line's own mapping", text, 0x10000010, 8, 'r', 1);
	check("the long line's own mapping, write", text, 0x10000010, 8, 'w', 0);

	/* this process, against the kernel's own copy */
	char *none = mmap(NULL, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *ro = mmap(NULL, (size_t)pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *rw = mmap(NULL, 3 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	if (none == MAP_FAILED || ro == MAP_FAILED || rw == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	mprotect(rw + pg, (size_t)pg, PROT_READ | PROT_WRITE | PROT_EXEC); /* 3 mappings */
	real("stack, write", &onstack, sizeof(onstack), 'w', 1);
	real("PROT_NONE, read", none, 8, 'r', 0);
	real("PROT_READ, read", ro, 8, 'r', 1);
	real("PROT_READ, write", ro, 8, 'w', 0);
	real("three adjacent writable mappings", rw + 8, 3 * (size_t)pg - 16 > 64 ? 64 : 8, 'w', 1);
	check("three adjacent writable mappings, all of them", NULL, (uintptr_t)rw + 8,
	      3 * (size_t)pg - 16, 'w', 1);
	munmap(rw + 2 * pg, (size_t)pg);
	check("a mapping then a hole", NULL, (uintptr_t)rw + 2 * pg - 8, 16, 'w', 0);
	real("code, write", (void *)(uintptr_t)main, 8, 'w', 0);

	if (fails) {
		printf("test-maps: FAIL: %d check(s)\n", fails);
		return 1;
	}
	printf("test-maps: PASS\n");
	return 0;
}
