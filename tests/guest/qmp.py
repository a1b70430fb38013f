#!/usr/bin/env python3
"""qmp.py SOCKET STEP... - drive a QEMU over its QMP socket, one step after another.

A step is a command name, or NAME=JSON for a command with arguments, or "migrated",
which waits (up to 30 s) until query-migrate says "completed". Prints nothing and
exits 0 when every step succeeded; else one line on stderr, status 1.
"""
import json
import socket
import sys
import time


def main():
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(sys.argv[1])
    f = sock.makefile("rw")

    def execute(name, args=None):
        cmd = {"execute": name}
        if args is not None:
            cmd["arguments"] = args
        f.write(json.dumps(cmd) + "\n")
        f.flush()
        while True:
            reply = json.loads(f.readline())
            if "event" in reply:
                continue
            if "error" in reply:
                sys.exit(f"qmp.py: {name}: {reply['error'].get('desc')}")
            return reply.get("return")

    json.loads(f.readline())  # the greeting
    execute("qmp_capabilities")
    for step in sys.argv[2:]:
        if step == "migrated":
            deadline = time.monotonic() + 30
            while True:
                status = execute("query-migrate").get("status")
                if status == "completed":
                    break
                if status in ("failed", "cancelled") or time.monotonic() > deadline:
                    sys.exit(f"qmp.py: the migration is {status}")
                time.sleep(0.01)
            continue
        name, _, args = step.partition("=")
        execute(name, json.loads(args) if args else None)


main()
