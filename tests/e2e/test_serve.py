#!/usr/bin/python3
"""`mpilake serve` against a served run of generated Deloton data.

- The API contract: every endpoint's values equal the zones, recomputed here from the HDF5 files
  with h5py (not from the program), including /live's current ride and last 12 hours.
- Every error path (400, 401, 404, 405, 413, 414, 431) with the JSON error shape.
- The privacy rule with and without the bearer token.
- Hostile requests: path traversal, %00, huge / negative / non-numeric ids, bad dates, 100 kB headers,
  a slow client (cut off), 200 concurrent connections; the server keeps serving.
- The live swap: a second run written into DIR while a client hammers the server shows up in
  /health with no error response in between and no response of the old run after the new one.
- A failed load (zones of another run) keeps the old run and logs one line.
With --browser: the dashboard in headless Chromium (tests/browser/dashboard_test.mjs), its numbers
checked against the zones, a screenshot, and a second run appearing in the open page. Exit 77 when
Chromium or tests/browser/node_modules is missing."""
import argparse
import datetime
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import h5py  # noqa: E402
import numpy as np  # noqa: E402

import deloton_reference as ref  # noqa: E402  (the spec's rules: ages, limits, bands)

INT64_NULL = -(2 ** 63)
US_PER_DAY = 86_400_000_000
HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(os.path.dirname(HERE), "browser")
BANDS = ("under_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_plus")
PERSONAL_RIDER = {"title", "first_name", "last_name", "date_of_birth", "email", "address_street", "address_town",
                  "address_postcode", "age"}
PERSONAL_ALERT = {"email", "first_name", "age", "hr_lower", "hr_upper"}
FAILURES = []
CHECKS = [0]


def check(condition, message):
    CHECKS[0] += 1
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)
    return condition


# ---------------------------------------------------------------------------
# The zones, read with h5py
# ---------------------------------------------------------------------------
def value_of(dataset_value):
    if isinstance(dataset_value, (bytes, np.bytes_)):
        text = bytes(dataset_value).decode("utf-8")
        return text if text else None
    if isinstance(dataset_value, (np.floating, float)):
        return None if math.isnan(dataset_value) else float(dataset_value)
    value = int(dataset_value)
    return None if value == INT64_NULL else value


def read_zones(out):
    zones = {}
    for zone in ref.ZONES:
        with h5py.File(os.path.join(out, zone + ".h5"), "r") as f:
            names = [name for name, _ in ref.ZONE_COLUMNS[zone]]
            columns = {name: f[name][()] for name in names}
            rows = len(columns[names[0]]) if names else 0
            zones[zone] = [{name: value_of(columns[name][i]) for name in names} for i in range(rows)]
            if zone == "readings":
                zones["ride_offset"] = [int(v) for v in f["ride_offset"][()]]
    with open(os.path.join(out, "summary.json")) as f:
        zones["summary"] = json.load(f)
    return zones


def day_of(us):
    return ref.date_from_us(us)


def latest_time(z):
    times = [r["start_time"] for r in z["rides"]] + [r["end_time"] for r in z["rides"] if r["end_time"] is not None]
    return max(times)


def birth(rider):
    return datetime.date.fromisoformat(rider["date_of_birth"]) if rider["date_of_birth"] else None


def band_name(age):
    return BANDS[ref.age_band(age)]


def expected_rider(z, rider, personal):
    out = {}
    born = birth(rider)
    age = ref.age_on(born, day_of(latest_time(z))) if born else None
    for key, value in rider.items():
        if not personal and key in PERSONAL_RIDER:
            continue
        out[key] = value
    if personal:
        out["age"] = age
    out["age_band"] = band_name(age) if age is not None else None
    return out


def expected_alert(alert, personal):
    out = {k: v for k, v in alert.items() if personal or k not in PERSONAL_ALERT}
    out["age_band"] = band_name(alert["age"]) if alert["age"] is not None else None
    return out


def expected_live(z, personal):
    rides, readings, offset = z["rides"], z["readings"], z["ride_offset"]
    riders = {r["user_id"]: r for r in z["riders"]}
    latest = latest_time(z)
    k = len(rides) - 1
    ride = rides[k]
    rows = readings[offset[k]:offset[k + 1]]
    current = {"ride": ride, "readings": {c: [r[c] for r in rows] for c in
                                          ("elapsed_s", "heart_rate", "rpm", "power_w", "resistance")}}
    rider = riders.get(ride["user_id"])
    current["rider"] = current["safe_range"] = current["personal_bests"] = None
    if rider is not None:
        born = birth(rider)
        age = ref.age_on(born, day_of(ride["start_time"])) if born else None
        view = {"user_id": rider["user_id"]}
        if personal:
            view["first_name"] = rider["first_name"]
        view["gender"] = rider["gender"]
        view["age_band"] = band_name(age) if age is not None else None
        current["rider"] = view
        if personal and age is not None:
            lower, upper = ref.heart_rate_limits(age, ref.normalise_gender(rider["gender"]))
            current["safe_range"] = {"hr_lower": lower, "hr_upper": upper}
        mine = [r for r in rides if r["user_id"] == rider["user_id"]]
        bests = {"rides": len(mine)}
        for column in ("duration_s", "energy_kj", "power_avg_w", "rpm_avg", "heart_rate_max"):
            best = None
            for r in mine:
                if r[column] is not None and (best is None or r[column] > best[column]):
                    best = r
            bests[column] = None if best is None else {"value": best[column], "ride_id": best["ride_id"]}
        current["personal_bests"] = bests
    start = latest - 12 * 3600 * 1_000_000
    recent = [i for i, r in enumerate(rides) if r["start_time"] >= start]
    users = sorted({rides[i]["user_id"] for i in recent if rides[i]["user_id"] is not None})
    power = 0.0
    count = 0
    hours = [{"rides": 0, "alerts": 0, "sum": 0.0, "n": 0} for _ in range(12)]
    for i in recent:
        h = hours[min(11, (rides[i]["start_time"] - start) // (3600 * 1_000_000))]
        h["rides"] += 1
        h["alerts"] += rides[i]["alert"]
        ride_sum = 0.0
        for r in readings[offset[i]:offset[i + 1]]:
            ride_sum += r["power_w"]
        power += ride_sum
        h["sum"] += ride_sum
        h["n"] += offset[i + 1] - offset[i]
        count += offset[i + 1] - offset[i]
    gender = {"male": 0, "female": 0, "other": 0}
    by_band = {b: 0 for b in BANDS + ("unknown",)}
    for u in users:
        if u not in riders:
            continue
        gender[ref.normalise_gender(riders[u]["gender"] or "")] += 1
        born = birth(riders[u])
        by_band[band_name(ref.age_on(born, day_of(latest))) if born else "unknown"] += 1
    recent_ids = {rides[i]["ride_id"] for i in recent}
    alerts = [a for a in z["heart_rate_alerts"] if a["ride_id"] in recent_ids][::-1][:10]
    window = {"from": start, "to": latest, "rides": len(recent), "riders": len(users), "readings": count,
              "riders_by_gender": gender, "riders_by_age_band": by_band, "energy_kj": power / 1000,
              "power_avg_w": power / count if count else None, "alerts": sum(rides[i]["alert"] for i in recent),
              "hours": [{"start": start + j * 3600 * 1_000_000, "rides": h["rides"], "alerts": h["alerts"],
                         "power_avg_w": h["sum"] / h["n"] if h["n"] else None} for j, h in enumerate(hours)],
              "recent_alerts": [expected_alert(a, personal) for a in alerts]}
    return current, window


# ---------------------------------------------------------------------------
# Talking to the server
# ---------------------------------------------------------------------------
class Server:
    def __init__(self, mpilake, out, token_file, workdir):
        self.log_path = os.path.join(workdir, "serve.log")
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen([mpilake, "serve", "--out", out, "--port", "0", "--token-file", token_file,
                                      "--client-timeout", "2", "--poll-interval", "0.5"],
                                     stdout=self.log, stderr=self.log, env=dict(os.environ, OMPI_MCA_btl_vader_single_copy_mechanism="none"))
        deadline = time.time() + 30
        self.port = None
        while time.time() < deadline and self.port is None:
            time.sleep(0.1)
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", self.log_text())
            if match:
                self.port = int(match.group(1))
            if self.proc.poll() is not None:
                break
        if self.port is None:
            raise RuntimeError("serve did not start: " + self.log_text())

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def request(port, path, method="GET", headers=None, body=None, timeout=10):
    """-> (status, headers dict (lower-case names), parsed JSON or text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        data = response.read()
        names = {k.lower(): v for k, v in response.getheaders()}
        if data and names.get("content-type", "").startswith("application/json"):
            return response.status, names, json.loads(data)
        return response.status, names, data
    finally:
        connection.close()


def raw(port, data, timeout=10):
    """Sends raw bytes; -> the status code of the reply (None when the server closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass
        reply = b""
        try:
            while True:  # the headers, then Content-Length bytes of body
                head_end = reply.find(b"\r\n\r\n")
                if head_end >= 0:
                    length = re.search(rb"(?i)\r\nContent-Length: *(\d+)", reply[:head_end])
                    if len(reply) >= head_end + 4 + (int(length.group(1)) if length else 0):
                        break
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            pass
    match = re.match(rb"HTTP/1\.1 (\d{3})", reply)
    body_start = reply.find(b"\r\n\r\n")
    return (int(match.group(1)) if match else None), reply[body_start + 4:] if body_start >= 0 else b""


def same(a, b):
    """JSON equality with floats compared exactly (the server writes shortest round-trip digits)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def check_error(label, status, body, want):
    check(status == want, f"{label}: status {status}, expected {want} ({body!r:.200})")
    ok = (isinstance(body, dict) and set(body) == {"error", "message"} and body["error"].get("code") == want
          and isinstance(body["error"].get("type"), str) and isinstance(body["message"], str) and body["message"])
    check(ok, f"{label}: the error body is {{'error': {{'code': {want}, 'type': ...}}, 'message': ...}}: {body!r:.200}")


# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------
def check_contract(port, z, token):
    auth = {"Authorization": "Bearer " + token}
    summary = z["summary"]
    status, headers, health = request(port, "/health")
    check(status == 200 and health["status"] == "ok", f"/health: {status} {health}")
    check(health["run_id"].startswith(summary["created_utc"]), "/health run_id starts with the run's created_utc")
    check(headers.get("x-mpilake-run") == health["run_id"], "X-Mpilake-Run header is the run id")
    check(health["zones"] == {zone: summary["zones"][zone]["rows"] for zone in ref.ZONES},
          f"/health zone rows equal summary.json: {health['zones']}")
    check(health["latest_time"] == latest_time(z), "/health latest_time")

    rides, readings, offset = z["rides"], z["readings"], z["ride_offset"]
    for ride in rides:
        status, _, body = request(port, f"/rides/{ride['ride_id']}")
        check(status == 200 and same(body, ride), f"/rides/{ride['ride_id']} equals the zone row: {body} vs {ride}")
    for k in sorted({0, len(rides) // 2, len(rides) - 1}):
        status, _, body = request(port, f"/rides/{rides[k]['ride_id']}?readings=1")
        want = dict(rides[k], readings=readings[offset[k]:offset[k + 1]])
        check(status == 200 and same(body, want), f"/rides/{rides[k]['ride_id']}?readings=1 equals the zone rows")

    dates = sorted({ref.date_string(day_of(r["start_time"])) for r in rides})
    for date in dates + ["2001-01-01"]:
        want = [r["ride_id"] for r in rides if ref.date_string(day_of(r["start_time"])) == date]
        got, offset_at, total = [], 0, None
        while True:
            status, _, body = request(port, f"/rides?date={date}&limit=7&offset={offset_at}")
            if not check(status == 200, f"/rides?date={date}: {status}"):
                break
            total = body["total"]
            got += [r["ride_id"] for r in body["rides"]]
            for r in body["rides"]:
                check(same(r, rides[r["ride_id"] - 1]), f"/rides?date={date}: ride {r['ride_id']} equals the zone")
            offset_at += 7
            if offset_at >= total:
                break
        check(got == want and total == len(want), f"/rides?date={date} pages give rides {want}, got {got}")
    status, _, body = request(port, "/rides?limit=1000")
    check(status == 200 and body["total"] == len(rides) and [r["ride_id"] for r in body["rides"]] ==
          [r["ride_id"] for r in rides][:1000], "/rides lists every ride")
    status, _, body = request(port, "/rides?limit=0")
    check(status == 200 and body["rides"] == [] and body["total"] == len(rides), "/rides?limit=0")

    for rider in z["riders"]:
        uid = rider["user_id"]
        status, _, body = request(port, f"/riders/{uid}")
        check(status == 200 and same(body, expected_rider(z, rider, False)), f"/riders/{uid} public: {body}")
        status, _, body = request(port, f"/riders/{uid}", headers=auth)
        check(status == 200 and same(body, expected_rider(z, rider, True)), f"/riders/{uid} with the token: {body}")
        status, _, body = request(port, f"/riders/{uid}/rides?limit=1000")
        want = [r for r in rides if r["user_id"] == uid]
        check(status == 200 and same(body["rides"], want) and body["total"] == len(want), f"/riders/{uid}/rides")

    for day in z["daily"]:
        status, _, body = request(port, f"/daily?date={day['date']}")
        check(status == 200 and same(body, day), f"/daily?date={day['date']} equals the zone row")
    status, _, body = request(port, "/daily")
    check(status == 200 and same(body["days"], z["daily"]), "/daily lists every day")

    alerts = z["heart_rate_alerts"]
    ride_date = {r["ride_id"]: ref.date_string(day_of(r["start_time"])) for r in rides}
    for date in dates:
        want = [a for a in alerts if ride_date[a["ride_id"]] == date]
        for personal in (False, True):
            status, _, body = request(port, f"/alerts?date={date}&limit=1000", headers=auth if personal else None)
            check(status == 200 and same(body["alerts"], [expected_alert(a, personal) for a in want]),
                  f"/alerts?date={date} ({'token' if personal else 'public'}) equals the zone rows")
        day = next(d for d in z["daily"] if d["date"] == date)
        check(len(want) == day["alerts"], f"alerts of {date} agree with the daily zone")
    status, _, body = request(port, "/alerts?limit=1000")
    check(status == 200 and body["total"] == len(alerts), "/alerts lists every alert")

    for personal in (False, True):
        status, _, body = request(port, "/live", headers=auth if personal else None)
        current, window = expected_live(z, personal)
        label = "with the token" if personal else "public"
        check(status == 200 and body["run_id"] == health["run_id"] and body["personal"] == personal, f"/live {label}")
        for key in ("ride", "rider", "safe_range", "personal_bests", "readings"):
            check(same(body["current_ride"][key], current[key]), f"/live {label}: current_ride.{key} equals the zones: "
                  f"{json.dumps(body['current_ride'][key])[:300]} vs {json.dumps(current[key])[:300]}")
        for key, value in window.items():
            got = body["last_12_hours"][key]
            if isinstance(value, float):
                ok = abs(got - value) <= 1e-9 * max(1.0, abs(value))
            else:
                ok = same(got, value)
            check(ok, f"/live {label}: last_12_hours.{key} = {json.dumps(got)[:300]}, expected {json.dumps(value)[:300]}")
    return health["run_id"]


def check_privacy(port, z):
    """Without the token no personal value appears in any response."""
    secrets = set()
    for rider in z["riders"]:
        for key in ("last_name", "email", "address_street", "address_postcode", "date_of_birth"):
            if rider[key]:
                secrets.add(rider[key])
    for alert in z["heart_rate_alerts"]:
        if alert["email"]:
            secrets.add(alert["email"])
    bodies = []
    paths = ["/live", "/alerts?limit=1000", "/rides?limit=1000", "/daily", "/health"]
    paths += [f"/riders/{r['user_id']}" for r in z["riders"]] + [f"/riders/{r['user_id']}/rides" for r in z["riders"]]
    for path in paths:
        status, _, body = request(port, path)
        check(status == 200, f"{path}: {status}")
        text = json.dumps(body, ensure_ascii=False)
        bodies.append(text)
        if isinstance(body, dict):
            for key in PERSONAL_RIDER | PERSONAL_ALERT:
                check(f'"{key}"' not in text, f"{path} without the token has no '{key}' field")
    leaked = sorted(s for s in secrets if any(s in text for text in bodies))
    check(not leaked, f"no personal value in any public response (leaked: {leaked[:5]})")
    check(len(secrets) > 10, f"the privacy check looked for {len(secrets)} personal values")
    _, _, live = request(port, "/live")
    rider = live["current_ride"]["rider"]
    check(rider is not None and "first_name" not in rider and live["current_ride"]["safe_range"] is None,
          "/live without the token: no first name, no safe range")


def check_errors(port, token, z):
    auth = {"Authorization": "Bearer " + token}
    for path, want in [("/rides/abc", 400), ("/rides/-1", 400), ("/rides/1.5", 400), ("/rides/0", 400),
                       ("/rides/99999999999999999999", 400), ("/rides/999999999", 404),
                       ("/rides/%2D1", 400), ("/riders/abc", 400), ("/riders/999999999", 404),
                       ("/riders/999999999/rides", 404), ("/riders/-5/rides", 400),
                       ("/rides?date=2022-02-30", 400), ("/rides?date=2022-13-01", 400), ("/rides?date=yesterday", 400),
                       ("/rides?date=2022-1-01", 400), ("/daily?date=2022-02-29", 400), ("/daily?date=2001-01-01", 404),
                       ("/alerts?date=20221001", 400), ("/rides?limit=-1", 400), ("/rides?limit=1001", 400),
                       ("/rides?limit=x", 400), ("/rides?offset=-3", 400), ("/rides?colour=red", 400),
                       ("/rides/1?readings=2", 400), ("/rides?date=2022-10-01&date=2022-10-02", 400),
                       ("/nowhere", 404), ("/rides/1/readings", 404), ("/static/secret.txt", 404),
                       ("/rides/1%00", 400), ("/rides%00/1", 400), ("/static/chart.min.js%00.html", 400),
                       ("/%2e%2e/%2e%2e/etc/passwd", 400), ("/rides/%zz", 400), ("/rides?date=%00", 400),
                       ("/rides/" + "9" * 3000, 400)]:
        status, _, body = request(port, path)
        check_error(path, status, body, want)
    status, headers, body = request(port, "/rides/1", method="DELETE")
    check_error("DELETE /rides/1", status, body, 405)
    check("zones are the record" in body.get("message", ""), f"DELETE /rides/1 says the zones are the record: {body}")
    check(headers.get("allow") == "GET, HEAD", "405 names the allowed methods")
    for method in ("POST", "PUT", "PATCH", "OPTIONS"):
        status, _, body = request(port, "/rides/1", method=method, body=b"{}")
        check_error(f"{method} /rides/1", status, body, 405)
    status, _, body = request(port, "/nowhere", method="DELETE")
    check_error("DELETE /nowhere", status, body, 404)
    status, _, body = request(port, "/health", body=b"x" * 10)
    check_error("GET with a body", status, body, 413)
    status, _, body = request(port, "/rides", method="POST", body=b"x" * 5000)
    check_error("POST with a 5 kB body", status, body, 413)
    status, headers, body = request(port, "/riders/%d" % z["riders"][0]["user_id"],
                                    headers={"Authorization": "Bearer " + token + "x"})
    check_error("a wrong token", status, body, 401)
    check(headers.get("www-authenticate") == "Bearer", "401 asks for a bearer token")
    status, _, body = request(port, "/health", headers={"Authorization": "Basic " + token})
    check_error("another scheme", status, body, 401)
    status, _, body = request(port, "/rides?x=" + "a" * 5000)
    check_error("a 5 kB target", status, body, 414)
    status, reply = raw(port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(status == 414 and b'"uri_too_long"' in reply, f"a 9 kB request line: 414 with the JSON error, got {status} {reply[:120]}")
    headers_100k = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"a" * 1000) for i in range(100))
    status, reply = raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\n" + headers_100k + b"Connection: close\r\n\r\n")
    check(status == 431 and b'"header_fields_too_large"' in reply, f"100 kB of headers: 431, got {status}")
    status, reply = raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\nConnection: close\r\n\r\n")
    check(status is not None and 400 <= status < 500 and b'"error"' in reply, f"one 100 kB header line: a 4xx, got {status}")
    for target in (b"/static/../../etc/passwd", b"/../openapi.json", b"/static/./app.js", b"//etc/passwd",
                   b"http://evil/health", b"*", b"/rides/\x00", b"/rides/1 /x"):
        status, reply = raw(port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        check(status in (400, 404) and b"root:" not in reply, f"GET {target!r}: 400 or 404, got {status}")
    status, reply = raw(port, b"BREW /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(status == 400 and b'"error"' in reply, f"an unknown method: 400, got {status}")
    status, reply = raw(port, b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
    check(status in (400, None), f"binary garbage: 400 or closed, got {status}")
    status, _, body = request(port, "/health", method="HEAD")
    check(status == 200, f"HEAD /health: {status}")
    for path, kind in (("/", b"<!doctype html>"), ("/static/chart.min.js", b"Chart"), ("/static/app.js", b"use strict")):
        status, _, body = request(port, path)
        check(status == 200 and kind in body[:4000], f"{path} is served")
    status, _, doc = request(port, "/openapi.json")
    check(status == 200 and doc.get("openapi", "").startswith("3.") and "/rides/{ride_id}" in doc["paths"],
          "/openapi.json is an OpenAPI 3 document of the API")
    status, _, _ = request(port, "/health", headers=auth)
    check(status == 200, "the right token is accepted")


def check_slow_client(port):
    """A client that sends its headers a byte at a time is cut off (client timeout 2 s) while others are served."""
    started = time.time()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    closed = False
    try:
        for _ in range(40):
            s.sendall(b"X-Slow: a\r\n")
            time.sleep(0.25)
            status, _, _ = request(port, "/health", timeout=5) if _ % 8 == 0 else (200, None, None)
            check(status == 200, "served while a slow client trickles")
    except OSError:
        closed = True
    if not closed:
        try:
            s.settimeout(1)
            closed = s.recv(100) == b""
        except OSError:
            closed = True
    s.close()
    elapsed = time.time() - started
    check(closed and elapsed < 6, f"a slow client is cut off within the client timeout (closed {closed}, {elapsed:.1f} s)")
    # A connection that never sends anything is also closed.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    started = time.time()
    try:
        data = s.recv(100)
    except OSError:
        data = b""
    s.close()
    check(data == b"" and time.time() - started < 6, "an idle connection is closed after the client timeout")


def check_concurrency(port, z, connections=200):
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(connections)
    rides = [r["ride_id"] for r in z["rides"]]

    def client(i):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            barrier.wait(timeout=30)
            ride = random.Random(i).choice(rides)
            s.sendall(b"GET /rides/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % ride)
            reply = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
            s.close()
            ok = reply.startswith(b"HTTP/1.1 200") and (b'"ride_id":%d,' % ride) in reply
        except Exception as e:  # noqa: BLE001
            ok = f"{type(e).__name__}: {e}"
        with lock:
            results.append(ok)

    started = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    good = sum(1 for r in results if r is True)
    problems = [r for r in results if r is not True][:3]
    check(good == connections, f"{connections} concurrent connections all answered: {good} ok {problems}")
    print(f"{connections} concurrent connections: {good} answered in {time.time() - started:.2f} s", flush=True)


class Hammer:
    """Clients requesting without pause on keep-alive connections; record statuses and run ids."""

    def __init__(self, port, threads=4):
        self.port = port
        self.stop = threading.Event()
        self.errors = []
        self.disconnects = 0
        self.sequences = [[] for _ in range(threads)]
        self.count = 0
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, index):
        paths = ["/health", "/rides/1", "/daily", "/live", "/rides?limit=5"]
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        k = 0
        while not self.stop.is_set():
            path = paths[k % len(paths)]
            k += 1
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                run = response.getheader("X-Mpilake-Run")
                if response.status != 200:
                    self.errors.append(f"{path}: {response.status}")
                seq = self.sequences[index]
                if not seq or seq[-1] != run:
                    seq.append(run)
                self.count += 1
                if response.getheader("Connection") == "close":
                    connection.close()
            except (OSError, http.client.HTTPException) as e:
                # The server may close an idle keep-alive connection; reconnecting is normal.
                connection.close()
                if isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
                    self.disconnects += 1
                else:
                    self.errors.append(f"{path}: {type(e).__name__}: {e}")

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(20)


def run_pipeline(args, landing, out, overwrite):
    command = [args.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", "2", args.mpilake, "run", "--pipeline",
               "deloton", "--landing", landing, "--out", out, "-q"] + (["--overwrite"] if overwrite else [])
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, OMPI_MCA_btl_vader_single_copy_mechanism="none"))
    if result.returncode != 0 or not os.path.isfile(os.path.join(out, "summary.json")):
        raise RuntimeError(f"mpilake run failed: {result.stdout}\n{result.stderr}")


def generate(args, landing, seed, days):
    command = [args.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", "2", args.mpilake, "generate", "--pipeline",
               "deloton", "--out", landing, "--bikes", "10", "--days", str(days), "--seed", str(seed),
               "--streams", "3", "--bad-line-rate", "0.001", "--start-date", "2022-10-01"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, OMPI_MCA_btl_vader_single_copy_mechanism="none"))
    if result.returncode != 0:
        raise RuntimeError(f"generate failed: {result.stderr}")


def check_swap(args, server, out, landing2, old_run):
    hammer = Hammer(server.port)
    time.sleep(0.5)
    run_pipeline(args, landing2, out, overwrite=True)
    z2 = read_zones(out)
    deadline = time.time() + 15
    new_run = old_run
    while time.time() < deadline and new_run == old_run:
        time.sleep(0.2)
        new_run = request(server.port, "/health")[2]["run_id"]
    time.sleep(1)
    hammer.finish()
    check(new_run != old_run and new_run.startswith(z2["summary"]["created_utc"]),
          f"/health shows the new run ({old_run} -> {new_run})")
    check(not hammer.errors, f"no error response during the swap: {hammer.errors[:5]}")
    check(hammer.disconnects <= 8, f"keep-alive connections were rarely closed under the clients: {hammer.disconnects}")
    for seq in hammer.sequences:
        check(seq[0] == old_run and seq[-1] == new_run and len(seq) == 2,
              f"each client saw the old run, then only the new one: {seq}")
    print(f"live swap: {hammer.count} requests during the swap, {len(hammer.errors)} errors, "
          f"{hammer.disconnects} keep-alive connections closed by the server", flush=True)
    return z2, new_run


def check_failed_load(server, out, run_id):
    """summary.json of another run (its zones do not match) is not loaded: the old run stays, one log line."""
    path = os.path.join(out, "summary.json")
    with open(path) as f:
        original = f.read()
    fake = json.loads(original)
    fake["created_utc"] = "2000-01-01T00:00:00Z"
    with open(path + ".tmp", "w") as f:
        f.write(json.dumps(fake))
    os.replace(path + ".tmp", path)
    time.sleep(2.5)
    status, _, body = request(server.port, "/health")
    check(status == 200 and body["run_id"] == run_id, "a summary.json that does not match the zones keeps the old run")
    lines = [line for line in server.log_text().splitlines() if "new run not loaded" in line]
    check(len(lines) == 1 and "still serving run " + run_id in lines[0], f"one log line says so: {lines}")
    with open(path + ".tmp", "w") as f:
        f.write(original)
    os.replace(path + ".tmp", path)
    time.sleep(1.5)
    check(request(server.port, "/health")[2]["run_id"] == run_id, "the real summary.json back: the same run")
    # A zone written after summary.json is of a run still being written, even with the same
    # created_utc second: refused; once summary.json is newer again, it loads.
    zone = os.path.join(out, "rides.h5")
    later = time.time() + 60
    os.utime(zone, (later, later))
    with open(path + ".tmp", "w") as f:
        f.write(original)
    os.replace(path + ".tmp", path)
    time.sleep(1.5)
    lines = [line for line in server.log_text().splitlines() if "newer than summary.json" in line]
    check(len(lines) == 1 and request(server.port, "/health")[2]["run_id"] == run_id,
          f"a zone newer than summary.json is not loaded, one line says so: {lines}")
    os.utime(path, (later + 1, later + 1))
    time.sleep(1.5)
    check(server.log_text().rstrip().endswith(f"(was {run_id})"), "with summary.json newer again, the run loads")


def browser_expectations(z, run_id, personal, path):
    current, window = expected_live(z, personal)
    ride, rider = current["ride"], current["rider"]
    secrets = sorted({r[k] for r in z["riders"] for k in ("last_name", "email", "address_street", "date_of_birth")
                      if r[k]})
    full_rider = next((r for r in z["riders"] if r["user_id"] == ride["user_id"]), None)
    expect = {"run_id": run_id, "ride": ride, "safe_range": current["safe_range"],
              "rider": {"user_id": rider["user_id"], "gender": rider["gender"], "age_band": rider["age_band"],
                        "first_name": full_rider["first_name"] if full_rider else None},
              "bests_rides": current["personal_bests"]["rides"],
              "window": {"rides": window["rides"], "riders": window["riders"], "energy_kj": window["energy_kj"],
                         "power_avg_w": window["power_avg_w"], "alerts": window["alerts"],
                         "hours_rides": [h["rides"] for h in window["hours"]],
                         "gender": [window["riders_by_gender"][g] for g in ("male", "female", "other")]},
              "secrets": secrets}
    with open(path, "w") as f:
        json.dump(expect, f)
    return path


def check_browser(args, server, out, landing2, z, run_id, token, tmp):
    screenshot = args.screenshot or os.path.join(tmp, "dashboard.png")
    first = browser_expectations(z, run_id, True, os.path.join(tmp, "expect1.json"))
    node = subprocess.Popen(["node", os.path.join(BROWSER_DIR, "dashboard_test.mjs"), "--url",
                             f"http://127.0.0.1:{server.port}/", "--expect", first, "--screenshot", screenshot,
                             "--token", token, "--swap"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    ready = False
    deadline = time.time() + 90
    for line in node.stdout:
        output.append(line)
        print("browser:", line.rstrip(), flush=True)
        if line.strip() == "READY":
            ready = True
            break
        if time.time() > deadline:
            break
    if ready:
        run_pipeline(args, landing2, out, overwrite=True)
        z2 = read_zones(out)
        deadline = time.time() + 15
        run2 = run_id
        while time.time() < deadline and run2 == run_id:
            time.sleep(0.2)
            run2 = request(server.port, "/health")[2]["run_id"]
        second = browser_expectations(z2, run2, True, os.path.join(tmp, "expect2.json"))
        node.stdin.write(second + "\n")
        node.stdin.flush()
    try:
        rest, _ = node.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        node.kill()
        rest, _ = node.communicate()
    for line in rest.splitlines():
        print("browser:", line, flush=True)
    check(ready and node.returncode == 0, "the browser test passed")
    check(os.path.isfile(screenshot) and os.path.getsize(screenshot) > 20_000, f"a screenshot was saved: {screenshot}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--browser", action="store_true", help="the dashboard test in headless Chromium")
    parser.add_argument("--screenshot", help="where the browser test saves its screenshot")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.browser and not (os.path.exists("/usr/bin/chromium") and shutil.which("node") and
                             os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core"))):
        print("SKIP: needs /usr/bin/chromium, node and tests/browser/node_modules (npm ci --prefix tests/browser)")
        return 77
    tmp = tempfile.mkdtemp(prefix="mpilake-serve-")
    server = None
    try:
        landing1, landing2, out = (os.path.join(tmp, name) for name in ("landing1", "landing2", "out"))
        generate(args, landing1, seed=1, days=2)
        generate(args, landing2, seed=2, days=1)
        run_pipeline(args, landing1, out, overwrite=False)
        token = "t0k3n-" + "".join(random.SystemRandom().choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(32))
        token_file = os.path.join(tmp, "token")
        with open(token_file, "w") as f:
            f.write(token + "\n")
        z = read_zones(out)
        print(f"run: {len(z['rides'])} rides, {len(z['readings'])} readings, {len(z['riders'])} riders, "
              f"{len(z['heart_rate_alerts'])} alerts, {len(z['daily'])} days", flush=True)
        check(len(z["daily"]) >= 2 and len(z["heart_rate_alerts"]) >= 1, "the generated run has several days and alerts")
        server = Server(args.mpilake, out, token_file, tmp)
        started = time.time()
        if args.browser:
            run_id = request(server.port, "/health")[2]["run_id"]
            check_browser(args, server, out, landing2, z, run_id, token, tmp)
        else:
            run_id = check_contract(server.port, z, token)
            print(f"contract checked in {time.time() - started:.1f} s", flush=True)
            check_privacy(server.port, z)
            check_errors(server.port, token, z)
            check_slow_client(server.port)
            check_concurrency(server.port, z)
            status, _, body = request(server.port, "/health")
            check(status == 200 and body["run_id"] == run_id, "still serving after the hostile requests")
            z2, run2 = check_swap(args, server, out, landing2, run_id)
            check_contract(server.port, z2, token)
            check_failed_load(server, out, run2)
            check(token not in server.log_text(), "the token is never logged")
        code = server.stop()
        server = None
        check(code == 0, f"SIGTERM stops the server cleanly (exit {code})")
    finally:
        if server is not None:
            print(server.log_text()[-3000:])
            server.stop()
        if args.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{CHECKS[0]} checks, " + (f"{len(FAILURES)} failure(s)" if FAILURES else "SERVE TESTS PASSED"), flush=True)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
