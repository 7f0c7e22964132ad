#!/usr/bin/python3
"""`mpilake alerts` end to end against a real SMTP server (aiosmtpd, started here on 127.0.0.1).

On generated Deloton data with alerting rides: the outbox holds one parseable message per row of
heart_rate_alerts; `--send` delivers exactly one message per row, to the row's email (read here with
h5py), with the first name, heart rate and safe range in the body; a second `--send` sends nothing;
a run stopped by the crash hook (MPILAKE_ALERTS_CRASH_AFTER=k) or by a SIGKILL at a random moment,
then rerun, delivers every alert with no duplicate (a SIGKILL may leave one, in the documented
window); a server that answers 451 after k messages gives one error line, exit 1, k recorded, and a
rerun against a good server delivers the rest; a server that is down gives one error line; hostile
rider data (empty, invalid and injected addresses, CR/LF and non-ASCII names) is skipped or encoded;
a new run in the same folder sends nothing already sent; a folder that is not a Deloton run is one
error line, exit 2."""
import argparse
import asyncio
import email
import email.policy
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import h5py
import numpy as np
from aiosmtpd.controller import Controller
from e2e_harness import free_port

FAILURES = []
FROM = "Deloton Health <alerts@deloton.example>"


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)
    return condition



class Store:
    """aiosmtpd handler: keeps every accepted message; optionally answers 451 from the
    (reject_after+1)-th DATA on, or waits `delay` seconds before accepting each one."""

    def __init__(self, reject_after=None, delay=0.0):
        self.messages = []  # (mail_from, rcpt_tos, content bytes)
        self.reject_after = reject_after
        self.delay = delay
        self.rejected = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if self.reject_after is not None and len(self.messages) >= self.reject_after:
                self.rejected += 1
                return "451 4.3.0 Mailbox busy, try again later"
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


class SmtpServer:
    def __init__(self, handler):
        self.handler = handler
        self.port = free_port()
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port


def read_alerts(out):
    """heart_rate_alerts.h5 read with h5py: {ride_id: row dict}."""
    rows = {}
    with h5py.File(os.path.join(out, "heart_rate_alerts.h5"), "r") as f:
        n = f["ride_id"].shape[0]
        cols = {}
        for name in ("ride_id", "user_id", "heart_rate", "hr_lower", "hr_upper", "alert_time"):
            cols[name] = [int(v) for v in f[name][()].tolist()]
        for name in ("email", "first_name", "kind", "bike"):
            cols[name] = [bytes(v).rstrip(b"\x00").decode("utf-8") for v in f[name][()].tolist()]
    for i in range(n):
        rows[cols["ride_id"][i]] = {k: v[i] for k, v in cols.items()}
    return rows


def parse(content):
    return email.message_from_bytes(content, policy=email.policy.default)


def delivered_log(out):
    path = os.path.join(out, "alerts_outbox", "delivered.log")
    if not os.path.exists(path):
        return []
    with open(path, encoding="ascii") as f:
        return [json.loads(line) for line in f if line.strip()]


def message_ids(store):
    return [parse(content)["Message-ID"] for _, _, content in store.messages]


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("mpilake: error")]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--seed", type=int, default=None, help="seed of the random SIGKILL moment")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    print("random seed", seed)
    mpirun = [args.mpiexec, "--allow-run-as-root", "--oversubscribe"]
    env = dict(os.environ)
    env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    env.pop("MPILAKE_ALERTS_CRASH_AFTER", None)
    started = time.time()

    def alerts(out, *extra, ranks=None, extra_env=None, timeout=120):
        """`mpilake alerts --out OUT ...`, under mpirun with `ranks`, else as a plain process."""
        cmd = (mpirun + ["-n", str(ranks)] if ranks else []) + [args.mpilake, "alerts", "--out", out] + list(extra)
        run_env = dict(env, **(extra_env or {}))
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=run_env)

    def send(out, server_url, extra=(), **kw):
        return alerts(out, "--send", server_url, "--from", FROM, *extra, **kw)

    with tempfile.TemporaryDirectory() as tmp:
        landing = os.path.join(tmp, "landing")
        out = os.path.join(tmp, "out")
        subprocess.run(mpirun + ["-n", "1", args.mpilake, "generate", "--pipeline", "deloton", "--out", landing,
                                 "--bikes", "30", "--days", "1", "--seed", "1"],
                       check=True, capture_output=True, timeout=120, env=env)
        subprocess.run(mpirun + ["-n", "2", args.mpilake, "run", "--pipeline", "deloton", "--landing", landing,
                                 "--out", out, "--quiet"], check=True, capture_output=True, timeout=300, env=env)
        expected = read_alerts(out)
        n = len(expected)
        print("alert rows in heart_rate_alerts.h5:", n)
        if not check(n >= 8, "the generated data has alerting rides (got %d)" % n):
            return 1
        # Pristine copies for the later scenarios (same run, separate outboxes).
        for name in ("crash", "kill", "reject", "down", "hostile"):
            shutil.copytree(out, os.path.join(tmp, name))

        # --- outbox only, under mpirun with 2 ranks (rank 0 does the work) ---
        result = alerts(out, ranks=2)
        check(result.returncode == 0, "alerts writes the outbox: %s" % result.stderr)
        check(result.stdout.count("alerts:") == 1 and "%d queued" % n in result.stdout,
              "one final line naming %d queued: %r" % (n, result.stdout))
        outbox = os.path.join(out, "alerts_outbox")
        emls = sorted(f for f in os.listdir(outbox) if f.endswith(".eml"))
        check(emls == sorted("alert-%d.eml" % r for r in expected), "one alert-<ride_id>.eml per alert row: %s" % emls)
        check(not [f for f in os.listdir(outbox) if f.endswith(".tmp")], "no temporary files left")
        for ride, row in expected.items():
            with open(os.path.join(outbox, "alert-%d.eml" % ride), "rb") as f:
                raw = f.read()
            check(b"\n" not in raw.replace(b"\r\n", b""), "ride %d: CRLF line ends only" % ride)
            msg = parse(raw)
            check(msg["To"].addresses[0].addr_spec == row["email"], "ride %d: outbox To is the row's email" % ride)
            check(msg["From"].addresses[0].addr_spec == "alerts@deloton.invalid", "default From when only writing")
        with open(os.path.join(outbox, "state.json")) as f:
            state = json.load(f)
        check(len(state["queued"]) == n and state["delivered"] == [] and state["skipped"] == [],
              "state.json lists %d queued, none delivered or skipped" % n)
        before = {f: open(os.path.join(outbox, f), "rb").read() for f in emls}
        result = alerts(out)
        check(result.returncode == 0 and all(open(os.path.join(outbox, f), "rb").read() == before[f] for f in emls),
              "rebuilding the outbox leaves unchanged messages byte for byte")

        # --- delivery ---
        store = Store()
        with SmtpServer(store) as server:
            result = send(out, server.url, ranks=1)
            check(result.returncode == 0, "send exits 0: %s %s" % (result.stdout, result.stderr))
            check("sent %d of %d" % (n, n) in result.stderr, "progress 'sent n of N' on stderr: %r" % result.stderr[-300:])
            check("%d sent now" % n in result.stdout, "final line counts %d sent: %r" % (n, result.stdout))
            check(len(store.messages) == n, "the server got exactly %d messages (got %d)" % (n, len(store.messages)))
            got_rides = []
            for mail_from, rcpts, content in store.messages:
                msg = parse(content)
                ride = int(msg["Message-ID"].split(".")[1])
                got_rides.append(ride)
                row = expected.get(ride)
                if not check(row is not None, "Message-ID %s names an alerting ride" % msg["Message-ID"]):
                    continue
                check(rcpts == [row["email"]], "ride %d: envelope recipient %r is the row's email %r"
                      % (ride, rcpts, row["email"]))
                check(mail_from == "alerts@deloton.example", "envelope sender is --from: %r" % mail_from)
                check(msg["To"].addresses[0].addr_spec == row["email"], "ride %d: To is the row's email" % ride)
                check(msg["From"].addresses[0].display_name == "Deloton Health", "From display name")
                for header in ("Subject", "Date", "Message-ID", "MIME-Version"):
                    check(msg[header], "ride %d: %s header present" % (ride, header))
                check(not msg.defects, "ride %d: parses without defects: %s" % (ride, msg.defects))
                check(msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8",
                      "ride %d: text/plain UTF-8" % ride)
                body = msg.get_content()
                check("Hello %s," % row["first_name"] in body, "ride %d: greets %s" % (ride, row["first_name"]))
                check("%d beats per minute" % row["heart_rate"] in body, "ride %d: heart rate in the body" % ride)
                check("%d to %d beats per minute" % (row["hr_lower"], row["hr_upper"]) in body,
                      "ride %d: safe range in the body" % ride)
                check(("above" if row["kind"] == "high" else "below") in body, "ride %d: says high or low" % ride)
                check("doctor" in body and "rest" in body, "ride %d: advice to rest and see a doctor" % ride)
            check(sorted(got_rides) == sorted(expected), "one message per alert row, by ride")
            ids = message_ids(store)
            check(len(set(ids)) == n, "Message-IDs are distinct")
            check(len(delivered_log(out)) == n, "delivered.log holds %d records" % n)
            check(not [f for f in os.listdir(outbox) if f.endswith(".eml")], "no message left queued")

            result = send(out, server.url)
            check(result.returncode == 0 and len(store.messages) == n,
                  "a second --send sends nothing (server has %d): %s" % (len(store.messages), result.stderr))
            check("0 sent now" in result.stdout and "%d delivered before" % n in result.stdout,
                  "second send's counts: %r" % result.stdout)
            result = alerts(out)
            check(result.returncode == 0 and not [f for f in os.listdir(outbox) if f.endswith(".eml")],
                  "rebuilding the outbox does not queue delivered alerts again")

            # A new run in the same folder: a new run id, and nothing already sent goes out again.
            old_run = json.load(open(os.path.join(outbox, "state.json")))["run_id"]
            subprocess.run(mpirun + ["-n", "1", args.mpilake, "run", "--pipeline", "deloton", "--landing", landing,
                                     "--out", out, "--quiet", "--overwrite"],
                           check=True, capture_output=True, timeout=300, env=env)
            result = send(out, server.url)
            new_run = json.load(open(os.path.join(outbox, "state.json")))["run_id"]
            print("new run:", result.stdout.strip())
            check(new_run != old_run, "a new run gets a new run id (%s, %s)" % (old_run, new_run))
            check(result.returncode == 0 and len(store.messages) == n and "by an earlier run" in result.stdout,
                  "a new run of the same data sends nothing already sent: %r %r" % (result.stdout, result.stderr))

        # --- crash hook: the process ends right after recording its k-th delivery ---
        crash = os.path.join(tmp, "crash")
        k = max(1, n // 3)
        store = Store()
        with SmtpServer(store) as server:
            result = send(crash, server.url, extra_env={"MPILAKE_ALERTS_CRASH_AFTER": str(k)})
            check(result.returncode == 86, "the crash hook ends the process with 86 (got %d)" % result.returncode)
            check(len(store.messages) == k and len(delivered_log(crash)) == k,
                  "crash after %d: server %d, log %d" % (k, len(store.messages), len(delivered_log(crash))))
            result = send(crash, server.url, ranks=1)
            check(result.returncode == 0, "rerun after the crash: %s" % result.stderr)
            ids = message_ids(store)
            check(len(ids) == n and len(set(ids)) == n,
                  "after crash + rerun: %d messages, %d distinct, %d alerts" % (len(ids), len(set(ids)), n))

        # --- SIGKILL at a random moment while sending, then rerun ---
        kill = os.path.join(tmp, "kill")
        delay = 0.05
        store = Store(delay=delay)
        with SmtpServer(store) as server:
            cmd = [args.mpilake, "alerts", "--out", kill, "--send", server.url, "--from", FROM]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            moment = rng.uniform(0.0, n * delay * 0.9)
            deadline = time.time() + 30
            while not store.messages and proc.poll() is None and time.time() < deadline:
                time.sleep(0.005)
            time.sleep(moment)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            at_kill = len(store.messages)
            print("SIGKILL %.3f s after the first delivery: %d of %d delivered" % (moment, at_kill, n))
            store.delay = 0.0
            result = send(kill, server.url)
            check(result.returncode == 0, "rerun after SIGKILL: %s" % result.stderr)
            ids = message_ids(store)
            duplicates = len(ids) - len(set(ids))
            check(set(int(i.split(".")[1]) for i in ids) == set(expected), "after SIGKILL + rerun every alert delivered")
            check(duplicates <= 1, "after SIGKILL + rerun at most one duplicate (the window): %d" % duplicates)
            check(len(delivered_log(kill)) == n, "the log records every alert once")

        # --- a server that answers 451 after k messages, then a good one ---
        reject = os.path.join(tmp, "reject")
        k = n // 2
        store = Store(reject_after=k)
        with SmtpServer(store) as server:
            # A 451 is temporary: retried twice (the default) after 0.1 s and 0.2 s, then the run stops.
            result = send(reject, server.url, extra=("--retry-delay", "0.1"))
            errors = error_lines(result.stderr)
            print("451 after %d:" % k, errors)
            check(result.returncode == 1, "a failing server: exit 1 (got %d)" % result.returncode)
            check(len(errors) == 1 and "451" in errors[0] and ("%d of %d sent" % (k, n)) in errors[0]
                  and ("%d left queued" % (n - k)) in errors[0],
                  "one error line with the reply and the counts: %r" % errors)
            check(len(store.messages) == k and len(delivered_log(reject)) == k and store.rejected == 3,
                  "k=%d recorded: server %d, log %d, rejected %d (1 + 2 retries)"
                  % (k, len(store.messages), len(delivered_log(reject)), store.rejected))
            state = json.load(open(os.path.join(reject, "alerts_outbox", "state.json")))
            check(len(state["queued"]) == n - k and len(state["delivered"]) == k, "state.json: the rest queued")
        good = Store()
        with SmtpServer(good) as server:
            result = send(reject, server.url)
            check(result.returncode == 0 and len(good.messages) == n - k,
                  "a rerun against a good server delivers the %d left (got %d): %s"
                  % (n - k, len(good.messages), result.stderr))
            ids = message_ids(store) + message_ids(good)
            check(len(ids) == n and len(set(ids)) == n, "together exactly one message per alert")

        # --- server down ---
        down = os.path.join(tmp, "down")
        result = send(down, "smtp://127.0.0.1:%d" % free_port(), extra=("--retry-delay", "0.1"))
        errors = error_lines(result.stderr)
        print("server down:", errors)
        check(result.returncode == 1 and len(errors) == 1 and "cannot reach" in errors[0]
              and "0 of %d sent" % n in errors[0], "server down: one clear error line, exit 1: %r" % result.stderr)
        check(len(delivered_log(down)) == 0, "server down: nothing recorded")

        # --- hostile rider data in the alerts zone ---
        hostile = os.path.join(tmp, "hostile")
        rides = sorted(expected)
        bad = {rides[0]: ("email", ""), rides[1]: ("email", "claire@example.com\r\nBcc: victim@evil.example"),
               rides[2]: ("email", "zo\u00eb@example.com"),
               rides[3]: ("first_name", "Zo\u00eb\r\nBcc: victim@evil.example\r\n\r\nfake")}
        with h5py.File(os.path.join(hostile, "heart_rate_alerts.h5"), "r+") as f:
            ids = [int(v) for v in f["ride_id"][()].tolist()]
            for column in ("email", "first_name"):
                values = [bytes(v).rstrip(b"\x00") for v in f[column][()].tolist()]
                for ride, (col, value) in bad.items():
                    if col == column:
                        values[ids.index(ride)] = value.encode("utf-8")
                attrs = dict(f[column].attrs)
                del f[column]
                width = max(1, max(len(v) for v in values))
                ds = f.create_dataset(column, data=np.array(values, dtype="S%d" % width))
                for key, value in attrs.items():
                    ds.attrs[key] = value
        store = Store()
        with SmtpServer(store) as server:
            result = send(hostile, server.url)
            check(result.returncode == 0, "hostile data: exit 0: %s" % result.stderr)
            print("hostile:", result.stdout.strip())
            check("3 skipped" in result.stdout, "three alerts skipped: %r" % result.stdout)
            state = json.load(open(os.path.join(hostile, "alerts_outbox", "state.json")))
            reasons = {s["ride_id"]: s["reason"] for s in state["skipped"]}
            check(set(reasons) == {rides[0], rides[1], rides[2]}, "state.json names the skipped rides: %r" % reasons)
            check(all(reasons.values()), "each skip has a reason: %r" % reasons)
            check(len(store.messages) == n - 3, "the others are delivered (%d)" % len(store.messages))
            for _, rcpts, content in store.messages:
                check(all("victim" not in r for r in rcpts), "no injected recipient: %r" % rcpts)
                msg = parse(content)
                check(msg["Bcc"] is None and "victim" not in str(msg["To"].addresses[0].addr_spec),
                      "no injected header")
                if int(msg["Message-ID"].split(".")[1]) == rides[3]:
                    check(msg["To"].addresses[0].display_name == "Zo\u00eb Bcc: victim@evil.example fake",
                          "a CR/LF name becomes one encoded display name: %r" % str(msg["To"]))
                    check(msg["To"].addresses[0].addr_spec == expected[rides[3]]["email"], "its address is unchanged")
                    check(msg.get_content().startswith("Hello Zo\u00eb Bcc"), "its greeting is one line")

        # --- not a Deloton run ---
        fake = os.path.join(tmp, "stedi_like")
        os.makedirs(fake)
        with open(os.path.join(fake, "summary.json"), "w") as f:
            json.dump({"pipeline": "stedi"}, f)
        for folder, what in ((landing, "a landing folder"), (fake, "a STEDI summary"),
                             (os.path.join(tmp, "missing"), "a missing folder")):
            result = alerts(folder, ranks=2)
            check(result.returncode == 2 and len(error_lines(result.stderr)) == 1,
                  "%s: one error line, exit 2: %d %r" % (what, result.returncode, result.stderr))
        result = alerts(out, "--send", "http://127.0.0.1:1", "--from", FROM)
        check(result.returncode == 2 and len(error_lines(result.stderr)) == 1, "a non-SMTP URL is a usage error")
        result = alerts(out, "--send", "smtp://127.0.0.1:1")
        check(result.returncode == 2 and "--from" in result.stderr, "--send without --from is a usage error")
        result = alerts(out, "--from", "x <a@b.com>\r\nBcc: c@d.com")
        check(result.returncode == 2, "a --from with a line break is a usage error")

    elapsed = time.time() - started
    print("took %.1f s" % elapsed)
    if FAILURES:
        print("test_alerts: FAILED (%d problems)" % len(FAILURES))
        return 1
    print("test_alerts: %d alerts delivered exactly once across reruns, crashes, kills and failing servers" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
