#!/usr/bin/env python3
"""User-space bytes per idle keep-alive connection: (RSS after - RSS before) / N.

Starts a server binary (it must print "port=<N>" on its first line), opens N
connections from source addresses 127.0.0.2, 127.0.0.3, ... (so ephemeral
ports never run out), sends one GET /hello on each and reads the reply, so
every session has served a request and gone idle; then reads the server's
VmRSS and closes everything. Bounded: N connections, then it stops.

  bench/idle_memory.py <server-binary> [N] [server args...]
"""
import os
import socket
import subprocess
import sys
import time

REQUEST = b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n"


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def read_reply(sock):
    data = b""
    while b"hello\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("server closed a connection")
        data += chunk


def main():
    server = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    extra = sys.argv[3:]
    proc = subprocess.Popen([server, *extra], stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().strip()
        port = int(first.split("=")[1])
        # Warm up: one connection, so lazily created per-thread state exists.
        warm = socket.create_connection(("127.0.0.1", port))
        warm.sendall(REQUEST)
        read_reply(warm)
        time.sleep(0.5)
        before = rss_bytes(proc.pid)
        conns = []
        for i in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((f"127.0.0.{2 + i // 20000}", 0))
            s.connect(("127.0.0.1", port))
            s.sendall(REQUEST)
            conns.append(s)
        for s in conns:
            read_reply(s)
        time.sleep(1.0)
        after = rss_bytes(proc.pid)
        per_conn = (after - before) / count
        print(f"server={os.path.basename(server)} connections={count} "
              f"rss_before={before} rss_after={after} bytes_per_conn={per_conn:.0f}")
        for s in conns:
            s.close()
        warm.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
