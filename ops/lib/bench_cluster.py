"""Cluster benchmark for ops/bench cluster: asyncssh sessions through the
balancer of a running ops/cluster (its cluster.env read by the caller).

Logs in one session per sender (sender0..sender9) and as many newvendor
sessions, then:
  uploads:   every sealed envelope in ENVELOPES is uploaded by its sender
             (one upload in flight per session), timed one by one;
  downloads: the newvendor sessions take transfers from one queue: open the
             inbox file (the claim, timed), read it all, close (the
             delivery); every byte is compared with what was sent.
For each phase: the rate, latencies (p50, p99), CPU seconds of the nodes,
PostgreSQL (its backends included), HAProxy and this generator, the
statements PostgreSQL ran (pg_stat_statements, reset before the phase) and
the receipt-log entries appended. Prints one JSON object.
"""
import asyncio, hashlib, json, os, subprocess, sys, time

import asyncssh


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def ms(value):
    return None if value is None else round(value * 1000, 1)


def cpu_seconds(pid, children=False):
    """utime + stime of a process (and of its reaped children when asked)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu(postmaster):
    """The postmaster (with the backends that ended) and its live backends."""
    total = cpu_seconds(postmaster, children=True)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def own_cpu():
    times = os.times()
    return times.user + times.system


class Bench:
    def __init__(self, args):
        self.port = int(args["port"])
        self.work = args["work"]
        self.envelopes = args["envelopes"]
        self.database = args["database"]
        self.node_pids = [int(pid) for pid in args["node_pids"].split()]
        self.haproxy_pid = int(args["haproxy_pid"])
        self.postmaster = int(args["postmaster"])
        self.receivers = int(args["receivers"])
        self.errors = []
        self.queues = {}
        for name in sorted(os.listdir(self.envelopes)):
            self.queues.setdefault(name.split("-")[1].removesuffix(".sealdrop"), []).append(name)

    def sql(self, query):
        result = subprocess.run(["psql", self.database, "-Atc", query], capture_output=True, text=True, check=True)
        return result.stdout.strip()

    def counters(self):
        return {
            "nodes": sum(cpu_seconds(pid) for pid in self.node_pids),
            "postgres": postgres_cpu(self.postmaster),
            "haproxy": cpu_seconds(self.haproxy_pid),
            "generator": own_cpu(),
            "log": int(self.sql("SELECT count(*) FROM event") or 0),
            "time": time.monotonic(),
        }

    def statements(self):
        rows = self.sql(
            "SELECT calls, regexp_replace(left(query, 60), '\\s+', ' ', 'g') FROM pg_stat_statements "
            "WHERE query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE 'SELECT count(*) FROM event%' ORDER BY calls DESC"
        )
        counted = []
        for line in rows.splitlines():
            calls, _, query = line.partition("|")
            counted.append((int(calls), query))
        return counted

    def phase(self, name, before, done, latencies):
        after = self.counters()
        seconds = after["time"] - before["time"]
        statements = self.statements()
        total = sum(calls for calls, _ in statements)
        per = lambda key: round((after[key] - before[key]) / max(done, 1), 4)  # noqa: E731
        result = {
            f"{name}": done,
            f"{name}_seconds": round(seconds, 2),
            f"{name}_per_second": round(done / seconds, 1) if seconds > 0 else None,
            "log_entries_appended": after["log"] - before["log"],
            "log_appends_per_second": round((after["log"] - before["log"]) / seconds, 1) if seconds > 0 else None,
            "cpu_seconds_per_transfer": {key: per(key) for key in ("nodes", "postgres", "haproxy", "generator")},
            "statements": total,
            "statements_per_transfer": round(total / max(done, 1), 2),
            "top_statements": [f"{calls} {query}" for calls, query in statements[:8]],
        }
        for label, values in latencies.items():
            result[f"{label}_ms_p50"] = ms(percentile(values, 0.5))
            result[f"{label}_ms_p99"] = ms(percentile(values, 0.99))
        return result

    async def login(self, vendor):
        key = asyncssh.read_private_key(os.path.join(self.work, vendor))
        connection = await asyncssh.connect(
            "127.0.0.1", self.port, username=vendor, client_keys=[key], known_hosts=None, agent_path=None,
            keepalive_interval=0, login_timeout=120)
        return connection, await connection.start_sftp_client()

    async def uploads(self, sftp, queue, sent, latencies):
        while queue:
            name = queue.pop(0)
            with open(os.path.join(self.envelopes, name), "rb") as file:
                data = file.read()
            started = time.monotonic()
            try:
                async with sftp.open(f"/outbox/newvendor/{name}", "wb") as remote:
                    await remote.write(data)
            except Exception as error:  # noqa: BLE001 - every failure is counted and shown
                self.errors.append(f"upload {name}: {error!r}")
                continue
            latencies.append(time.monotonic() - started)
            # The transfer id is the envelope's, at bytes 14..30 of its header.
            sent[data[14:30].hex()] = hashlib.sha256(data).digest()

    async def downloads(self, sftp, queue, sent, claims, latencies):
        while queue:
            transfer = queue.pop(0)
            started = time.monotonic()
            try:
                remote = await sftp.open(f"/inbox/{transfer}.sealdrop", "rb")
                claimed = time.monotonic()
                got = await remote.read()
                await remote.close()
            except Exception as error:  # noqa: BLE001
                self.errors.append(f"download {transfer}: {error!r}")
                continue
            claims.append(claimed - started)
            latencies.append(time.monotonic() - started)
            if hashlib.sha256(got).digest() != sent[transfer]:
                self.errors.append(f"{transfer}: received bytes differ from those sent")

    async def run(self):
        senders = sorted(self.queues)
        started = time.monotonic()
        sessions = await asyncio.gather(*(self.login(vendor) for vendor in senders))
        receivers = await asyncio.gather(*(self.login("newvendor") for _ in range(self.receivers)))
        login_seconds = time.monotonic() - started
        self.sql("SELECT pg_stat_statements_reset()")
        result = {
            "senders": len(senders),
            "receivers": self.receivers,
            "logins": len(senders) + self.receivers,
            "login_seconds": round(login_seconds, 2),
        }

        sent, upload_times = {}, []
        before = self.counters()
        await asyncio.gather(*(self.uploads(sftp, self.queues[vendor], sent, upload_times) for vendor, (_, sftp) in zip(senders, sessions)))
        result["upload_phase"] = self.phase("uploads", before, len(upload_times), {"upload": upload_times})

        self.sql("SELECT pg_stat_statements_reset()")
        queue, claims, download_times = sorted(sent), [], []
        before = self.counters()
        await asyncio.gather(*(self.downloads(sftp, queue, sent, claims, download_times) for _, sftp in receivers))
        result["download_phase"] = self.phase("downloads", before, len(download_times), {"claim": claims, "download": download_times})

        for connection, sftp in list(sessions) + list(receivers):
            sftp.exit()
            connection.close()
        result["errors"] = len(self.errors)
        result["first_errors"] = self.errors[:10]
        return result


def main():
    args = dict(argument.split("=", 1) for argument in sys.argv[1:])
    print(json.dumps(asyncio.run(Bench(args).run()), indent=1))


if __name__ == "__main__":
    main()
