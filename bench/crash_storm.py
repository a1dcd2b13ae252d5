#!/usr/bin/env python3
"""Crash storm against comet: how many crash-triggering requests per second the
server absorbs while a probe client fetches /hello, and the probe's latency
with and without the storm, measured in the same run (alternating phases).

The storm: worker processes each loop over fresh users: open `GET /stream/<u>`,
then POST /crash/<u> until the stream's connection is closed (the session's
crash budget is spent: 3 restarts, the 4th crash closes it). Every POST makes
the stream's session throw. The probe: one keep-alive connection sending
GET /hello back to back, each latency recorded.

Also: server RSS growth under a pipeline flood (connections that pipeline
`GET /` and never read), against the RSS before.

    python3 bench/crash_storm.py [--build build] [--seconds 8] [--workers 2] [--rounds 2]
"""
import argparse
import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import threading
import time


def start_comet(build, *extra, binary=None):
    cmd = [binary or os.path.join(build, "examples/comet/comet"), "--port", "0", "--heartbeat", "0", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        m = re.search(r"port=(\d+)", line)
        if m:
            # The storm makes comet log a crash report per crash: keep reading
            # its output, or a full pipe would stall the server being measured.
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, int(m.group(1))
    raise RuntimeError("comet did not print its port")


def http(port, method, path, body=b""):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n"
              f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    return data


def metric(port, name):
    text = http(port, "GET", "/metrics").decode()
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else float("nan")


def rss(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def storm_worker(port, seconds, wid, out):
    """Crash-triggering requests, as fast as one process sends them."""
    end = time.monotonic() + seconds
    sent = 0
    n = 0
    pub = socket.create_connection(("127.0.0.1", port))
    pub_buf = b""
    while time.monotonic() < end:
        user = f"w{wid}u{n}"
        n += 1
        st = socket.create_connection(("127.0.0.1", port))
        st.sendall(f"GET /stream/{user} HTTP/1.1\r\nHost: b\r\n\r\n".encode())
        got = b""
        while b"welcome" not in got:
            d = st.recv(4096)
            if not d:
                break
            got += d
        st.setblocking(False)
        closed = False
        while not closed and time.monotonic() < end:
            pub.sendall(f"POST /crash/{user} HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n".encode())
            while b"\r\n\r\n" not in pub_buf or len(pub_buf.split(b"\r\n\r\n", 1)[1]) < 2:
                pub_buf += pub.recv(4096)
            head, rest = pub_buf.split(b"\r\n\r\n", 1)
            body_len = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            while len(rest) < body_len:
                rest += pub.recv(4096)
            pub_buf = rest[body_len:]
            sent += 1
            try:
                if st.recv(4096) == b"":
                    closed = True
            except BlockingIOError:
                pass
            except ConnectionError:
                closed = True
        st.close()
    out.put(sent)


def probe(port, seconds):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    lat = []
    end = time.monotonic() + seconds
    req = b"GET /hello HTTP/1.1\r\nHost: b\r\n\r\n"
    while time.monotonic() < end:
        t0 = time.perf_counter()
        s.sendall(req)
        buf = b""
        while not buf.endswith(b"hello\n"):
            buf += s.recv(4096)
        lat.append(time.perf_counter() - t0)
    s.close()
    lat.sort()
    return lat


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))] * 1e3


def crash_phase(build, seconds, workers, rounds):
    srv, port = start_comet(build, "--allow-crash")
    rows = []
    try:
        for r in range(rounds):
            quiet = probe(port, seconds)
            restarts0 = metric(port, "comet_session_restarts_total")
            closes0 = metric(port, "comet_session_crash_budget_closes_total")
            q = mp.Queue()
            ps = [mp.Process(target=storm_worker, args=(port, seconds, w + r * 100, q))
                  for w in range(workers)]
            for p in ps:
                p.start()
            stormy = probe(port, seconds)
            for p in ps:
                p.join()
            sent = sum(q.get() for _ in ps)
            restarts = metric(port, "comet_session_restarts_total") - restarts0
            closes = metric(port, "comet_session_crash_budget_closes_total") - closes0
            alive = srv.poll() is None
            rows.append((sent / seconds, (restarts + closes) / seconds, pct(quiet, 0.5), pct(quiet, 0.99),
                         pct(stormy, 0.5), pct(stormy, 0.99), len(quiet) / seconds, len(stormy) / seconds,
                         alive))
    finally:
        srv.terminate()
        srv.wait()
    return rows


def flood_phase(build, conns, megabytes, binary=None):
    srv, port = start_comet(build, binary=binary)
    try:
        before = rss(srv.pid)
        socks = []
        one = b"GET / HTTP/1.1\r\nHost: b\r\n\r\n"
        payload = one * (megabytes * 1024 * 1024 // len(one))
        total = 0
        for _ in range(conns):
            s = socket.create_connection(("127.0.0.1", port))
            s.setblocking(False)
            sent = 0
            idle_since = time.monotonic()
            while sent < len(payload) and time.monotonic() - idle_since < 1.0:
                try:
                    n = s.send(payload[sent:sent + 1 << 20])
                    sent += n
                    idle_since = time.monotonic()
                except BlockingIOError:
                    time.sleep(0.01)
            total += sent
            socks.append(s)
        time.sleep(1.0)
        after = rss(srv.pid)
        try:
            pauses = metric(port, "comet_read_pauses_total")
        except Exception:
            pauses = float("nan")
        hello_ok = b"hello" in http(port, "GET", "/hello")
        for s in socks:
            s.close()
        return before, after, total, pauses, hello_ok
    finally:
        srv.terminate()
        srv.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--flood-conns", type=int, default=20)
    ap.add_argument("--flood-mb", type=int, default=8)
    ap.add_argument("--compare-comet", help="another comet binary (e.g. an older build) to flood too")
    a = ap.parse_args()
    print(f"# crash storm: comet --allow-crash, {a.workers} storm processes, probe GET /hello, "
          f"{a.seconds:.0f} s per phase, {a.rounds} rounds")
    print("round crash_req/s crashes_absorbed/s quiet_p50_ms quiet_p99_ms storm_p50_ms storm_p99_ms "
          "p99_ratio quiet_req/s storm_req/s server_alive")
    for i, r in enumerate(crash_phase(a.build, a.seconds, a.workers, a.rounds)):
        print(f"{i + 1} {r[0]:.0f} {r[1]:.0f} {r[2]:.3f} {r[3]:.3f} {r[4]:.3f} {r[5]:.3f} "
              f"{r[5] / r[3]:.2f} {r[6]:.0f} {r[7]:.0f} {r[8]}")
    before, after, total, pauses, ok = flood_phase(a.build, a.flood_conns, a.flood_mb)
    print(f"# pipeline flood: {a.flood_conns} connections pipelining GET / (2 KB answers), never reading")
    print(f"this_build flood_bytes_accepted={total} rss_before={before} rss_after={after} "
          f"rss_growth={after - before} read_pauses={pauses:.0f} hello_served={ok}")
    if a.compare_comet:
        before, after, total, pauses, ok = flood_phase(a.build, a.flood_conns, a.flood_mb, a.compare_comet)
        print(f"compared flood_bytes_accepted={total} rss_before={before} rss_after={after} "
              f"rss_growth={after - before} read_pauses={pauses:.0f} hello_served={ok}")


if __name__ == "__main__":
    sys.exit(main())
