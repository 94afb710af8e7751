/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pmnl.c - reads the MPTCP path manager's limits and endpoints over generic
 * netlink (family "mptcp_pm"), as `ip mptcp` does: with libmnl when it was
 * found at configure time, else over a plain netlink socket. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/mptcp.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#if HAVE_LIBMNL
#include <libmnl/libmnl.h>
#endif

#include "run.h"

/* What both transports hand over: one attribute at a time. */
static uint32_t attr_u32(const void *data, size_t len)
{
	uint32_t v = 0;

	if (len >= sizeof(v))
		memcpy(&v, data, sizeof(v));
	return v;
}

static void limits_attr(struct pm_limits *l, int type, const void *data,
			size_t len)
{
	if (type == MPTCP_PM_ATTR_SUBFLOWS)
		l->subflows = attr_u32(data, len);
	else if (type == MPTCP_PM_ATTR_RCV_ADD_ADDRS)
		l->add_addr_accepted = attr_u32(data, len);
}

static void endpoint_attr(struct pm_endpoint *ep, int type, const void *data,
			  size_t len)
{
	uint16_t u16 = 0;

	switch (type) {
	case MPTCP_PM_ADDR_ATTR_FAMILY:
		if (len >= 2)
			memcpy(&u16, data, 2);
		ep->family = u16;
		break;
	case MPTCP_PM_ADDR_ATTR_ID:
		if (len >= 1)
			ep->id = *(const uint8_t *)data;
		break;
	case MPTCP_PM_ADDR_ATTR_ADDR4:
		if (len >= 4)
			memcpy(ep->addr, data, 4);
		break;
	case MPTCP_PM_ADDR_ATTR_ADDR6:
		if (len >= 16)
			memcpy(ep->addr, data, 16);
		break;
	case MPTCP_PM_ADDR_ATTR_PORT:
		if (len >= 2)
			memcpy(&u16, data, 2);
		ep->port = u16; /* host order in this attribute */
		break;
	case MPTCP_PM_ADDR_ATTR_FLAGS:
		ep->flags = attr_u32(data, len);
		break;
	case MPTCP_PM_ADDR_ATTR_IF_IDX:
		ep->ifindex = (int)attr_u32(data, len);
		break;
	default:
		break;
	}
}

struct dump_ctx {
	void (*cb)(void *ctx, const struct pm_endpoint *ep);
	void *ctx;
	int count;
};

#if HAVE_LIBMNL
/* ---- libmnl transport ---------------------------------------------------- */

/* Sends NLH and feeds every answer to CB until the kernel is done. Returns 0
 * or a negative errno. */
static int transact(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		    void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned portid = mnl_socket_get_portid(nl);
	unsigned seq = nlh->nlmsg_seq;
	ssize_t n;
	int rc = MNL_CB_OK;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while (rc > MNL_CB_STOP) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
	}
	return rc < 0 ? -errno : 0;
}

static struct nlmsghdr *genl_header(char *buf, uint16_t type, uint8_t cmd,
				    uint8_t version, bool dump)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;

	/* Attribute padding would otherwise go out uninitialised. */
	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK);
	nlh->nlmsg_seq = 1;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
			*(uint16_t *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

/* Opens a socket and finds the mptcp_pm family. Returns 0 or -errno. */
static int pm_open(struct mnl_socket **out, uint16_t *family)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	int rc;

	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto fail;
	}
	nlh = genl_header(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, false);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, MPTCP_PM_NAME);
	*family = 0;
	rc = transact(nl, nlh, family_cb, family);
	if (rc == 0 && *family == 0)
		rc = -ENOENT;
	if (rc)
		goto fail;
	*out = nl;
	return 0;
fail:
	mnl_socket_close(nl);
	return rc;
}

static int limits_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		limits_attr(data, mnl_attr_get_type(a), mnl_attr_get_payload(a),
			    mnl_attr_get_payload_len(a));
	return MNL_CB_OK;
}

int pm_get_limits(struct pm_limits *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	uint16_t family;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = pm_open(&nl, &family)))
		return rc;
	rc = transact(nl, genl_header(buf, family, MPTCP_PM_CMD_GET_LIMITS,
				      MPTCP_PM_VER, false), limits_cb, out);
	mnl_socket_close(nl);
	return rc;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *dc = data;
	const struct nlattr *a, *n;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		struct pm_endpoint ep;

		if (mnl_attr_get_type(a) != MPTCP_PM_ATTR_ADDR)
			continue;
		memset(&ep, 0, sizeof(ep));
		mnl_attr_for_each_nested(n, a)
			endpoint_attr(&ep, mnl_attr_get_type(n),
				      mnl_attr_get_payload(n),
				      mnl_attr_get_payload_len(n));
		dc->count++;
		if (dc->cb)
			dc->cb(dc->ctx, &ep);
	}
	return MNL_CB_OK;
}

int pm_dump_endpoints(void (*cb)(void *ctx, const struct pm_endpoint *ep),
		      void *ctx)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct dump_ctx dc = { cb, ctx, 0 };
	struct mnl_socket *nl;
	uint16_t family;
	int rc;

	if ((rc = pm_open(&nl, &family)))
		return rc;
	rc = transact(nl, genl_header(buf, family, MPTCP_PM_CMD_GET_ADDR,
				      MPTCP_PM_VER, true), addr_cb, &dc);
	mnl_socket_close(nl);
	return rc ? rc : dc.count;
}

#else
/* ---- plain netlink socket ------------------------------------------------ */

#define ATTR_OK(a, rem) ((rem) >= (int)sizeof(struct nlattr) && \
			 (a)->nla_len >= sizeof(struct nlattr) && \
			 (a)->nla_len <= (unsigned)(rem))
#define ATTR_NEXT(a, rem) ((rem) -= NLA_ALIGN((a)->nla_len), \
			   (struct nlattr *)((char *)(a) + NLA_ALIGN((a)->nla_len)))
#define ATTR_DATA(a) ((void *)((char *)(a) + NLA_HDRLEN))
#define ATTR_LEN(a) ((size_t)((a)->nla_len - NLA_HDRLEN))
#define ATTR_TYPE(a) ((a)->nla_type & NLA_TYPE_MASK)

typedef void (*attr_fn)(void *ctx, struct nlattr *attrs, int len);

struct request {
	struct nlmsghdr nlh;
	struct genlmsghdr g;
	char attrs[64];
};

/* Sends REQ and calls FN with the attributes of every answer until the
 * kernel is done. Returns 0 or a negative errno. */
static int transact(int fd, struct request *req, attr_fn fn, void *ctx)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	static char buf[32768];
	bool dump = req->nlh.nlmsg_flags & NLM_F_DUMP;

	if (sendto(fd, req, req->nlh.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;
		int rem;

		if (n < 0)
			return -errno;
		rem = (int)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)rem);
		     h = NLMSG_NEXT(h, rem)) {
			if (h->nlmsg_seq != req->nlh.nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error; /* 0 is the ACK */
			}
			fn(ctx, (struct nlattr *)((char *)NLMSG_DATA(h) +
						  GENL_HDRLEN),
			   (int)h->nlmsg_len - NLMSG_HDRLEN - GENL_HDRLEN);
			if (!dump && !(req->nlh.nlmsg_flags & NLM_F_ACK))
				return 0;
		}
	}
}

static void request_init(struct request *req, uint16_t type, uint8_t cmd,
			 uint8_t version, bool dump)
{
	memset(req, 0, sizeof(*req));
	req->nlh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	req->nlh.nlmsg_type = type;
	req->nlh.nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK);
	req->nlh.nlmsg_seq = 1;
	req->g.cmd = cmd;
	req->g.version = version;
}

static void family_fn(void *ctx, struct nlattr *a, int rem)
{
	for (; ATTR_OK(a, rem); a = ATTR_NEXT(a, rem))
		if (ATTR_TYPE(a) == CTRL_ATTR_FAMILY_ID && ATTR_LEN(a) >= 2)
			memcpy(ctx, ATTR_DATA(a), 2);
}

static int pm_open(int *out, uint16_t *family)
{
	struct request req;
	struct nlattr *a;
	int fd, rc;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -errno;
	request_init(&req, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, false);
	a = (struct nlattr *)req.attrs;
	a->nla_type = CTRL_ATTR_FAMILY_NAME;
	a->nla_len = NLA_HDRLEN + sizeof(MPTCP_PM_NAME);
	memcpy(ATTR_DATA(a), MPTCP_PM_NAME, sizeof(MPTCP_PM_NAME));
	req.nlh.nlmsg_len += NLA_ALIGN(a->nla_len);
	*family = 0;
	rc = transact(fd, &req, family_fn, family);
	if (rc == 0 && *family == 0)
		rc = -ENOENT;
	if (rc) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

static void limits_fn(void *ctx, struct nlattr *a, int rem)
{
	for (; ATTR_OK(a, rem); a = ATTR_NEXT(a, rem))
		limits_attr(ctx, ATTR_TYPE(a), ATTR_DATA(a), ATTR_LEN(a));
}

int pm_get_limits(struct pm_limits *out)
{
	struct request req;
	uint16_t family;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	if ((rc = pm_open(&fd, &family)))
		return rc;
	request_init(&req, family, MPTCP_PM_CMD_GET_LIMITS, MPTCP_PM_VER, false);
	rc = transact(fd, &req, limits_fn, out);
	close(fd);
	return rc;
}

static void addr_fn(void *ctx, struct nlattr *a, int rem)
{
	struct dump_ctx *dc = ctx;

	for (; ATTR_OK(a, rem); a = ATTR_NEXT(a, rem)) {
		struct pm_endpoint ep;
		struct nlattr *n = ATTR_DATA(a);
		int nrem = (int)ATTR_LEN(a);

		if (ATTR_TYPE(a) != MPTCP_PM_ATTR_ADDR)
			continue;
		memset(&ep, 0, sizeof(ep));
		for (; ATTR_OK(n, nrem); n = ATTR_NEXT(n, nrem))
			endpoint_attr(&ep, ATTR_TYPE(n), ATTR_DATA(n), ATTR_LEN(n));
		dc->count++;
		if (dc->cb)
			dc->cb(dc->ctx, &ep);
	}
}

int pm_dump_endpoints(void (*cb)(void *ctx, const struct pm_endpoint *ep),
		      void *ctx)
{
	struct dump_ctx dc = { cb, ctx, 0 };
	struct request req;
	uint16_t family;
	int fd, rc;

	if ((rc = pm_open(&fd, &family)))
		return rc;
	request_init(&req, family, MPTCP_PM_CMD_GET_ADDR, MPTCP_PM_VER, true);
	rc = transact(fd, &req, addr_fn, &dc);
	close(fd);
	return rc ? rc : dc.count;
}
#endif
