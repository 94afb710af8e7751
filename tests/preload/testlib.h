/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* testlib.h - what the preload tests that compare a program with and
 * without the shim share (testlib.c). */
#ifndef MPTCPIFY_TESTLIB_H
#define MPTCPIFY_TESTLIB_H

/* Is the running kernel MAJOR.MINOR or later (uname)? */
int test_kernel_at_least(int major, int minor);

/* Runs SELF as `SELF child MODE`, under LD_PRELOAD=LIB (NULL: without the
 * shim), in all-mode with none of the caller's MPTCPIFY_* settings but
 * MPTCPIFY_LOG=LOG_LEVEL, its stdout into a file. Returns that file's fd,
 * at offset 0, with the child's exit status (128 + signal when killed) in
 * *STATUS; -1 when it cannot be run. */
int test_run_self(const char *self, const char *lib, const char *mode, const char *log_level,
		  int *status);

#endif
