#!/usr/bin/python3
"""An installed mpilake works on its own: `cmake --install` into a temporary prefix, the prefix moved
to another path, and every command run from there with the source and build folders out of reach.

1. `cmake --install BUILD --prefix STAGE --strip`, then STAGE copied to another folder and deleted:
   nothing may depend on the path it was installed to.
2. No installed file holds the source folder's or the build folder's path (the bytes of every file,
   binary included: what `strings` would show).
3. As root, the commands run in a private mount namespace (`unshare -m`) with an empty tmpfs mounted
   over the source folder and the build folder, so a path into either would fail; MPILAKE_REPORT_SCRIPT
   is unset. Without root or unshare the test still runs them, and says the folders were not hidden.
4. From the moved prefix: `generate` + `run` of both pipelines (2 ranks, small data), `report` (HTML,
   PDF, JSON), `alerts` (written, then sent to an aiosmtpd server on 127.0.0.1), `export --help`,
   `serve` with one request to /health, and the man page and the bash completion are there.

With --deb instead: `cpack -G DEB` into a temporary folder, `dpkg-deb --info/--contents` show the
files and the Depends; as root, when no mpilake package is installed and /usr/bin/mpilake does not
exist, `dpkg -i` it, run /usr/bin/mpilake --version and `dpkg -r` it again (always, in `finally`).
"""

import argparse
import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

FAILURES = []
START_DATE = "2026-03-02"


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)
    return condition


def run(command, timeout=300, **kwargs):
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, **kwargs)


def mpi_env():
    env = {k: v for k, v in os.environ.items() if k not in ("MPILAKE_REPORT_SCRIPT", "MPILAKE_REPORT_PYTHON")}
    env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    return env


def finish(what):
    if FAILURES:
        print(f"{what}: {len(FAILURES)} failure(s)")
        return 1
    print(f"{what}: all checks passed")
    return 0


# ---------------------------------------------------------------------------------------------------
# The outer phase: install, move, look for paths, start the inner phase with the folders hidden.
def files_holding(root, needles):
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            for needle in needles:
                if needle.encode() in data:
                    found.append(f"{os.path.relpath(path, root)} holds {needle}")
    return found


def install_phase(args):
    source, build = os.path.realpath(args.source), os.path.realpath(args.build)
    tmp = os.path.realpath(tempfile.mkdtemp(prefix="mpilake-install-test-"))
    if any(tmp.startswith(d + os.sep) for d in (source, build)):  # TMPDIR inside a folder to hide
        shutil.rmtree(tmp)
        tmp = tempfile.mkdtemp(prefix="mpilake-install-test-", dir="/tmp")
    try:
        stage = os.path.join(tmp, "stage")
        result = run(["cmake", "--install", build, "--prefix", stage, "--strip"])
        if not check(result.returncode == 0, f"cmake --install: {result.stderr}"):
            return finish("install")
        prefix = os.path.join(tmp, "moved", "opt", "mpilake")
        shutil.copytree(stage, prefix, symlinks=True)
        shutil.rmtree(stage)
        for path in ("bin/mpilake", "share/mpilake/report/deloton_report.py",
                     "share/mpilake/report/deloton_report.html.j2", "share/man/man1/mpilake.1.gz",
                     "share/bash-completion/completions/mpilake", "share/doc/mpilake/README.md",
                     "share/doc/mpilake/report.md", "share/doc/mpilake/openapi.json",
                     "lib/python3/dist-packages/mpilake/__init__.py", "share/mpilake/scripts/train_torch.py"):
            check(os.path.isfile(os.path.join(prefix, path)), f"the prefix has no {path}")
        links = [os.path.join(d, n) for d, _, names in os.walk(prefix) for n in names if os.path.islink(os.path.join(d, n))]
        check(not links, f"installed files are links (into the tree?): {links}")
        for problem in files_holding(prefix, [source, build, stage]):
            check(False, f"an installed file names a build-time path: {problem}")

        # The inner phase runs from a copy of this script outside the source folder.
        inner = os.path.join(tmp, "test_install_inner.py")
        shutil.copy(os.path.abspath(__file__), inner)
        inner_command = ["/usr/bin/python3", inner, "--inner", "--prefix", prefix, "--work", os.path.join(tmp, "work"),
                         "--mpiexec", args.mpiexec, "--hidden", source, build]
        hidden = os.geteuid() == 0 and shutil.which("unshare") is not None
        if hidden:  # a container may forbid mount namespaces: try one first
            probe = run(["unshare", "-m", "--propagation", "private", "mount", "-t", "tmpfs", "mpilake-probe", tmp])
            hidden = probe.returncode == 0
        if hidden:
            # An empty tmpfs over each folder, in a mount namespace of this command only.
            mounts = " && ".join(f"mount -t tmpfs mpilake-hidden '{d}'" for d in sorted({source, build}, key=len, reverse=True))
            command = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                       mounts + ' && exec "$0" "$@"'] + inner_command
        else:
            print("NOTE: not root, or no mount namespace (unshare -m): the source and build folders stay visible "
                  "(only the path check above and the moved prefix prove independence)")
            command = inner_command
        result = subprocess.run(command, timeout=900, env=mpi_env())
        check(result.returncode == 0, f"the commands from the installed prefix failed (exit {result.returncode})")
        if hidden:
            check(os.path.isdir(os.path.join(source, "tests")), "the source folder is hidden outside the test too")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish("install")


# ---------------------------------------------------------------------------------------------------
# The inner phase: only the prefix, the system's mpiexec and python3.
def smtp_server():
    from aiosmtpd.controller import Controller  # Debian's python3-aiosmtpd

    class Keep:
        messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope.content)
            return "250 OK"

    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, handler, port


def inner_phase(args):
    for folder in args.hidden:
        check(not os.path.isdir(folder) or os.listdir(folder) == [], f"{folder} is still in reach")
    mpilake = os.path.join(args.prefix, "bin", "mpilake")
    mpirun = [args.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", "2"]
    os.makedirs(args.work)
    os.chdir(args.work)
    env = mpi_env()

    result = run([mpilake, "--version"], env=env)
    check(result.returncode == 0 and result.stdout.startswith("mpilake "), f"--version: {result.stdout}{result.stderr}")

    outs = {}
    for pipeline, generate in (("stedi", ["--customers", "20", "--readings-per-customer", "3"]),
                               ("deloton", ["--bikes", "6", "--streams", "2", "--days", "1", "--start-date", START_DATE,
                                            "--seed", "7"])):
        landing, out = os.path.join(args.work, pipeline + "-landing"), os.path.join(args.work, pipeline + "-run")
        result = run(mpirun + [mpilake, "generate", "--pipeline", pipeline, "--out", landing] + generate, env=env)
        if not check(result.returncode == 0, f"generate --pipeline {pipeline}: {result.stderr}"):
            return finish("installed commands")
        result = run(mpirun + [mpilake, "run", "--pipeline", pipeline, "--landing", landing, "--out", out, "--quiet"],
                     timeout=600, env=env)
        check(result.returncode == 0 and os.path.isfile(os.path.join(out, "summary.json")),
              f"run --pipeline {pipeline}: {result.stderr}")
        outs[pipeline] = out
    deloton = outs["deloton"]
    if not os.path.isfile(os.path.join(deloton, "summary.json")):
        return finish("installed commands")

    # The installed Python package reads both runs (open_run checks summary.json against the zones).
    python_env = dict(env, PYTHONPATH=os.path.join(args.prefix, "lib", "python3", "dist-packages"))
    for pipeline, out in outs.items():
        result = run(["/usr/bin/python3", "-c", "import sys, mpilake; run = mpilake.open_run(sys.argv[1]); "
                      "print(mpilake.__file__); print(run.pipeline)", out], env=python_env)
        check(result.returncode == 0 and result.stdout.startswith(args.prefix) and pipeline in result.stdout,
              f"the installed Python package on the {pipeline} run: {result.stdout}{result.stderr}")

    result = run([mpilake, "report", "--out", deloton, "--date", START_DATE], env=env)
    prefix = os.path.join(deloton, "reports", "deloton-" + START_DATE)
    check(result.returncode == 0, f"report: {result.stderr}")
    for suffix in (".html", ".pdf", ".json"):
        check(os.path.getsize(prefix + suffix) > 0 if os.path.exists(prefix + suffix) else False,
              f"report wrote no {prefix + suffix}")

    controller, handler, port = smtp_server()
    try:
        result = run([mpilake, "alerts", "--out", deloton, "--quiet"], env=env)
        check(result.returncode == 0, f"alerts: {result.stderr}")
        outbox = os.path.join(deloton, "alerts_outbox")
        queued = [n for n in os.listdir(outbox) if n.endswith(".eml")] if os.path.isdir(outbox) else []
        result = run([mpilake, "alerts", "--out", deloton, "--quiet", "--send", f"smtp://127.0.0.1:{port}",
                      "--from", "Deloton Health <alerts@deloton.example>"], env=env)
        check(result.returncode == 0, f"alerts --send: {result.stderr}")
        check(len(handler.messages) == len(queued), f"alerts sent {len(handler.messages)} of {len(queued)} messages")
    finally:
        controller.stop()

    result = run([mpilake, "export", "--help"], env=env)
    check(result.returncode == 0 and "mpilake export --out DIR" in result.stdout, f"export --help: {result.stderr}")

    log_path = os.path.join(args.work, "serve.log")
    with open(log_path, "w+") as log:
        server = subprocess.Popen([mpilake, "serve", "--out", deloton, "--port", "0"], stdout=log, stderr=log, env=env)
        try:
            port, deadline = None, time.time() + 30
            while port is None and time.time() < deadline and server.poll() is None:
                time.sleep(0.1)
                with open(log_path) as f:
                    match = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", f.read())
                port = int(match.group(1)) if match else None
            if check(port is not None, f"serve did not start: {open(log_path).read()}"):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
                    body = response.read().decode()
                check(response.status == 200 and '"run_id"' in body, f"GET /health: {response.status} {body[:300]}")
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()

    with gzip.open(os.path.join(args.prefix, "share", "man", "man1", "mpilake.1.gz"), "rt") as f:
        page = f.read()
    check(page.startswith(".TH MPILAKE 1") and ".SS mpilake serve" in page, "the man page lacks its header or `serve`")
    result = run(["bash", "-c", f"source '{args.prefix}/share/bash-completion/completions/mpilake' && complete -p mpilake"])
    check(result.returncode == 0 and "_mpilake" in result.stdout, f"bash completion: {result.stdout}{result.stderr}")
    return finish("installed commands")


# ---------------------------------------------------------------------------------------------------
# --deb: the Debian package.
def deb_phase(args):
    build = os.path.realpath(args.build)
    tmp = tempfile.mkdtemp(prefix="mpilake-deb-test-")
    installed = False
    try:
        result = run(["cpack", "-G", "DEB", "-B", tmp], cwd=build, timeout=600)
        debs = [os.path.join(tmp, n) for n in os.listdir(tmp) if n.endswith(".deb")]
        if not check(result.returncode == 0 and len(debs) == 1, f"cpack -G DEB: {result.stdout}{result.stderr}"):
            return finish("deb")
        deb = debs[0]
        info = run(["dpkg-deb", "--info", deb]).stdout
        depends = re.search(r"^ Depends: (.*)$", info, re.M)
        depends = {d.strip().split(" ")[0] for d in depends.group(1).split(",")} if depends else set()
        for package in ("libopenmpi3", "libhdf5-openmpi-103-1", "libboost-mpi1.74.0", "libsimdjson14", "libcurl4",
                        "libpq5", "libcpp-httplib0.11", "openmpi-bin", "python3-h5py", "python3-matplotlib",
                        "python3-jinja2", "weasyprint", "libjs-chart.js"):
            check(package in depends, f"the package does not depend on {package} (Depends: {sorted(depends)})")
        contents = run(["dpkg-deb", "--contents", deb]).stdout
        for path in ("./usr/bin/mpilake", "./usr/share/mpilake/report/deloton_report.py",
                     "./usr/share/mpilake/report/deloton_report.html.j2", "./usr/share/man/man1/mpilake.1.gz",
                     "./usr/share/doc/mpilake/README.md"):
            check(re.search(r"\s" + re.escape(path) + r"$", contents, re.M) is not None, f"the package lacks {path}")

        already = run(["dpkg-query", "-W", "mpilake"]).returncode == 0 or os.path.exists("/usr/bin/mpilake")
        if os.geteuid() != 0 or already:
            print("NOTE: dpkg -i skipped (not root, or an mpilake package or /usr/bin/mpilake is already there)")
            return finish("deb")
        result = run(["dpkg", "-i", deb], timeout=300)
        installed = True
        if check(result.returncode == 0, f"dpkg -i: {result.stdout}{result.stderr}"):
            result = run(["/usr/bin/mpilake", "--version"], env=mpi_env())
            check(result.returncode == 0 and result.stdout.startswith("mpilake "), f"/usr/bin/mpilake --version: "
                  f"{result.stdout}{result.stderr}")
            check(os.path.isfile("/usr/share/mpilake/report/deloton_report.py"), "dpkg -i left out the report generator")
    finally:
        if installed:
            result = run(["dpkg", "-r", "mpilake"], timeout=300)
            check(result.returncode == 0 and not os.path.exists("/usr/bin/mpilake"), f"dpkg -r: {result.stderr}")
        shutil.rmtree(tmp, ignore_errors=True)
    return finish("deb")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", help="the build folder (cmake --install / cpack run there)")
    parser.add_argument("--source", help="the source folder (hidden while the commands run)")
    parser.add_argument("--mpiexec", default="mpiexec")
    parser.add_argument("--deb", action="store_true", help="test the Debian package instead")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--hidden", nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        return inner_phase(args)
    if args.deb:
        return deb_phase(args)
    return install_phase(args)


if __name__ == "__main__":
    sys.exit(main())
