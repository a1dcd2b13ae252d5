#!/usr/bin/env python3
"""The comet benchmark suite (issue: examples/comet and examples/floodtest).

Runs in one go on this machine, each figure against a baseline measured in
the same run where there is one:

  (a) accept rate, `Connection: close` GET /hello: comet vs plain Asio (wrk)
  (b) keep-alive requests per second: comet vs plain Asio (wrk)
  (c) bytes per idle stream at N streams: user space (comet RSS delta / N)
      and kernel (Slab delta / N; loopback, so both socket ends are in it)
  (d) broadcast to N streams, 5 times: delivery p50/p99/max and losses
  (e) crash storm: 1,000 sessions crashed during broadcasts; losses counted
  (f) three comet nodes behind one nats-server, N streams each (3N in all),
      5 broadcasts entering at one node: p50/p99/max and losses, next to (d)

then rewrites the suite's section of bench/RESULTS.md (between the
`comet-suite` markers) with the figures and the exact commands, and draws
bench/plots/ramp.png and bench/plots/latency.png with gnuplot.

  bench/comet_suite.py [--build build] [--streams 15000] [--rounds 3]

Every step is bounded (wrk durations, floodtest --timeout) and the script
stops every process it started.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- comet-suite:begin -->"
END = "<!-- comet-suite:end -->"


def log(msg):
    print(f"[suite] {msg}", file=sys.stderr, flush=True)


class Server:
    """A server process whose port is read from its output."""

    def __init__(self, argv, port_pattern, stream="stdout"):
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
            stderr=subprocess.PIPE if stream == "stderr" else subprocess.DEVNULL,
            text=True,
        )
        pipe = self.proc.stdout if stream == "stdout" else self.proc.stderr
        deadline = time.time() + 15
        self.port = None
        while time.time() < deadline:
            line = pipe.readline()
            if not line:
                break
            m = re.search(port_pattern, line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.stop()
            raise RuntimeError(f"{argv[0]} did not report its port")
        # Keep reading so that a chatty server never blocks on a full pipe.
        keep = os.environ.get("SUITE_SERVER_LOG")
        sink = open(keep, "a") if keep else None
        threading.Thread(target=lambda: [sink.write(l) if sink else None for l in pipe], daemon=True).start()

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def get(self, path, data=None, timeout=10):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read().decode()

    def metric(self, name):
        for line in self.get("/metrics").splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def slab_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1]) * 1024
    return 0


def median(xs):
    xs = sorted(xs)
    return xs[(len(xs) - 1) // 2] if xs else float("nan")


class Suite:
    def __init__(self, args):
        self.args = args
        b = Path(args.build)
        self.comet = str(b / "examples/comet/comet")
        self.flood = str(b / "examples/floodtest/floodtest")
        self.asio = str(b / "bench/asio_baseline/asio_baseline")
        self.plots = ROOT / "bench/plots"
        self.work = Path(args.workdir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.commands = []
        self.figures = {}

    # -- processes ---------------------------------------------------------------

    def start_comet(self, *extra):
        argv = [self.comet, "--port", "0", "--log-level", "info", *extra]
        self.commands.append(" ".join(["comet", *argv[1:]]))
        return Server(argv, r"port=(\d+)", stream="stderr")

    def floodtest(self, *flags, timeout=300):
        argv = [self.flood, *flags]
        self.commands.append(" ".join(["floodtest", *flags]))
        log(" ".join(argv))
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             timeout=timeout)
        lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
        if not lines:
            raise RuntimeError(f"floodtest printed no summary (exit {out.returncode})")
        return json.loads(lines[-1])

    def wrk(self, port, close, duration):
        header = ["-H", "Connection: close"] if close else []
        argv = ["wrk", "-t1", f"-c{self.args.conns}", f"-d{duration}s", *header,
                f"http://127.0.0.1:{port}/hello"]
        out = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=duration + 30).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        reqs = int(re.search(r"(\d+) requests in", out).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return rps, reqs, int(errors.group(1)) if errors else 0

    # -- (a) and (b) ---------------------------------------------------------------

    def http_rates(self):
        """Rounds alternate the two servers so that noise hits both alike."""
        rows = {("asio", "close"): [], ("comet", "close"): [], ("asio", "keepalive"): [],
                ("comet", "keepalive"): []}
        cpu = {k: [] for k in rows}
        d = self.args.wrk_seconds
        for r in range(self.args.rounds):
            for mode in ("close", "keepalive"):
                for name in ("asio", "comet"):
                    if name == "asio":
                        srv = Server([self.asio, "--port", "0", "--threads", "1"], r"port=(\d+)")
                    else:
                        srv = Server([self.comet, "--port", "0", "--threads", "1", "--log-level", "info"],
                                     r"port=(\d+)", stream="stderr")
                    try:
                        c0 = srv.cpu_seconds()
                        rps, reqs, errors = self.wrk(srv.port, mode == "close", d)
                        c1 = srv.cpu_seconds()
                    finally:
                        srv.stop()
                    if errors:
                        raise RuntimeError(f"{name} answered {errors} requests with an error")
                    rows[(name, mode)].append(rps)
                    cpu[(name, mode)].append((c1 - c0) * 1e6 / max(reqs, 1))
                    log(f"round {r + 1} {mode:9} {name:5} {rps:9.0f} req/s  {cpu[(name, mode)][-1]:.1f} cpu-us/req")
        self.commands.append(f"asio_baseline --port 0 --threads 1 / comet --port 0 --threads 1, each loaded by "
                             f"wrk -t1 -c{self.args.conns} -d{d}s [-H 'Connection: close'] http://127.0.0.1:PORT/hello, "
                             f"{self.args.rounds} alternating rounds")
        for mode in ("close", "keepalive"):
            a, c = median(rows[("asio", mode)]), median(rows[("comet", mode)])
            self.figures[mode] = {"asio": a, "comet": c, "ratio": c / a,
                                  "asio_cpu_us": median(cpu[("asio", mode)]),
                                  "comet_cpu_us": median(cpu[("comet", mode)])}

    # -- (c) -------------------------------------------------------------------------

    def wait_streams(self, srv, n, limit):
        deadline = time.time() + limit
        while time.time() < deadline:
            if (srv.metric("comet_streams") or 0) >= n:
                return True
            time.sleep(0.5)
        return False

    def idle_memory(self):
        n = self.args.streams
        srv = self.start_comet("--max-connections", str(n + 1000))
        ramp = self.work / "ramp.csv"
        try:
            time.sleep(1)
            rss0, slab0 = srv.rss(), slab_bytes()
            hold = 25
            result = {}
            t = threading.Thread(target=lambda: result.update(self.floodtest(
                "--mode", "streams", "--port", str(srv.port), "-n", str(n), "--rate", "5000",
                "--hold", f"{hold}s", "--timeout", "120s", "--ramp", str(ramp), "-q")))
            t.start()
            if not self.wait_streams(srv, n, 60):
                raise RuntimeError("comet never held all the streams")
            time.sleep(3)  # settle: every welcome written, buffers returned
            rss1, slab1 = srv.rss(), slab_bytes()
            streams = srv.metric("comet_streams")
            t.join(timeout=hold + 60)
        finally:
            srv.stop()
        self.figures["memory"] = {
            "streams": int(streams), "rss_before": rss0, "rss_after": rss1,
            "user_bytes_per_stream": (rss1 - rss0) / streams,
            "slab_delta": slab1 - slab0, "kernel_bytes_per_stream": (slab1 - slab0) / streams,
            "established": result.get("established"), "failed": result.get("failed"),
            "ramp_s": result.get("streams", {}).get("ramp_s"),
            "client_bytes_per_conn": result.get("client_bytes_per_conn"),
        }
        log(f"memory: {self.figures['memory']}")

    # -- (d) -------------------------------------------------------------------------

    def broadcast_latency(self):
        """comet, then the plain-Asio baseline, with the same floodtest run."""
        n = self.args.streams
        hist = self.work / "latency.txt"
        flags = ["--mode", "latency", "-n", str(n), "--rate", "5000", "--via", "broadcast", "--messages", "5",
                 "--interval", "1s", "--timeout", "120s", "-q"]
        srv = self.start_comet("--max-connections", str(n + 1000))
        try:
            res = self.floodtest("--port", str(srv.port), *flags, "--histogram", str(hist))
        finally:
            srv.stop()
        self.figures["broadcast"] = res
        log(f"broadcast: {res.get('latency')}")
        base = Server([self.asio, "--port", "0", "--threads", "2"], r"port=(\d+)")
        self.commands.append("asio_baseline --port 0 --threads 2  (the same floodtest command against it)")
        try:
            self.figures["broadcast_baseline"] = self.floodtest("--port", str(base.port), *flags)
        finally:
            base.stop()
        log(f"broadcast baseline: {self.figures['broadcast_baseline'].get('latency')}")

    # -- (e) -------------------------------------------------------------------------

    def crash_storm(self):
        n = self.args.streams
        crashes = self.args.crashes
        srv = self.start_comet("--allow-crash", "--max-connections", str(n + 1000))
        crashed = []
        try:
            restarts0 = srv.metric("comet_session_restarts_total") or 0

            def crasher(part, parts):
                if not self.wait_streams(srv, n, 90):
                    return
                # Start once the broadcasts have begun: the crashes land among them.
                deadline = time.time() + 60
                while time.time() < deadline and (srv.metric("comet_messages_routed_total") or 0) == 0:
                    time.sleep(0.02)
                import http.client
                conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
                step = max(1, n // crashes)
                for i in range(part * step, step * crashes, step * parts):
                    conn.request("POST", f"/crash/u{i}", body=b"")
                    crashed.append(int(conn.getresponse().read().strip()))

            crashers = [threading.Thread(target=crasher, args=(k, 8)) for k in range(8)]
            for t in crashers:
                t.start()
            res = self.floodtest("--mode", "latency", "--port", str(srv.port), "-n", str(n), "--rate", "5000",
                                 "--id-prefix", "u", "--via", "broadcast", "--expect", "all-streams",
                                 "--messages", "60", "--interval", "150ms", "--timeout", "150s", "-q")
            for t in crashers:
                t.join(timeout=60)
            restarts = (srv.metric("comet_session_restarts_total") or 0) - restarts0
            dropped = {r: srv.metric(f'comet_messages_dropped_total{{reason="{r}"}}') for r in
                       ("overflow", "expired", "slow_reader", "not_streaming")}
        finally:
            srv.stop()
        self.commands.append(f"during it: POST /crash/u<i> for {crashes} ids spread over the streams "
                             f"(8 keep-alive clients), started when the first broadcast is routed")
        self.figures["crash"] = {"result": res, "crash_requests": len(crashed),
                                 "sessions_crashed": sum(crashed), "restarts": restarts, "dropped": dropped}
        log(f"crash storm: crashed {sum(crashed)} restarts {restarts} dropped {dropped} latency {res.get('latency')}")

    # -- (f) -------------------------------------------------------------------------

    def cluster_broadcast(self):
        import socket
        import tempfile
        n = self.args.streams
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            nats_port = probe.getsockname()[1]
        store = tempfile.mkdtemp(prefix="suite-js-")
        nats = subprocess.Popen(["nats-server", "-js", "-sd", store, "-a", "127.0.0.1", "-p", str(nats_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nodes = []
        try:
            url = f"nats://127.0.0.1:{nats_port}"
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", nats_port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            for name in ("a", "b", "c"):
                nodes.append(self.start_comet("--max-connections", str(n + 1000), "--nats", url,
                                              "--node-name", name))
            targets = ",".join(f"127.0.0.1:{s.port}" for s in nodes)
            res = self.floodtest("--mode", "latency", "--targets", targets, "-n", str(3 * n), "--rate", "5000",
                                 "--via", "broadcast", "--expect", "all-streams", "--messages", "5", "--interval", "1s",
                                 "--timeout", "240s", "-q", timeout=300)
            cluster = {}
            for name, s in zip("abc", nodes):
                cluster[name] = {k: s.metric(f"comet_cluster_{k}") for k in
                                 ("published_total", "received_total", "dropped_total", "slow_consumer_total")}
        finally:
            for s in nodes:
                s.stop()
            nats.terminate()
            nats.wait(timeout=10)
            shutil.rmtree(store, ignore_errors=True)
        self.commands.append(f"nats-server -js -sd TMP -a 127.0.0.1 -p NATS_PORT; three comets with "
                             f"--nats nats://127.0.0.1:NATS_PORT --node-name a|b|c")
        self.figures["cluster"] = {"result": res, "nodes": cluster}
        log(f"cluster broadcast: {res.get('latency')} nodes {cluster}")

    # -- output --------------------------------------------------------------------------

    def plots_(self):
        if not shutil.which("gnuplot"):
            log("gnuplot is missing (apt-get install gnuplot-nox): no plots")
            return
        self.plots.mkdir(exist_ok=True)
        ramp, hist = self.work / "ramp.csv", self.work / "latency.txt"
        script = f"""
set terminal pngcairo size 900,500 font ",11"
set datafile separator ","
set output "{self.plots / 'ramp.png'}"
set title "floodtest: {self.args.streams} streams opened at 5,000/s and held (comet, one process)"
set xlabel "seconds"; set ylabel "connections"; set key left top; set grid
plot "{ramp}" using 1:3 skip 1 with lines lw 2 title "established", \\
     "{ramp}" using 1:4 skip 1 with lines lw 2 title "active", \\
     "{ramp}" using 1:6 skip 1 with lines lw 2 title "failed"
set datafile separator whitespace
set output "{self.plots / 'latency.png'}"
set title "broadcast to {self.args.streams} streams, 5 times: delivery latency (cumulative)"
set xlabel "latency (ms)"; set ylabel "fraction of deliveries"; set key off; set yrange [0:1]
plot "{hist}" using ($1/1000):3 with steps lw 2
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)

    def write_results(self):
        f = self.figures
        cl, ka, m = f["close"], f["keepalive"], f["memory"]
        b = f["broadcast"]["latency"]
        c = f["crash"]
        cr = c["result"]["latency"]
        fl = f["cluster"]["result"]["latency"] if "cluster" in f else None
        bb = f["broadcast_baseline"].get("latency") if "broadcast_baseline" in f else None
        kb = 1000.0
        lines = [
            BEGIN,
            "## Comet suite (`bench/comet_suite.py`)",
            "",
            f"Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on this machine (2 cores shared by the "
            f"server and its load; figures are medians where rounds repeat). Rerun: "
            f"`python3 bench/comet_suite.py --build {self.args.build} --streams {self.args.streams}`.",
            "",
            "| figure | comet | baseline | ratio | target |",
            "|---|---|---|---|---|",
            f"| (a) accept rate, `Connection: close` /hello | {cl['comet']:.0f} conn/s | plain Asio {cl['asio']:.0f} conn/s "
            f"| **{cl['ratio']:.2f}x** | >= 0.8x: {'met' if cl['ratio'] >= 0.8 else 'MISSED'} |",
            f"| (b) keep-alive /hello | {ka['comet']:.0f} req/s | plain Asio {ka['asio']:.0f} req/s | "
            f"**{ka['ratio']:.2f}x** | none |",
            f"| server CPU per connection (close) | {cl['comet_cpu_us']:.1f} µs | {cl['asio_cpu_us']:.1f} µs | "
            f"{cl['comet_cpu_us'] / cl['asio_cpu_us']:.2f}x | |",
            f"| (c) user space per idle stream, {m['streams']} streams | **{m['user_bytes_per_stream']:.0f} B** "
            f"(RSS {m['rss_before'] / 1e6:.1f} -> {m['rss_after'] / 1e6:.1f} MB) | | | <= 4 KB (aim 2 KB): "
            f"{'met' if m['user_bytes_per_stream'] <= 4 * kb else 'MISSED'} |",
            f"| (c) kernel Slab per stream (both loopback ends) | {m['kernel_bytes_per_stream']:.0f} B | | | |",
            f"| (d) broadcast to {f['broadcast'].get('established')} streams x5: p50 / p99 / max | "
            f"{b['p50_us'] / kb:.1f} / **{b['p99_us'] / kb:.1f}** / {b['max_us'] / kb:.1f} ms | | | p99 <= 50 ms: "
            f"{'met' if b['p99_us'] <= 50 * kb else 'MISSED'} |",
            *([] if bb is None else [
                f"| (d) the same against plain Asio (same run): p50 / p99 / max | {bb['p50_us'] / kb:.1f} / "
                f"{bb['p99_us'] / kb:.1f} / {bb['max_us'] / kb:.1f} ms | | comet/Asio p99 "
                f"**{b['p99_us'] / bb['p99_us']:.2f}x** | |"]),
            f"| (d) deliveries expected / received / lost | {b['expected']} / {b['received']} / **{b['lost']}** | | | 0 lost |",
            f"| (e) crash storm: sessions crashed during 60 broadcasts | {c['sessions_crashed']} "
            f"(restarts counted by comet: {c['restarts']:.0f}) | | | |",
            f"| (e) deliveries expected / received / lost / duplicated or reordered | {cr['expected']} / {cr['received']} / "
            f"**{cr['lost']}** / {c['result'].get('out_of_order')} | | | 0 lost: "
            f"{'met' if cr['lost'] == 0 and cr['expected'] > 0 else 'MISSED'} |",
            f"| (e) latency during the storm p50 / p99 / max | {cr['p50_us'] / kb:.1f} / {cr['p99_us'] / kb:.1f} / "
            f"{cr['max_us'] / kb:.1f} ms | | | |",
            *([] if fl is None else [
                f"| (f) 3 nodes over NATS, broadcast to {f['cluster']['result'].get('established')} streams x5: "
                f"p50 / p99 / max | {fl['p50_us'] / kb:.1f} / {fl['p99_us'] / kb:.1f} / {fl['max_us'] / kb:.1f} ms | "
                f"one node (d): {b['p99_us'] / kb:.1f} ms p99 | {fl['p99_us'] / b['p99_us']:.2f}x p99 | |",
                f"| (f) deliveries expected / received / lost | {fl['expected']} / {fl['received']} / **{fl['lost']}** "
                f"(NATS dropped: {sum((v['dropped_total'] or 0) for v in f['cluster']['nodes'].values()):.0f}) | | | 0 lost |",
            ]),
            "",
            "Plots: [connection ramp](plots/ramp.png), [broadcast latency](plots/latency.png).",
            "",
            "Commands the suite ran (PORT is the port the server reported):",
            "",
            "```",
            *self.commands,
            "```",
            "",
            "Raw floodtest summaries:",
            "",
            "```json",
            json.dumps({"broadcast": f["broadcast"], "crash_storm": c["result"], "cluster": f.get("cluster")}),
            "```",
            END,
        ]
        path = ROOT / "bench/RESULTS.md"
        text = path.read_text()
        block = "\n".join(lines)
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        path.write_text(text)
        print(block)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default="build", help="build directory (Release or RelWithDebInfo)")
    p.add_argument("--streams", type=int, default=15000, help="streams for (c), (d), (e)")
    p.add_argument("--crashes", type=int, default=1000, help="sessions crashed in (e)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds for (a) and (b)")
    p.add_argument("--wrk-seconds", type=int, default=8)
    p.add_argument("--conns", type=int, default=50, help="wrk connections")
    p.add_argument("--workdir", default="/tmp/comet-suite", help="raw data (CSV, histogram)")
    p.add_argument("--only", default="abcdef", help="subset of steps, e.g. 'de' (results are written only for all)")
    args = p.parse_args()
    if not shutil.which("wrk") and any(s in args.only for s in "ab"):
        sys.exit("comet_suite: wrk is missing (apt-get install wrk)")
    s = Suite(args)
    steps = {"a": s.http_rates, "c": s.idle_memory, "d": s.broadcast_latency, "e": s.crash_storm,
             "f": s.cluster_broadcast}
    for key, step in steps.items():
        if key in args.only or (key == "a" and "b" in args.only):
            step()
    if all(k in args.only for k in "acde"):
        s.plots_()
        s.write_results()
    else:
        print(json.dumps(s.figures, default=str, indent=1))


if __name__ == "__main__":
    main()
