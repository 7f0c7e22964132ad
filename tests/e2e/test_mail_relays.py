#!/usr/bin/python3
"""`mpilake alerts --send` and `mpilake report --email` through real SMTP servers on 127.0.0.1.

aiosmtpd servers started here: one with STARTTLS and AUTH (LOGIN/PLAIN, only after TLS), one with
implicit TLS (SMTPS) and AUTH, and plain ones without STARTTLS; their certificate is signed by a CA
made here with the openssl command line and passed with --ca-file. Checked:
- STARTTLS + a login from --smtp-auth-file (under mpirun, 2 ranks): every alert delivered once, over TLS, authenticated;
- SMTPS + a login from MPILAKE_SMTP_USER / MPILAKE_SMTP_PASSWORD: the same;
- a login but a server that offers no AUTH: one line, nothing sent unauthenticated;
- a wrong password: one line `mpilake: error: SMTP login refused by 127.0.0.1:PORT (535 ...)`, exit 1,
  nothing recorded; no --ca-file: one TLS error line; usage errors (a world-readable login file, a
  bad --tls, --tls off with smtps://): one line, exit 2;
- --tls required against a server without STARTTLS: refused, nothing sent (a login is never sent in
  the clear: it is the default with a login); --tls opportunistic: delivered in plain text;
- one recipient rejected (550 to RCPT TO): its alerts go to OUT/alerts_dead_letter.jsonl with the
  reason, the rest are delivered, a rerun sends nothing and writes no new dead letter; a crash right
  after a dead letter, then a rerun: each refused alert tried once, the rest delivered once;
- the server dropping the connection after the data, before its reply: retried and delivered once; with
  --retries 0 the run stops (exit 1), the message stays queued, the rerun delivers the rest, each alert
  exactly once; a 451 once: retried, delivered once;
- a server that closes the connection in the middle of the data (a bare responder): exit 1, nothing
  recorded, everything queued; the restart against a good server delivers each alert exactly once;
- `mpilake report --email` through STARTTLS + AUTH, through SMTPS, and with a wrong password (one line).
"""
import argparse
import email
import email.policy
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import h5py
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from e2e_harness import free_port

FAILURES = []
FROM = "Deloton Health <alerts@deloton.example>"
USER, PASSWORD = "deloton-alerts", "s3cret pass=word"


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)
    return condition


def make_ca(tmp):
    """A CA and a server certificate for 127.0.0.1 / localhost, with the openssl command line."""
    ca_key, ca_pem = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.pem")
    key, csr, pem = os.path.join(tmp, "server.key"), os.path.join(tmp, "server.csr"), os.path.join(tmp, "server.pem")
    ext = os.path.join(tmp, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run = lambda *cmd: subprocess.run(["openssl", *cmd], check=True, capture_output=True, timeout=60)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_pem, "-days", "2",
        "-subj", "/CN=mpilake test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    run("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial", "-out", pem, "-days", "2",
        "-extfile", ext)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pem, key)
    return ca_pem, context


class Store:
    """aiosmtpd handler: keeps what it accepts (with whether the session was TLS and logged in).
    reject: addresses answered 550 at RCPT TO; drop: {ride_id: n} drops the connection after the data
    of that ride's message, before the reply, the first n times; busy: the same with a 451 reply."""

    def __init__(self, reject=(), drop=None, busy=None):
        self.messages = []  # (mail_from, rcpt_tos, content, tls, login)
        self.reject = set(reject)
        self.drop = dict(drop or {})
        self.busy = dict(busy or {})
        self.dropped = 0
        self.busied = 0
        self.refused = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            self.refused += 1
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = bytes(envelope.content)
        msg = email.message_from_bytes(content, policy=email.policy.default)
        ride = ride_of(msg)
        with self.lock:
            if self.drop.get(ride, 0) > 0:
                self.drop[ride] -= 1
                self.dropped += 1
                server.transport.abort()  # the connection goes, no reply: the message is not taken
                return "250 OK"
            if self.busy.get(ride, 0) > 0:
                self.busy[ride] -= 1
                self.busied += 1
                return "451 4.3.0 Mailbox busy, try again later"
            login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
            tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), content, tls, login))
        return "250 OK"


def ride_of(msg):
    mid = msg["Message-ID"] or ""
    try:
        return int(mid.split(".")[1])
    except (IndexError, ValueError):
        return None


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and \
        auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class Server:
    """mode: "starttls" (STARTTLS offered, AUTH only after it), "smtps" (implicit TLS), "plain"."""

    def __init__(self, handler, mode, context=None, auth=True, offer_auth=True):
        self.port = free_port()
        self.mode = mode
        kwargs = {}
        if auth:
            # aiosmtpd counts only STARTTLS as TLS for auth_require_tls, so SMTPS leaves it off.
            # (offer_auth=False on SMTPS: the AUTH extension is then not offered at all.)
            kwargs.update(authenticator=authenticator, auth_require_tls=mode == "starttls" or not offer_auth)
        if mode == "starttls":
            kwargs.update(tls_context=context)
        elif mode == "smtps":
            kwargs.update(ssl_context=context)
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    @property
    def url(self):
        return ("smtps" if self.mode == "smtps" else "smtp") + "://127.0.0.1:%d" % self.port


class MidDataDropper:
    """A bare SMTP responder (no aiosmtpd) that answers up to DATA's 354, reads part of the message
    and closes the connection in the middle of the data: the literal mid-DATA drop."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.port = self.socket.getsockname()[1]
        self.drops = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self):
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as f:
                conn.sendall(b"220 dropper ESMTP\r\n")
                for line in f:
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        conn.sendall(b"250 dropper\r\n")
                    elif verb == b"DATA":
                        conn.sendall(b"354 go ahead\r\n")
                        f.readline()
                        f.readline()  # a line or two of the headers, then the connection goes
                        self.drops += 1
                        conn.shutdown(socket.SHUT_RDWR)  # (closing alone leaves the makefile's fd open)
                        break
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        break
                    else:
                        conn.sendall(b"250 OK\r\n")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.socket.close()

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port


def read_alerts(out):
    with h5py.File(os.path.join(out, "heart_rate_alerts.h5"), "r") as f:
        rides = [int(v) for v in f["ride_id"][()].tolist()]
        emails = [bytes(v).rstrip(b"\x00").decode("utf-8") for v in f["email"][()].tolist()]
    return dict(zip(rides, emails))


def jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="ascii") as f:
        return [json.loads(line) for line in f if line.strip()]


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("mpilake: error")]


def rides_sent(store):
    return [ride_of(email.message_from_bytes(m[2], policy=email.policy.default)) for m in store.messages]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    args = parser.parse_args()
    if shutil.which("openssl") is None:
        print("SKIP: no openssl command")
        return 77
    mpirun = [args.mpiexec, "--allow-run-as-root", "--oversubscribe"]
    env = dict(os.environ)
    env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    for name in ("MPILAKE_ALERTS_CRASH_AFTER", "MPILAKE_SMTP_USER", "MPILAKE_SMTP_PASSWORD"):
        env.pop(name, None)
    started = time.time()

    def mpilake(*cmd, extra_env=None, timeout=120, ranks=None):
        launcher = mpirun + ["-n", str(ranks)] if ranks else []
        return subprocess.run(launcher + [args.mpilake, *cmd], capture_output=True, text=True, timeout=timeout,
                              env=dict(env, **(extra_env or {})))

    def send(out, url, *extra, extra_env=None, ranks=None):
        return mpilake("alerts", "--out", out, "--send", url, "--from", FROM, "--quiet", *extra, extra_env=extra_env,
                       ranks=ranks)

    with tempfile.TemporaryDirectory(prefix="mail-relays-") as tmp:
        ca, context = make_ca(tmp)
        auth_file = os.path.join(tmp, "smtp-login")
        with open(auth_file, "w") as f:
            f.write("# the relay's login\nuser = %s\npassword = %s\n" % (USER, PASSWORD))
        os.chmod(auth_file, 0o600)
        wrong_file = os.path.join(tmp, "smtp-wrong")
        with open(wrong_file, "w") as f:
            f.write("user = %s\npassword = not-the-password\n" % USER)
        os.chmod(wrong_file, 0o600)
        login_env = {"MPILAKE_SMTP_USER": USER, "MPILAKE_SMTP_PASSWORD": PASSWORD}

        landing, base = os.path.join(tmp, "landing"), os.path.join(tmp, "base")
        subprocess.run(mpirun + ["-n", "1", args.mpilake, "generate", "--pipeline", "deloton", "--out", landing,
                                 "--bikes", "30", "--days", "1", "--seed", "1"],
                       check=True, capture_output=True, timeout=120, env=env)
        subprocess.run(mpirun + ["-n", "2", args.mpilake, "run", "--pipeline", "deloton", "--landing", landing,
                                 "--out", base, "--quiet"], check=True, capture_output=True, timeout=300, env=env)
        expected = read_alerts(base)
        n = len(expected)
        print("alert rows:", n)
        if not check(n >= 8, "the generated data has alerting rides (got %d)" % n):
            return 1

        def fresh(name):
            path = os.path.join(tmp, name)
            shutil.copytree(base, path)
            return path

        def all_once(store, label, stores=()):
            rides = rides_sent(store) + [r for s in stores for r in rides_sent(s)]
            check(sorted(rides) == sorted(expected), "%s: every alert delivered exactly once (%d messages, %d "
                  "distinct, %d alerts)" % (label, len(rides), len(set(rides)), n))

        # --- STARTTLS (required by default with a login) + AUTH from --smtp-auth-file + --ca-file ---
        out = fresh("starttls")
        store = Store()
        with Server(store, "starttls", context) as server:
            result = send(out, server.url, "--smtp-auth-file", auth_file, "--ca-file", ca, ranks=2)
            check(result.returncode == 0, "STARTTLS + AUTH (2 ranks): exit 0 (%d): %s" % (result.returncode, result.stderr))
            all_once(store, "STARTTLS + AUTH")
            check(all(m[3] for m in store.messages), "STARTTLS: every message went over TLS")
            check(all(m[4] == USER for m in store.messages), "STARTTLS: every message sent logged in as %s" % USER)
            check(PASSWORD not in result.stdout + result.stderr, "the password is never printed")

            # No --ca-file: the self-signed CA is not trusted; one line, nothing sent.
            out2 = fresh("untrusted")
            before = len(store.messages)
            result = send(out2, server.url, "--smtp-auth-file", auth_file)
            errors = error_lines(result.stderr)
            print("untrusted CA:", errors)
            check(result.returncode == 1 and len(errors) == 1 and "TLS with 127.0.0.1:%d failed" % server.port
                  in errors[0] and "--ca-file" in errors[0], "no --ca-file: one TLS error line, exit 1: %r"
                  % result.stderr)
            check(len(store.messages) == before and not jsonl(os.path.join(out2, "alerts_outbox", "delivered.log")),
                  "no --ca-file: nothing sent or recorded")

            # A wrong password: one clear line, exit 1, nothing sent, everything still queued.
            out3 = fresh("wrong")
            result = send(out3, server.url, "--smtp-auth-file", wrong_file, "--ca-file", ca, ranks=2)
            errors = error_lines(result.stderr)
            print("wrong password:", errors)
            check(result.returncode == 1 and len(errors) == 1 and errors[0].startswith(
                "mpilake: error: SMTP login refused by 127.0.0.1:%d (535" % server.port),
                "wrong password: one line 'SMTP login refused by HOST:PORT (535 ...)', exit 1: %r" % result.stderr)
            check("0 of %d sent" % n in result.stderr and "%d left queued" % n in result.stderr,
                  "wrong password: the counts say nothing was sent: %r" % errors)
            check(len(store.messages) == before, "wrong password: nothing delivered")
            check(not os.path.exists(os.path.join(out3, "alerts_dead_letter.jsonl")),
                  "wrong password: no dead letters (it is the session, not the messages)")
            # The same login through the environment works.
            result = send(out3, server.url, "--ca-file", ca, extra_env=login_env)
            check(result.returncode == 0 and len(store.messages) == before + n,
                  "a login from MPILAKE_SMTP_USER/PASSWORD: delivered (%d): %s" % (result.returncode, result.stderr))

        # --- SMTPS (implicit TLS) + AUTH from the environment ---
        out = fresh("smtps")
        store = Store()
        with Server(store, "smtps", context) as server:
            result = send(out, server.url, "--ca-file", ca, extra_env=login_env)
            check(result.returncode == 0, "SMTPS + AUTH: exit 0 (%d): %s" % (result.returncode, result.stderr))
            all_once(store, "SMTPS + AUTH")
            check(all(m[3] and m[4] == USER for m in store.messages), "SMTPS: over TLS and logged in")

        # A login, and a server that offers no AUTH: nothing goes out unauthenticated.
        out = fresh("no-auth")
        store = Store()
        with Server(store, "smtps", context, offer_auth=False) as server:
            result = send(out, server.url, "--ca-file", ca, extra_env=login_env)
            errors = error_lines(result.stderr)
            print("login, no AUTH offered:", errors)
            check(result.returncode == 1 and len(errors) == 1 and "offers no SMTP login" in errors[0]
                  and not store.messages, "a login and no AUTH offered: one line, exit 1, nothing sent: %r"
                  % result.stderr)

        # --- usage errors: one line, exit 2 ---
        open_file = os.path.join(tmp, "smtp-open")
        shutil.copy(auth_file, open_file)
        os.chmod(open_file, 0o644)
        for label, extra, needle in (
                ("a login file others can read", ["--smtp-auth-file", open_file], "chmod 600"),
                ("a missing login file", ["--smtp-auth-file", os.path.join(tmp, "nope")], "--smtp-auth-file"),
                ("a bad --tls", ["--tls", "maybe"], "--tls"),
                ("--tls off with smtps://", ["--tls", "off"], "smtps://"),
                ("a missing CA file", ["--ca-file", os.path.join(tmp, "nope.pem")], "--ca-file"),
                ("a user in the URL", None, "--smtp-auth-file")):
            url = "smtps://127.0.0.1:1" if label.startswith("--tls off") else \
                "smtp://user:pw@127.0.0.1:1" if extra is None else "smtp://127.0.0.1:1"
            result = send(base, url, *(extra or []))
            errors = error_lines(result.stderr)
            check(result.returncode == 2 and len(errors) == 1 and needle in errors[0],
                  "%s: one line naming %s, exit 2: %r" % (label, needle, result.stderr))
        result = mpilake("alerts", "--out", base, "--smtp-auth-file", auth_file)
        check(result.returncode == 2 and "go with --send" in result.stderr, "--smtp-auth-file without --send: exit 2")
        result = send(base, "smtp://127.0.0.1:1", extra_env={"MPILAKE_SMTP_USER": USER})
        check(result.returncode == 2 and "MPILAKE_SMTP_PASSWORD" in result.stderr,
              "only MPILAKE_SMTP_USER set: one line, exit 2: %r" % result.stderr)

        # --- a server without STARTTLS: required refuses, opportunistic sends in plain text ---
        store = Store()
        with Server(store, "plain", auth=False) as server:
            out = fresh("required")
            result = send(out, server.url, "--tls", "required")
            errors = error_lines(result.stderr)
            print("required TLS, no STARTTLS:", errors)
            check(result.returncode == 1 and len(errors) == 1 and "does not offer STARTTLS" in errors[0]
                  and not store.messages, "--tls required without STARTTLS: one line, exit 1, nothing sent: %r"
                  % result.stderr)
            result = send(out, server.url, extra_env=login_env)
            errors = error_lines(result.stderr)
            check(result.returncode == 1 and len(errors) == 1 and "does not offer STARTTLS" in errors[0]
                  and "the login was not sent" in errors[0] and not store.messages,
                  "a login makes TLS required by default (never a password in the clear): %r" % result.stderr)
            result = send(out, server.url, "--tls", "opportunistic")
            check(result.returncode == 0, "--tls opportunistic without STARTTLS: exit 0: %s" % result.stderr)
            all_once(store, "opportunistic")
            check(not any(m[3] for m in store.messages), "opportunistic: plain text (the server has no STARTTLS)")

        # --- one recipient rejected: dead letters, the rest delivered ---
        out = fresh("rejected")
        bad_address = expected[sorted(expected)[len(expected) // 2]]
        bad_rides = sorted(r for r, a in expected.items() if a == bad_address)
        store = Store(reject={bad_address})
        with Server(store, "starttls", context) as server:
            result = send(out, server.url, "--smtp-auth-file", auth_file, "--ca-file", ca)
            print("rejected recipient:", result.stdout.strip())
            check(result.returncode == 0, "one rejected recipient: exit 0 (%d): %s" % (result.returncode, result.stderr))
            got = sorted(rides_sent(store))
            check(got == sorted(set(expected) - set(bad_rides)), "the other %d alerts are delivered once (got %d)"
                  % (n - len(bad_rides), len(got)))
            dead = jsonl(os.path.join(out, "alerts_dead_letter.jsonl"))
            check(sorted(d["ride_id"] for d in dead) == bad_rides,
                  "the dead-letter file holds the rejected rides %s: %s" % (bad_rides, [d["ride_id"] for d in dead]))
            check(all(d["reply_code"] == 550 and "550 5.1.1" in d["reason"] and d["recipient"] == bad_address
                      and d["message_id"] and d["failed_utc"] for d in dead), "each dead letter has the reason: %s"
                  % dead[:1])
            check("%d refused for good" % len(bad_rides) in result.stdout, "the final line counts the dead letters")
            outbox = os.path.join(out, "alerts_outbox")
            check(not [f for f in os.listdir(outbox) if f.endswith(".eml")], "nothing left queued")
            state = json.load(open(os.path.join(outbox, "state.json")))
            check(sorted(d["ride_id"] for d in state["dead_letters"]) == bad_rides, "state.json lists the dead letters")
            check(all(os.path.exists(os.path.join(outbox, d["file"])) for d in state["dead_letters"]),
                  "the dead messages are kept under dead/<run_id>/")
            result = send(out, server.url, "--smtp-auth-file", auth_file, "--ca-file", ca)
            check(result.returncode == 0 and len(store.messages) == n - len(bad_rides)
                  and len(jsonl(os.path.join(out, "alerts_dead_letter.jsonl"))) == len(bad_rides),
                  "a rerun sends nothing and writes no new dead letter: %s" % result.stderr)
            check("%d dead letters before" % len(bad_rides) in result.stdout, "the rerun counts them: %r" % result.stdout)

        # A crash right after the first dead letter is recorded (before its .eml moves), then a rerun:
        # the refused alert is not tried again, the rest are delivered once.
        out = fresh("rejected-crash")
        store = Store(reject={bad_address})
        with Server(store, "plain", auth=False) as server:
            result = send(out, server.url, extra_env={"MPILAKE_ALERTS_CRASH_AFTER_DEAD_LETTER": "1"})
            outbox = os.path.join(out, "alerts_outbox")
            check(result.returncode == 86 and len(jsonl(os.path.join(out, "alerts_dead_letter.jsonl"))) == 1
                  and os.path.exists(os.path.join(outbox, "alert-%d.eml" % bad_rides[0])),
                  "crash after the first dead letter: exit 86, 1 line, its .eml not moved yet (%d)" % result.returncode)
            result = send(out, server.url)
            check(result.returncode == 0, "rerun after the crash: exit 0: %s" % result.stderr)
            check(sorted(rides_sent(store)) == sorted(set(expected) - set(bad_rides)),
                  "after crash + rerun: the other alerts delivered exactly once")
            dead = jsonl(os.path.join(out, "alerts_dead_letter.jsonl"))
            check(sorted(d["ride_id"] for d in dead) == bad_rides and store.refused == len(bad_rides),
                  "after crash + rerun: each refused alert tried once and dead-lettered once (refused %d, lines %s)"
                  % (store.refused, [d["ride_id"] for d in dead]))
            check(os.path.exists(os.path.join(outbox, "dead", dead[0]["run_id"], "alert-%d.eml" % bad_rides[0]))
                  and not os.path.exists(os.path.join(outbox, "alert-%d.eml" % bad_rides[0])),
                  "the rerun moved the crashed dead letter's .eml into dead/")

        # --- the connection dropped after the data, before the reply ---
        rides = sorted(expected)
        out = fresh("dropped")
        store = Store(drop={rides[2]: 1}, busy={rides[4]: 1})
        with Server(store, "starttls", context) as server:
            result = mpilake("alerts", "--out", out, "--send", server.url, "--from", FROM, "--ca-file", ca,
                             "--smtp-auth-file", auth_file, "--retry-delay", "0.2")
            check(result.returncode == 0 and store.dropped == 1 and store.busied == 1,
                  "a drop and a 451, each once: retried within the run (exit %d, dropped %d, 451 %d): %s"
                  % (result.returncode, store.dropped, store.busied, result.stderr[-600:]))
            check("retry 1 of 2" in result.stderr, "the retry is reported on stderr")
            all_once(store, "drop + 451 retried")
        out = fresh("dropped-rerun")
        store = Store(drop={rides[3]: 5})
        with Server(store, "starttls", context) as server:
            result = send(out, server.url, "--ca-file", ca, "--smtp-auth-file", auth_file, "--retries", "0")
            errors = error_lines(result.stderr)
            print("dropped, no retries:", errors)
            check(result.returncode == 1 and len(errors) == 1 and "ride %d" % rides[3] in errors[0]
                  and "3 of %d sent" % n in errors[0], "a drop with --retries 0: one line, exit 1: %r" % errors)
            log = jsonl(os.path.join(out, "alerts_outbox", "delivered.log"))
            check(len(log) == 3 and os.path.exists(os.path.join(out, "alerts_outbox", "alert-%d.eml" % rides[3])),
                  "3 recorded, the dropped message still queued")
            store.drop = {}
            result = send(out, server.url, "--ca-file", ca, "--smtp-auth-file", auth_file)
            check(result.returncode == 0, "the rerun after the drop: exit 0: %s" % result.stderr)
            all_once(store, "drop, then rerun")
            check(len(jsonl(os.path.join(out, "alerts_outbox", "delivered.log"))) == n, "the log records each once")

        # The connection closed in the middle of the data itself, then a restart against a good server.
        out = fresh("mid-data")
        with MidDataDropper() as dropper:
            t0 = time.time()
            result = send(out, dropper.url, "--retries", "1", "--retry-delay", "0.1")
            errors = error_lines(result.stderr)
            print("mid-DATA drop (%.1f s):" % (time.time() - t0), errors)
            check(result.returncode == 1 and len(errors) == 1 and dropper.drops == 2 and "0 of %d sent" % n in errors[0]
                  and "%d left queued" % n in errors[0],
                  "a drop in the middle of the data (twice, 1 retry): one line, exit 1, all queued: %r" % errors)
            check(not jsonl(os.path.join(out, "alerts_outbox", "delivered.log")), "mid-DATA drop: nothing recorded")
        store = Store()
        with Server(store, "plain", auth=False) as server:
            result = send(out, server.url)
            check(result.returncode == 0, "the restart after the mid-DATA drop: exit 0: %s" % result.stderr)
            all_once(store, "mid-DATA drop, then restart")

        # --- the report through the same kinds of server ---
        day = None
        with h5py.File(os.path.join(base, "daily.h5"), "r") as f:
            day = bytes(f["date"][0]).rstrip(b"\x00").decode()
        report_args = ["report", "--out", base, "--date", day, "--from", "reports@deloton.example",
                       "--to", "ceo@deloton.example,cfo@deloton.example"]
        for mode, extra, extra_env in (("starttls", ["--smtp-auth-file", auth_file], None),
                                       ("smtps", [], login_env)):
            store = Store()
            with Server(store, mode, context) as server:
                result = mpilake(*report_args, "--save-as", os.path.join(tmp, "report-" + mode), "--email", server.url,
                                 "--ca-file", ca, *extra, extra_env=extra_env, timeout=300)
                check(result.returncode == 0, "report --email over %s: exit 0 (%d): %s"
                      % (mode, result.returncode, result.stderr))
                check(len(store.messages) == 1 and store.messages[0][1] == ["ceo@deloton.example",
                                                                            "cfo@deloton.example"]
                      and store.messages[0][3] and store.messages[0][4] == USER,
                      "report over %s: one message to both, over TLS, logged in" % mode)
        store = Store()
        with Server(store, "starttls", context) as server:
            result = mpilake(*report_args, "--save-as", os.path.join(tmp, "report-wrong"), "--email", server.url,
                             "--ca-file", ca, "--smtp-auth-file", wrong_file, timeout=300)
            errors = error_lines(result.stderr)
            print("report, wrong password:", errors)
            check(result.returncode == 1 and len(errors) == 1 and "SMTP login refused by 127.0.0.1:%d (535"
                  % server.port in errors[0] and not store.messages,
                  "report with a wrong password: one line, exit 1: %r" % result.stderr)
            result = mpilake(*report_args, "--save-as", os.path.join(tmp, "report-open"), "--email", server.url,
                             "--smtp-auth-file", open_file)
            check(result.returncode == 2 and "chmod 600" in result.stderr, "report: a readable login file: exit 2")

    print("mail relays: %.1f s" % (time.time() - started))
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
