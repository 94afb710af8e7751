/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tcpwould.c - what a plain TCP socket would answer (see tcpwould.h). */
#include "tcpwould.h"

#include <linux/mptcp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "shim.h"
#include "tempsock.h"

#define TCP_MSS_DEFAULT_VALUE 536 /* what TCP reports before a connection */

static int family_of(int fd)
{
	int dom = AF_INET;
	socklen_t l = sizeof(dom);
	real.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l);
	return dom;
}

/* The MSS of the first subflow of a connected MPTCP socket, or -1. */
static int first_subflow_mss(int fd)
{
	struct {
		struct mptcp_subflow_data d;
		struct tcp_info ti;
	} buf;
	socklen_t len = sizeof(buf);

	memset(&buf, 0, sizeof(buf));
	buf.d.size_subflow_data = sizeof(buf.d);
	buf.d.size_user = sizeof(buf.ti);
	if (real.getsockopt(fd, SOL_MPTCP, MPTCP_TCPINFO, &buf, &len) < 0 ||
	    buf.d.num_subflows < 1 || len < sizeof(buf.d) + offsetof(struct tcp_info, tcpi_rcv_mss))
		return -1;
	return (int)buf.ti.tcpi_snd_mss;
}

void tcpw_copy_out(int level, int name, const void *stored, socklen_t slen, void *val,
		   socklen_t *len)
{
	socklen_t n = *len < slen ? *len : slen;
	int iv;

	(void)name;
	/* IP-level integers: a short buffer gets one byte when it fits */
	if (level == SOL_IP && slen == sizeof(int) && *len > 0 && *len < sizeof(int)) {
		memcpy(&iv, stored, sizeof(iv));
		if (iv >= 0 && iv <= 255) {
			*(unsigned char *)val = (unsigned char)iv;
			*len = 1;
			return;
		}
	}
	memcpy(val, stored, n);
	*len = n;
}

int tcpw_default(int fd, int level, int name, void *val, socklen_t *len)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int tmp, rc, err;

	if (level == SOL_TCP && name == TCP_MAXSEG) {
		int mss = TCP_MSS_DEFAULT_VALUE;
		if (real.getpeername(fd, (struct sockaddr *)&peer, &plen) == 0) {
			int sub = first_subflow_mss(fd);
			if (sub > 0)
				mss = sub;
		}
		tcpw_copy_out(level, name, &mss, sizeof(mss), val, len);
		return 0;
	}
	tmp = temp_socket(family_of(fd), SOCK_STREAM, IPPROTO_TCP);
	if (tmp < 0) {
		errno = EOPNOTSUPP; /* cannot ask: not TCP's answer */
		return -1;
	}
	rc = real.getsockopt(tmp, level, name, val, len);
	err = errno;
	real.close(tmp);
	errno = err;
	return rc;
}

int tcpw_is_default(int fd, int level, int name, const void *val, socklen_t len)
{
	unsigned char dflt[64];
	socklen_t dlen = sizeof(dflt);

	if (!val || len == 0 || len > sizeof(dflt))
		return 0;
	if (tcpw_default(fd, level, name, dflt, &dlen) < 0 || dlen != len)
		return 0;
	return memcmp(dflt, val, len) == 0;
}

int tcpw_accepts(int family, int level, int name, const void *val, socklen_t len,
		 void *norm, socklen_t *normlen)
{
	int tmp, rc, err = 0;
	socklen_t cap = norm ? *normlen : 0;

	if (norm) {
		*normlen = len <= cap ? len : cap;
		if (val)
			memcpy(norm, val, *normlen);
	}
	tmp = temp_socket(family, SOCK_STREAM, IPPROTO_TCP);
	if (tmp < 0)
		return 0; /* cannot tell: assume TCP would */
	rc = real.setsockopt(tmp, level, name, val, len);
	if (rc < 0) {
		err = errno;
	} else if (norm) {
		unsigned char back[64];
		socklen_t blen = sizeof(back);
		if (real.getsockopt(tmp, level, name, back, &blen) == 0) {
			*normlen = blen < cap ? blen : cap;
			memcpy(norm, back, *normlen);
		}
	}
	real.close(tmp);
	if (rc < 0) {
		errno = err;
		return -1;
	}
	return 0;
}
