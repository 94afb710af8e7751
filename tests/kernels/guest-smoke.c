/* tests/kernels/guest-smoke.c: guest test proving the kernel does MPTCP over
 * loopback: an MPTCP listener and client in one process, SO_PROTOCOL 262 on
 * all three sockets, data both ways, and the MPTcpExt counters moving. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "guest-common.h"

static const char *name = "guest-smoke";

/* Returns SO_PROTOCOL of fd, or -errno. */
static int sock_protocol(int fd)
{
	int proto = 0;
	socklen_t len = sizeof(proto);

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0)
		return -errno;
	return proto;
}

int main(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	long long syn_rx0, ack_rx0, synack_rx0;
	char buf[16];
	int lfd, cfd, afd;
	struct utsname u;

	uname(&u);
	syn_rx0 = mptcp_counter("MPCapableSYNRX");
	ack_rx0 = mptcp_counter("MPCapableACKRX");
	/* The client-side counter came after 5.10 (5.10 counts only what a
	 * listener receives): where it is missing, the client's side is told
	 * by the socket itself below. */
	synack_rx0 = mptcp_counter("MPCapableSYNACKRX");
	if (syn_rx0 < 0 || ack_rx0 < 0)
		guest_fail(name, "no MPTcpExt counters in /proc/net/netstat");

	lfd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (lfd < 0)
		guest_fail(name, "socket(IPPROTO_MPTCP): %s", strerror(errno));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0)
		guest_fail(name, "listener: %s", strerror(errno));

	cfd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		guest_fail(name, "client: %s", strerror(errno));
	afd = accept(lfd, NULL, NULL);
	if (afd < 0)
		guest_fail(name, "accept: %s", strerror(errno));

	if (sock_protocol(lfd) != IPPROTO_MPTCP || sock_protocol(cfd) != IPPROTO_MPTCP ||
	    sock_protocol(afd) != IPPROTO_MPTCP)
		guest_fail(name, "SO_PROTOCOL listener %d client %d accepted %d, want 262",
			   sock_protocol(lfd), sock_protocol(cfd), sock_protocol(afd));

	if (write(cfd, "ping", 4) != 4 || read(afd, buf, sizeof(buf)) != 4 ||
	    memcmp(buf, "ping", 4) != 0)
		guest_fail(name, "client to server data lost");
	if (write(afd, "pong", 4) != 4 || read(cfd, buf, sizeof(buf)) != 4 ||
	    memcmp(buf, "pong", 4) != 0)
		guest_fail(name, "server to client data lost");

	/* The kernel's view: one MP_CAPABLE handshake seen by each side. */
	if (mptcp_counter("MPCapableSYNRX") <= syn_rx0 ||
	    mptcp_counter("MPCapableACKRX") <= ack_rx0 ||
	    (synack_rx0 >= 0 && mptcp_counter("MPCapableSYNACKRX") <= synack_rx0))
		guest_fail(name, "MPTcpExt counters did not move (SYNRX %lld->%lld, ACKRX %lld->%lld, SYNACKRX %lld->%lld)",
			   syn_rx0, mptcp_counter("MPCapableSYNRX"), ack_rx0,
			   mptcp_counter("MPCapableACKRX"), synack_rx0,
			   mptcp_counter("MPCapableSYNACKRX"));

	if (synack_rx0 < 0) {
		/* No MPCapableSYNACKRX (5.10): a client that fell back to TCP
		 * passes TCP-level getsockopt to its one subflow, an MPTCP one
		 * refuses them there (TCP_MAXSEG: refused before 6.17). */
		int mss;
		socklen_t ml = sizeof(mss);
		if (getsockopt(cfd, IPPROTO_TCP, TCP_MAXSEG, &mss, &ml) == 0 || errno != EOPNOTSUPP)
			guest_fail(name, "no MPCapableSYNACKRX here, and the client's TCP_MAXSEG says fallback (%s)",
				   strerror(errno));
	}

	close(afd);
	close(cfd);
	close(lfd);
	printf("%s: MPTCP over loopback works on %s%s\n", name, u.release,
	       synack_rx0 < 0 ? " (client side: no MPCapableSYNACKRX counter, checked by TCP_MAXSEG)" : "");
	return 0;
}
