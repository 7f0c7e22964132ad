#!/usr/bin/env python3
"""Deloton end to end: mpilake's zones, ride_offset, summary.json and quarantine equal the
single-process reference (deloton_reference.py) row for row, bit for bit, at every rank count.

1. The real samples (../shared/data/deloton/landing, each file its own stream; skipped when
   absent): equal to the reference at each rank count; the published facts hold in the zones
   (the 1000-line captures: one ride of user 100 with 498 readings each; the SYSTEM-only capture:
   9 rides without readings); per-stream lines = blank + markers + accepted + duplicates +
   quarantined.
2. Randomised messy landing sets written here with random.Random(seed), independently of the
   C++ generator: interleaved bikes, dumps that start mid-ride (orphans), unpaired lines,
   re-sent blocks (duplicate deliveries, also of ride starts and across a ride start), every kind
   of bad line, tiny files, blank lines, CRLF, a BOM, rides across midnight, alerts from high and
   low runs, runs of exactly 2 that must not alert, runs broken by hrt = 0, riders whose details
   change, unknown riders, 29 February birthdays, genders of every other kind ("nonbinary", "Male",
   " female", "", null, no key, a NUL), NUL characters in names, addresses and a bike name. Streams
   are small, so at 4 ranks rides span at least three ranks' byte ranges (checked).
3. Riders carry only the classes male / female / other (DELOTON.md), and every set has riders of
   the other class written in odd ways; a fixed set with a NUL ("\\u0000") in a user's name and
   address and in a bike name: kept as U+FFFD, counted in summary.json (literal values).

    test_deloton.py --mpilake build/mpilake --mpiexec mpiexec --ranks 1,2,3,4 [--seeds 1,2,3] [--samples-only]
Exit 0 pass, 1 fail (the first differences are printed; --keep keeps the data), 77 skipped.
"""
import argparse
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deloton_compare  # noqa: E402
import e2e_harness  # noqa: E402
import deloton_reference as ref  # noqa: E402

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)
    return condition


def find_samples():
    return e2e_harness.find_shared_data("deloton", "landing")


def run_mpilake(args, ranks, landing, out):
    command = [args.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", str(ranks), args.mpilake, "run",
               "--pipeline", "deloton", "--landing", landing, "--out", out, "--overwrite", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    # mpirun may exit 0 without starting anything: the summary must be there.
    ok = result.returncode == 0 and os.path.exists(os.path.join(out, "summary.json"))
    check(ok, f"mpilake at {ranks} ranks on {landing}: exit {result.returncode}\n{result.stderr[-3000:]}")
    return ok


def compare(args, ranks, landing, out, expected, label):
    if not run_mpilake(args, ranks, landing, out):
        return False
    problems = deloton_compare.compare_run(out, expected)
    for problem in problems[:25]:
        print(f"  {label}, {ranks} ranks: {problem}")
    check_gender_classes(out, f"{label} at {ranks} ranks")
    return check(not problems, f"{label} at {ranks} ranks equals the reference ({len(problems)} differences)")


GENDER_CLASSES = {"male", "female", "other"}


def check_gender_classes(out, label):
    """DELOTON.md: gender is male or female as written, anything else or missing other, in every
    zone: riders.gender and heart_rate_alerts.gender hold only those three."""
    import h5py
    for zone in ("riders", "heart_rate_alerts"):
        with h5py.File(os.path.join(out, zone + ".h5")) as f:
            values = {bytes(v).rstrip(b"\x00").decode() for v in f["gender"][()]}
        check(values <= GENDER_CLASSES, f"{label}: {zone}.gender holds only male/female/other, got {sorted(values)}")


# ---------------------------------------------------------------------------
# 1. Real samples
# ---------------------------------------------------------------------------
def samples_landing(samples, root):
    """Each sample file its own stream: root/deloton/<name>/<file> (symlinks, nothing copied)."""
    for name in sorted(os.listdir(samples)):
        if not name.endswith(".ndjson"):
            continue
        stream = os.path.join(root, "deloton", name[: -len(".ndjson")])
        os.makedirs(stream)
        os.symlink(os.path.join(samples, name), os.path.join(stream, name))
    return root


def check_sample_facts(out):
    import h5py
    with h5py.File(os.path.join(out, "rides.h5")) as f:
        streams = [s.decode() for s in f["stream"][()]]
        users = list(f["user_id"][()])
        readings = list(f["readings"][()])
    by_stream = {}
    for stream, user, count in zip(streams, users, readings):
        by_stream.setdefault(stream, []).append((user, count))
    for capture in ("eros-code__deloton__cleaning_stage_cell2__2022-11-03T1842", "hmay01__staging_cell6__2022-07-06T2329"):
        check(by_stream.get(capture) == [(100, 498)], f"{capture}: one ride of user 100 with 498 readings, "
                                                     f"got {by_stream.get(capture)}")
    system_only = by_stream.get("hakan212__batch_kafka_ingestion__SYSTEM-only__2022-10-04T1047", [])
    check(len(system_only) == 9 and all(count == 0 for _, count in system_only),
          f"SYSTEM-only capture: 9 rides with no readings, got {system_only}")
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    for name, s in summary["streams"].items():
        check(s["lines"] == s["blank"] + s["markers"] + s["accepted"] + s["duplicates"] + s["quarantined"],
              f"stream {name}: lines add up ({s})")
        check(s["quarantined"] == sum(s["quarantined_by_reason"].values()), f"stream {name}: reasons add up")


# ---------------------------------------------------------------------------
# 2. Randomised landing sets
# ---------------------------------------------------------------------------
FIRST = ["Steven", "Charlene", "Stuart", "Wayne", "Jodie", "Julian", "Brian", "Ann", "Elliot", "Zoë"]
LAST = ["Pearce", "Brown", "Austin", "Fitzgerald", "Dale", "Webster", "Norris-King", "Lee Smith", "Phillips"]
TITLES = ["", "", "", "Mr ", "Mrs ", "Miss ", "Ms ", "Dr ", "Dr. ", "Prof ", "Mx "]
TOWNS = ["New Bethan", "East Valeriemouth", "Port Kim", "Lake Sam"]


def ts_text(us):
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")


def record(log, rng):
    value = json.dumps(log + "\n")
    if rng.random() < 0.02:
        return '{"offset": 7, "log": ' + value + "}"  # other keys are ignored
    return '{"log": ' + value + "}"


class Rider:
    def __init__(self, rng, user_id):
        self.user_id = user_id
        birth = rng.choice([datetime.date(1960, 2, 29), datetime.date(2004, 2, 29)]) if rng.random() < 0.1 else \
            datetime.date(rng.randint(1930, 2012), rng.randint(1, 12), rng.randint(1, 28))
        self.fields = {
            "user_id": user_id,
            "name": rng.choice(TITLES) + rng.choice(FIRST) + " " + rng.choice(LAST),
            # Every way of being "other": another word or case, spaces, "", null, a NUL (and, below,
            # no key at all).
            "gender": rng.choice(["male", "female", "female", "male", "male", "female", "nonbinary", "Male",
                                  " female", "FEMALE", "", None, "male\x00"]),
            "address": rng.choice(["Flat 98y,Carolyn haven,", "Studio 7,Smith road,", "12 Oak St,"]) +
                       rng.choice(TOWNS) + "," + rng.choice(["S5T 0TT", "WR4V 7TA", " AB1 2CD "]),
            "date_of_birth": (birth - datetime.date(1970, 1, 1)).days * 86400000,
            "email_address": f"rider{user_id}@example.com",
            "height_cm": rng.randint(150, 200),
            "weight_kg": rng.randint(45, 120),
            "account_create_date": 1641254400000 + rng.randint(0, 300) * 86400000,
            "bike_serial": "SN%04d" % rng.randint(0, 20),
            "original_source": rng.choice(["direct", "offline", "google ads", "facebook"]),
        }
        if rng.random() < 0.1:
            del self.fields[rng.choice(["date_of_birth", "gender", "name", "address", "height_cm"])]
        if rng.random() < 0.15:  # NUL characters (written "\u0000"): kept as U+FFFD, counted
            for key in rng.sample(["name", "address", "email_address"], rng.randint(1, 2)):
                if key in self.fields:
                    self.fields[key] = self.fields[key].replace(" ", "\x00 ", 1) + rng.choice(["", "\x00"])
        if rng.random() < 0.05:
            self.fields["height_cm"] = 170.0  # not an integer: NULL

    def json(self, rng):
        fields = dict(self.fields)
        if rng.random() < 0.1:
            fields["weight_kg"] = fields.get("weight_kg", 70) + 1  # details change between rides
        return json.dumps(fields, separators=(",", ":"))


def bad_line(rng, ts, bike):
    """One line of each broken kind (the record text, not yet a JSON record where it is bad)."""
    kind = rng.randrange(9)
    if kind == 0:
        return '{"log": "truncated'  # bad_record
    if kind == 1:
        return '{"log": 42}'  # bad_record: log is no string
    if kind == 2:
        return None, f"{ts} {bike}: [INFO]: Rides - duration = 1.0; resistance = 3"  # unknown_shape
    if kind == 3:
        return None, f"2022-02-30 10:00:00.000000 {bike}: [INFO]: Ride - duration = 1.0; resistance = 3"  # bad_timestamp
    if kind == 4:
        return None, f"{ts} {bike}: [INFO]: Ride - duration = 1.0; resistance = 30.0"  # bad_number
    if kind == 5:
        return None, f"{ts} {bike}: [INFO]: Telemetry - hrt = 80; rpm = -3; power = 1.5"  # negative_value
    if kind == 6:
        return None, f"{ts} {bike}: [INFO]: Telemetry - hrt = 80; rpm = 3; power = 1e999"  # bad_number
    if kind == 7:
        return None, "just some text"
    return None, f"{ts} {bike}: Getting user data from server.."  # a marker, fine


def heart_rates(rng, length):
    """A heart-rate curve of one of five kinds: normal; with abnormal runs of exactly 2 only (must
    not alert); with runs broken by hrt = 0 (must not alert); with a high run of 3 or more; with a
    low run of 3 or more. It starts with zeros (no pulse yet)."""
    profile = rng.choice(["normal", "runs_of_2", "broken", "high", "low"])
    values = [0] * min(length, rng.randint(0, 6))
    hr = rng.randint(75, 110)
    while len(values) < length:
        choice = rng.random()
        if choice < 0.05 and profile == "runs_of_2":
            values += [rng.randint(200, 240)] * 2 + [hr]
        elif choice < 0.05 and profile == "broken":
            values += [rng.randint(200, 240), rng.randint(200, 240), 0, rng.randint(200, 240), hr]
        elif choice < 0.03 and profile == "high":
            values += [rng.randint(200, 240)] * rng.choice([3, 4, 8])
        elif choice < 0.03 and profile == "low":
            values += [rng.randint(20, 35)] * rng.choice([3, 5])
        else:
            hr = max(60, min(150, hr + rng.randint(-4, 4)))
            values.append(hr)
    return values[:length]


def generate_set(rng, root):
    """Writes root/deloton/<streams>; returns nothing (the reference reads the files)."""
    riders = [Rider(rng, 1000 + i) for i in range(rng.randint(3, 10))]
    streams = ["", "partition=0", "partition=1", "partition=10"][: rng.randint(1, 4)]
    # "zz: v5" holds ": ", so its lines are of no known shape (the bike ends at the first ": ").
    bike_names = ["mendoza v9", "bike:a v2", "ölberg v1", "x v3", "yy v4", "q v6", "r v7", "s v8", "zz: v5",
                  "nul\x00 v10"]
    for stream_index, stream in enumerate(streams):
        # The first stream is one bike's long ride (plus a short one): at 4 ranks it spans at least
        # three ranks' byte ranges. The others interleave several bikes.
        long_ride = stream_index == 0
        bikes = rng.sample(bike_names[:5], 1) if long_ride else rng.sample(bike_names, rng.randint(2, 4))
        events = []  # (time, order, record text)
        order = 0
        for bike in bikes:
            t = int(datetime.datetime(2022, 10, 4, 23, rng.randint(0, 50)).timestamp()) * 1000000 - 3600 * 1000000 * 0
            t += rng.randint(0, 999999)
            first = True
            for ride_index in range(2 if long_ride else rng.randint(1, 4)):
                lines = []
                if first and rng.random() < 0.5:  # the dump starts mid-ride: orphans
                    for d in range(rng.randint(1, 6)):
                        lines.append((t, f"{ts_text(t)} {bike}: [INFO]: Ride - duration = {400 + d}.0; resistance = 60"))
                        lines.append((t + 500000, f"{ts_text(t + 500000)} {bike}: [INFO]: Telemetry - hrt = 0; rpm = 30; power = 11.22896664"))
                        t += 1000000
                first = False
                lines.append((t, "--------- beginning of a new ride"))
                lines.append((t, f"{ts_text(t)} {bike}: Getting user data from server.."))
                t += 500000
                rider = rng.choice(riders)
                user_json = rider.json(rng) if rng.random() > 0.05 else '{"user_id": "x"}'  # unknown rider
                start = (t, f"{ts_text(t)} {bike}: [SYSTEM] data = {user_json}")
                lines.append(start)
                if rng.random() < 0.1:
                    lines.append(start)  # a re-sent ride start
                t += 500000
                length = rng.randint(0, 160) if rng.random() > 0.1 else 0
                if long_ride and ride_index == 0:
                    length = rng.randint(400, 600)
                hrs = heart_rates(rng, length)
                resistance = rng.choice([30, 60, 99, 170])
                for d in range(length):
                    rpm = 0 if d < 3 else rng.randint(20, 140)
                    power = 0.0 if rpm == 0 else round(rpm * resistance / 37.0 + rng.random(), rng.randint(1, 9))
                    ride_line = (t, f"{ts_text(t)} {bike}: [INFO]: Ride - duration = {d + 1}.0; resistance = {resistance}")
                    tel = (t + 500000, f"{ts_text(t + 500000)} {bike}: [INFO]: Telemetry - hrt = {hrs[d]}; rpm = {rpm}; power = {power}")
                    r = rng.random()
                    if r < 0.01:
                        lines.append(ride_line)  # telemetry lost: the ride line is unpaired
                    elif r < 0.02:
                        lines.append(tel)  # ride line lost: telemetry without a ride line
                    else:
                        lines += [ride_line, tel]
                    if rng.random() < 0.02 and len(lines) > 4:
                        lines += lines[-rng.randint(1, 4):]  # a re-sent block
                    t += 1000000
                if rng.random() < 0.2:
                    t += 86400 * 1000000 // rng.choice([4, 24])  # a gap: some rides start the next day
                for line in lines:
                    events.append((line[0], order, line[1]))
                    order += 1
        # Interleave the bikes' lines by time (each bike's own order kept).
        events.sort(key=lambda e: (e[0], e[1]))
        texts = []
        for _, _, log in events:
            if log.startswith("---------"):
                texts.append(record(log, rng))
                continue
            if rng.random() < 0.015:
                broken = bad_line(rng, log[:26], "mendoza v9")
                texts.append(broken if isinstance(broken, str) else record(broken[1], rng))
            if rng.random() < 0.01:
                texts.append(rng.choice(["", "   ", "\t\r"]))  # blank lines
            texts.append(record(log, rng))
        # Tiny files as well as larger ones; a BOM on some; CRLF on some.
        folder = os.path.join(root, "deloton", stream)
        os.makedirs(folder, exist_ok=True)
        at, index = 0, 0
        while at < len(texts):
            count = rng.choice([1, 3, 20, 200, 2000])
            chunk = texts[at: at + count]
            at += count
            newline = "\r\n" if rng.random() < 0.2 else "\n"
            data = newline.join(chunk) + (newline if rng.random() < 0.9 or at < len(texts) else "")
            raw = data.encode("utf-8")
            if rng.random() < 0.1:
                raw = b"\xef\xbb\xbf" + raw
            with open(os.path.join(folder, "deloton+%d+%06d.json" % (stream_index, index)), "wb") as f:
                f.write(raw)
            index += 1


# ---------------------------------------------------------------------------
# 3. NUL characters: a fixed set with literal expectations
# ---------------------------------------------------------------------------
REPLACEMENT = "\ufffd"


def nul_set(root):
    """Stream p0: user 7 ("Mr Ann\\u0000e Lee", address "1 Road\\u0000,Town,PC\\u0000", gender "x")
    rides bike "nul\\u0000 v1" for 300 readings (at 3 ranks the ride spans the ranks); user 8
    (no NUL, gender "male") rides bike "b".  The JSON escapes are written by json.dumps."""
    user7 = json.dumps({"user_id": 7, "name": "Mr Ann\x00e Lee", "gender": "x",
                        "address": "1 Road\x00,Town,PC\x00", "date_of_birth": 0})
    user8 = json.dumps({"user_id": 8, "name": "Bo Li", "gender": "male", "address": "a,b,c"})
    t = int(datetime.datetime(2023, 3, 1, 10, 0).timestamp()) * 1000000
    logs = [f"{ts_text(t)} nul\x00 v1: [SYSTEM] data = {user7}", f"{ts_text(t)} b: [SYSTEM] data = {user8}"]
    for k in range(300):
        at = t + (k + 1) * 1000000
        logs.append(f"{ts_text(at)} nul\x00 v1: [INFO]: Ride - duration = {k + 1}.0; resistance = 40")
        logs.append(f"{ts_text(at + 500000)} nul\x00 v1: [INFO]: Telemetry - hrt = 90; rpm = 60; power = 50.5")
    folder = os.path.join(root, "deloton", "p0")
    os.makedirs(folder)
    with open(os.path.join(folder, "deloton+0+000000.json"), "w", encoding="ascii") as f:
        f.write("".join(json.dumps({"log": log + "\n"}) + "\n" for log in logs))


def check_nul_set(args, ranks, tmp):
    landing = os.path.join(tmp, "nul")
    if not os.path.exists(landing):
        nul_set(landing)
    out = os.path.join(tmp, f"nul-out-{ranks}")
    if not compare(args, ranks, landing, out, ref.compute(landing), "NUL set"):
        return
    import h5py

    def strings(zone, column):
        with h5py.File(os.path.join(out, zone + ".h5")) as f:
            return [bytes(v).rstrip(b"\x00").decode() for v in f[column][()]]

    rider = {c: strings("riders", c)[0] for c in ("title", "first_name", "last_name", "gender", "address_street",
                                                  "address_town", "address_postcode")}
    check(rider == {"title": "Mr", "first_name": "Ann" + REPLACEMENT + "e", "last_name": "Lee", "gender": "other",
                    "address_street": "1 Road" + REPLACEMENT, "address_town": "Town",
                    "address_postcode": "PC" + REPLACEMENT},
          f"NUL set at {ranks} ranks: user 7's strings keep the NUL as U+FFFD ({rider})")
    check(strings("riders", "gender") == ["other", "male"], f"NUL set at {ranks} ranks: genders")
    # Both rides start at 10:00:00: "b" (0x62) before "nul\ufffd v1" (0x6E).
    check(strings("rides", "bike") == ["b", "nul" + REPLACEMENT + " v1"],
          f"NUL set at {ranks} ranks: the bike keeps its NUL as U+FFFD ({strings('rides', 'bike')})")
    with open(os.path.join(out, "summary.json")) as f:
        dq = json.load(f)["data_quality"]
    check((dq.get("user_strings_with_nul"), dq.get("rides_with_nul_in_bike")) == (2, 1),
          f"NUL set at {ranks} ranks: summary.json counts 2 user strings and 1 bike with a NUL ({dq})")


def ranks_spanned(landing, expected, ranks):
    """The most ranks' byte ranges one ride touches (its start to its last reading)."""
    most = 0
    sizes = {}
    for stream, paths in ref.list_streams(landing):
        offsets, total = {}, 0
        for path in paths:
            offsets[path] = total
            total += os.path.getsize(path)
        sizes[stream] = (offsets, total)
    for ride in expected.rides:
        offsets, total = sizes[ride.stream]
        paths = list(offsets)
        if not ride.readings or total == 0:
            continue
        start = offsets[paths[ride.position[0]]] + ride.position[1]
        last_line = ride.readings[-1][1]
        end = offsets[last_line.path] + last_line.offset

        def rank_of(position):
            return max(p for p in range(ranks) if total * p // ranks <= position)

        most = max(most, rank_of(end) - rank_of(start) + 1)
    return most


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--ranks", default="1,2,3,4")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--samples-only", action="store_true")
    parser.add_argument("--randomised-only", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    rank_counts = [int(r) for r in args.ranks.split(",")]
    tmp = tempfile.mkdtemp(prefix="deloton-e2e-")
    ran = False
    try:
        samples = find_samples()
        if not args.randomised_only and samples is not None:
            ran = True
            landing = samples_landing(samples, os.path.join(tmp, "samples"))
            expected = ref.compute(landing)
            for ranks in rank_counts:
                out = os.path.join(tmp, f"samples-out-{ranks}")
                if compare(args, ranks, landing, out, expected, "real samples"):
                    check_sample_facts(out)
        elif not args.randomised_only:
            print("skip: ../shared/data/deloton/landing not found")
        if not args.samples_only:
            ran = True
            other_riders = 0
            for seed in [int(s) for s in args.seeds.split(",")]:
                landing = os.path.join(tmp, f"set-{seed}")
                generate_set(random.Random(seed), landing)
                expected = ref.compute(landing)
                counts = expected.counts()
                dq = expected.data_quality
                print(f"seed {seed}: {counts}, quarantine {len(expected.quarantine)}, data quality {dq}", flush=True)
                check(counts["rides"] > 0 and counts["readings"] > 0, f"seed {seed}: rides and readings")
                other_riders += sum(1 for r in expected.zones["riders"] if r[4] == "other")
                for ranks in rank_counts:
                    if ranks >= 4:
                        spanned = ranks_spanned(landing, expected, ranks)
                        check(spanned >= 3, f"seed {seed}: a ride spans at least 3 of {ranks} ranks (most: {spanned})")
                    compare(args, ranks, landing, os.path.join(tmp, f"set-{seed}-out-{ranks}"), expected, f"seed {seed}")
            # (a set with 2 riders may have none of the other class; all sets together must)
            check(other_riders > 0, "riders of the other class (odd genders) in the randomised sets")
            for ranks in rank_counts:
                check_nul_set(args, ranks, tmp)
    finally:
        if FAILURES or args.keep:
            print(f"data and outputs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if not ran:
        return 77
    if FAILURES:
        print(f"test_deloton: FAILED ({len(FAILURES)} problems)")
        return 1
    print("test_deloton: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
