/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tcpwould.c - what a plain TCP socket would answer (see tcpwould.h).
 *
 * Three sources, best first:
 *  1. a fresh TCP socket of the same family (tempsock.c), asked the same
 *     question: exact for everything that does not depend on the
 *     connection, on the running kernel with its sysctls;
 *  2. a model of what TCP computes from the connection (MSS, window
 *     clamp, delayed-ACK "pingpong" state), fed by what the kernel tells
 *     about the MPTCP socket and its first subflow;
 *  3. when no fd can be had at all: answers learnt from earlier questions
 *     (per family), else the kernel's documented defaults and checks.
 * The kernel facts used here are cited by function (net/ipv4/tcp.c
 * do_tcp_setsockopt/do_tcp_getsockopt, tcp_output.c
 * tcp_select_initial_window, tcp_input.c tcp_init_buffer_space,
 * ip_sockglue.c, ipv6_sockglue.c, core/sock.c sk_getsockopt). */
#include "tcpwould.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/mptcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "shim.h"
#include "tempsock.h"

#ifndef TCP_AO_REPAIR
#define TCP_AO_REPAIR 42
#endif
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

/* The prefix of the kernel's struct tcp_info (uapi linux/tcp.h) up to the
 * fields read here; glibc's netinet/tcp.h declares an older, shorter one. */
struct k_tcp_info {
	uint8_t state, ca_state, retransmits, probes, backoff, options;
	uint8_t wscales; /* snd_wscale:4, rcv_wscale:4 */
	uint8_t flags;
	uint32_t rto, ato, snd_mss, rcv_mss;
	uint32_t unacked, sacked, lost, retrans, fackets;
	uint32_t last_data_sent, last_ack_sent, last_data_recv, last_ack_recv;
	uint32_t pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh, snd_cwnd, advmss, reordering;
	uint32_t rcv_rtt, rcv_space;
	uint32_t total_retrans;
	uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	uint32_t segs_out, segs_in;
	uint32_t notsent_bytes, min_rtt, data_segs_in, data_segs_out;
};
#define K_TCPI_OPT_TIMESTAMPS 1
#define K_TCPI_OPT_WSCALE 4
#define K_TCP_SYN_SENT 2
#define K_TCP_SYN_RECV 3

/* Constants of the TCP code (include/net/tcp.h, net/sock.h). */
#define TCP_MSS_DEFAULT_VALUE 536 /* mss_cache of a socket before a connection */
#define TCP_MIN_MSS_VALUE 88
#define MAX_TCP_WINDOW_VALUE 32767
#define TCP_FIN_TIMEOUT_MAX_SECS 120
#define TCP_TIMESTAMP_OPTION_LEN 12
/* SOCK_MIN_RCVBUF / 2 on 64-bit kernels: the smallest window clamp
 * (tcp_set_window_clamp); used only when no TCP socket can be asked */
#define MIN_WINDOW_CLAMP 1152

/* ---- the socket's state ------------------------------------------------- */

enum tstate {
	TS_CLOSE,  /* neither listening nor connecting */
	TS_LISTEN,
	TS_SYN,    /* connect() in progress */
	TS_EST,    /* connected (established or closing) */
};

struct view {
	int family;
	enum tstate st;
};

/* The first subflow's tcp_info (TCP_INFO on an MPTCP socket answers for
 * it), else the first entry of MPTCP_TCPINFO. Returns 0 or -1. */
static int first_subflow(int fd, struct k_tcp_info *ti)
{
	socklen_t len = sizeof(*ti);
	struct {
		struct mptcp_subflow_data d;
		struct k_tcp_info ti;
	} buf;

	memset(ti, 0, sizeof(*ti));
	if (real.getsockopt(fd, SOL_TCP, TCP_INFO, ti, &len) == 0 &&
	    len >= offsetof(struct k_tcp_info, data_segs_out) + sizeof(uint32_t))
		return 0;
	memset(&buf, 0, sizeof(buf));
	buf.d.size_subflow_data = sizeof(buf.d);
	buf.d.size_user = sizeof(buf.ti);
	len = sizeof(buf);
	if (real.getsockopt(fd, SOL_MPTCP, MPTCP_TCPINFO, &buf, &len) < 0 ||
	    buf.d.num_subflows < 1 || len < sizeof(buf.d) + offsetof(struct k_tcp_info, rcv_mss))
		return -1;
	*ti = buf.ti;
	return 0;
}

static void view_of(int fd, struct view *v)
{
	int dom = AF_INET, acc = 0;
	socklen_t l = sizeof(dom);
	struct sockaddr_storage peer;
	struct k_tcp_info ti;

	real.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l);
	v->family = dom;
	l = sizeof(acc);
	if (real.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) == 0 && acc) {
		v->st = TS_LISTEN;
		return;
	}
	l = sizeof(peer);
	if (real.getpeername(fd, (struct sockaddr *)&peer, &l) == 0) {
		v->st = TS_EST;
		return;
	}
	v->st = TS_CLOSE;
	if (first_subflow(fd, &ti) == 0 && (ti.state == K_TCP_SYN_SENT || ti.state == K_TCP_SYN_RECV))
		v->st = TS_SYN;
}

/* The running kernel as major * 100 + minor, read once. */
static int kernel_version(void)
{
	static atomic_int cached;
	int v = atomic_load_explicit(&cached, memory_order_relaxed);
	struct utsname u;

	if (v)
		return v;
	v = 1; /* unknown: older than anything */
	if (uname(&u) == 0) {
		int ma = 0, mi = 0;
		const char *p = u.release;
		while (*p >= '0' && *p <= '9')
			ma = ma * 10 + (*p++ - '0');
		if (*p == '.')
			p++;
		while (*p >= '0' && *p <= '9')
			mi = mi * 10 + (*p++ - '0');
		v = ma * 100 + mi;
	}
	atomic_store_explicit(&cached, v, memory_order_relaxed);
	return v;
}

/* ---- kinds of values ---------------------------------------------------- */

/* Options whose value is not one int (strings, keys, structures): TCP's
 * answer depends on more than a copy of the value. */
static int is_int_option(int level, int name)
{
	if (level == SOL_TCP)
		return name != TCP_CONGESTION && name != TCP_ULP && name != TCP_FASTOPEN_KEY &&
		       name != TCP_MD5SIG && name != TCP_MD5SIG_EXT && name != TCP_REPAIR_WINDOW &&
		       name != TCP_REPAIR_OPTIONS && name != TCP_INFO && name != TCP_CC_INFO &&
		       !(name >= 38 && name <= 42); /* TCP_AO_* */
	if (level == SOL_SOCKET)
		return name != SO_MAX_PACING_RATE && name != SO_TXTIME && name != SO_ATTACH_FILTER &&
		       name != SO_ATTACH_BPF && name != SO_ATTACH_REUSEPORT_CBPF &&
		       name != SO_ATTACH_REUSEPORT_EBPF;
	return level == SOL_IP || level == SOL_IPV6;
}

/* Records of these carry one byte more when set on an established socket:
 * TCP treats a value set before the connection differently (the window
 * clamp is cut to the receive space, the MSS clamp shapes mss_cache). A
 * TCP_MAXSEG record holds the value set and then the value read back
 * (unconnected, 0 and 536 both read 536; connected, they differ). */
static int has_when_byte(int level, int name)
{
	return (level == SOL_TCP && (name == TCP_WINDOW_CLAMP || name == TCP_MAXSEG)) ||
	       (level == SOL_IPV6 && name == IPV6_TCLASS);
}
#define WHEN_ESTABLISHED 1

socklen_t tcpw_record_value_len(int level, int name, const void *rec, socklen_t reclen)
{
	(void)rec;
	if (has_when_byte(level, name) && reclen > sizeof(int))
		return sizeof(int);
	return reclen;
}

/* ---- TCP's copy to the caller ------------------------------------------- */

static int fail(int err)
{
	errno = err;
	return -1;
}

/* Copies value V (N bytes, as TCP holds it) to VAL/LEN the way TCP's
 * getsockopt() does at LEVEL: the caller's length is read first (EFAULT,
 * EINVAL when negative); SOL_SOCKET writes the value before the length,
 * the IP levels and TCP the length first; IP-level integers 0..255 go out
 * as one byte into a buffer of 1..3 bytes (do_ip_getsockopt); a
 * SO_MAX_PACING_RATE buffer shorter than a long gets the 32-bit form. */
static int copy_out(int level, int name, const unsigned char *v, socklen_t n, void *val,
		    socklen_t *len)
{
	int ulen;
	socklen_t m;

	if (!len)
		return fail(EFAULT);
	memcpy(&ulen, len, sizeof(ulen));
	/* ipv6_getsockopt takes the length as unsigned: a negative one is
	 * large; the other levels refuse it */
	if (ulen < 0 && level == SOL_IPV6)
		ulen = INT_MAX;
	if (ulen < 0)
		return fail(EINVAL);
	if (level == SOL_SOCKET) {
		unsigned char v32[sizeof(unsigned)];
		if (name == SO_MAX_PACING_RATE && n == sizeof(unsigned long) &&
		    (socklen_t)ulen < sizeof(unsigned long)) {
			unsigned long rate;
			unsigned r32;
			memcpy(&rate, v, sizeof(rate));
			r32 = rate > UINT_MAX ? UINT_MAX : (unsigned)rate;
			memcpy(v32, &r32, sizeof(r32));
			v = v32;
			n = sizeof(r32);
		}
		m = (socklen_t)ulen < n ? (socklen_t)ulen : n;
		if (m && !val)
			return fail(EFAULT);
		memcpy(val, v, m);
		*len = m;
		return 0;
	}
	if (level == SOL_IP && n == sizeof(int) && ulen > 0 && ulen < (int)sizeof(int)) {
		int iv;
		memcpy(&iv, v, sizeof(iv));
		if (iv >= 0 && iv <= 255) {
			*len = 1;
			if (!val)
				return fail(EFAULT);
			*(unsigned char *)val = (unsigned char)iv;
			return 0;
		}
	}
	m = (socklen_t)ulen < n ? (socklen_t)ulen : n;
	*len = m;
	if (m && !val)
		return fail(EFAULT);
	memcpy(val, v, m);
	return 0;
}

/* ---- what earlier questions taught (per family) ------------------------- */

/* A fresh TCP socket's answer to a large-buffer getsockopt, for options of
 * the shim's table; used only when no TCP socket can be had. Written once
 * per slot (0 empty, 1 being written, 2 valid). */
struct learnt {
	atomic_int state;
	int rc, err;
	socklen_t len;
	unsigned char v[TCPW_RECORD_MAX];
};
#define LEARN_SLOTS 96
static struct learnt learnt[2][LEARN_SLOTS];

static struct learnt *learnt_slot(int family, int level, int name)
{
	const struct opt_info *o = optclass_find(level, name);
	long i = o ? (long)(o - optclass_table) : -1;
	if (i < 0 || i >= LEARN_SLOTS)
		return NULL;
	return &learnt[family_index(family)][i];
}

static void learn(int family, int level, int name, int rc, int err, const void *v, socklen_t len)
{
	struct learnt *l = learnt_slot(family, level, name);
	int empty = 0;

	if (!l || len > TCPW_RECORD_MAX || !atomic_compare_exchange_strong(&l->state, &empty, 1))
		return;
	l->rc = rc;
	l->err = err;
	l->len = len;
	if (rc == 0)
		memcpy(l->v, v, len);
	atomic_store_explicit(&l->state, 2, memory_order_release);
}

/* Returns 0 (value in V and *LEN), -1 with errno, or -2 when nothing is known. */
static int recall(int family, int level, int name, void *v, socklen_t *len)
{
	struct learnt *l = learnt_slot(family, level, name);

	if (!l || atomic_load_explicit(&l->state, memory_order_acquire) != 2)
		return -2;
	if (l->rc < 0)
		return fail(l->err);
	memcpy(v, l->v, l->len);
	*len = l->len;
	return 0;
}

/* The kernel's defaults for a fresh TCP socket, for the options the shim
 * answers for (sysctls at their defaults: ip_default_ttl 64, tcp_fin_timeout
 * 60, tcp_keepalive_* 7200/75/9...). Returns 0 (int in *V), -1 with errno,
 * or -2 when not known. */
static int builtin_default(int family, int level, int name, int *v)
{
	if (level == SOL_IPV6 && family != AF_INET6)
		return fail(EOPNOTSUPP); /* ip_getsockopt: not its level */
	switch (level) {
	case SOL_IP:
		switch (name) {
		case IP_TTL: *v = 64; return 0;
		case IP_MTU_DISCOVER: *v = IP_PMTUDISC_WANT; return 0;
		case IP_LOCAL_PORT_RANGE:
			/* TCP has it since 6.3, and 6.1.y has it too
			 * (Debian's 6.1.192 answers it); 5.10 and 5.15
			 * do not */
			if (kernel_version() < 601)
				return fail(ENOPROTOOPT);
			*v = 0;
			return 0;
		case IP_RECVERR: case IP_PKTINFO: case IP_RECVTOS: case IP_TOS: case IP_MINTTL: case IP_FREEBIND:
		case IP_TRANSPARENT: case IP_BIND_ADDRESS_NO_PORT:
			*v = 0;
			return 0;
		}
		break;
	case SOL_IPV6:
		switch (name) {
		case IPV6_UNICAST_HOPS: *v = 64; return 0;
		case IPV6_MTU_DISCOVER: *v = IPV6_PMTUDISC_WANT; return 0;
		case IPV6_TCLASS: case IPV6_RECVERR: case IPV6_MINHOPCOUNT: case IPV6_FREEBIND:
		case IPV6_TRANSPARENT:
			*v = 0;
			return 0;
		}
		break;
	case SOL_TCP:
		switch (name) {
		case TCP_MAXSEG: *v = TCP_MSS_DEFAULT_VALUE; return 0;
		case TCP_QUICKACK: *v = 1; return 0;
		case TCP_LINGER2: *v = 60; return 0;
		case TCP_SYNCNT: *v = 6; return 0; /* net.ipv4.tcp_syn_retries */
		case TCP_KEEPIDLE: *v = 7200; return 0;
		case TCP_KEEPINTVL: *v = 75; return 0;
		case TCP_KEEPCNT: *v = 9; return 0;
		case TCP_WINDOW_CLAMP: case TCP_THIN_LINEAR_TIMEOUTS: case TCP_THIN_DUPACK:
		case TCP_TX_DELAY: case TCP_USER_TIMEOUT: case TCP_SAVE_SYN: case TCP_DEFER_ACCEPT:
		case TCP_NOTSENT_LOWAT: case TCP_FASTOPEN: case TCP_FASTOPEN_CONNECT:
		case TCP_FASTOPEN_NO_COOKIE: case TCP_NODELAY: case TCP_CORK: case TCP_INQ:
		case TCP_REPAIR:
			*v = 0;
			return 0;
		}
		break;
	case SOL_SOCKET:
		switch (name) {
		case SO_OOBINLINE: case SO_ZEROCOPY: case SO_LOCK_FILTER: *v = 0; return 0;
		case SO_PEEK_OFF:
			if (kernel_version() < 609)
				return fail(EOPNOTSUPP); /* TCP has it since 6.9 */
			*v = -1;
			return 0;
		}
		break;
	}
	return -2;
}

/* TCP_DEFER_ACCEPT keeps seconds as a number of SYN-ACK retransmits
 * (do_tcp_setsockopt: secs_to_retrans with a 1 s initial and 120 s maximum
 * timeout) and reads them back as the seconds those take. */
static int defer_accept_readback(int secs)
{
	int retrans = 0, timeout = 1, period = 1;

	if (secs <= 0)
		return 0;
	retrans = 1;
	while (secs > period && retrans < 255) {
		retrans++;
		timeout = timeout * 2 > TCP_FIN_TIMEOUT_MAX_SECS ? TCP_FIN_TIMEOUT_MAX_SECS : timeout * 2;
		period += timeout;
	}
	return period;
}

/* The kernel's checks of setsockopt(LEVEL, NAME) on a fresh TCP socket
 * and what it reads back, when no TCP socket can be asked. Returns 0 (the
 * int read back in *OUT), 1 (accepted, read back as given), -1 with
 * errno, or -2 when not known. */
static int builtin_check(int family, int level, int name, const void *val, socklen_t len,
			 int *out)
{
	int v = 0;

	if (level == SOL_IPV6 && family != AF_INET6)
		return fail(ENOPROTOOPT);
	if (!is_int_option(level, name) && !(level == SOL_SOCKET && name == SO_MAX_PACING_RATE) &&
	    !(level == SOL_TCP && (name == TCP_CONGESTION || name == TCP_FASTOPEN_KEY)) &&
	    !(level == SOL_SOCKET && name == SO_TXTIME))
		return -2;
	if (level == SOL_IP) {
		/* do_ip_setsockopt: an int, one byte when shorter, and no
		 * value at all (length 0) counts as 0 */
		if (len >= sizeof(int)) {
			if (!val)
				return fail(EFAULT);
			memcpy(&v, val, sizeof(v));
		} else if (len >= 1) {
			if (!val)
				return fail(EFAULT);
			v = *(const unsigned char *)val;
		} else if (name == IP_TTL || name == IP_MINTTL) {
			return fail(EINVAL); /* these two want a value */
		}
	} else if (level == SOL_IPV6) {
		/* do_ipv6_setsockopt: a NULL value counts as 0; an int is
		 * required */
		if (val && len >= sizeof(int))
			memcpy(&v, val, sizeof(v));
		if (len < sizeof(int))
			return fail(EINVAL);
	} else if (level == SOL_TCP && name == TCP_CONGESTION) {
		return len < 1 ? fail(EINVAL) : -2; /* a name: only the kernel knows them */
	} else if (level == SOL_TCP && name == TCP_FASTOPEN_KEY) {
		/* one key or two (the second a backup), 16 bytes each; read
		 * back as given */
		if (len != 16 && len != 32)
			return fail(EINVAL);
		return val ? 1 : fail(EFAULT);
	} else if (level == SOL_SOCKET && name == SO_TXTIME) {
		return len < 8 ? fail(EINVAL) : -2; /* struct sock_txtime */
	} else {
		if (len < sizeof(int))
			return fail(EINVAL);
		if (!val)
			return fail(EFAULT);
		memcpy(&v, val, sizeof(v));
	}
	*out = v;
	switch (level) {
	case SOL_IP:
		switch (name) {
		case IP_TTL:
			if (v != -1 && (v < 1 || v > 255))
				return fail(EINVAL);
			*out = v == -1 ? 64 : v;
			return 0;
		case IP_MINTTL:
			if (v < 0 || v > 255)
				return fail(EINVAL);
			return 0;
		case IP_MTU_DISCOVER:
			if (v < IP_PMTUDISC_DONT || v > IP_PMTUDISC_OMIT)
				return fail(EINVAL);
			return 0;
		case IP_TOS:
			*out = v & 0xff & ~3; /* the ECN bits stay TCP's */
			return 0;
		case IP_RECVERR: case IP_PKTINFO: case IP_RECVTOS: case IP_FREEBIND: case IP_TRANSPARENT:
		case IP_BIND_ADDRESS_NO_PORT:
			*out = v != 0;
			return 0;
		case IP_LOCAL_PORT_RANGE:
			/* TCP has it since 6.3, and 6.1.y has it too
			 * (Debian's 6.1.192 answers it); 5.10 and 5.15
			 * do not */
			if (kernel_version() < 601)
				return fail(ENOPROTOOPT);
			/* low port in the low half, high in the high half;
			 * both set means low <= high */
			if ((v & 0xffff) && ((unsigned)v >> 16) && (v & 0xffff) > ((unsigned)v >> 16))
				return fail(EINVAL);
			return 0;
		}
		return -2;
	case SOL_IPV6:
		switch (name) {
		case IPV6_UNICAST_HOPS:
			if (v > 255 || v < -1)
				return fail(EINVAL);
			*out = v == -1 ? 64 : v;
			return 0;
		case IPV6_TCLASS:
			if (v < -1 || v > 0xff)
				return fail(EINVAL);
			/* since 6.0 TCP keeps its own ECN bits */
			*out = v == -1 ? 0 : kernel_version() >= 600 ? v & ~3 : v;
			return 0;
		case IPV6_MTU_DISCOVER:
			if (v < IPV6_PMTUDISC_DONT || v > IPV6_PMTUDISC_OMIT)
				return fail(EINVAL);
			return 0;
		case IPV6_RECVERR: case IPV6_FREEBIND: case IPV6_TRANSPARENT:
			*out = v != 0;
			return 0;
		case IPV6_MINHOPCOUNT:
			if (v < 0 || v > 255)
				return fail(EINVAL);
			return 0;
		}
		return -2;
	case SOL_TCP:
		switch (name) {
		case TCP_MAXSEG:
			if (v && (v < TCP_MIN_MSS_VALUE || v > MAX_TCP_WINDOW_VALUE))
				return fail(EINVAL);
			*out = v ? v : TCP_MSS_DEFAULT_VALUE;
			return 0;
		case TCP_WINDOW_CLAMP:
			/* tcp_set_window_clamp: at least SOCK_MIN_RCVBUF / 2,
			 * compared as int since 6.15 (-1 is small), as
			 * unsigned before (-1 is kept) */
			if (v == 0)
				*out = 0;
			else if (kernel_version() >= 615)
				*out = v < MIN_WINDOW_CLAMP ? MIN_WINDOW_CLAMP : v;
			else
				*out = (unsigned)v < MIN_WINDOW_CLAMP ? MIN_WINDOW_CLAMP : v;
			return 0;
		case TCP_LINGER2:
			*out = v < 0 ? -1 : v == 0 ? 60 : v > TCP_FIN_TIMEOUT_MAX_SECS ? TCP_FIN_TIMEOUT_MAX_SECS : v;
			return 0;
		case TCP_DEFER_ACCEPT:
			*out = defer_accept_readback(v);
			return 0;
		case TCP_QUICKACK: case TCP_NODELAY: case TCP_CORK:
			*out = v != 0;
			return 0;
		case TCP_THIN_LINEAR_TIMEOUTS: case TCP_THIN_DUPACK: case TCP_INQ:
		case TCP_FASTOPEN_CONNECT: case TCP_FASTOPEN_NO_COOKIE:
			if (v < 0 || v > 1)
				return fail(EINVAL);
			if (name == TCP_THIN_DUPACK)
				*out = 0; /* obsolete: always reads 0 */
			return 0;
		case TCP_SAVE_SYN:
			if (v < 0 || v > 2)
				return fail(EINVAL);
			return 0;
		case TCP_USER_TIMEOUT:
			if (v < 0)
				return fail(EINVAL);
			return 0;
		case TCP_SYNCNT:
			if (v < 1 || v > 127) /* MAX_TCP_SYNCNT */
				return fail(EINVAL);
			return 0;
		case TCP_FASTOPEN:
			/* the queue length, at most net.core.somaxconn
			 * (default 4096; fastopen_queue_tune) */
			if (v < 0)
				return fail(EINVAL);
			*out = v > 4096 ? 4096 : v;
			return 0;
		case TCP_KEEPIDLE: case TCP_KEEPINTVL:
			if (v < 1 || v > 32767)
				return fail(EINVAL);
			return 0;
		case TCP_KEEPCNT:
			if (v < 1 || v > 127)
				return fail(EINVAL);
			return 0;
		case TCP_TX_DELAY:
			/* recent kernels keep the delay within what srtt_us
			 * can hold (checked on 6.18; older take any value) */
			if (kernel_version() >= 618 && (v < 0 || v >= (1 << 28)))
				return fail(EINVAL);
			return 0;
		case TCP_NOTSENT_LOWAT:
			return 0;
		}
		return -2;
	case SOL_SOCKET:
		switch (name) {
		case SO_OOBINLINE: case SO_ZEROCOPY: case SO_LOCK_FILTER:
			*out = v != 0;
			return 0;
		case SO_MAX_PACING_RATE:
			return 0;
		case SO_PEEK_OFF:
			/* TCP has MSG_PEEK offsets since 6.9 */
			if (kernel_version() < 609)
				return fail(EOPNOTSUPP);
			return 0;
		}
		return -2;
	}
	return -2;
}

/* getsockopt() errors of a fresh TCP socket that do not depend on a
 * value (do_tcp_getsockopt): options it can only set, and the repair
 * ones outside repair mode. Returns the errno, or 0. */
static int builtin_get_error(int level, int name, int ulen)
{
	if (level != SOL_TCP)
		return 0;
	switch (name) {
	case TCP_MD5SIG: case TCP_MD5SIG_EXT: case TCP_REPAIR_OPTIONS:
	case 38: case 39: case 40: case 41: case TCP_AO_REPAIR: /* TCP_AO_* */
		return ENOPROTOOPT;
	case TCP_QUEUE_SEQ: case TCP_REPAIR_QUEUE:
		return EINVAL;
	case TCP_REPAIR_WINDOW:
		return ulen != 20 ? EINVAL : EPERM; /* sizeof(struct tcp_repair_window) */
	}
	return 0;
}

/* ---- asking a TCP socket ------------------------------------------------ */

/* getsockopt on a fresh TCP socket of FAMILY with the caller's VAL/LEN
 * (so the kernel itself answers every odd length and NULL), remembering
 * the large-buffer answer for when no socket can be had. Returns 0, -1
 * with TCP's errno, or -2 when no TCP socket could be made. */
static int ask_get(int family, int level, int name, void *val, socklen_t *len)
{
	unsigned char big[64];
	socklen_t blen = sizeof(big);
	int tmp, rc, err;

	tmp = temp_socket(family, SOCK_STREAM, IPPROTO_TCP);
	if (tmp < 0)
		return -2;
	rc = real.getsockopt(tmp, level, name, big, &blen);
	learn(family, level, name, rc, errno, big, blen);
	rc = real.getsockopt(tmp, level, name, val, len);
	err = errno;
	real.close(tmp);
	errno = err;
	return rc;
}

/* The large-buffer value of a fresh TCP socket: asked, learnt, or the
 * kernel's default. Returns 0, -1 with errno, -2 when nothing is known. */
static int fresh_value(int family, int level, int name, unsigned char *v, socklen_t *vlen)
{
	socklen_t cap = *vlen;
	int rc = ask_get(family, level, name, v, vlen), iv;

	if (rc != -2)
		return rc;
	*vlen = cap;
	rc = recall(family, level, name, v, vlen);
	if (rc != -2)
		return rc;
	if (level == SOL_SOCKET && name == SO_MAX_PACING_RATE) {
		unsigned long unlimited = ~0UL;
		memcpy(v, &unlimited, sizeof(unlimited));
		*vlen = sizeof(unlimited);
		return 0;
	}
	if (level == SOL_TCP && name == TCP_FASTOPEN_KEY) {
		*vlen = 0; /* no key until the namespace first uses TFO */
		return 0;
	}
	rc = builtin_default(family, level, name, &iv);
	if (rc == 0) {
		memcpy(v, &iv, sizeof(iv));
		*vlen = sizeof(iv);
	}
	return rc;
}

/* setsockopt on a fresh TCP socket of FAMILY, and what it reads back with
 * a large buffer into OUT and *OUTLEN. Returns 0, -1 with TCP's errno, or -2
 * when no TCP socket could be made. */
static int ask_set(int family, int level, int name, const void *val, socklen_t len,
		   unsigned char *out, socklen_t *outlen)
{
	int tmp, rc, err = 0;

	tmp = temp_socket(family, SOCK_STREAM, IPPROTO_TCP);
	if (tmp < 0)
		return -2;
	rc = real.setsockopt(tmp, level, name, val, len);
	if (rc < 0)
		err = errno;
	else if (real.getsockopt(tmp, level, name, out, outlen) < 0)
		*outlen = 0;
	real.close(tmp);
	if (rc < 0)
		return fail(err);
	return 0;
}

/* ---- what TCP computes from the connection ------------------------------ */

/* The receive space TCP offers for a receive buffer of SPACE bytes
 * (tcp_win_from_space): before 6.6 by net.ipv4.tcp_adv_win_scale (default
 * 1: half), since then by a per-socket ratio of payload to memory that
 * starts at half (6.6 to about 6.9 started at about a quarter: there this
 * is twice TCP's) and follows the skbs received. */
static unsigned win_from_space(unsigned space)
{
	static atomic_int adv_scale_plus_100;
	int s;

	if (kernel_version() >= 606)
		return space / 2;
	s = atomic_load_explicit(&adv_scale_plus_100, memory_order_relaxed);
	if (!s) {
		char b[16] = { 0 };
		int f = open("/proc/sys/net/ipv4/tcp_adv_win_scale", O_RDONLY | O_CLOEXEC);
		s = 101;
		if (f >= 0) {
			ssize_t n = read(f, b, sizeof(b) - 1);
			real.close(f);
			if (n > 0) {
				int neg = b[0] == '-', x = 0;
				for (const char *p = b + neg; *p >= '0' && *p <= '9'; p++)
					x = x * 10 + (*p - '0');
				s = 100 + (neg ? -x : x);
			}
		}
		atomic_store_explicit(&adv_scale_plus_100, s, memory_order_relaxed);
	}
	s -= 100;
	if (s <= 0)
		return s < -31 ? 0 : space >> -s;
	return s > 31 ? space : space - (space >> s);
}

/* TCP's window clamp on a connection whose clamp before establishment was
 * PRE (0: none): tcp_select_initial_window caps it at 65535 << rcv_wscale,
 * tcp_init_buffer_space at the receive space of the receive buffer
 * (net.ipv4.tcp_app_win at its default 31 takes nothing off). The buffer
 * is the MPTCP socket's (SO_RCVBUF: the program's setting, or the
 * autotuned size, which TCP's clamp follows as well). Returns -1 when the
 * kernel tells nothing. */
static long model_window_clamp(int fd, unsigned pre)
{
	struct k_tcp_info ti;
	int rcvbuf = 0;
	socklen_t l = sizeof(rcvbuf);
	unsigned long cap, full;

	if (first_subflow(fd, &ti) < 0 || real.getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &l) < 0)
		return -1;
	cap = (ti.options & K_TCPI_OPT_WSCALE) ? 65535UL << (ti.wscales >> 4) : 65535UL;
	full = win_from_space((unsigned)rcvbuf);
	if (pre && pre < cap)
		cap = pre;
	return (long)(cap < full ? cap : full);
}

/* TCP's mss_cache on the connection (what TCP_MAXSEG reads there): the
 * first subflow's, which the kernel computes as TCP does, cut to the MSS
 * clamp USER_MSS set before the connection (less the timestamp option when
 * in use), which the MPTCP kernel did not apply. -1 when unknown. */
static long model_mss(int fd, int user_mss)
{
	struct k_tcp_info ti;
	long mss;

	if (first_subflow(fd, &ti) < 0 || ti.snd_mss == 0)
		return -1;
	mss = ti.snd_mss;
	if (user_mss > 0) {
		long clamp = user_mss - ((ti.options & K_TCPI_OPT_TIMESTAMPS) ? TCP_TIMESTAMP_OPTION_LEN : 0);
		if (clamp < mss)
			mss = clamp;
	}
	return mss;
}

/* TCP_QUICKACK as TCP reads it on the connection: 0 in delayed-ACK
 * "pingpong" mode, which TCP enters when it sends data within the
 * delayed-ACK timeout (ato) after receiving data (tcp_event_data_sent),
 * and leaves when a delayed ACK has to be sent alone. Modelled from the
 * first subflow, which runs that same code: pingpong when data went both
 * ways and the last data sent followed the last data received within ato.
 * The kernel tells the times in ms (jiffies): when both fall in the same
 * one, the side that sent the last data segment is the one that got an ACK
 * more than it sent segments. Not exact: pingpong left by a delayed-ACK
 * timeout after later data, or entered by replies before the last one
 * (net.ipv4.tcp_pingpong_thresh > 1 needs several), is not seen. */
static int model_quickack(int fd)
{
	struct k_tcp_info ti;
	uint32_t r, s;

	if (first_subflow(fd, &ti) < 0 || !ti.data_segs_in || !ti.data_segs_out)
		return 1;
	r = ti.last_data_recv;
	s = ti.last_data_sent;
	if (r < s)
		return 1; /* data received after the last send */
	if ((uint64_t)(r - s) * 1000 >= ti.ato)
		return 1;
	if (r == s && ti.segs_in <= ti.segs_out)
		return 1;
	return 0;
}

/* ---- the interface -------------------------------------------------------- */

int tcpw_get(int fd, int level, int name, const void *rec, socklen_t reclen, void *val,
	     socklen_t *len, int kernel_err)
{
	struct view v;
	unsigned char buf[TCPW_RECORD_MAX + 24];
	socklen_t n = sizeof(buf);
	long m = -1;
	int rc;

	view_of(fd, &v);
	if (rec) {
		n = reclen <= sizeof(buf) ? reclen : sizeof(buf);
		memcpy(buf, rec, n);
		if (level == SOL_TCP && name == TCP_WINDOW_CLAMP && n >= sizeof(int)) {
			int pre;
			memcpy(&pre, buf, sizeof(pre));
			/* set on the established socket: as read then; set
			 * before: cut to what the connection got */
			if (n == sizeof(int) && v.st == TS_EST)
				m = model_window_clamp(fd, (unsigned)pre);
			n = sizeof(int);
		} else if (level == SOL_TCP && name == TCP_MAXSEG && n >= sizeof(int)) {
			int user, rb;
			memcpy(&user, buf, sizeof(user));
			rb = user;
			if (n >= 2 * sizeof(int))
				memcpy(&rb, buf + sizeof(int), sizeof(rb));
			else if (user == TCP_MSS_DEFAULT_VALUE)
				user = 0; /* a bare read-back value: 536 is no clamp */
			if (v.st == TS_EST || v.st == TS_SYN)
				/* mss_cache; a clamp set once established
				 * does not change it */
				m = model_mss(fd, n == 2 * sizeof(int) + 1 ? 0 : user);
			if (m < 0)
				memcpy(buf, &rb, sizeof(rb));
			n = sizeof(int);
		}
		if (level == SOL_IPV6 && name == IPV6_TCLASS && n >= sizeof(int)) {
			/* before 6.0 TCP keeps the ECN bits a program sets,
			 * but a connection that comes up without ECN clears
			 * those set before it (INET_ECN_dontxmit): set once
			 * established, they stay */
			if (n == sizeof(int) && (v.st == TS_EST || v.st == TS_SYN) &&
			    kernel_version() < 600) {
				int tc;
				memcpy(&tc, buf, sizeof(tc));
				tc &= ~3;
				memcpy(buf, &tc, sizeof(tc));
			}
			n = sizeof(int);
		}
		if (m >= 0) {
			int iv = m > INT_MAX ? INT_MAX : (int)m;
			memcpy(buf, &iv, sizeof(iv));
			n = sizeof(iv);
		}
		return copy_out(level, name, buf, n, val, len);
	}
	/* nobody set it: what TCP has in this state */
	if (level == SOL_TCP && (v.st == TS_EST || (v.st == TS_SYN && name == TCP_MAXSEG))) {
		if (name == TCP_MAXSEG)
			m = model_mss(fd, 0);
		else if (name == TCP_WINDOW_CLAMP)
			m = model_window_clamp(fd, 0);
		else if (name == TCP_QUICKACK)
			m = model_quickack(fd);
		if (m >= 0) {
			int iv = m > INT_MAX ? INT_MAX : (int)m;
			return copy_out(level, name, (unsigned char *)&iv, sizeof(iv), val, len);
		}
	}
	if (level == SOL_TCP && name == TCP_AO_REPAIR && v.st == TS_LISTEN && kernel_version() >= 607) {
		/* TCP-AO repair state is refused on listeners (tcp_ao_get_repair) */
		int ulen;
		if (!len)
			return fail(EFAULT);
		memcpy(&ulen, len, sizeof(ulen));
		return fail(ulen < 0 ? EINVAL : EPERM);
	}
	rc = ask_get(v.family, level, name, val, len);
	if (rc != -2)
		return rc;
	/* no TCP socket can be had: what is known */
	if (level == SOL_IPV6 && v.family != AF_INET6)
		return fail(EOPNOTSUPP); /* ip_getsockopt: not its level */
	if (!len)
		return fail(EFAULT);
	{
		int ulen, e;
		memcpy(&ulen, len, sizeof(ulen));
		/* TCP and IP check the length before the name: EINVAL
		 * also for a name they do not know (do_ip_getsockopt);
		 * except the multicast-routing names, which IP hands to
		 * ip_mroute_getsockopt first: EOPNOTSUPP on a TCP socket
		 * (a kernel without CONFIG_IP_MROUTE has no such names:
		 * EINVAL there, which only a TCP socket could tell) */
		if (level == SOL_IP && name >= 200 && name <= 212) /* MRT_BASE..MRT_FLUSH */
			return fail(EOPNOTSUPP);
		if ((level == SOL_TCP || level == SOL_IP) && ulen < 0)
			return fail(EINVAL);
		if ((e = builtin_get_error(level, name, ulen)))
			return fail(e);
	}
	n = sizeof(buf);
	rc = fresh_value(v.family, level, name, buf, &n);
	if (rc == -2)
		/* SOL_SOCKET is answered by the same code for TCP and MPTCP;
		 * elsewhere the kernel's word is all there is */
		return fail(kernel_err ? kernel_err : EOPNOTSUPP);
	if (rc < 0)
		return -1;
	return copy_out(level, name, buf, n, val, len);
}

int tcpw_set(int fd, int level, int name, const void *val, socklen_t len, void *rec,
	     socklen_t *reclen, int *is_default, int kernel_err)
{
	struct view v;
	unsigned char out[64];
	socklen_t olen = sizeof(out);
	int rc, iv = 0;

	view_of(fd, &v);
	rc = ask_set(v.family, level, name, val, len, out, &olen);
	if (rc == -2) {
		rc = builtin_check(v.family, level, name, val, len, &iv);
		if (rc == -2 && kernel_err == EINVAL) {
			/* nothing known, and the MPTCP kernel's EINVAL may
			 * well be TCP's verdict */
			return fail(EINVAL);
		} else if (rc == -2) {
			/* nothing known: taken as set, read back as given */
			rc = 0;
			olen = len < sizeof(out) ? len : sizeof(out);
			if (val)
				memcpy(out, val, olen);
		} else if (rc == 1) {
			rc = 0; /* read back as given */
			olen = len < sizeof(out) ? len : sizeof(out);
			memcpy(out, val, olen);
		} else if (rc == 0) {
			if (level == SOL_SOCKET && name == SO_MAX_PACING_RATE) {
				/* an int up to ~0U, or a long (sk_setsockopt) */
				unsigned long rate = (unsigned)iv == ~0U ? ~0UL : (unsigned)iv;
				if (len >= sizeof(unsigned long))
					memcpy(&rate, val, sizeof(rate));
				memcpy(out, &rate, sizeof(rate));
				olen = sizeof(rate);
			} else {
				memcpy(out, &iv, sizeof(iv));
				olen = sizeof(iv);
			}
		}
	}
	if (rc < 0)
		return -1;
	/* the state checks TCP makes once the value passed (do_tcp_setsockopt) */
	if (level == SOL_TCP && olen == sizeof(int)) {
		memcpy(&iv, out, sizeof(iv));
		switch (name) {
		case TCP_WINDOW_CLAMP:
			if (iv == 0 && v.st != TS_CLOSE)
				return fail(EINVAL);
			break;
		case TCP_FASTOPEN:
		case TCP_FASTOPEN_NO_COOKIE:
			if (v.st != TS_CLOSE && v.st != TS_LISTEN)
				return fail(EINVAL);
			break;
		case TCP_FASTOPEN_CONNECT:
			if (v.st != TS_CLOSE)
				return fail(EINVAL);
			break;
		case TCP_REPAIR:
			/* tcp_can_repair_sock: closed or established only */
			if (v.st == TS_LISTEN || v.st == TS_SYN)
				return fail(EPERM);
			break;
		}
	}
	if (is_default) {
		unsigned char d[64];
		socklen_t dlen = sizeof(d);
		*is_default = fresh_value(v.family, level, name, d, &dlen) == 0 && dlen == olen &&
			      memcmp(d, out, olen) == 0;
	}
	if (level == SOL_TCP && name == TCP_MAXSEG && olen == sizeof(int)) {
		/* the value set, then the value read back */
		memmove(out + sizeof(int), out, sizeof(int));
		memcpy(out, val, sizeof(int)); /* TCP took len >= 4 */
		olen = 2 * sizeof(int);
	}
	if (has_when_byte(level, name) && olen <= 2 * sizeof(int) && v.st == TS_EST)
		out[olen++] = WHEN_ESTABLISHED;
	if (olen > *reclen)
		olen = *reclen;
	memcpy(rec, out, olen);
	*reclen = olen;
	return 0;
}

int tcpw_is_default(int fd, int level, int name, const void *val, socklen_t len)
{
	unsigned char rec[TCPW_RECORD_MAX];
	socklen_t rlen = sizeof(rec);
	int dflt = 0, saved = errno;

	if (tcpw_set(fd, level, name, val, len, rec, &rlen, &dflt, 0) < 0)
		dflt = 0;
	errno = saved;
	return dflt;
}

int tcpw_inherit(int level, int name, const void *lrec, socklen_t llen, void *crec,
		 socklen_t *clen)
{
	/* the accept queue's own settings stay with the listener
	 * (inet_csk_clone_lock clears the clone's queue) */
	if (level == SOL_TCP &&
	    (name == TCP_DEFER_ACCEPT || name == TCP_FASTOPEN || name == TCP_FASTOPEN_KEY))
		return 0;
	/* a clamp inherited is a clamp from before the connection: without
	 * the byte saying it was set on an established socket */
	if (((level == SOL_TCP && name == TCP_WINDOW_CLAMP) ||
	     (level == SOL_IPV6 && name == IPV6_TCLASS)) &&
	    llen > sizeof(int))
		llen = sizeof(int);
	if (level == SOL_TCP && name == TCP_MAXSEG && llen > 2 * sizeof(int))
		llen = 2 * sizeof(int);
	if (llen > *clen)
		llen = *clen;
	memcpy(crec, lrec, llen);
	*clen = llen;
	return 1;
}

int tcpw_set_precheck(int fd, int level, int name, const void *val, socklen_t len)
{
	int v, err = 0;

	/* do_tcp_setsockopt: an int, readable, and for TCP_MAXSEG 0 or
	 * 88..32767 */
	if (len < sizeof(int))
		err = EINVAL;
	else if (!val)
		err = EFAULT;
	else if (name == TCP_MAXSEG) {
		memcpy(&v, val, sizeof(v));
		if (v && (v < TCP_MIN_MSS_VALUE || v > MAX_TCP_WINDOW_VALUE))
			err = EINVAL;
	}
	(void)level;
	if ((!err && name != TCP_DEFER_ACCEPT) || sock_protocol(fd) != IPPROTO_MPTCP)
		return 0; /* TCP's own kernel answers for itself */
	if (err)
		return fail(err);
	/* TCP_DEFER_ACCEPT on a connected MPTCP socket is taken and lost;
	 * TCP keeps it (it has no effect there) and reads it back */
	struct view sv;
	view_of(fd, &sv);
	return sv.st == TS_EST || sv.st == TS_SYN;
}

int tcpw_get_first(int fd, int level, int name, void *val, socklen_t *len, int *rc)
{
	(void)level;
	(void)name;
	(void)val;
	if (sock_protocol(fd) != IPPROTO_MPTCP)
		return 0;
	/* do_tcp_getsockopt TCP_ULP without a ULP: the length 0, nothing
	 * copied */
	if (!len) {
		*rc = fail(EFAULT);
		return 1;
	}
	if ((int)*len < 0) {
		*rc = fail(EINVAL);
		return 1;
	}
	*len = 0;
	*rc = 0;
	return 1;
}

int tcpw_fix_get(int fd, int level, int name, void *val, socklen_t *len, socklen_t len_in, int rc)
{
	int dom = AF_INET, iv, err = errno;
	socklen_t l = sizeof(dom);

	if (sock_protocol(fd) != IPPROTO_MPTCP) {
		errno = err;
		return rc;
	}
	if (level == SOL_IPV6) {
		real.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l);
		if (dom == AF_INET)
			return fail(EOPNOTSUPP); /* ip_getsockopt: not its level */
	}
	if (rc < 0 && err == EINVAL && level == SOL_IPV6 && (int)len_in < 0) {
		/* ipv6_getsockopt takes a negative length as large: the int */
		l = sizeof(iv);
		if (real.getsockopt(fd, level, name, &iv, &l) == 0 && l == sizeof(iv)) {
			if (!val)
				return fail(EFAULT);
			memcpy(val, &iv, sizeof(iv));
			*len = sizeof(iv);
			errno = err;
			return 0;
		}
	}
	if (rc == 0 && (level == SOL_TCP || level == SOL_IPV6) && len_in > 1 &&
	    len_in < sizeof(int) && *len == 1) {
		/* TCP and IPv6 copy min(len, 4) bytes of the int, MPTCP one */
		l = sizeof(iv);
		if (real.getsockopt(fd, level, name, &iv, &l) == 0 && l == sizeof(iv)) {
			memcpy(val, &iv, len_in);
			*len = len_in;
		}
	}
	(void)name;
	errno = err;
	return rc;
}

/* ---- the interface of before tcpw_set()/tcpw_get() ---------------------- */

int tcpw_default(int fd, int level, int name, void *val, socklen_t *len)
{
	return tcpw_get(fd, level, name, NULL, 0, val, len, 0);
}

int tcpw_accepts(int family, int level, int name, const void *val, socklen_t len, void *norm,
		 socklen_t *normlen)
{
	unsigned char out[64];
	socklen_t olen = sizeof(out), cap = norm ? *normlen : 0;
	int rc = ask_set(family, level, name, val, len, out, &olen), iv;

	if (rc == -2) {
		rc = builtin_check(family, level, name, val, len, &iv);
		if (rc == 0) {
			memcpy(out, &iv, sizeof(iv));
			olen = sizeof(iv);
		} else if (rc > 0 || rc == -2) {
			rc = 0;
			olen = len < sizeof(out) ? len : sizeof(out);
			if (val)
				memcpy(out, val, olen);
		}
	}
	if (rc < 0)
		return -1;
	if (norm) {
		*normlen = olen < cap ? olen : cap;
		memcpy(norm, out, *normlen);
	}
	return 0;
}

void tcpw_copy_out(int level, int name, const void *stored, socklen_t slen, void *val,
		   socklen_t *len)
{
	int saved = errno;
	copy_out(level, name, stored, slen, val, len);
	errno = saved;
}
