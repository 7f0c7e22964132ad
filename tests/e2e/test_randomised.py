#!/usr/bin/python3
"""Randomised end-to-end test of mpilake on small, messy generated landing data.

For each seed a landing set is generated with random.Random(seed): duplicate
customers, shared serials, consent / no consent, one email on several customer
rows, readings before and after consent, unknown users and serials, timestamps
shared across devices, every NULL spelling, float / string / exponent epoch ms,
`timeStamp`, phone as number, unknown keys, random key order, escapes, CRLF,
BOM, no final newline, blank lines and many kinds of broken lines.  mpilake is
run for every rules set and rank count and each zone is compared, as a
multiset, with stedi_reference.py; summary.json's per-source accepted /
quarantined / lines must equal the reference's.

Exit 0 = pass, 1 = fail.

  test_randomised.py --mpilake BIN --mpiexec EXE --ranks 1,2,4 --seeds 1,2,3
  test_randomised.py --generate-only DIR --seeds 7     # just write the data
"""

import argparse
import collections
import os
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import stedi_reference as ref  # noqa: E402

T0 = 1655564000000  # epoch ms, June 2022 like the starter data
FIRST = ["Santosh", "Ben", "Jane", "Ashley", "John", "Neeraj", "Craig", "Jaya", "Spencer",
         "Lyn", "Sarah", "Frank", "Chris", "Liz", "Senthil", "Danny", "Bobby", "Steph",
         "José", "Zoë", "Łukasz", "Ming", "Ana-Maria", "D'Arcy"]
LAST = ["Clayton", "Khatib", "Lincoln", "Davis", "Fibonnaci", "Staples", "Wu", "Olson",
        "Howard", "Müller", "Nguyễn", "O\"Brien", "Back\\slash", "Smith", "Anandappa"]
UNKNOWN_KEYS = [
    ("source", lambda rng: '"app"'),
    ("version", lambda rng: str(rng.randint(1, 9))),
    ("meta", lambda rng: '{"a": [1, 2, {"b": null}], "c": "x"}'),
    ("Email", lambda rng: '"someone.else@test.com"'),   # keys are case-sensitive
    ("Timestamp", lambda rng: '"not a time"'),
    ("flags", lambda rng: "[true, false, null]"),
    ("ratio", lambda rng: "0.25"),
    ("note", lambda rng: '"unknown keys are ignored"'),
]


# ---------------------------------------------------------------------------
# JSON text encoders (bytes), with the variations real dumps show
# ---------------------------------------------------------------------------
def enc_str(rng, s, ascii_only):
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "/" and rng.random() < 0.5:
            out.append("\\/")
        elif code < 0x20:
            out.append("\\u%04x" % code)
        elif code >= 0x80 and ascii_only:
            if code >= 0x10000:
                v = code - 0x10000
                out.append("\\u%04x\\u%04x" % (0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)))
            else:
                out.append("\\u%04x" % code if rng.random() < 0.5 else "\\u%04X" % code)
        elif code < 0x80 and rng.random() < 0.012:
            out.append("\\u%04x" % code)  # gratuitous escape of a plain character
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def exp_form(v):
    s = str(abs(v))
    sign = "-" if v < 0 else ""
    rest = s[1:].rstrip("0")
    mant = s[0] + ("." + rest if rest else "")
    return "%s%se%d" % (sign, mant, len(s) - 1)


def enc_int(rng, v):
    r = rng.random()
    if r < 0.55:
        return str(v)
    if r < 0.72:
        return str(v) + ".0"                # 1655564376361.0
    if r < 0.88:
        return '"%d"' % v                    # decimal string
    if r < 0.94 and v != 0:
        return exp_form(v)                   # 1.655564376361e12
    if r < 0.97:
        return str(v) + ".000"
    return '"%s%s"' % ("-" if v < 0 else "", "0" + str(abs(v)))  # "0165..." leading zero


def enc_float(rng, f):
    if f == int(f) and abs(f) < 1e15 and rng.random() < 0.25:
        return str(int(f))                   # JSON integer becomes a float
    if rng.random() < 0.05:
        return "%.17e" % f
    return repr(f)


def enc_null(rng):
    """None means: leave the key out."""
    return rng.choice([None, "null", '""'])


def encode_record(rng, pairs, extras=True):
    """pairs: list of (key, value_text or None=omit). -> bytes line."""
    items = [(k, v) for k, v in pairs if v is not None]
    if extras and rng.random() < 0.3:
        for key, fn in rng.sample(UNKNOWN_KEYS, rng.randint(1, 2)):
            if all(k != key for k, _ in items):
                items.append((key, fn(rng)))
    if rng.random() < 0.6:
        rng.shuffle(items)
    sep, colon = rng.choice([(",", ":"), (", ", ": "), (" , ", " : "), (",\t", ":")])
    text = "{" + sep.join('"%s"%s%s' % (k, colon, v) for k, v in items) + "}"
    if rng.random() < 0.05:
        text = rng.choice([" ", "\t", "  "]) + text + rng.choice(["", " ", "\t"])
    return text.encode("utf-8")


def customer_pairs(rng, c, ascii_only):
    pairs = []
    for (name, kind), value in zip(ref.CUSTOMER_COLUMNS, c):
        if value is None:
            pairs.append((name, enc_null(rng)))
        elif name == "phone" and value.isdigit() and value[0] != "0" and rng.random() < 0.4:
            pairs.append((name, value))      # phone as a JSON number
        elif kind == "str":
            pairs.append((name, enc_str(rng, value, ascii_only)))
        else:
            pairs.append((name, enc_int(rng, value)))
    return pairs


def accel_pairs(rng, a, ascii_only):
    user, ts, x, y, z = a
    key = "timeStamp" if rng.random() < 0.3 else "timestamp"
    return [("user", enc_str(rng, user, ascii_only)), (key, enc_int(rng, ts)),
            ("x", enc_float(rng, x)), ("y", enc_float(rng, y)), ("z", enc_float(rng, z))]


def step_pairs(rng, s, ascii_only):
    t, serial, dist = s
    return [("sensorReadingTime", enc_int(rng, t)),
            ("serialNumber", enc_str(rng, serial, ascii_only)),
            ("distanceFromObject", enc_int(rng, dist))]


PAIRS = {"customer": customer_pairs, "accelerometer": accel_pairs, "step_trainer": step_pairs}


def encode_row(rng, source, row):
    return encode_record(rng, PAIRS[source](rng, row, rng.random() < 0.3))


# ---------------------------------------------------------------------------
# Broken lines: every kind below must be quarantined
# ---------------------------------------------------------------------------
WRONG_TYPES = {
    "customer": [("email", "12345"), ("serialNumber", "true"), ("customerName", '["a"]'),
                 ("phone", "8015551212.5"), ("phone", "-0.5"), ("phone", '{"n": 1}'),
                 ("birthDay", "19000101"), ("registrationDate", '"2022-06-18"'),
                 ("shareWithResearchAsOfDate", "1655564376361.5"),
                 ("shareWithPublicAsOfDate", "true"), ("lastUpdateDate", '" 1655564376361"'),
                 ("shareWithFriendsAsOfDate", '"+1655564376361"'),
                 ("registrationDate", "9223372036854775808"),
                 ("lastUpdateDate", '{"$date": 1655564376361}'),
                 ("shareWithResearchAsOfDate", '"1655564376361.0"'),
                 ("shareWithResearchAsOfDate", '"-"')],
    "accelerometer": [("user", "7"), ("timestamp", '"abc"'), ("timestamp", "1655564376361.5"),
                      ("timestamp", "false"), ("x", '"1.0"'), ("y", "true"), ("z", "[0]"),
                      ("timestamp", '"1655564376361.0"'), ("timestamp", "99999999999999999999"),
                      ("x", "{}")],
    "step_trainer": [("sensorReadingTime", '"16555x"'), ("serialNumber", "123"),
                     ("distanceFromObject", "12.5"), ("distanceFromObject", '"twelve"'),
                     ("sensorReadingTime", "[1655564376361]"), ("serialNumber", "null5"),
                     ("distanceFromObject", '"1e3"')],
}
STRING_FIELD = {"customer": "customerName", "accelerometer": "user", "step_trainer": "serialNumber"}
NUMBER_FIELD = {"customer": "shareWithPublicAsOfDate", "accelerometer": "x",
                "step_trainer": "distanceFromObject"}
INT_FIELD = {"customer": "registrationDate", "accelerometer": "timestamp",
             "step_trainer": "sensorReadingTime"}


def _replace(pairs, field, text):
    out, done = [], False
    for k, v in pairs:
        if k == field or (field == "timestamp" and k == "timeStamp"):
            out.append((k, text))
            done = True
        else:
            out.append((k, v))
    if not done:
        out.append((field, text))
    return out


def broken_lines(rng, source, rows):
    """-> list of (bytes, kind) that must all be quarantined."""
    out = []

    def base():
        row = rng.choice(rows)
        return PAIRS[source](rng, row, False)

    good = encode_record(rng, base(), extras=False)
    cut = rng.randint(1, len(good) - 2)
    out.append((good[:cut], "truncated"))
    out.append((b"[" + encode_record(rng, base()) + b"]", "array"))
    out.append((rng.choice([b"42", b'"just a string"', b"true", b"null", b"-3.5e2"]), "scalar"))
    out.append((b"{}", "empty object"))
    out.append((encode_record(rng, base()) + rng.choice([b" x", b" }", b","]), "trailing garbage"))
    out.append((encode_record(rng, base()) + b" " + encode_record(rng, base()), "two objects"))
    out.append((encode_record(rng, _replace(base(), NUMBER_FIELD[source],
                                            rng.choice(["NaN", "Infinity", "-Infinity"]))),
                "NaN/Infinity"))
    out.append((encode_record(rng, _replace(base(), STRING_FIELD[source], '"bad\\u0000nul"')),
                "NUL in string"))
    out.append((encode_record(rng, _replace(base(), STRING_FIELD[source], '"bad\\xescape"')),
                "bad escape"))
    bad_utf8 = encode_record(rng, _replace(base(), STRING_FIELD[source], '"BADUTF8"'))
    out.append((bad_utf8.replace(b"BADUTF8", b"bad\xff\xfeutf8"), "invalid UTF-8"))
    out.append((encode_record(rng, _replace(base(), INT_FIELD[source], "01655564376361")),
                "leading zero number"))
    for field in ref.REQUIRED[source]:
        if rng.random() < 0.6 or field == ref.REQUIRED[source][0]:
            pairs = [(k, v) for k, v in base()
                     if not (k == field or (field == "timestamp" and k == "timeStamp"))]
            how = rng.choice(["omit", "null", "empty", "case"])
            if how == "null":
                pairs.append((field, "null"))
            elif how == "empty":
                pairs.append((field, '""'))
            elif how == "case":
                pairs.append((field[0].upper() + field[1:], '"x"'))  # Email, User, ...
            out.append((encode_record(rng, pairs), "missing " + field + " (" + how + ")"))
    for field, text in rng.sample(WRONG_TYPES[source], min(5, len(WRONG_TYPES[source]))):
        out.append((encode_record(rng, _replace(base(), field, text)), "wrong type " + field + "=" + text))
    return out


# ---------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------
def uuid(rng):
    h = "%032x" % rng.getrandbits(128)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def grid(rng):
    return T0 + 1000 * rng.randint(0, 120)


def random_xyz(rng):
    def one():
        r = rng.random()
        if r < 0.7:
            return rng.choice([-1.0, 0.0, 1.0])
        if r < 0.95:
            return round(rng.uniform(-2, 2), rng.randint(1, 8))
        return rng.choice([1e-3, -2.5e-7, 123456.789, -0.0])
    return (one(), one(), one())


def make_rows(rng):
    serials = [uuid(rng) for _ in range(rng.randint(7, 11))]
    customers = []
    for i in range(rng.randint(22, 36)):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = "%s.%s%d@test.com" % (first.replace(" ", ""), last, i) if rng.random() < 0.9 \
            else "%s+%d@test.com" % (first, i)
        consent = grid(rng) if rng.random() < 0.7 else None
        phone = rng.choice(["8015551212", "80155%05d" % rng.randint(10000, 99999),
                            "+1 801-555-1212", None])
        birthday = rng.choice(["1900-01-01", "1399-01-01", "1991-02-28", None])
        reg = rng.choice([T0 - 1000 * rng.randint(0, 10 ** 6), -86400000, None])
        last_upd = rng.choice([reg, T0 + rng.randint(0, 10 ** 7), None])
        public = rng.choice([consent, None, grid(rng)])
        friends = rng.choice([consent, None])
        name = "%s %s" % (first, last) if rng.random() < 0.93 else None
        customers.append((name, email, phone, birthday, rng.choice(serials), reg, last_upd,
                          consent, public, friends))
    # The same email on another customer row with another consent date.
    for c in rng.sample(customers, 3):
        new_consent = rng.choice([grid(rng), grid(rng), None])
        if c[7] is not None and new_consent == c[7]:
            new_consent = c[7] + 7000
        serial = c[4] if rng.random() < 0.5 else rng.choice(serials)
        customers.append(c[:4] + (serial, c[5], T0 + rng.randint(0, 10 ** 7), new_consent) + c[8:])
    # Make sure at least one email has two consenting rows with different dates.
    consenting = [c for c in customers if c[7] is not None]
    c = rng.choice(consenting)
    customers.append(c[:4] + (rng.choice(serials), c[5], c[6], c[7] + 1000 * rng.randint(5, 30)) + c[8:])
    # Exact duplicates (after normalisation).
    for c in rng.sample(customers, 4):
        customers.append(c)

    by_email = collections.defaultdict(list)
    for c in customers:
        by_email[c[1]].append(c)
    emails = sorted(by_email)
    accel = []
    for email in emails:
        consents = [c[7] for c in by_email[email] if c[7] is not None]
        for _ in range(rng.randint(0, 9)):
            if consents and rng.random() < 0.85:
                base = rng.choice(consents)
                r = rng.random()
                ts = base if r < 0.1 else base + 1000 * rng.randint(-25, 40)
            else:
                ts = grid(rng)
            accel.append((email, ts) + random_xyz(rng))
    unknown_users = ["ghost%d@test.com" % i for i in range(3)] + [emails[0].upper(), emails[1] + " "]
    for user in unknown_users:
        for _ in range(rng.randint(1, 4)):
            accel.append((user, grid(rng)) + random_xyz(rng))
    for a in rng.sample(accel, 5):
        accel.append(a)                      # duplicated landing rows stay separate rows

    steps = []
    for a in accel:
        owners = by_email.get(a[0], [])
        for serial in sorted(set(c[4] for c in owners)):
            if rng.random() < 0.6:
                steps.append((a[1], serial, rng.randint(180, 300)))
        if rng.random() < 0.15:               # another device at the same instant
            steps.append((a[1], rng.choice(serials), rng.randint(180, 300)))
    for serial in serials:
        for _ in range(rng.randint(0, 4)):
            steps.append((grid(rng), serial, rng.randint(180, 300)))
    for i in range(3):
        unknown = uuid(rng)
        for _ in range(rng.randint(1, 3)):
            steps.append((rng.choice(accel)[1], unknown, rng.randint(180, 300)))
    for s in rng.sample(steps, 4):
        steps.append(s)
    return {"customer": customers, "accelerometer": accel, "step_trainer": steps}


def edge_case_lines(rng, source, rows):
    """Opt-in (--edge-cases) lines beyond the brief's list of messiness.
    -> (broken [(bytes, kind)], accepted [(bytes, row)])."""
    row = rng.choice(rows)
    good = PAIRS[source](rng, row, False)
    broken = [
        (encode_record(rng, good + [("junk", "tru")], extras=False), "invalid literal in an unknown key"),
        (encode_record(rng, good + [("junk", "[1,,2]")], extras=False), "invalid array in an unknown key"),
        (encode_record(rng, good + [("junk", '{"a" 1}')], extras=False), "invalid object in an unknown key"),
        (encode_record(rng, good + [("junk", "01")], extras=False), "leading zero in an unknown key"),
        (encode_record(rng, _replace(good, STRING_FIELD[source], '"lone \\ud800 surrogate"'), extras=False),
         "lone surrogate escape"),
    ]
    first_key, first_val = good[0]
    broken.append((encode_record(rng, good + [(first_key, first_val)], extras=False), "duplicate known key"))
    accepted = []
    if source == "accelerometer":
        ts_text = dict(good).get("timestamp") or dict(good).get("timeStamp")
        both = [(k, v) for k, v in good if k not in ("timestamp", "timeStamp")]
        both += [("timestamp", ts_text), ("timeStamp", ts_text)]
        broken.append((encode_record(rng, both, extras=False), "both timestamp and timeStamp"))
        big = (row[0], row[1], 1e30, row[3], row[4])
        pairs = _replace(PAIRS[source](rng, big, False), "x", "1" + "0" * 30)
        accepted.append((encode_record(rng, pairs, extras=False), big))  # JSON integer -> float64
    return broken, accepted


def write_landing(rng, landing, rows, edge_cases=False):
    """Writes the files; returns expected {source: (sorted rows, quarantined, lines)}."""
    expected = {}
    file_specs = []
    for source in ref.SOURCES:
        lines = [(encode_row(rng, source, r), None) for r in rows[source]]
        # A few exact textual duplicates of lines: separate rows too.
        dup_idx = rng.sample(range(len(lines)), 2)
        lines += [lines[i] for i in dup_idx]
        accepted = list(rows[source]) + [rows[source][i] for i in dup_idx]
        broken = broken_lines(rng, source, rows[source])
        if edge_cases:
            more_broken, more_accepted = edge_case_lines(rng, source, rows[source])
            broken += more_broken
            lines += [(b, None) for b, _ in more_accepted]
            accepted += [r for _, r in more_accepted]
        lines += broken
        order = list(range(len(lines)))
        rng.shuffle(order)
        n_files = rng.randint(2, 3)
        files = [[] for _ in range(n_files)]
        for i in order:
            files[rng.randrange(n_files)].append(lines[i])
        expected[source] = (sorted(accepted, key=ref.sort_key), len(broken), len(lines))
        folder = os.path.join(landing, source)
        os.makedirs(folder)
        for k, content in enumerate(files):
            name = "%s-%d.json" % (source, 1691348231000 + 37 * k)
            file_specs.append((os.path.join(folder, name), content))
        if rng.random() < 0.5:
            extra = os.path.join(folder, "%s-%d.json" % (source, 1691348239999))
            file_specs.append((extra, []))     # an empty file / blank lines only
    # File-level formats: make sure each variation occurs at least once.
    n = len(file_specs)
    idx = list(range(n))
    rng.shuffle(idx)
    crlf = set(i for i in range(n) if rng.random() < 0.3) | {idx[0]}
    no_final_nl = set(i for i in range(n) if rng.random() < 0.3) | {idx[1], idx[0]}
    bom = set(i for i in range(n) if rng.random() < 0.15) | {idx[2]}
    for i, (path, content) in enumerate(file_specs):
        nl = b"\r\n" if i in crlf else b"\n"
        parts = []
        for line, _ in content:
            parts.append(line)
            if rng.random() < 0.08:
                parts.append(rng.choice([b"", b"   ", b"\t", b" \t ", b"\r"]))  # blank lines
        if not content and rng.random() < 0.5:
            parts = [b"", b"  "]
        data = nl.join(parts)
        if parts and i not in no_final_nl:
            data += nl
        if i in bom:
            data = b"\xef\xbb\xbf" + data
        with open(path, "wb") as f:
            f.write(data)
    return expected


def generate(seed, landing, max_tries=50, edge_cases=False):
    """Writes a landing set for `seed`; returns the generator's expectation."""
    rng = __import__("random").Random(seed)
    for attempt in range(max_tries):
        if os.path.exists(landing):
            shutil.rmtree(landing)
        os.makedirs(landing)
        rows = make_rows(rng)
        zones = {r: ref.compute_zones(rows["customer"], rows["accelerometer"],
                                      rows["step_trainer"], r) for r in ref.RULES}
        ml = {r: collections.Counter(zones[r]["machine_learning_curated"]) for r in ref.RULES}
        good = (all(len(rows_) > 0 for z in zones.values() for rows_ in z.values())
                and ml["privacy"] != ml["serial"] and ml["rubric"] != ml["serial"]
                and zones["privacy"]["customer_curated"] != zones["serial"]["customer_curated"]
                and len(zones["privacy"]["step_trainer_trusted"])
                != len(zones["serial"]["step_trainer_trusted"]))
        if good:
            return write_landing(rng, landing, rows, edge_cases), attempt
    raise RuntimeError("seed %d: no data set with non-empty, distinct zones in %d tries"
                       % (seed, max_tries))


# ---------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------
def self_check(seed, landing, generated, parsed):
    """The generator's intent and the reference parser must agree."""
    problems = []
    for source in ref.SOURCES:
        exp_rows, exp_q, exp_lines = generated[source]
        rows, q, lines, rejects = parsed[source]
        if (q, lines) != (exp_q, exp_lines):
            problems.append("seed %d %s: reference parser quarantined %d of %d lines, generator "
                            "intended %d of %d" % (seed, source, q, lines, exp_q, exp_lines))
        if sorted(rows, key=ref.sort_key) != exp_rows:
            got, exp = collections.Counter(rows), collections.Counter(exp_rows)
            problems.append("seed %d %s: reference parse differs from generated rows: missing %r, "
                            "extra %r" % (seed, source, list((exp - got))[:3], list((got - exp))[:3]))
    return problems


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mpilake")
    ap.add_argument("--mpiexec", default="mpiexec")
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--rules", default="privacy,serial,rubric")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per run")
    ap.add_argument("--generate-only", metavar="DIR",
                    help="write the landing set(s) to DIR/seed-N and exit")
    ap.add_argument("--keep", action="store_true", help="keep temp dirs even on success")
    ap.add_argument("--edge-cases", action="store_true",
                    help="also write lines beyond the brief's list: invalid JSON inside unknown "
                         "keys, lone surrogates, duplicate known keys, timestamp+timeStamp, "
                         "a float64 field given as a 31-digit JSON integer")
    args = ap.parse_args(argv)

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    ranks_list = [int(s) for s in args.ranks.split(",") if s.strip()]
    rules_list = [s for s in args.rules.split(",") if s.strip()]

    if args.generate_only:
        for seed in seeds:
            landing = os.path.join(args.generate_only, "seed-%d" % seed)
            generated, attempt = generate(seed, landing, edge_cases=args.edge_cases)
            parsed = ref.parse_landing(landing, keep_rejects=True)
            problems = self_check(seed, landing, generated, parsed)
            print("seed %d -> %s (attempt %d): %s" % (seed, landing, attempt, " ".join(
                "%s %d/%d/%d" % (s, len(parsed[s][0]), parsed[s][1], parsed[s][2]) for s in ref.SOURCES)))
            for r in rules_list:
                z = ref.compute_zones(parsed["customer"][0], parsed["accelerometer"][0],
                                      parsed["step_trainer"][0], r)
                print("    %-8s %s" % (r, " / ".join(str(len(z[k])) for k in
                      ("customer_trusted", "accelerometer_trusted", "customer_curated",
                       "step_trainer_trusted", "machine_learning_curated"))))
            for p in problems:
                print("SELF-CHECK FAIL: " + p)
            if problems:
                return 1
        return 0

    if not args.mpilake:
        ap.error("--mpilake is required (or use --generate-only)")
    import e2e_harness as h
    if not os.path.isfile(args.mpilake) or not os.access(args.mpilake, os.X_OK):
        print("FAIL: mpilake binary %r not found or not executable" % args.mpilake)
        return 1

    t0 = time.time()
    failures = h.Failures()
    runs = 0
    for seed in seeds:
        tmp = tempfile.mkdtemp(prefix="mpilake-e2e-random-%d-" % seed)
        landing = os.path.join(tmp, "landing")
        seed_failures_before = len(failures)
        generated, _ = generate(seed, landing, edge_cases=args.edge_cases)
        parsed = ref.parse_landing(landing, keep_rejects=True)
        for p in self_check(seed, landing, generated, parsed):
            failures.add("test bug: " + p)
        expected_sources = {s: (len(parsed[s][0]), parsed[s][1], parsed[s][2]) for s in ref.SOURCES}
        for rules in rules_list:
            zones = ref.compute_zones(parsed["customer"][0], parsed["accelerometer"][0],
                                      parsed["step_trainer"][0], rules)
            expected = {z: ref.contract_multiset(z, rows) for z, rows in zones.items()}
            counts = {z: len(rows) for z, rows in zones.items()}
            first = None
            for ranks in ranks_list:
                label = "seed=%d rules=%s ranks=%d" % (seed, rules, ranks)
                out = os.path.join(tmp, "out-%s-%d" % (rules, ranks))
                ok, info = h.run_mpilake(args.mpiexec, args.mpilake, ranks, landing, out, rules,
                                         args.timeout)
                runs += 1
                if not ok:
                    failures.add("%s: run failed: %s" % (label, info))
                    continue
                before = len(failures)
                actual = h.check_output(failures, out, rules, label, expected)
                for zone in ref.ZONES:
                    h.check_zone_contract(failures, os.path.join(out, zone + ".h5"), zone, rules, label)
                try:
                    summary = h.read_summary(out)
                    h.check_summary_sources(failures, summary, label, expected_sources,
                                            explain=lambda: h.explain_quarantine_diff(landing, out) if ranks == ranks_list[0] else "    (see the first rank count)")
                    h.check_summary_zones(failures, summary, label, counts)
                except (OSError, ValueError) as exc:
                    failures.add("%s: summary.json unreadable: %s" % (label, exc))
                if first is None:
                    first = (ranks, actual)
                else:
                    for zone in ref.ZONES:
                        if actual[zone] is not None and first[1][zone] is not None \
                                and actual[zone] != first[1][zone]:
                            failures.add("seed=%d rules=%s: %s differs between ranks=%d and ranks=%d"
                                         % (seed, rules, zone, first[0], ranks))
                print("%s: %s" % (label, "ok" if len(failures) == before else "FAILED"), flush=True)
        if len(failures) > seed_failures_before or args.keep:
            print("    seed %d data and outputs kept in %s" % (seed, tmp))
            if len(failures) > seed_failures_before:
                print("    (reference view: /usr/bin/python3 %s %s --show-rejects)"
                      % (os.path.join(os.path.dirname(os.path.abspath(__file__)), "stedi_reference.py"),
                         landing))
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    elapsed = time.time() - t0
    if failures:
        print("test_randomised: FAILED, %d problem(s) in %d runs (%.1f s)%s"
              % (len(failures), runs, elapsed, failures.summary_line()))
        return 1
    print("test_randomised: PASSED, seeds %s x rules %s x ranks %s = %d runs match the reference "
          "(%.1f s)" % (args.seeds, ",".join(rules_list), ",".join(map(str, ranks_list)), runs, elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
