#!/usr/bin/env python3
"""standin.py - what stands in for QEMU in escape-auth.sh (vmctl start runs it as
its launcher through VMCTL_QEMU_BOOT, with qemu-boot's arguments).

  standin.py impostor DIR ARGS...      listen on the forwarded port in QEMU's place
                                       and answer every WebSocket upgrade as vmd
                                       would, but with a proof made without the
                                       secret; record what vmctl sends
  standin.py squat DIR LAUNCHER ARGS...  the first time, hold the forwarded port
                                       with an impostor (another process, as another
                                       local user would) before QEMU binds it; then,
                                       and every later time, run the real LAUNCHER
  standin.py relay DIR PORT ARGS...    listen on the forwarded port and relay every
                                       connection to 127.0.0.1:PORT (another VM's
                                       real vmd)

Each run records, in DIR/N.* (N counting the runs from 1): port (the forwarded host
port), secret (the fw_cfg secret vmctl gave it), and for every connection the
impostor took, request (the upgrade's head) and after (every byte that came after
its answer). Only 127.0.0.1 is ever listened on or connected to.
"""
import base64
import hashlib
import os
import secrets
import socket
import sys
import threading

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def launcher_args(args):
    port = secret_file = None
    for i, a in enumerate(args):
        if a == "--forward":
            port = int(args[i + 1].split(":")[0])
        if a == "--fw-cfg" and args[i + 1].startswith("opt/vmd/identity="):
            secret_file = args[i + 1].split("=", 1)[1]
    return port, secret_file


def identity_secret(path):
    """The secret= line of a VM's identity (a template's placeholder has none)."""
    with open(path, "rb") as f:
        for line in f.read().split(b"\0", 1)[0].decode().splitlines():
            if line.startswith("secret="):
                return line[len("secret="):]
    return ""


def record(folder, args):
    """Note this run's port and secret; return its number and port."""
    os.makedirs(folder, exist_ok=True)
    n = len([f for f in os.listdir(folder) if f.endswith(".port")]) + 1
    port, secret_file = launcher_args(args)
    with open(os.path.join(folder, "%d.port" % n), "w") as f:
        f.write("%d\n" % port)
    with open(os.path.join(folder, "%d.secret" % n), "w") as f:
        f.write(identity_secret(secret_file) + "\n")
    return n, port


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    return s


def impostor_conn(conn, folder, n):
    conn.settimeout(3)
    head = b""
    try:
        while b"\r\n\r\n" not in head:
            got = conn.recv(4096)
            if not got:
                break
            head += got
    except OSError:
        pass
    head, _, rest = head.partition(b"\r\n\r\n")
    with open(os.path.join(folder, "%d.request" % n), "ab") as f:
        f.write(head + b"\r\n\r\n")
    key = b""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"sec-websocket-key:"):
            key = line.split(b":", 1)[1].strip()
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    answer = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
              b"\r\nX-Vmd-Nonce: " +
              secrets.token_hex(32).encode() + b"\r\nX-Vmd-Proof: " +
              secrets.token_hex(32).encode() + b"\r\n\r\n")
    # Written as it comes: vmctl kills a stand-in it has found out.
    with open(os.path.join(folder, "%d.after" % n), "ab", buffering=0) as f:
        f.write(rest)
        try:
            conn.sendall(answer)
            while True:
                got = conn.recv(65536)
                if not got:
                    break
                f.write(got)
        except OSError:
            pass
    conn.close()


def impostor(folder, n, port, ready=None):
    s = listener(port)
    if ready:
        ready()
    while True:
        conn, _ = s.accept()
        threading.Thread(target=impostor_conn, args=(conn, folder, n), daemon=True).start()


def pipe(a, b):
    try:
        while True:
            got = a.recv(65536)
            if not got:
                break
            b.sendall(got)
    except OSError:
        pass
    for x in (a, b):
        try:
            x.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def relay(port, target):
    s = listener(port)
    while True:
        conn, _ = s.accept()
        up = socket.create_connection(("127.0.0.1", target))
        threading.Thread(target=pipe, args=(conn, up), daemon=True).start()
        threading.Thread(target=pipe, args=(up, conn), daemon=True).start()


def main():
    mode, folder = sys.argv[1], sys.argv[2]
    if mode == "impostor":
        n, port = record(folder, sys.argv[3:])
        impostor(folder, n, port)
    elif mode == "relay":
        target = int(sys.argv[3])
        n, port = record(folder, sys.argv[4:])
        relay(port, target)
    elif mode == "squat":
        real, args = sys.argv[3], sys.argv[4:]
        n, port = record(folder, args)
        if n == 1:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                os.setsid()
                with open(os.path.join(folder, "squatter.pid"), "w") as f:
                    f.write("%d\n" % os.getpid())
                impostor(folder, n, port, ready=lambda: os.close(w))
            os.close(w)
            os.read(r, 1)       # the squatter holds the port: now QEMU tries it
        os.execv(real, [real] + args)
    else:
        sys.exit("standin.py: unknown mode " + mode)


main()
