#!/usr/bin/env python3
# tests/stock/sockopt-survey.py - lists the setsockopt/getsockopt calls a
# program makes on its TCP (and MPTCP) sockets, from the `strace -f -k`
# files that the stock tests write with ST_TRACE=DIR (tests/stock/logs.sh):
# level, name, value, the socket's kind at the time (unconnected,
# listening, accepted, connected) and the kernel's answer, without and
# with the shim side by side. A developer's aid, not a test.
#
#   ST_TRACE=/tmp/tr meson test -C build stock-vsftpd
#   tests/stock/sockopt-survey.py /tmp/tr/vsftpd.plain.strace /tmp/tr/vsftpd.shim.strace
#
# The program's own calls are told from the shim's by the stack: a call
# whose first frame outside libc is libmptcpify.so's setsockopt/getsockopt
# is the program's (the shim makes the real call first); one from any
# other function of the shim is the shim's own (temporary TCP twins,
# SO_PROTOCOL and SO_COOKIE checks, replays) and is counted apart. "TCP?"
# or "MPTCP?" marks a call whose stack strace could not read (chrooted
# processes): it may be the shim's.
import collections
import re
import sys

LINE = re.compile(r'^(\d+)\s+(.*)$')
CALL = re.compile(r'^(\w+)\((.*)\)\s+=\s+(.*)$')
RESUMED = re.compile(r'^<\.\.\. (\w+) resumed>(.*)$')
FRAME = re.compile(r'^ > (\S+?)\((\w*)[+)]')


def split_args(s):
    """Splits strace's argument text at top-level commas."""
    out, depth, cur, quote = [], 0, [], False
    i = 0
    while i < len(s):
        c = s[i]
        if quote:
            cur.append(c)
            if c == '\\':
                cur.append(s[i + 1])
                i += 1
            elif c == '"':
                quote = False
        elif c == '"':
            quote = True
            cur.append(c)
        elif c in '[{(':
            depth += 1
            cur.append(c)
        elif c in ']})':
            depth -= 1
            cur.append(c)
        elif c == ',' and depth == 0:
            out.append(''.join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if cur:
        out.append(''.join(cur).strip())
    return out


def result_text(ret):
    """'0', '-1 ENOPROTOOPT', ... from strace's return text."""
    m = re.match(r'(-?\d+|\?)\s*(E[A-Z0-9]+)?', ret)
    if not m:
        return ret
    return m.group(1) + (' ' + m.group(2) if m.group(2) else '')


class Sock:
    def __init__(self, proto, kind='unconnected', shim_temp=False, cloexec=False):
        self.proto, self.kind, self.shim_temp, self.cloexec = proto, kind, shim_temp, cloexec

    def copy(self):
        return Sock(self.proto, self.kind, self.shim_temp, self.cloexec)


def parse(path):
    """Returns (program calls, shim calls): Counters of (call, level,
    name, value, kind, proto) -> {result: count}."""
    events = []  # (pid, text, frames)
    pending = {}
    with open(path, errors='replace') as f:
        for raw in f:
            raw = raw.rstrip('\n')
            if raw.startswith(' > '):
                if events:
                    events[-1][2].append(raw)
                continue
            m = LINE.match(raw)
            if not m:
                continue
            pid, text = m.group(1), m.group(2)
            if text.endswith('<unfinished ...>'):
                pending[pid] = text[:-len('<unfinished ...>')].rstrip()
                continue
            r = RESUMED.match(text)
            if r and pid in pending:
                text = pending.pop(pid) + r.group(2)
            events.append((pid, text, []))

    # which process shares its parent's fd table (threads) or copies it
    parent, shares = {}, {}
    for pid, text, _ in events:
        c = CALL.match(text)
        if not c or c.group(1) not in ('clone', 'clone3', 'fork', 'vfork'):
            continue
        try:
            child = str(int(c.group(3).split()[0]))
        except ValueError:
            continue
        parent[child] = pid
        shares[child] = 'CLONE_FILES' in c.group(2)

    # pid -> dict(fd -> Sock); threads share the dict. A child's copy is
    # made when its parent's clone returns, or at the child's first call
    # when that comes first in the file.
    tables = {}

    def table(pid):
        if pid not in tables:
            p = parent.get(pid)
            if p is None:
                tables[pid] = {}
            elif shares.get(pid):
                tables[pid] = table(p)
            else:
                tables[pid] = {fd: s.copy() for fd, s in table(p).items()}
        return tables[pid]

    prog = collections.defaultdict(collections.Counter)
    shim = collections.defaultdict(collections.Counter)
    for pid, text, frames in events:
        c = CALL.match(text)
        if not c:
            continue
        name, args, ret = c.group(1), split_args(c.group(2)), c.group(3)
        t = table(pid)
        caller = None
        for fr in frames:
            fm = FRAME.match(fr)
            if fm and not re.search(r'/(libc\.so|ld-linux)', fm.group(1)):
                caller = (fm.group(1), fm.group(2))
                break
        via_shim = bool(caller and caller[0].endswith('libmptcpify.so'))
        own = not via_shim or caller[1] == name or name in ('close', 'execve')
        ok = not ret.startswith('-1') and not ret.startswith('?')
        try:
            rv = int(ret.split()[0])
        except ValueError:
            rv = -1
        if name in ('clone', 'clone3', 'fork', 'vfork') and ok:
            table(str(rv))  # the child's copy as of now (its parent goes on)
        elif name == 'socket' and ok:
            fam, typ, proto = (args + ['', '', ''])[:3]
            if fam in ('AF_INET', 'AF_INET6') and 'SOCK_STREAM' in typ:
                p = 'MPTCP' if proto in ('IPPROTO_MPTCP', '262') else 'TCP'
                t[rv] = Sock(p, shim_temp=not own, cloexec='SOCK_CLOEXEC' in typ)
            else:
                t.pop(rv, None)
        elif name in ('accept', 'accept4') and ok:
            lst = t.get(int(args[0]))
            if lst:
                t[rv] = Sock(lst.proto, 'accepted', lst.shim_temp,
                             len(args) > 3 and 'SOCK_CLOEXEC' in args[3])
            else:
                t.pop(rv, None)
        elif name == 'connect':
            s = t.get(int(args[0]))
            if s and (ok or 'EINPROGRESS' in ret):
                s.kind = 'connected'
        elif name == 'listen' and ok:
            s = t.get(int(args[0]))
            if s:
                s.kind = 'listening'
        elif name in ('dup', 'dup2', 'dup3') and ok:
            s = t.get(int(args[0]))
            if s:
                n = s.copy()
                n.cloexec = name == 'dup3' and 'O_CLOEXEC' in args[2]
                if not own:
                    n.shim_temp = False  # the shim's replacement takes the fd
                t[rv] = n
            else:
                t.pop(rv, None)
        elif name == 'fcntl' and ok and len(args) > 1:
            s = t.get(int(args[0]))
            if args[1].startswith('F_DUPFD'):
                if s:
                    n = s.copy()
                    n.cloexec = 'CLOEXEC' in args[1]
                    t[rv] = n
                else:
                    t.pop(rv, None)
            elif args[1] == 'F_SETFD' and s:
                s.cloexec = 'FD_CLOEXEC' in args[2]
        elif name == 'close':
            t.pop(int(args[0]), None)
        elif name == 'close_range' and ok:
            lo = int(args[0])
            hi = int(args[1]) if args[1].isdigit() else 1 << 30
            for fd in [fd for fd in t if lo <= fd <= hi]:
                if 'CLOSE_RANGE_CLOEXEC' in args[2]:
                    t[fd].cloexec = True
                else:
                    del t[fd]
        elif name == 'execve' and ok:
            for fd in [fd for fd, s in t.items() if s.cloexec]:
                del t[fd]
        elif name in ('setsockopt', 'getsockopt'):
            try:
                fd = int(args[0])
            except ValueError:
                continue
            s = t.get(fd)
            if s is None:
                continue  # not a TCP socket we saw being made
            level, opt = args[1], args[2]
            if opt == 'SO_PROTOCOL' and ok and args[3] in ('[6]', '[262]'):
                # the kernel's word (an accepted socket is TCP when the
                # client did not ask for MPTCP, whatever its listener is)
                s.proto = 'MPTCP' if args[3] == '[262]' else 'TCP'
            value = args[3] if name == 'setsockopt' else '-'
            res = result_text(ret)
            key = (name, level, opt, value, s.kind)
            if own and not s.shim_temp:
                # no frame outside libc: strace could not read the stack
                # (a chrooted process); the call may be the shim's
                unsure = '?' if caller is None else ''
                if name == 'getsockopt' and ok:
                    # the value read, or the length when strace shows
                    # only the buffer's address
                    v = args[3] if not re.match(r'0x[0-9a-f]+$', args[3]) else 'len ' + args[4]
                    res += ' ' + v[:40]
                prog[key][s.proto + unsure + ': ' + res] += 1
            else:
                shim[(name, level, opt, '-', 'temporary TCP' if s.shim_temp else s.kind)][res] += 1
    return prog, shim


def show(results):
    return '; '.join(f'{r} (x{n})' if n > 1 else r for r, n in sorted(results.items()))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit('usage: sockopt-survey.py PLAIN.strace [SHIM.strace]')
    plain, _ = parse(sys.argv[1])
    shimmed, internal = parse(sys.argv[2]) if len(sys.argv) == 3 else ({}, {})
    print('| call | level | option | value | socket | without shim | with shim |')
    print('|---|---|---|---|---|---|---|')
    for key in sorted(set(plain) | set(shimmed)):
        print('| ' + ' | '.join(key) + ' | ' + show(plain.get(key, {})) + ' | '
              + show(shimmed.get(key, {})) + ' |')
    if internal:
        print()
        print("the shim's own calls:", ', '.join(
            f'{k[0][:3]} {k[2]} on {k[4]} -> {show(v)}' for k, v in sorted(internal.items())))


if __name__ == '__main__':
    main()
