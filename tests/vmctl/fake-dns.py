#!/usr/bin/env python3
"""fake-dns.py ADDR LOG - a DNS server on ADDR port 53 (UDP) for escape-net.sh.

Every name it is asked for goes on a line of LOG; every A query is answered with
127.0.0.1, so that any name "rebinds" to the host's loopback. The suite points the
resolver of the VM's QEMU (and so of vmctl egress) at it through a private mount of
/etc/resolv.conf: no query ever leaves this machine, and the suite sees each one.
"""
import socket
import struct
import sys


def qname(packet, offset):
    labels = []
    while packet[offset]:
        n = packet[offset]
        labels.append(packet[offset + 1:offset + 1 + n].decode("ascii", "replace"))
        offset += 1 + n
    return ".".join(labels), offset + 1


def main():
    addr, log = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    with open(log, "a", buffering=1) as out:
        print("ready", file=out)
        while True:
            packet, peer = s.recvfrom(512)
            if len(packet) < 17:
                continue
            ident, = struct.unpack("!H", packet[:2])
            name, end = qname(packet, 12)
            qtype, = struct.unpack("!H", packet[end:end + 2])
            print(name, file=out)
            question = packet[12:end + 4]
            answers = b""
            if qtype == 1:
                answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
            head = struct.pack("!HHHHHH", ident, 0x8180, 1, 1 if answers else 0, 0, 0)
            s.sendto(head + question + answers, peer)


main()
