#!/usr/bin/env python3
"""webclient.py - a client of vmctl web's /term WebSocket that says exactly what
the page's protocol allows and what it does not (escape-auth.sh).

  webclient.py HTTP_PORT STEP...

Connects to 127.0.0.1:HTTP_PORT/term as the page would (its Origin, protocol
vmctl-term), then runs the steps in order:
  text:JSON     send a text (control) message
  keys:STRING   once the shell runs (vmctl sent "ready"), send keystrokes (a
                binary message; \\n in STRING is a newline)
  until:STRING  read until the terminal output holds STRING; print "saw STRING"
  end           read until the connection closes (10 s at most)
Every text message vmctl sends is printed as "text JSON"; a close as "close CODE
REASON" ("closed" when it came without a close frame); a refused upgrade as "refused STATUS"; no connection as "no connection".
"""
import base64
import os
import socket
import struct
import sys
import time


def frame(opcode, data):
    mask = os.urandom(4)
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET /term HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: vmctl-term\r\n"
                        "Origin: http://127.0.0.1:%d\r\n\r\n" % (port, key, port)).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            got = self.s.recv(4096)
            if not got:
                break
            self.buf += got
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else 0
        self.output = b""
        self.closed = False
        self.ready = False

    def message(self, deadline):
        """The next whole message as (opcode, bytes), or None at the deadline."""
        parts, first = b"", None
        while True:
            if len(self.buf) >= 2:
                op, n, h = self.buf[0] & 15, self.buf[1] & 127, 2
                if n == 126 and len(self.buf) >= 4:
                    n, h = struct.unpack("!H", self.buf[2:4])[0], 4
                elif n == 127 and len(self.buf) >= 10:
                    n, h = struct.unpack("!Q", self.buf[2:10])[0], 10
                if n < 126 or h > 2:
                    if len(self.buf) >= h + n:
                        fin, data = self.buf[0] & 0x80, self.buf[h:h + n]
                        self.buf = self.buf[h + n:]
                        if op == 9:
                            self.s.sendall(frame(10, data))
                            continue
                        if op == 8:
                            return 8, data
                        parts += data
                        first = first if first is not None else op
                        if fin:
                            return first, parts
                        continue
            left = deadline - time.time()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                got = self.s.recv(65536)
            except socket.timeout:
                return None
            except OSError:
                got = b""
            if not got:
                return 8, b""
            self.buf += got

    def pump(self, until=None, seconds=10):
        deadline = time.time() + seconds
        while not self.closed:
            if until and until in self.output:
                return True
            m = self.message(deadline)
            if m is None:
                return False
            op, data = m
            if op == 8:
                if len(data) >= 2:
                    print("close %d %s" % (struct.unpack("!H", data[:2])[0],
                                           data[2:].decode(errors="replace")))
                else:
                    print("closed")
                self.closed = True
            elif op == 1:
                print("text " + data.decode(errors="replace"))
                if data == b'{"type":"ready"}':
                    self.ready = True
                    if until == b"":
                        return True
            else:
                self.output += data
        return until is not None and until in self.output


def main():
    port = int(sys.argv[1])
    try:
        c = Conn(port)
    except OSError:
        print("no connection")
        return
    if c.status != 101:
        print("refused %d" % c.status)
        return
    for step in sys.argv[2:]:
        kind, _, arg = step.partition(":")
        if kind == "text":
            c.s.sendall(frame(1, arg.encode()))
        elif kind == "keys":
            if not c.ready:
                c.pump(b"", 20)
            c.s.sendall(frame(2, arg.replace("\\n", "\n").encode()))
        elif kind == "until":
            print(("saw " if c.pump(arg.encode(), 20) else "never saw ") + arg)
        elif kind == "end":
            c.pump(None, 10)
        else:
            sys.exit("webclient.py: unknown step " + step)


main()
