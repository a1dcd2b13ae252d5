#!/usr/bin/env python3
"""Delivery without silent loss: does every message comet accepted reach its
user's stream, or get reported in a reset, under crashes, connection closes
and moves between nodes? And how long does a Last-Event-ID replay take?

1. Crash storm (one comet, --allow-crash): U users each hold an SSE stream
   (`/events/<u>`); a sender posts M messages per user, round-robin, while a
   crasher posts `/crash/<u>` to random users. Variant `budget`: at most 3
   crashes per user per minute, so connections stay; variant `over`: bursts of
   4-5 crashes to one user, so that connection is closed (crash budget); and
   the same with `--replay 8` and readers that come back after 2 s (as a
   browser's `retry:`), so that resets with an exact count occur. A
   reader whose connection closes reconnects with Last-Event-ID, as a browser
   does. After the sender finished and a settle time, every reader reconnects
   once more with its last id and collects what is left.
2. Three nodes (nats-server -js, three comets with --nats): streams on random
   nodes, sends posted to random nodes, each stream moved (closed, reopened
   with Last-Event-ID on another node) a few times during the run.
3. Replay time (--replay 1000): a stream reads one message and closes, 1,000
   are sent, a reconnect with Last-Event-ID (SSE) or `?ids=1&last_event_id=`
   (chunked) reads them; time to the 1,000th, median of 5 rounds.

Accounting, per user, per message id as returned by `X-Message-Id`: sent,
received (distinct ids), duplicates, lost with a reset (the resets' `lost`;
a `null` lost counts as "unknown, reset shown") and LOST WITHOUT A RESET: an
id sent and never received that no reset covers. A reset covers a missing id
when the id's send had begun before the reset was read, the id is below the
first id of its epoch received after the reset on that connection, and, for
a reset with an exact count, the id is of the epoch of the Last-Event-ID the
reconnect handed over and above it. Lost without a reset must be 0.

    python3 bench/delivery_check.py [--build build] [--parts 1,2,3] [--markdown]

Python stdlib only; loopback only; every process it starts is stopped on exit.
"""
import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
T0 = time.monotonic()


# --------------------------------------------------------------- processes

class Procs:
    """Every process this script starts, stopped in reverse order at exit."""

    def __init__(self):
        self.procs = []
        self.dirs = []

    def start_comet(self, build, *extra):
        cmd = [os.path.join(build, "examples/comet/comet"), "--port", "0", "--heartbeat", "0",
               "--run-for", "600s", *extra]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.procs.append(proc)
        port = None
        deadline = time.monotonic() + 20
        for line in proc.stdout:
            m = re.search(r"event=http_server_started.*port=(\d+)", line)
            if m:
                port = int(m.group(1))
                break
            if time.monotonic() > deadline:
                break
        if port is None:
            raise RuntimeError(f"comet did not print its port: {' '.join(cmd)}")
        # Crash reports are logged: keep reading, or a full pipe stalls comet.
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        # /metrics answers 200 once the server is up.
        while time.monotonic() < deadline:
            try:
                if request(port, "GET", "/metrics")[0] == 200:
                    return port
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("comet did not answer /metrics")

    def start_nats(self):
        probe = socket.socket()
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
        probe.close()
        store = tempfile.mkdtemp(prefix="delivery-js-")
        self.dirs.append(store)
        proc = subprocess.Popen(["nats-server", "-js", "-sd", store, "-a", HOST, "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                return port
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not listen")

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        self.dirs.clear()


# ------------------------------------------------------------------- HTTP

def read_head(sock, buf):
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            raise ConnectionError("closed before the head")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        fields[k.strip().lower()] = v.strip()
    return status, fields, rest


def request(port, method, path, body=b""):
    """One request on its own connection: (status, fields, body)."""
    s = socket.create_connection((HOST, port), timeout=10)
    try:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status, fields, rest = read_head(s, b"")
        n = int(fields.get("content-length", "0"))
        while len(rest) < n:
            d = s.recv(65536)
            if not d:
                break
            rest += d
        return status, fields, rest[:n]
    finally:
        s.close()


class Client:
    """A keep-alive connection for POSTs; reconnects when the server closed it."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = b""

    def post(self, path, body=b""):
        for attempt in range(2):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection((HOST, self.port), timeout=10)
                    self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.buf = b""
                self.sock.sendall(f"POST {path} HTTP/1.1\r\nHost: b\r\n"
                                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                status, fields, rest = read_head(self.sock, self.buf)
                n = int(fields.get("content-length", "0"))
                while len(rest) < n:
                    d = self.sock.recv(65536)
                    if not d:
                        raise ConnectionError("closed in a body")
                    rest += d
                self.buf = rest[n:]
                if fields.get("connection", "").lower() == "close":
                    self.close()
                return status, fields, rest[:n]
            except OSError:
                self.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None


class Chunked:
    """Incremental decoder of a chunked body."""

    def __init__(self):
        self.buf = b""
        self.left = None  # bytes left in the current chunk; None: at a size line
        self.done = False

    def feed(self, data):
        self.buf += data
        out = []
        while not self.done:
            if self.left is None:
                i = self.buf.find(b"\r\n")
                if i < 0:
                    break
                size = int(self.buf[:i].split(b";")[0], 16)
                self.buf = self.buf[i + 2:]
                if size == 0:
                    self.done = True
                    break
                self.left = size
            elif self.left > 0:
                take = min(self.left, len(self.buf))
                if take == 0:
                    break
                out.append(self.buf[:take])
                self.buf = self.buf[take:]
                self.left -= take
            else:  # the CRLF after a chunk's data
                if len(self.buf) < 2:
                    break
                self.buf = self.buf[2:]
                self.left = None
        return b"".join(out)


def parse_id(text):
    epoch, _, seq = text.partition("-")
    return (epoch, int(seq))


# ------------------------------------------------------------ stream reader

class Reader:
    """One user's stream, as a browser's EventSource would hold it: on a
    close it reconnects with the last id it saw. Records every id, every
    reset with the id it had handed over, and on which connection."""

    def __init__(self, user, ports, chunked=False):
        self.user = user
        self.ports = ports
        self.port = random.choice(ports)
        self.chunked = chunked
        self.last_id = None
        self.conn = 0
        self.events = []      # (conn, id tuple, time read)
        self.conn_info = {}   # conn -> (port, id handed over, time opened)
        self.resets = []      # (conn, last id handed over, reason, lost, time read)
        self.closes = 0       # connections the server ended
        self.moves = 0
        self.reconnect_delay = 0.02
        self.ready = threading.Event()
        self.stop = False
        self.move_to = None
        self.sock = None
        self.lock = threading.Lock()
        self.thread = None

    def open(self):
        """Connects and reads the head: from then on messages reach it."""
        s = socket.create_connection((HOST, self.port), timeout=10)
        last = f"{self.last_id[0]}-{self.last_id[1]}" if self.last_id else None
        if self.chunked:
            q = "?ids=1" + (f"&last_event_id={last}" if last else "")
            req = f"GET /stream/{self.user}{q} HTTP/1.1\r\nHost: b\r\n\r\n"
        else:
            extra = f"Last-Event-ID: {last}\r\n" if last else ""
            req = f"GET /events/{self.user} HTTP/1.1\r\nHost: b\r\nAccept: text/event-stream\r\n{extra}\r\n"
        s.sendall(req.encode())
        status, fields, rest = read_head(s, b"")
        if status != 200:
            s.close()
            raise ConnectionError(f"status {status}")
        self.conn += 1
        self.handed = self.last_id
        self.conn_info[self.conn] = (self.port, self.last_id, time.monotonic())
        self.sock = s
        self.dec = Chunked()
        self.text = ""
        self.ev = {}
        return rest

    def handle(self, data):
        self.text += self.dec.feed(data).decode()
        now = time.monotonic()
        if self.chunked:
            while "\n" in self.text:
                line, self.text = self.text.split("\n", 1)
                if line.startswith("welcome ") or line.startswith("tick "):
                    continue
                if line.startswith("reset "):
                    _, reason, lost = line.split(" ")
                    self.resets.append((self.conn, self.handed, reason, None if lost == "?" else int(lost), now))
                    continue
                mid = parse_id(line.split(" ", 1)[0])
                self.events.append((self.conn, mid, now))
                self.last_id = mid
            return
        while "\n" in self.text:
            line, self.text = self.text.split("\n", 1)
            if line == "":
                ev, self.ev = self.ev, {}
                if ev.get("event") == "reset":
                    d = json.loads(ev.get("data", "{}"))
                    self.resets.append((self.conn, self.handed, d.get("reason"), d.get("lost"), now))
                elif "id" in ev and "data" in ev:
                    mid = parse_id(ev["id"])
                    self.events.append((self.conn, mid, now))
                if "id" in ev:
                    self.last_id = parse_id(ev["id"])
                continue
            if line.startswith(":"):
                continue
            k, _, v = line.partition(":")
            if v.startswith(" "):
                v = v[1:]
            if k == "data" and "data" in self.ev:
                self.ev["data"] += "\n" + v
            else:
                self.ev[k] = v

    def run(self, deadline):
        """Holds the stream until told to stop; reconnects after every close."""
        first = True
        while not self.stop and time.monotonic() < deadline:
            try:
                rest = self.open()
            except OSError:
                time.sleep(0.05)
                continue
            if first:
                self.ready.set()
                first = False
            self.sock.settimeout(0.1)
            self.handle(rest)
            closed_by_server = False
            while not self.stop and time.monotonic() < deadline:
                if self.move_to is not None:
                    self.port, self.move_to = self.move_to, None
                    self.moves += 1
                    break
                try:
                    d = self.sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    d = b""
                if not d:
                    closed_by_server = True
                    break
                self.handle(d)
            self.sock.close()
            if closed_by_server:
                self.closes += 1
                # A browser waits `retry:` (comet: 2 s); short by default,
                # so that only the small-window variant outruns the window.
                time.sleep(self.reconnect_delay)

    def start(self, deadline):
        self.thread = threading.Thread(target=self.run, args=(deadline,), daemon=True)
        self.thread.start()

    def collect(self, port, idle, deadline):
        """The last reconnect with the last id: reads until `idle` seconds
        pass without data (or the server closes)."""
        self.port = port
        try:
            rest = self.open()
        except OSError:
            return False
        self.handle(rest)
        self.sock.settimeout(idle)
        while time.monotonic() < deadline:
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not d:
                break
            self.handle(d)
        self.sock.close()
        return True


# -------------------------------------------------------------- accounting

def account(sent, readers):
    """sent: user -> list of (id tuple, time the send began)."""
    tot = dict(users=len(readers), sent=0, received=0, duplicates=0, dup_after_reset=0, lost_reset_exact=0,
               missing_covered_exact=0, missing_covered_unknown=0, lost_silent=0, resets=0,
               unknown_resets=0, exact_mismatch=0, resets_node_seen_before=0, resets_handed_id_entered_here=0,
               reconnects_foreign_id=0, lost_silent_no_id_yet=0, closes=0, moves=0, reconnects=0)
    reasons = {}
    silent = []
    for r in readers:
        ids = sent.get(r.user, [])
        tot["sent"] += len(ids)
        tot["closes"] += r.closes
        tot["moves"] += r.moves
        tot["reconnects"] += r.conn - 1
        seen = {}
        reset_conns = {c for c, *_ in r.resets}
        for conn, mid, _ in r.events:
            if mid in seen and conn in reset_conns:
                tot["dup_after_reset"] += 1
            seen[mid] = seen.get(mid, 0) + 1
        sent_set = {m for m, *_ in ids}
        tot["received"] += len([m for m in seen if m in sent_set])
        tot["duplicates"] += sum(c - 1 for c in seen.values())
        # First id of each epoch read on a connection after a given time.
        by_conn = {}
        for conn, mid, t in r.events:
            by_conn.setdefault(conn, []).append((t, mid))
        entry = {m: p for m, _, p in ids}
        for c, (port, handed, _) in r.conn_info.items():
            # Reconnects handing over an id that entered at another node
            # than the one reconnected to (a cluster's JetStream case).
            if handed and handed in entry and entry[handed] != port:
                tot["reconnects_foreign_id"] += 1
        for conn, handed, reason, lost, t in r.resets:
            reasons[reason] = reasons.get(reason, 0) + 1
            port = r.conn_info.get(conn, (None,))[0]
            if any(r.conn_info[c][0] == port for c in r.conn_info if c < conn):
                tot["resets_node_seen_before"] += 1
            if handed and entry.get(handed) == port:
                tot["resets_handed_id_entered_here"] += 1
            tot["resets"] += 1
            if lost is None:
                tot["unknown_resets"] += 1
            else:
                tot["lost_reset_exact"] += lost
                # The server's count against the ids between: the first id of
                # the handed-over epoch after the reset bounds the gap.
                after = [m for tt, m in by_conn.get(conn, []) if tt >= t and handed and m[0] == handed[0]]
                if handed and after:
                    if after[0][1] - handed[1] - 1 != lost:
                        tot["exact_mismatch"] += 1
        for mid, t_send, _ in ids:
            if mid in seen:
                continue
            how = None
            for conn, handed, reason, lost, t in r.resets:
                if t_send >= t:
                    continue
                after = [m for tt, m in by_conn.get(conn, []) if tt >= t and m[0] == mid[0]]
                if after and mid[1] >= after[0][1]:
                    continue
                if lost is None:
                    how = how or "unknown"
                elif handed and handed[0] == mid[0] and mid[1] > handed[1]:
                    how = "exact"
            if how == "exact":
                tot["missing_covered_exact"] += 1
            elif how == "unknown":
                tot["missing_covered_unknown"] += 1
            else:
                tot["lost_silent"] += 1
                # A reconnect that had no id to hand over (the stream had read
                # no message yet, so an EventSource sends no Last-Event-ID) is
                # a fresh start: it gets what is still pending, and no reset.
                if any(c > 1 and h is None and to > t_send for c, (_, h, to) in r.conn_info.items()):
                    tot["lost_silent_no_id_yet"] += 1
                silent.append((r.user, f"{mid[0]}-{mid[1]}", r, ids))
    return tot, reasons, silent


def describe_silent(silent, t0, limit=5):
    """The whole story of a user with an id lost without a reset: what was
    sent (entry port, time), each connection (port, id handed over) and what
    it read, in order, times in ms from the run's start."""
    out = []
    done = set()
    for user, mid, r, ids in silent[:limit]:
        if user in done:
            continue
        done.add(user)
        out.append(f"  user {user}: missing {[m for u, m, *_ in silent if u == user]}")
        short = lambda m: f"{m[0][:4]}-{m[1]}" if m else "none"
        out.append("    sent: " + " ".join(f"{short(m)}@{p}/{(t - t0) * 1e3:.0f}" for m, t, p in ids))
        for c in sorted(r.conn_info):
            port, handed, topen = r.conn_info[c]
            rs = [f"RESET {reason} {lost}" for cc, h, reason, lost, _ in r.resets if cc == c]
            got = [short(m) + f"/{(t - t0) * 1e3:.0f}" for cc, m, t in r.events if cc == c]
            out.append(f"    conn {c} port {port} opened {(topen - t0) * 1e3:.0f} handed {short(handed)}: "
                       + " ".join(rs + got))
    return out


# ------------------------------------------------------------------- parts

def sender(ports, users, messages, rate, sent, lock, deadline, tag):
    """Posts `messages` per user, round-robin, to random ports, at most
    `rate` per second in all; records each X-Message-Id."""
    clients = {p: Client(p) for p in ports}
    failures = 0
    t0 = time.monotonic()
    n = 0
    for m in range(messages):
        for u in users:
            if time.monotonic() > deadline:
                return failures
            ahead = t0 + n / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            n += 1
            port = random.choice(ports)
            t_send = time.monotonic()
            try:
                status, fields, _ = clients[port].post(f"/send/{u}", f"{tag}-{u}-{m}".encode())
            except OSError:
                failures += 1
                continue
            mid = fields.get("x-message-id")
            if status != 200 or not mid:
                failures += 1
                continue
            with lock:
                sent.setdefault(u, []).append((parse_id(mid), t_send, port))
    for c in clients.values():
        c.close()
    return failures


def crasher(port, users, rate, mode, stop, counts):
    """budget: random users, at most 3 crashes per user per minute (the
    sessions' budget), so no connection is closed for it. over: bursts of
    4-5 crashes to one random user, so its connection is closed."""
    c = Client(port)
    hist = {u: [] for u in users}
    interval = 1.0 / rate
    while not stop.is_set():
        u = random.choice(users)
        now = time.monotonic()
        if mode == "budget":
            hist[u] = [t for t in hist[u] if now - t < 65]
            if len(hist[u]) >= 3:
                stop.wait(interval / 4)
                continue
            hist[u].append(now)
            burst = 1
        else:
            burst = random.choice((4, 5))
        for _ in range(burst):
            try:
                c.post(f"/crash/{u}")
                counts["crashes"] += 1
            except OSError:
                counts["failed"] += 1
        counts["bursts"] += 1
        stop.wait(interval)
    c.close()


def metrics(port):
    text = request(port, "GET", "/metrics")[2].decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


def msum(ms, prefix):
    return sum(v for k, v in ms.items() if k == prefix or k.startswith(prefix + "{"))


def run_storm(args, procs, mode, replay=None, reconnect_delay=0.02):
    port = procs.start_comet(args.build, "--allow-crash", "--replay", str(replay or args.replay))
    users = [f"s{mode}{i}" for i in range(args.users)]
    deadline = time.monotonic() + args.time_limit
    readers = [Reader(u, [port]) for u in users]
    for r in readers:
        r.reconnect_delay = reconnect_delay
    for r in readers:
        r.start(deadline)
    for r in readers:
        r.ready.wait(timeout=20)
    sent, lock = {}, threading.Lock()
    stop = threading.Event()
    counts = dict(crashes=0, failed=0, bursts=0)
    rate = args.crash_rate if mode == "budget" else args.crash_rate / 4
    ct = threading.Thread(target=crasher, args=(port, users, rate, mode, stop, counts), daemon=True)
    t0 = time.monotonic()
    ct.start()
    failures = sender([port], users, args.messages, args.send_rate, sent, lock, deadline, mode)
    send_time = time.monotonic() - t0
    stop.set()
    ct.join(timeout=10)
    time.sleep(args.settle)
    for r in readers:
        r.stop = True
    for r in readers:
        r.thread.join(timeout=5)
    collect_all(readers, [port], args, deadline)
    ms = metrics(port)
    tot, reasons, silent = account(sent, readers)
    tot.update(send_failures=failures, send_seconds=round(send_time, 1), crashes=counts["crashes"],
               crash_bursts=counts["bursts"], restarts=msum(ms, "comet_session_restarts_total"),
               budget_closes=msum(ms, "comet_session_crash_budget_closes_total"),
               server_resets=msum(ms, "comet_replay_resets_total"),
               alive=procs.procs[-1].poll() is None)
    procs.stop()
    return tot, reasons, silent


def collect_all(readers, ports, args, deadline):
    ths = []
    for r in readers:
        t = threading.Thread(target=r.collect, args=(random.choice(ports), args.idle, deadline + 30), daemon=True)
        t.start()
        ths.append(t)
    for t in ths:
        t.join(timeout=args.idle + 40)


def run_cluster(args, procs):
    nport = procs.start_nats()
    url = f"nats://{HOST}:{nport}"
    ports = [procs.start_comet(args.build, "--nats", url, "--node-name", name, "--replay", str(args.replay))
             for name in ("a", "b", "c")]
    users = [f"n{i}" for i in range(args.users)]
    deadline = time.monotonic() + args.time_limit
    readers = [Reader(u, ports) for u in users]
    for r in readers:
        r.start(deadline)
    for r in readers:
        r.ready.wait(timeout=20)
    sent, lock = {}, threading.Lock()
    stop = threading.Event()

    def mover():
        # Each stream moved `--moves` times, at random moments of the send.
        plan = sorted((random.uniform(0, expected), r) for r in readers for _ in range(args.moves))
        t0 = time.monotonic()
        for at, r in plan:
            if stop.wait(max(0.0, t0 + at - time.monotonic())):
                return
            r.move_to = random.choice([p for p in ports if p != r.port])

    expected = args.users * args.messages / args.send_rate
    mt = threading.Thread(target=mover, daemon=True)
    t0 = time.monotonic()
    mt.start()
    failures = sender(ports, users, args.messages, args.send_rate, sent, lock, deadline, "n")
    send_time = time.monotonic() - t0
    stop.set()
    mt.join(timeout=5)
    time.sleep(args.settle)
    for r in readers:
        r.stop = True
    for r in readers:
        r.thread.join(timeout=5)
    collect_all(readers, ports, args, deadline)
    ms = [metrics(p) for p in ports]
    tot, reasons, silent = account(sent, readers)
    tot.update(send_failures=failures, send_seconds=round(send_time, 1),
               fetches=sum(msum(m, "comet_cluster_replay_fetches_total") for m in ms),
               fetch_failures=sum(msum(m, "comet_cluster_replay_failures_total") for m in ms),
               nats_dropped=sum(msum(m, "comet_cluster_dropped_total") for m in ms),
               server_resets=sum(msum(m, "comet_replay_resets_total") for m in ms),
               alive=all(p.poll() is None for p in procs.procs))
    procs.stop()
    return tot, reasons, silent


def run_replay(args, procs, chunked):
    port = procs.start_comet(args.build, "--replay", "1000")
    times = []
    for rnd in range(args.rounds):
        user = f"r{'c' if chunked else 'e'}{rnd}"
        r = Reader(user, [port], chunked=chunked)
        rest = r.open()
        r.sock.settimeout(10)
        r.handle(rest)
        c = Client(port)
        c.post(f"/send/{user}", b"first")
        while not r.events:
            r.handle(r.sock.recv(65536))
        r.sock.close()
        for i in range(1000):
            c.post(f"/send/{user}", f"m{i}".encode())
        c.close()
        t0 = time.perf_counter()
        rest = r.open()
        r.sock.settimeout(10)
        r.handle(rest)
        while sum(1 for e in r.events if e[0] == r.conn) < 1000:
            d = r.sock.recv(65536)
            if not d:
                break
            r.handle(d)
        dt = time.perf_counter() - t0
        r.sock.close()
        got = [e for e in r.events if e[0] == r.conn]
        ok = len(got) == 1000 and not r.resets and all(
            b[1][1] == a[1][1] + 1 for a, b in zip(got, got[1:]))
        times.append((dt, ok))
    procs.stop()
    return times


# -------------------------------------------------------------------- main

def commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--parts", default="1,2,3")
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--messages", type=int, default=50, help="messages per user")
    ap.add_argument("--send-rate", type=float, default=1000, help="messages per second, all users")
    ap.add_argument("--crash-rate", type=float, default=40, help="crash requests per second (budget variant)")
    ap.add_argument("--replay", type=int, default=64, help="comet --replay for parts 1 and 2")
    ap.add_argument("--small-replay", type=int, default=8,
                    help="comet --replay of part 1's third run, whose readers reconnect after 2 s")
    ap.add_argument("--moves", type=int, default=3, help="moves per stream in part 2")
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--idle", type=float, default=1.5, help="the last collection ends after this long idle")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--time-limit", type=float, default=120, help="per run")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if args.seed is not None:
        random.seed(args.seed)
    parts = {int(p) for p in args.parts.split(",")}
    procs = Procs()
    rows = []
    any_silent = []
    try:
        runs = []
        if 1 in parts:
            runs += [("1 crash storm, within budget", lambda: run_storm(args, procs, "budget")),
                     ("1 crash storm, over budget", lambda: run_storm(args, procs, "over")),
                     (f"1 crash storm, over budget, --replay {args.small_replay}, reconnect after 2 s",
                      lambda: run_storm(args, procs, "over", args.small_replay, 2.0))]
        if 2 in parts:
            runs.append(("2 three nodes, moving streams", lambda: run_cluster(args, procs)))
        for name, fn in runs:
            tot, reasons, silent = fn()
            print(f"== {name}")
            print("   " + " ".join(f"{k}={v}" for k, v in tot.items()))
            print("   resets by reason: " + (", ".join(f"{k}={v}" for k, v in sorted(reasons.items())) or "none"))
            if silent:
                print(f"   LOST WITHOUT A RESET: {len(silent)} ids")
                for line in describe_silent(silent, T0):
                    print(line)
            sys.stdout.flush()
            rows.append((name, tot, reasons))
            any_silent += [(name, u, m) for u, m, *_ in silent]
        replay = {}
        if 3 in parts:
            for kind, chunked in (("SSE Last-Event-ID", False), ("chunked ?last_event_id=", True)):
                times = run_replay(args, procs, chunked)
                med = statistics.median(t for t, _ in times) * 1e3
                replay[kind] = (med, times)
                print(f"== 3 replay of 1,000, {kind}: median {med:.1f} ms over {len(times)} rounds "
                      f"({', '.join(f'{t * 1e3:.1f}' for t, _ in times)} ms; exact: "
                      f"{sum(ok for _, ok in times)}/{len(times)})")
                sys.stdout.flush()
    finally:
        procs.stop()

    if args.markdown:
        print()
        print(f"`python3 bench/delivery_check.py --markdown` ({' '.join(sys.argv[1:])}), "
              f"{time.strftime('%Y-%m-%d')}, commit {commit()}, {os.cpu_count()} cores, loopback.")
        print()
        if rows:
            print("| run | users | sent | received | duplicates (after a reset) | closes / moves | resets by reason "
                  "| lost in exact resets | resets with unknown count | **lost without a reset** (reconnect had no id yet) |")
            print("|---|---|---|---|---|---|---|---|---|---|")
            for name, t, reasons in rows:
                rs = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "0"
                cm = f"{t['closes']} / {t['moves']}"
                print(f"| {name} | {t['users']} | {t['sent']} | {t['received']} | {t['duplicates']} "
                      f"({t['dup_after_reset']}) | {cm} | {rs} | {t['lost_reset_exact']} | {t['unknown_resets']} | "
                      f"**{t['lost_silent']}** ({t['lost_silent_no_id_yet']}) |")
            print()
        if replay:
            print("| replay of 1,000 messages after a reconnect (`--replay 1000`) | median of "
                  f"{args.rounds} | exact |")
            print("|---|---|---|")
            for kind, (med, times) in replay.items():
                print(f"| {kind} | {med:.1f} ms | {sum(ok for _, ok in times)}/{len(times)} |")
        if any_silent:
            print()
            print("Lost without a reset: " + "; ".join(f"{n}: {u} {m}" for n, u, m in any_silent[:20]))
    return 1 if any_silent else 0


if __name__ == "__main__":
    sys.exit(main())
