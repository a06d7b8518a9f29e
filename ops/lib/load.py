"""Load generator for ops/load: asyncssh on one asyncio loop, so an idle
session costs the generator a socket and a few kilobytes, not a thread.

Phase 1 logs in SESSIONS sessions (alternately oldvendor and newvendor),
CONCURRENCY at a time, timing each login (TCP connect to the sftp
subsystem ready), and keeps them all open and idle. Phase 2, with those
still open, runs PAIRS sender/recipient pairs (2 * PAIRS sessions) for
SECONDS: each sender (one of sender0..sender9) uploads its next sealed
envelope to newvendor, whose session in the pair downloads it from the
inbox and compares every byte. At the end every idle session must still
answer a request. Prints one JSON object.
"""
import asyncio, hashlib, json, os, random, resource, sys, time

import asyncssh


def server_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0]), int(fields["Threads"])


def server_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class Load:
    def __init__(self, args):
        self.port = int(args["port"])
        self.work = args["work"]
        self.pid = int(args["pid"])
        self.sessions = int(args["sessions"])
        self.pairs = int(args["pairs"])
        self.seconds = float(args["seconds"])
        self.concurrency = int(args["concurrency"])
        # Per sender (sender0..sender9, in the names), in order.
        self.queues = {}
        for name in sorted(os.listdir(os.path.join(self.work, "envelopes"))):
            self.queues.setdefault(name.split("-")[1], []).append(name)
        self.errors = []
        self.logins = []
        self.small_uploads = []
        self.small_downloads = []
        self.transfers = 0
        self.bytes = 0
        self.peak_rss = 0
        self.peak_threads = 0
        self.sampling = True

    def key(self, vendor):
        return asyncssh.read_private_key(os.path.join(self.work, vendor))

    async def login(self, vendor):
        started = time.monotonic()
        connection = await asyncssh.connect(
            "127.0.0.1", self.port, username=vendor, client_keys=[self.keys[vendor]], known_hosts=None,
            agent_path=None, keepalive_interval=0, login_timeout=120)
        sftp = await connection.start_sftp_client()
        self.logins.append(time.monotonic() - started)
        return connection, sftp

    async def sample(self):
        while self.sampling:
            try:
                rss, _, threads = server_status(self.pid)
                self.peak_rss = max(self.peak_rss, rss)
                self.peak_threads = max(self.peak_threads, threads)
            except OSError:
                return
            await asyncio.sleep(0.2)

    async def idle_phase(self):
        async def one(index):
            async with self.gate:
                try:
                    return await self.login("oldvendor" if index % 2 == 0 else "newvendor")
                except Exception as error:  # noqa: BLE001 - every failure is counted and shown
                    self.errors.append(f"login {index}: {error!r}")
                    return None

        started = time.monotonic()
        opened = await asyncio.gather(*(one(index) for index in range(self.sessions)))
        return [session for session in opened if session], time.monotonic() - started

    async def pair(self, index, deadline):
        sender = receiver = None
        vendor = sorted(self.queues)[index % len(self.queues)]
        queue = self.queues[vendor]
        try:
            # Logins go CONCURRENCY at a time, as in phase 1: more at once
            # would meet the server's random early drop (max-startups).
            async with self.gate:
                sender = await self.login(vendor)
                receiver = await self.login("newvendor")
        except Exception as error:  # noqa: BLE001
            self.errors.append(f"pair login: {error!r}")
        try:
            while sender and receiver and time.monotonic() < deadline and queue:
                name = queue.pop(0)
                with open(os.path.join(self.work, "envelopes", name), "rb") as file:
                    data = file.read()
                transfer_id = data[14:30].hex()
                # A 4 KiB file seals into one 128 KiB chunk: "small" is the plaintext.
                small = name.endswith("-small.sealdrop")
                started = time.monotonic()
                async with sender[1].open(f"/outbox/newvendor/{name}", "wb") as remote:
                    await remote.write(data)
                uploaded = time.monotonic()
                async with receiver[1].open(f"/inbox/{transfer_id}.sealdrop", "rb") as remote:
                    got = await remote.read()
                downloaded = time.monotonic()
                if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
                    self.errors.append(f"{name}: received {len(got)} bytes that differ from the {len(data)} sent")
                    continue
                self.transfers += 1
                self.bytes += len(data)
                if small:
                    self.small_uploads.append(uploaded - started)
                    self.small_downloads.append(downloaded - uploaded)
        except Exception as error:  # noqa: BLE001
            self.errors.append(f"transfer: {error!r}")
        finally:
            for session in (sender, receiver):
                if session:
                    session[1].exit()
                    session[0].close()

    async def run(self):
        self.keys = {vendor: self.key(vendor) for vendor in ["oldvendor", "newvendor"] + sorted(self.queues)}
        self.gate = asyncio.Semaphore(self.concurrency)
        baseline_rss, _, baseline_threads = server_status(self.pid)
        sampler = asyncio.ensure_future(self.sample())
        idle, idle_seconds = await self.idle_phase()
        await asyncio.sleep(2)
        idle_rss, _, idle_threads = server_status(self.pid)
        idle_logins = list(self.logins)
        self.logins = []

        deadline = time.monotonic() + self.seconds
        started = time.monotonic()
        server_cpu, own_cpu = server_cpu_seconds(self.pid), own_cpu_seconds()
        await asyncio.gather(*(self.pair(index, deadline) for index in range(self.pairs)))
        busy_seconds = time.monotonic() - started
        server_cpu, own_cpu = server_cpu_seconds(self.pid) - server_cpu, own_cpu_seconds() - own_cpu

        # Every idle session must still be there and answer.
        alive = 0
        for _, sftp in idle:
            try:
                await sftp.realpath("/")
                alive += 1
            except Exception as error:  # noqa: BLE001
                self.errors.append(f"idle session lost: {error!r}")
        self.sampling = False
        await sampler
        final_rss, hwm, final_threads = server_status(self.pid)
        for connection, sftp in idle:
            sftp.exit()
            connection.close()
        ms = lambda value: None if value is None else round(value * 1000, 1)  # noqa: E731
        return {
            "sessions_requested": self.sessions,
            "idle_sessions_open": len(idle),
            "idle_sessions_alive_at_end": alive,
            "idle_login_seconds": round(idle_seconds, 1),
            "login_ms_p50": ms(percentile(idle_logins, 0.5)),
            "login_ms_p99": ms(percentile(idle_logins, 0.99)),
            "server_rss_kib_before": baseline_rss,
            "server_rss_kib_idle": idle_rss,
            "server_threads_before": baseline_threads,
            "server_threads_idle": idle_threads,
            "per_session_kib": round((idle_rss - baseline_rss) / max(len(idle), 1), 1),
            "busy_pairs": self.pairs,
            "busy_seconds": round(busy_seconds, 1),
            "busy_login_ms_p50": ms(percentile(self.logins, 0.5)),
            "busy_login_ms_p99": ms(percentile(self.logins, 0.99)),
            "busy_server_cpu_seconds": round(server_cpu, 1),
            "busy_generator_cpu_seconds": round(own_cpu, 1),
            "transfers_checked": self.transfers,
            "bytes_checked": self.bytes,
            "small_upload_ms_p50": ms(percentile(self.small_uploads, 0.5)),
            "small_upload_ms_p99": ms(percentile(self.small_uploads, 0.99)),
            "small_download_ms_p50": ms(percentile(self.small_downloads, 0.5)),
            "small_download_ms_p99": ms(percentile(self.small_downloads, 0.99)),
            "server_peak_rss_kib": max(self.peak_rss, hwm),
            "server_peak_threads": self.peak_threads,
            "server_rss_kib_end": final_rss,
            "server_threads_end": final_threads,
            "errors": len(self.errors),
            "first_errors": self.errors[:10],
        }


def main():
    args = dict(argument.split("=", 1) for argument in sys.argv[1:])
    random.seed(1)
    print(json.dumps(asyncio.run(Load(args).run()), indent=1))


if __name__ == "__main__":
    main()
