/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-common.h - what every Check unit suite shares: the runner. */
#ifndef MPTCPIFY_TEST_COMMON_H
#define MPTCPIFY_TEST_COMMON_H

#include <check.h>
#include <stdlib.h>

/* Runs SUITE with Check's usual environment (CK_FORK, CK_RUN_CASE, ...) and
 * returns the process exit status: 0 when every test passed. */
static inline int test_run_suite(Suite *suite)
{
	SRunner *sr = srunner_create(suite);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* MPTCPIFY_TEST_COMMON_H */
