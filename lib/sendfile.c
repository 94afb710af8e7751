/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sendfile.c - sendfile(2) and sendfile64. The MPTCP sockets of Linux 5.10
 * refuse the page path that sendfile takes (their sendmsg fails every flag
 * but MSG_MORE, MSG_DONTWAIT and MSG_NOSIGNAL with EOPNOTSUPP, so also the
 * MSG_SENDPAGE_NOTLAST of splice; 5.11 ignores unknown flags), which no TCP
 * socket does: nginx with `sendfile on` then fails every response. Only
 * when the real call failed that way on an MPTCP socket are the bytes
 * copied through a buffer on the stack instead; the success path costs
 * nothing. */
#include "shim.h"

#include <unistd.h>

/* Declared here, not by <sys/sendfile.h>: with _FILE_OFFSET_BITS=64 that
 * header renames sendfile to sendfile64, and both names are defined below. */
ssize_t sendfile(int out, int in, off_t *offset, size_t count);
ssize_t sendfile64(int out, int in, off64_t *offset, size_t count);

#define COPY_CHUNK 16384		/* on the stack: no allocation */
#define COPY_MAX_PER_CALL (1 << 20)	/* a short count, as sendfile may return */

/* pread + send from IN at *OFFSET (or its file position) to OUT, at most
 * COUNT bytes: what sendfile does, with its results (bytes sent, or -1 and
 * the errno when nothing was sent; SIGPIPE like sendfile on a closed
 * connection, since send without MSG_NOSIGNAL raises it too). */
static ssize_t copy_out(int out, int in, off64_t *offset, size_t count)
{
	char buf[COPY_CHUNK];
	size_t done = 0;
	off64_t pos;
	int saved = errno;

	pos = offset ? *offset : lseek64(in, 0, SEEK_CUR);
	if (pos < 0)
		return -1;
	while (done < count && done < COPY_MAX_PER_CALL) {
		size_t want = count - done < sizeof(buf) ? count - done : sizeof(buf);
		ssize_t got = pread64(in, buf, want, pos + (off64_t)done), sent;

		if (got <= 0) {
			if (got < 0 && done == 0)
				return -1;
			break; /* end of file, or an error after some bytes */
		}
		sent = real.sendto(out, buf, (size_t)got, 0, NULL, 0);
		if (sent < 0) {
			if (done == 0)
				return -1;
			break;
		}
		done += (size_t)sent;
		if (sent < got)
			break; /* the socket's buffer is full */
	}
	if (offset)
		*offset = pos + (off64_t)done;
	else
		lseek64(in, pos + (off64_t)done, SEEK_SET);
	errno = saved;
	return (ssize_t)done;
}

/* Did the real call fail the way 5.10's MPTCP sockets fail it? */
static int mptcp_refused_pages(int out)
{
	int err = errno, mptcp;

	if (err != EOPNOTSUPP)
		return 0;
	mptcp = sock_protocol(out) == IPPROTO_MPTCP;
	errno = err;
	return mptcp;
}

EXPORT ssize_t sendfile64(int out, int in, off64_t *offset, size_t count)
{
	ssize_t ret;

	shim_ensure();
	ret = real.sendfile64(out, in, offset, count);
	if (ret < 0 && mptcp_refused_pages(out))
		ret = copy_out(out, in, offset, count);
	return ret;
}

/* On 64-bit systems off_t is off64_t: the same call under its other name. */
_Static_assert(sizeof(off_t) == sizeof(off64_t), "sendfile.c assumes a 64-bit off_t");
EXPORT ssize_t sendfile(int out, int in, off_t *offset, size_t count)
{
	ssize_t ret;

	shim_ensure();
	ret = real.sendfile(out, in, offset, count);
	if (ret < 0 && mptcp_refused_pages(out))
		ret = copy_out(out, in, (off64_t *)offset, count);
	return ret;
}
