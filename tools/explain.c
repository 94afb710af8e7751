/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* explain.c - `--explain listen|connect ADDRESS`: what the policy decides
 * for one socket, and which rule decided (and on which line, for a policy
 * file). The policy comes from policy_load(), the library's own loader,
 * compiled image included: the answer is the library's. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

/* Parses "1.2.3.4:443" or "[2001:db8::1]:443" into SS. Returns 0 or -1. */
static int parse_address(const char *text, struct sockaddr_storage *ss,
			 socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port, *colon, *end;
	unsigned long p;
	char *stop;
	size_t hlen;

	memset(ss, 0, sizeof(*ss));
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end || end[1] != ':')
			return -1;
		hlen = (size_t)(end - text - 1);
		port = end + 2;
		if (hlen == 0 || hlen >= sizeof(host))
			return -1;
		memcpy(host, text + 1, hlen);
		host[hlen] = '\0';
	} else {
		colon = strrchr(text, ':');
		if (!colon || strchr(text, ':') != colon)
			return -1;
		hlen = (size_t)(colon - text);
		port = colon + 1;
		if (hlen == 0 || hlen >= sizeof(host))
			return -1;
		memcpy(host, text, hlen);
		host[hlen] = '\0';
	}
	if (*port < '0' || *port > '9')
		return -1;
	p = strtoul(port, &stop, 10);
	if (*stop || p > 65535)
		return -1;

	if (text[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -1;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)p);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -1;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)p);
		*len = sizeof(*s4);
	}
	return 0;
}

int explain_main(const struct run_settings *s, const char *dir,
		 const char *address)
{
	struct sockaddr_storage ss;
	enum policy_verdict v;
	enum policy_dir d;
	unsigned rule = 0;
	const char *file;
	socklen_t len;

	if (strcmp(dir, "listen") == 0) {
		d = POLICY_LISTEN;
	} else if (strcmp(dir, "connect") == 0) {
		d = POLICY_CONNECT;
	} else {
		fprintf(stderr, PROG ": --explain: direction must be 'listen' or "
			"'connect', not '%s'\n", dir);
		return EXIT_OWN_ERROR;
	}
	if (parse_address(address, &ss, &len)) {
		fprintf(stderr, PROG ": --explain: bad ADDRESS '%s' (expected "
			"1.2.3.4:443 or [2001:db8::1]:443)\n", address);
		return EXIT_OWN_ERROR;
	}

	if (!s->policy) {
		printf("mptcp (MPTCPIFY_ADDRS unset: everything is upgraded)\n");
		return 0;
	}
	file = s->addrs + strspn(s->addrs, " \t\n\r\v\f");
	file = file[0] == '@' ? file + 1 : NULL;
	v = policy_decide(s->policy, d, (struct sockaddr *)&ss, len, &rule);
	if (rule) {
		size_t tlen = 0;
		const char *t = policy_rule_text(s->policy, rule, &tlen);
		unsigned line = policy_rule_line(s->policy, rule);

		printf("%s (rule %u \"%.*s\"", v == POLICY_MPTCP ? "mptcp" : "tcp",
		       rule, (int)tlen, t ? t : "");
		if (file && line)
			printf(", %s:%u", file, line);
		printf(")\n");
	} else if (policy_rule_count(s->policy) == 0) {
		if (file)
			printf("tcp (%s has no rules: nothing is upgraded)\n", file);
		else
			printf("tcp (MPTCPIFY_ADDRS is empty: nothing is upgraded)\n");
	} else {
		printf("tcp (no rule matched)\n");
	}
	return 0;
}
