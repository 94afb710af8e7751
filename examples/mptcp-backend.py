#!/usr/bin/env python3
"""mptcp-backend.py - a small HTTP/1.0 server on an MPTCP socket of its own.

The seed's backend: it opens socket(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP)
itself (no shim needed), with IPV6_V6ONLY off so IPv4 clients reach it too,
and answers every request with "HTTP/1.0 200 OK" and "Hello". With --file,
GET /data returns that file instead, so a test can check a large transfer.

Bounded: each connection gets --timeout seconds, requests are capped at
64 KiB of headers, at most --max-clients are served at once. It serves until
killed (SIGINT or SIGTERM end it cleanly).

Environment defaults: MPTCP_BACKEND_ADDR (::), MPTCP_BACKEND_PORT (4331).
"""

import argparse
import os
import signal
import socket
import sys
import threading

IPPROTO_MPTCP = 262
MAX_HEADER = 64 * 1024
HELLO = b"Hello from an MPTCP backend\n"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--addr", default=os.environ.get("MPTCP_BACKEND_ADDR", "::"),
                   help="address to bind (IPv6 or '::'; default %(default)s)")
    p.add_argument("--port", type=int,
                   default=int(os.environ.get("MPTCP_BACKEND_PORT", "4331")),
                   help="port to listen on (default %(default)s)")
    p.add_argument("--file", help="file served for GET /data")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds allowed per connection (default %(default)s)")
    p.add_argument("--fastopen", type=int, default=0, metavar="QLEN",
                   help="accept TCP Fast Open with this queue length (default off)")
    p.add_argument("--max-clients", type=int, default=64,
                   help="connections served at once (default %(default)s)")
    return p.parse_args()


def listen(addr, port, fastopen):
    """Returns a listening MPTCP socket, or exits with a reason."""
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, IPPROTO_MPTCP)
    except OSError as e:
        sys.exit(f"mptcp-backend: cannot open an MPTCP socket: {e}")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    if fastopen > 0:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, fastopen)
    s.bind((addr, port))
    s.listen(128)
    return s


def read_request(conn):
    """Returns the request line (bytes), or None when the client gave none."""
    buf = b""
    while b"\r\n\r\n" not in buf and b"\n\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            break
        buf += chunk
        if len(buf) > MAX_HEADER:
            return None
    line = buf.split(b"\n", 1)[0].strip()
    return line or None


def send_file(conn, path):
    size = os.path.getsize(path)
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 + f"Content-Length: {size}\r\nConnection: close\r\n\r\n".encode())
    with open(path, "rb") as f:
        conn.sendfile(f)


def serve(conn, args, slots):
    try:
        conn.settimeout(args.timeout)
        line = read_request(conn)
        if line is None:
            return
        parts = line.split()
        if args.file and len(parts) >= 2 and parts[0] == b"GET" and parts[1] == b"/data":
            send_file(conn, args.file)
        else:
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                         + f"Content-Length: {len(HELLO)}\r\n".encode()
                         + b"Connection: close\r\n\r\n" + HELLO)
    except OSError:
        pass
    finally:
        conn.close()
        slots.release()


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = listen(args.addr, args.port, args.fastopen)
    slots = threading.BoundedSemaphore(args.max_clients)
    print(f"mptcp-backend: listening on [{args.addr}]:{args.port}", flush=True)
    try:
        while True:
            slots.acquire()
            try:
                conn, _ = srv.accept()
            except OSError:
                slots.release()
                continue
            threading.Thread(target=serve, args=(conn, args, slots), daemon=True).start()
    except KeyboardInterrupt:
        pass
    finally:
        srv.close()


if __name__ == "__main__":
    main()
