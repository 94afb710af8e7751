// SPDX-License-Identifier: LGPL-2.1-or-later
// gohttp.go - an HTTP server and client in Go, built with CGO_ENABLED=0 for
// the seccomp tests: Go makes its system calls itself, so LD_PRELOAD never
// sees its sockets, and Go before 1.21 has no MPTCP of its own. Each side
// prints the kernel's SO_PROTOCOL of its sockets (262 MPTCP, 6 TCP).
//
//	gohttp server ADDR:PORT FILE   serve FILE at /data (until killed)
//	gohttp client URL OUT          fetch URL into OUT
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// protocol reads SO_PROTOCOL of the socket behind c, or -1.
func protocol(c syscall.Conn) int {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1
	}
	p := -1
	raw.Control(func(fd uintptr) {
		if v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PROTOCOL); err == nil {
			p = v
		}
	})
	return p
}

func server(addr, file string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on %s protocol %d\n", ln.Addr(), protocol(ln.(*net.TCPListener)))
	mux := http.NewServeMux()
	mux.HandleFunc("/data", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, file)
	})
	srv := &http.Server{
		Handler: mux,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*net.TCPConn); ok {
				fmt.Printf("accepted %s protocol %d\n", c.RemoteAddr(), protocol(tc))
			}
			return ctx
		},
	}
	return srv.Serve(ln)
}

func client(url, out string) error {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err == nil {
				if tc, ok := c.(*net.TCPConn); ok {
					fmt.Printf("connected to %s protocol %d\n", addr, protocol(tc))
				}
			}
			return c, err
		},
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 60 * time.Second}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	fmt.Printf("received %d bytes\n", n)
	return err
}

func main() {
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == "server":
		err = server(os.Args[2], os.Args[3])
	case len(os.Args) == 4 && os.Args[1] == "client":
		err = client(os.Args[2], os.Args[3])
	default:
		err = fmt.Errorf("usage: gohttp server ADDR:PORT FILE | client URL OUT")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gohttp:", err)
		os.Exit(1)
	}
}
