#!/usr/bin/python3
"""Single-process reference implementation of the Deloton pipeline (../shared/DELOTON.md).

The oracle of the Deloton end-to-end tests: it follows DELOTON.md and
docs/deloton-decisions.md line by line, with plain lists, dicts and sets, and
shares no code with the C++ program.  Standard library only.

    result = compute(landing_root)     # landing_root holds deloton/

Result fields (see class Result):
  zones         {zone: [row tuple in DELOTON.md's column order]}, in each zone's order
  ride_offset   [0, ..., readings]  (length rides + 1)
  quarantine    [(stream, file path, byte offset of the line in its file, reason)], stream order
  streams       {stream: {lines, blank, markers, accepted, duplicates, quarantined,
                          quarantined_by_reason: {reason: count (non-zero only)}}}
  data_quality  {orphan_lines, unpaired_lines, duplicate_deliveries, rides_without_readings,
                 rides_with_unknown_rider, riders_with_changed_details, bikes_in_several_streams,
                 user_strings_with_nul, rides_with_nul_in_bike}
                (all counts)

Values are stored the way the HDF5 zones store them: int64 NULL = INT64_MIN, float NULL =
NaN, string NULL = "".  Times are int64 microseconds since the epoch (UTC), dates
"YYYY-MM-DD" strings.  Float sums are plain left-to-right sums from 0.0 in the orders
DELOTON.md fixes, so a C++ implementation following the same rules is bit-identical.

Usage as a script:  deloton_reference.py LANDING_ROOT [--json OUT.json] [--show-quarantine]
prints per-stream accounting and zone row counts.

Points neither DELOTON.md nor docs/deloton-decisions.md spells out, decided here (the C++
pipeline must decide the same):
- Streams: hidden sub-folders (name starting with '.') are no stream; every other sub-folder
  is one, even without files; stream "" exists only when deloton/ holds files directly.
  Symbolic links to files / folders are followed.
- Lines: split on '\n' per file (no line spans two files); a UTF-8 BOM is removed from the
  first line, whose byte offset stays 0; a file holding only a BOM is one blank line.
- The log text loses a '\r' only when it stood right before the removed final '\n'.
- JSON (record and user JSON alike): RFC 8259 strictly: raw control characters in strings,
  NaN / Infinity, unpaired surrogate escapes (in keys too) are invalid; so is a number whose
  float64 value is infinite (1e999, a 309-digit integer: simdjson refuses them) and a value
  nested more than 1024 levels below the top-level one (the C++ record parser's limit).
  JSON whitespace around the user JSON is allowed.
- Number holes of the INFO shapes hold any text (also empty): what fails the grammar there
  is bad_number, not unknown_shape.  A number that underflows to 0.0 or a subnormal is
  finite: accepted.  -0.0 is kept as -0.0 (bit-exact) and is not negative.
- duration_s: the first of equal largest durations (matters only for -0.0 vs 0.0).
- Integer averages: float(exact sum) / float(count), i.e. the exact sum rounded to float64
  once, then one float64 division (what C++ gives with a wide integer sum).
- Epoch-ms dates whose UTC day falls outside years 0001..9999 are NULL (no birth date).
- Names and addresses split / trim on ASCII whitespace only (space, \t, \n, \v, \f, \r);
  last_name = the remaining words joined by one space.
- daily.energy_kj = (the day's power sum) / 1000, the day's power sum being the sum of its
  rides' power sums in ride_id order (not the sum of the rides' energy_kj).
- data_quality values are counts.  bikes_in_several_streams: bikes with a ride start or INFO
  line (not quarantined while parsed: orphans, duplicates, unpaired lines and bad-user-JSON
  starts count; markers do not) in two or more streams.  riders_with_changed_details: user_ids
  whose rides' converted user JSON attributes (all 11 fields after the NULL rules) are not
  all the same.
- quarantined_by_reason lists the reasons with a non-zero count.
- Gender (DELOTON.md: "Gender is `male` or `female` as written (lower case); anything else, or
  missing, is `other`"): taken literally, so only the exact texts "male" and "female" count;
  "Male", " male", "", null, a missing key, any other text are "other".  This class is what
  every zone holds (riders.gender included), never the text as written.
- NUL characters (a "\u0000" escape) cannot be held by the zones' fixed-length NUL-padded
  strings; nothing may be cut silently, so each NUL of a user-JSON string field becomes U+FFFD
  when the user JSON is read (before names, addresses, gender and details-changed are looked
  at), and each NUL of a bike name becomes U+FFFD in the zones' bike columns (ride order
  compares that written text; rides are still rebuilt per bike as written).  Counted in
  data_quality: user_strings_with_nul = string fields holding a NUL in the user JSONs of the
  rides (one user JSON per ride), rides_with_nul_in_bike = rides whose bike held a NUL.
"""

import datetime
import json
import math
import os
import re
import sys

INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1
NULL_INT = INT64_MIN
NAN = float("nan")

ZONES = ("riders", "rides", "readings", "heart_rate_alerts", "daily")

# (column, kind) in DELOTON.md's order; kind: "int" (int64), "float" (float64), "str".
ZONE_COLUMNS = {
    "riders": (
        ("user_id", "int"), ("title", "str"), ("first_name", "str"), ("last_name", "str"),
        ("gender", "str"), ("date_of_birth", "str"), ("height_cm", "int"), ("weight_kg", "int"),
        ("email", "str"), ("address_street", "str"), ("address_town", "str"),
        ("address_postcode", "str"), ("account_created", "str"), ("bike_serial", "str"),
        ("original_source", "str"), ("rides", "int"), ("first_ride_start", "int"),
        ("last_ride_start", "int"),
    ),
    "rides": (
        ("ride_id", "int"), ("stream", "str"), ("bike", "str"), ("user_id", "int"),
        ("start_time", "int"), ("end_time", "int"), ("duration_s", "float"), ("readings", "int"),
        ("heart_rate_min", "int"), ("heart_rate_max", "int"), ("heart_rate_avg", "float"),
        ("rpm_avg", "float"), ("resistance_avg", "float"), ("power_avg_w", "float"),
        ("energy_kj", "float"), ("alert", "int"),
    ),
    "readings": (
        ("ride_id", "int"), ("time", "int"), ("elapsed_s", "float"), ("resistance", "int"),
        ("heart_rate", "int"), ("rpm", "int"), ("power_w", "float"),
    ),
    "heart_rate_alerts": (
        ("ride_id", "int"), ("user_id", "int"), ("bike", "str"), ("alert_time", "int"),
        ("kind", "str"), ("heart_rate", "int"), ("hr_lower", "int"), ("hr_upper", "int"),
        ("age", "int"), ("gender", "str"), ("email", "str"), ("first_name", "str"),
    ),
    "daily": (
        ("date", "str"), ("rides", "int"), ("riders", "int"), ("duration_s", "float"),
        ("energy_kj", "float"), ("power_avg_w", "float"), ("heart_rate_avg", "float"),
        ("alerts", "int"), ("riders_male", "int"), ("riders_female", "int"),
        ("riders_other", "int"), ("duration_s_male", "float"), ("duration_s_female", "float"),
        ("duration_s_other", "float"), ("riders_age_under_18", "int"), ("riders_age_18_24", "int"),
        ("riders_age_25_34", "int"), ("riders_age_35_44", "int"), ("riders_age_45_54", "int"),
        ("riders_age_55_64", "int"), ("riders_age_65_plus", "int"),
    ),
}

# Quarantine reasons (docs/deloton-decisions.md, exact strings).
BAD_RECORD = "bad_record"
UNKNOWN_SHAPE = "unknown_shape"
BAD_TIMESTAMP = "bad_timestamp"
BAD_NUMBER = "bad_number"
NEGATIVE_VALUE = "negative_value"
BAD_USER_JSON = "bad_user_json"
RIDE_LINE_WITHOUT_TELEMETRY = "ride_line_without_telemetry"
TELEMETRY_WITHOUT_RIDE_LINE = "telemetry_without_ride_line"
ORPHAN_LINE = "orphan_line"
REASONS = (BAD_RECORD, UNKNOWN_SHAPE, BAD_TIMESTAMP, BAD_NUMBER, NEGATIVE_VALUE, BAD_USER_JSON,
           RIDE_LINE_WITHOUT_TELEMETRY, TELEMETRY_WITHOUT_RIDE_LINE, ORPHAN_LINE)

STREAM_COUNTERS = ("lines", "blank", "markers", "accepted", "duplicates", "quarantined")
DATA_QUALITY_KEYS = ("orphan_lines", "unpaired_lines", "duplicate_deliveries",
                     "rides_without_readings", "rides_with_unknown_rider",
                     "riders_with_changed_details", "bikes_in_several_streams",
                     "user_strings_with_nul", "rides_with_nul_in_bike")

# What a NUL character is written as (the zones' fixed-length strings would cut the value there).
NUL_REPLACEMENT = "\ufffd"

TITLES = ("Mr", "Mrs", "Miss", "Ms", "Dr", "Mx", "Prof")

# Whitespace for names and addresses: the C locale's isspace() set, never Unicode
# whitespace (Python's str.split() / str.strip() would also split on U+00A0 etc.).
ASCII_SPACE = " \t\n\v\f\r"

US_PER_SECOND = 1000000
US_PER_DAY = 86400 * US_PER_SECOND
MS_PER_DAY = 86400 * 1000
EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()  # 719163

# Deepest nesting of a JSON value below the top-level one (the C++ record parser's kMaxDepth).
JSON_MAX_DEPTH = 1024


# ---------------------------------------------------------------------------
# Strict JSON (Python's json module is laxer than RFC 8259 / simdjson)
# ---------------------------------------------------------------------------
class BadJson(Exception):
    """The text is not one valid JSON value."""


class JsonInteger:
    """A JSON integer token (no fraction, no exponent).  value: the Python int when it lies
    in int64 other than INT64_MIN (the NULL value), else None."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return "JsonInteger(%r)" % (self.value,)


def _json_integer(token):
    # Any integer token is valid JSON (the C++ side checks numbers against JSON's grammar
    # only); one outside int64 is NULL where an integer is read.
    body = token.lstrip("-")
    # int() refuses more than 4300 digits: only small tokens are converted.
    if len(body) > 19:
        return JsonInteger(None)
    value = int(token)
    return JsonInteger(value if INT64_MIN < value <= INT64_MAX else None)


def _json_float(token):
    # Valid JSON whatever its size (1e999 too: decided with the C++ side, which checks the
    # grammar only); no zone reads a JSON float.
    return float(token)


def _reject_constant(name):
    raise ValueError("not JSON: " + name)  # NaN, Infinity, -Infinity


def _first_key_wins(pairs):
    obj = {}
    for key, value in pairs:
        if key not in obj:
            obj[key] = value
    return obj


def _check_strings_and_depth(value):
    """Lone surrogate escapes ("\\ud800") decode to str that cannot be encoded as UTF-8: not
    JSON here.  Values deeper than JSON_MAX_DEPTH: invalid (as the C++ parser)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > JSON_MAX_DEPTH:
            raise BadJson("nested deeper than %d" % JSON_MAX_DEPTH)
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BadJson("unpaired surrogate escape")
        elif isinstance(item, dict):
            for key, child in item.items():
                try:
                    key.encode("utf-8")
                except UnicodeEncodeError:
                    raise BadJson("unpaired surrogate escape in a key")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def strict_json_loads(text):
    """text (str) -> Python value; objects are dicts holding the FIRST occurrence of each key,
    JSON integers are JsonInteger, other numbers float.  Raises BadJson."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_int=_json_integer,
                           parse_float=_json_float, object_pairs_hook=_first_key_wins)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise BadJson(str(exc)[:200])
    _check_strings_and_depth(value)
    return value


# Parsing deeply nested (but still valid, <= 1024 levels) JSON needs C recursion.
if sys.getrecursionlimit() < 4000:
    sys.setrecursionlimit(4000)


# ---------------------------------------------------------------------------
# Log-line pieces: timestamps and numbers
# ---------------------------------------------------------------------------
_TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?")
_INTEGER_RE = re.compile(r"-?[0-9]+")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def parse_timestamp(text):
    """'YYYY-MM-DD HH:MM:SS[.f{1,6}]' (UTC) -> int64 microseconds since the epoch, or None."""
    m = _TIMESTAMP_RE.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction = m.group(7) or ""
    if not (1 <= year <= 9999 and hour <= 23 and minute <= 59 and second <= 59):
        return None
    try:
        date = datetime.date(year, month, day)  # proleptic Gregorian; checks month and day
    except ValueError:
        return None
    micros = int(fraction.ljust(6, "0")) if fraction else 0  # ".5" is 500000 us
    days = date.toordinal() - EPOCH_ORDINAL
    return ((days * 86400 + hour * 3600 + minute * 60 + second) * US_PER_SECOND) + micros


def parse_integer(text):
    """Log-line integer: literally -?[0-9]+ fitting int64 -> int, else None."""
    if _INTEGER_RE.fullmatch(text) is None:
        return None
    body = text.lstrip("-").lstrip("0")  # leading zeros are allowed ("007")
    if len(body) > 19:
        return None
    value = int(text)  # "-0" is 0
    return value if INT64_MIN <= value <= INT64_MAX else None


def parse_number(text):
    """Log-line number: JSON's number grammar, finite as float64 -> float, else None."""
    if _NUMBER_RE.fullmatch(text) is None:
        return None
    value = float(text)  # correctly rounded; an underflow to 0.0 / a subnormal is accepted
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------
# Dates, ages, heart-rate limits
# ---------------------------------------------------------------------------
def date_from_days(days):
    """Days since 1970-01-01 -> datetime.date, or None outside years 0001..9999."""
    ordinal = days + EPOCH_ORDINAL
    if not (1 <= ordinal <= datetime.date.max.toordinal()):
        return None
    return datetime.date.fromordinal(ordinal)


def date_from_epoch_ms(ms):
    """Epoch milliseconds (may be negative) -> UTC date by floor division, or None."""
    if ms is None:
        return None
    return date_from_days(ms // MS_PER_DAY)


def date_from_us(us):
    return date_from_days(us // US_PER_DAY)


def date_string(date):
    return "" if date is None else "%04d-%02d-%02d" % (date.year, date.month, date.day)


def age_on(birth, day):
    """Full years from date `birth` to date `day`.  The birthday counts from that day on; a
    29 February birthday counts from 1 March in other years (the plain (month, day)
    comparison gives exactly that).  Negative when `day` is before `birth`."""
    return day.year - birth.year - (1 if (day.month, day.day) < (birth.month, birth.day) else 0)


def normalise_gender(gender):
    """DELOTON.md: `male` or `female` as written (lower case); anything else, or missing
    (None), is `other`.  Exact text: no case folding, no trimming."""
    return gender if gender in ("male", "female") else "other"


def heart_rate_limits(age, gender):
    """-> (lower, upper), integer arithmetic with floor division. gender: normalised."""
    if gender == "male":
        upper = 220 - age if age < 40 else (2085 - 7 * age) // 10
        lower = 40 if age < 40 else (47 if age < 65 else 52)
    else:
        upper = (20650 - 88 * age) // 100
        lower = 45 if age < 40 else (52 if age < 65 else 57)
    return lower, upper


def age_band(age):
    """Index into the daily zone's 7 age-band columns."""
    for index, below in enumerate((18, 25, 35, 45, 55, 65)):
        if age < below:
            return index
    return 6


# ---------------------------------------------------------------------------
# Names and addresses
# ---------------------------------------------------------------------------
def _split_words(text):
    return [w for w in re.split("[" + re.escape(ASCII_SPACE) + "]+", text) if w]


def split_name(name):
    """-> (title, first_name, last_name); "" for each part that is absent.  A leading title word
    (exact case, optional final '.') is removed only when another word follows; the words
    after the first name are joined by single spaces."""
    words = _split_words(name or "")
    title = ""
    if len(words) >= 2:
        word = words[0][:-1] if words[0].endswith(".") else words[0]
        if word in TITLES:
            title = word
            words = words[1:]
    first = words[0] if words else ""
    last = " ".join(words[1:])
    return title, first, last


def split_address(address):
    """-> (street, town, postcode): split on ',', parts trimmed, right-aligned (postcode = last
    part, town = the one before, street = the rest joined by ', ')."""
    if not address:
        return "", "", ""
    parts = [p.strip(ASCII_SPACE) for p in address.split(",")]
    postcode = parts[-1]
    town = parts[-2] if len(parts) >= 2 else ""
    street = ", ".join(parts[:-2])
    return street, town, postcode


# ---------------------------------------------------------------------------
# User JSON
# ---------------------------------------------------------------------------
USER_FIELDS = ("user_id", "name", "gender", "address", "date_of_birth", "email_address",
               "height_cm", "weight_kg", "account_create_date", "bike_serial", "original_source")
_STRING_FIELDS = ("name", "gender", "address", "email_address", "bike_serial", "original_source")
_INTEGER_FIELDS = ("date_of_birth", "account_create_date", "height_cm", "weight_kg")


class User:
    """Converted user JSON: None = NULL for every field (user_id is never None).
    strings_with_nul: how many string fields held a NUL (now U+FFFD)."""
    __slots__ = USER_FIELDS + ("strings_with_nul",)

    def __init__(self, strings_with_nul=0, **fields):
        for name in USER_FIELDS:
            setattr(self, name, fields.get(name))
        self.strings_with_nul = strings_with_nul

    def key(self):
        """All converted attributes: what 'details changed between rides' compares."""
        return tuple(getattr(self, name) for name in USER_FIELDS)

    def __repr__(self):
        return "User(%s)" % ", ".join("%s=%r" % (n, getattr(self, n)) for n in USER_FIELDS)


def _json_int_value(value):
    return value.value if isinstance(value, JsonInteger) else None


def parse_user_json(text):
    """The text after '[SYSTEM] data = ' -> User, or None for bad_user_json."""
    try:
        obj = strict_json_loads(text)
    except BadJson:
        return None
    if not isinstance(obj, dict):
        return None
    user_id = _json_int_value(obj.get("user_id"))
    if user_id is None:
        return None
    fields = {"user_id": user_id}
    with_nul = 0
    for name in _STRING_FIELDS:
        value = obj.get(name)
        if isinstance(value, str) and "\x00" in value:
            value = value.replace("\x00", NUL_REPLACEMENT)  # kept visibly, counted
            with_nul += 1
        fields[name] = value if isinstance(value, str) and value != "" else None
    for name in _INTEGER_FIELDS:
        fields[name] = _json_int_value(obj.get(name))  # 170.0, "170", true -> NULL
    return User(strings_with_nul=with_nul, **fields)


# ---------------------------------------------------------------------------
# One NDJSON line -> a classified log line
# ---------------------------------------------------------------------------
MARKER_TEXTS = ("--------- beginning of main", "--------- beginning of a new ride")
GETTING_USER_DATA = "Getting user data from server.."
SYSTEM_PREFIX = "[SYSTEM] data = "
_RIDE_RE = re.compile(r"\[INFO\]: Ride - duration = (.*?); resistance = (.*)", re.DOTALL)
_TELEMETRY_RE = re.compile(r"\[INFO\]: Telemetry - hrt = (.*?); rpm = (.*?); power = (.*)",
                           re.DOTALL)


class Line:
    """A classified non-blank line.  kind: 'marker', 'quarantine' (reason set), 'start'
    (user: User or None = bad user JSON), 'ride' (duration, resistance) or 'telemetry'
    (hrt, rpm, power)."""
    __slots__ = ("kind", "reason", "ts", "bike", "user", "duration", "resistance",
                 "hrt", "rpm", "power", "path", "offset", "position")

    def __init__(self, kind, **values):
        self.kind = kind
        for name in self.__slots__[1:]:
            setattr(self, name, values.get(name))


def parse_record(line_bytes):
    """NDJSON line -> the log text (str), or None for bad_record."""
    try:
        text = line_bytes.decode("utf-8")  # strict: invalid UTF-8 -> bad_record
    except UnicodeDecodeError:
        return None
    try:
        obj = strict_json_loads(text)
    except BadJson:
        return None
    if not isinstance(obj, dict):
        return None
    log = obj.get("log")  # the first "log" key counts
    return log if isinstance(log, str) else None


def classify_log(log):
    """Log text -> Line (without path / offset / position).  Checks in the decided order:
    markers, shape, timestamp, number grammar, signs, user JSON."""
    if log.endswith("\n"):
        log = log[:-1]
        if log.endswith("\r"):  # only a '\r' right before the removed '\n'
            log = log[:-1]
    if log in MARKER_TEXTS:
        return Line("marker")

    # Shape: <ts> is the text before the second space, <bike> runs to the first ": ".
    space1 = log.find(" ")
    space2 = log.find(" ", space1 + 1) if space1 >= 0 else -1
    if space2 < 0:
        return Line("quarantine", reason=UNKNOWN_SHAPE)
    ts_text = log[:space2]
    colon = log.find(": ", space2 + 1)
    if colon < 0 or colon == space2 + 1:  # no ": " or an empty bike
        return Line("quarantine", reason=UNKNOWN_SHAPE)
    bike = log[space2 + 1:colon]
    rest = log[colon + 2:]

    holes = None  # [(text, "int" | "number")] for INFO lines
    if rest == GETTING_USER_DATA:
        kind = "getting"
    elif rest.startswith(SYSTEM_PREFIX):
        kind = "start"
    else:
        m = _RIDE_RE.fullmatch(rest)
        if m is not None:
            kind, holes = "ride", [(m.group(1), "number"), (m.group(2), "int")]
        else:
            m = _TELEMETRY_RE.fullmatch(rest)
            if m is None:
                return Line("quarantine", reason=UNKNOWN_SHAPE)
            kind = "telemetry"
            holes = [(m.group(1), "int"), (m.group(2), "int"), (m.group(3), "number")]

    ts = parse_timestamp(ts_text)
    if ts is None:
        return Line("quarantine", reason=BAD_TIMESTAMP)
    if kind == "getting":
        return Line("marker")
    if kind == "start":
        return Line("start", ts=ts, bike=bike, user=parse_user_json(rest[len(SYSTEM_PREFIX):]))

    values = []
    for text, hole_kind in holes:  # every number's grammar first ...
        value = parse_integer(text) if hole_kind == "int" else parse_number(text)
        if value is None:
            return Line("quarantine", reason=BAD_NUMBER)
        values.append(value)
    if any(v < 0 for v in values):  # ... then their signs (-0 and -0.0 are not below 0)
        return Line("quarantine", reason=NEGATIVE_VALUE)
    if kind == "ride":
        return Line("ride", ts=ts, bike=bike, duration=values[0], resistance=values[1])
    return Line("telemetry", ts=ts, bike=bike, hrt=values[0], rpm=values[1], power=values[2])


# ---------------------------------------------------------------------------
# Landing files
# ---------------------------------------------------------------------------
def _regular_files(folder):
    """Regular (os.path.isfile follows symlinks), non-hidden files directly in folder, in byte
    order of their names."""
    names = [n for n in os.listdir(folder)
             if not n.startswith(".") and os.path.isfile(os.path.join(folder, n))]
    return [os.path.join(folder, n) for n in sorted(names, key=os.fsencode)]


def list_streams(landing_root):
    """-> [(stream name, [file paths])] in byte order of the names ("" first).  Every
    non-hidden sub-folder of deloton/ is a stream (even without files); the files directly
    in deloton/ are stream "" when there is at least one."""
    top = os.path.join(landing_root, "deloton")
    if not os.path.isdir(top):
        raise FileNotFoundError("no deloton/ folder in %s" % landing_root)
    streams = []
    root_files = _regular_files(top)
    if root_files:
        streams.append(("", root_files))
    for name in sorted(os.listdir(top), key=os.fsencode):
        if not name.startswith(".") and os.path.isdir(os.path.join(top, name)):
            streams.append((name, _regular_files(os.path.join(top, name))))
    return streams


def file_lines(data):
    """File bytes -> [(byte offset of the line start, line bytes without '\\n')].  The bytes are
    split on '\\n' first (a final piece without '\\n' is a line, the empty piece after a
    final '\\n' is none), then a UTF-8 BOM is removed from the first line, which still
    starts at offset 0 (as the C++ line reader does: a file holding only a BOM is one blank
    line).  No line spans two files."""
    pieces = data.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()
    lines = []
    offset = 0
    for index, piece in enumerate(pieces):
        body = piece[3:] if index == 0 and piece.startswith(b"\xef\xbb\xbf") else piece
        lines.append((offset, body))
        offset += len(piece) + 1
    return lines


def is_blank(line):
    return line.strip(b" \t\r") == b""


# ---------------------------------------------------------------------------
# Rides
# ---------------------------------------------------------------------------
class Ride:
    __slots__ = ("stream", "bike", "written_bike", "start_time", "user", "position",
                 "readings", "seen", "pending", "ride_id")

    def __init__(self, stream, bike, start_time, user, position):
        self.stream = stream
        self.bike = bike  # as in the log line: the ride's identity
        self.written_bike = bike.replace("\x00", NUL_REPLACEMENT)  # as the zones write it
        self.start_time = start_time
        self.user = user          # User, or None: unknown rider (bad user JSON)
        self.position = position  # stream position of the ride start: last tie-breaker
        self.readings = []        # [(ride Line, telemetry Line)] in stream order of the ride line
        self.seen = set()         # (kind, ts) of every INFO line that reached the ride
        self.pending = None       # a ride line waiting for its telemetry line
        self.ride_id = None


class Result:
    def __init__(self):
        self.zones = {zone: [] for zone in ZONES}
        self.ride_offset = [0]
        self.quarantine = []
        self.streams = {}
        self.data_quality = {key: 0 for key in DATA_QUALITY_KEYS}
        self.rides = []  # Ride objects in ride_id order (for diagnostics)

    def counts(self):
        return {zone: len(rows) for zone, rows in self.zones.items()}


def _new_stream_stats():
    stats = {key: 0 for key in STREAM_COUNTERS}
    stats["quarantined_by_reason"] = {}
    return stats


def _process_stream(stream, paths, result, bike_streams):
    """Reads one stream's files in order and reconstructs its rides. Returns [Ride]."""
    stats = _new_stream_stats()
    result.streams[stream] = stats
    quarantined = []  # ((file index, offset), path, offset, reason)

    def quarantine(line, reason):
        stats["quarantined"] += 1
        stats["quarantined_by_reason"][reason] = stats["quarantined_by_reason"].get(reason, 0) + 1
        quarantined.append((line.position, line.path, line.offset, reason))

    current = {}   # bike -> its current Ride (from its latest non-duplicate ride start)
    rides = []
    for file_index, path in enumerate(paths):
        with open(path, "rb") as f:
            data = f.read()
        for offset, raw in file_lines(data):
            stats["lines"] += 1
            if is_blank(raw):
                stats["blank"] += 1
                continue
            log = parse_record(raw)
            line = Line("quarantine", reason=BAD_RECORD) if log is None else classify_log(log)
            line.path, line.offset, line.position = path, offset, (file_index, offset)
            if line.kind == "marker":
                stats["markers"] += 1
                continue
            if line.kind == "quarantine":  # plays no part in ride logic
                quarantine(line, line.reason)
                continue
            bike_streams.setdefault(line.bike, set()).add(stream)
            ride = current.get(line.bike)

            if line.kind == "start":
                if ride is not None and line.ts == ride.start_time:
                    stats["duplicates"] += 1  # a re-sent ride start changes nothing
                    continue
                if ride is not None and ride.pending is not None:
                    quarantine(ride.pending, RIDE_LINE_WITHOUT_TELEMETRY)
                    ride.pending = None
                ride = Ride(stream, line.bike, line.ts, line.user, line.position)
                current[line.bike] = ride
                rides.append(ride)
                if line.user is None:
                    quarantine(line, BAD_USER_JSON)  # the ride exists, with an unknown rider
                else:
                    stats["accepted"] += 1
                continue

            # An INFO line (ride line or telemetry).
            if ride is None:
                quarantine(line, ORPHAN_LINE)  # the dump began mid-ride; never a duplicate
                continue
            seen_key = (line.kind, line.ts)
            if seen_key in ride.seen:
                stats["duplicates"] += 1
                continue
            ride.seen.add(seen_key)
            if line.kind == "ride":
                if ride.pending is not None:
                    quarantine(ride.pending, RIDE_LINE_WITHOUT_TELEMETRY)
                ride.pending = line
            elif ride.pending is None:
                quarantine(line, TELEMETRY_WITHOUT_RIDE_LINE)
            else:
                ride.readings.append((ride.pending, line))
                ride.pending = None
                stats["accepted"] += 2

    for ride in rides:  # the end of the stream
        if ride.pending is not None:
            quarantine(ride.pending, RIDE_LINE_WITHOUT_TELEMETRY)
            ride.pending = None
    for _, path, offset, reason in sorted(quarantined, key=lambda q: q[0]):
        result.quarantine.append((stream, path, offset, reason))
    return rides


def _ride_row(ride):
    readings = ride.readings
    n = len(readings)
    heart_rates = [t.hrt for _, t in readings if t.hrt != 0]  # hrt = 0: no pulse (NULL)
    if n:
        end_time = max(r.ts for r, _ in readings)
        duration = readings[0][0].duration
        for r, _ in readings[1:]:
            if r.duration > duration:  # the first of equal maxima (only -0.0 vs 0.0 differ)
                duration = r.duration
    else:
        end_time, duration = NULL_INT, 0.0
    power_sum = 0.0
    for _, t in readings:
        power_sum += t.power
    rpm_sum = sum(t.rpm for _, t in readings)
    resistance_sum = sum(r.resistance for r, _ in readings)
    return {
        "end_time": end_time, "duration_s": duration, "readings": n,
        "heart_rate_min": min(heart_rates) if heart_rates else NULL_INT,
        "heart_rate_max": max(heart_rates) if heart_rates else NULL_INT,
        "heart_rate_sum": sum(heart_rates), "heart_rate_count": len(heart_rates),
        "heart_rate_avg": exact_average(sum(heart_rates), len(heart_rates)),
        "rpm_avg": exact_average(rpm_sum, n),
        "resistance_avg": exact_average(resistance_sum, n),
        "power_sum": power_sum,
        "power_avg_w": power_sum / n if n else NAN,
        "energy_kj": power_sum / 1000.0,
    }


def exact_average(integer_sum, count):
    """Exact integer sum, converted to float64 once (round to nearest), divided by the count:
    what C++ gives with an exact (e.g. __int128) sum and double(sum) / double(count)."""
    return float(integer_sum) / float(count) if count else NAN


def _evaluate_alert(ride, start_date):
    """-> alert row values (without ride_id) or None.  Uses the ride's own user JSON."""
    user = ride.user
    if user is None:
        return None
    birth = date_from_epoch_ms(user.date_of_birth)
    if birth is None:
        return None
    age = age_on(birth, start_date)
    gender = normalise_gender(user.gender)
    lower, upper = heart_rate_limits(age, gender)
    run = 0
    for r, t in ride.readings:
        if t.hrt != 0 and (t.hrt < lower or t.hrt > upper):
            run += 1
            if run == 3:
                _, first, _ = split_name(user.name)
                return (user.user_id, ride.written_bike, r.ts, "high" if t.hrt > upper else "low", t.hrt,
                        lower, upper, age, gender, user.email_address or "", first)
        else:  # a normal reading or a NULL heart rate breaks the run
            run = 0
    return None


def compute(landing_root):
    result = Result()
    bike_streams = {}
    all_rides = []
    for stream, paths in list_streams(landing_root):
        all_rides += _process_stream(stream, paths, result, bike_streams)

    # ride_id: order (start_time, bike, stream) with strings in UTF-8 byte order, then the
    # ride start's stream position.
    all_rides.sort(key=lambda r: (r.start_time, r.written_bike.encode("utf-8"),
                                  os.fsencode(r.stream), r.position))
    for ride_id, ride in enumerate(all_rides, start=1):
        ride.ride_id = ride_id
    result.rides = all_rides

    # --- rides, readings, alerts
    stats_of = {}
    for ride in all_rides:
        s = _ride_row(ride)
        stats_of[ride.ride_id] = s
        start_date = date_from_us(ride.start_time)
        alert = _evaluate_alert(ride, start_date)
        s["alert"] = alert is not None
        s["start_date"] = date_string(start_date)
        result.zones["rides"].append((
            ride.ride_id, ride.stream, ride.written_bike,
            ride.user.user_id if ride.user is not None else NULL_INT,
            ride.start_time, s["end_time"], s["duration_s"], s["readings"],
            s["heart_rate_min"], s["heart_rate_max"], s["heart_rate_avg"], s["rpm_avg"],
            s["resistance_avg"], s["power_avg_w"], s["energy_kj"], 1 if alert else 0))
        for r, t in ride.readings:
            result.zones["readings"].append((
                ride.ride_id, r.ts, r.duration, r.resistance,
                t.hrt if t.hrt != 0 else NULL_INT, t.rpm, t.power))
        result.ride_offset.append(len(result.zones["readings"]))
        if alert is not None:
            result.zones["heart_rate_alerts"].append((ride.ride_id,) + alert)

    # --- riders: attributes from the user JSON of the rider's latest ride start (ties: the
    # later ride_id).  ride_id is ordered by start_time first, so that is the rider's
    # largest ride_id, i.e. the last one in ride_id order.
    rides_of = {}
    for ride in all_rides:
        if ride.user is not None:
            rides_of.setdefault(ride.user.user_id, []).append(ride)
    rider_attributes = {}  # user_id -> (normalised gender, birth date or None)
    changed = 0
    for user_id in sorted(rides_of):
        rides = rides_of[user_id]
        user = rides[-1].user
        if len(set(r.user.key() for r in rides)) > 1:
            changed += 1
        title, first, last = split_name(user.name)
        street, town, postcode = split_address(user.address)
        birth = date_from_epoch_ms(user.date_of_birth)
        rider_attributes[user_id] = (normalise_gender(user.gender), birth)
        result.zones["riders"].append((
            user_id, title, first, last, normalise_gender(user.gender), date_string(birth),
            _int_or_null(user.height_cm), _int_or_null(user.weight_kg),
            user.email_address or "", street, town, postcode,
            date_string(date_from_epoch_ms(user.account_create_date)),
            user.bike_serial or "", user.original_source or "", len(rides),
            min(r.start_time for r in rides), max(r.start_time for r in rides)))

    # --- daily: a ride and all its readings count on the UTC date of its start.
    by_day = {}
    for ride in all_rides:  # ride_id order: the order of every float sum below
        by_day.setdefault(stats_of[ride.ride_id]["start_date"], []).append(ride)
    for day in sorted(by_day):
        rides = by_day[day]
        day_date = datetime.date.fromisoformat(day)
        duration = power_sum = 0.0
        duration_by_gender = {"male": 0.0, "female": 0.0, "other": 0.0}
        readings = heart_rate_sum = heart_rate_count = alerts = 0
        riders = set()
        for ride in rides:
            s = stats_of[ride.ride_id]
            duration += s["duration_s"]
            power_sum += s["power_sum"]
            readings += s["readings"]
            heart_rate_sum += s["heart_rate_sum"]
            heart_rate_count += s["heart_rate_count"]
            alerts += 1 if s["alert"] else 0
            if ride.user is not None:
                riders.add(ride.user.user_id)
                gender = rider_attributes[ride.user.user_id][0]
                duration_by_gender[gender] += s["duration_s"]
        riders_by_gender = {"male": 0, "female": 0, "other": 0}
        bands = [0] * 7
        for user_id in riders:
            gender, birth = rider_attributes[user_id]
            riders_by_gender[gender] += 1
            if birth is not None:
                bands[age_band(age_on(birth, day_date))] += 1
        result.zones["daily"].append((
            day, len(rides), len(riders), duration, power_sum / 1000.0,
            power_sum / readings if readings else NAN,
            exact_average(heart_rate_sum, heart_rate_count), alerts,
            riders_by_gender["male"], riders_by_gender["female"], riders_by_gender["other"],
            duration_by_gender["male"], duration_by_gender["female"], duration_by_gender["other"])
            + tuple(bands))

    # --- data quality
    dq = result.data_quality
    for stats in result.streams.values():
        by_reason = stats["quarantined_by_reason"]
        dq["orphan_lines"] += by_reason.get(ORPHAN_LINE, 0)
        dq["unpaired_lines"] += (by_reason.get(RIDE_LINE_WITHOUT_TELEMETRY, 0)
                                 + by_reason.get(TELEMETRY_WITHOUT_RIDE_LINE, 0))
        dq["duplicate_deliveries"] += stats["duplicates"]
    dq["rides_without_readings"] = sum(1 for r in all_rides if not r.readings)
    dq["rides_with_unknown_rider"] = sum(1 for r in all_rides if r.user is None)
    dq["riders_with_changed_details"] = changed
    dq["bikes_in_several_streams"] = sum(1 for s in bike_streams.values() if len(s) > 1)
    dq["user_strings_with_nul"] = sum(r.user.strings_with_nul for r in all_rides if r.user is not None)
    dq["rides_with_nul_in_bike"] = sum(1 for r in all_rides if r.written_bike != r.bike)
    return result


def _int_or_null(value):
    return NULL_INT if value is None else value


# ---------------------------------------------------------------------------
# Script
# ---------------------------------------------------------------------------
def to_jsonable(result):
    """Everything as plain JSON (NaN written as null)."""
    def clean(v):
        return None if isinstance(v, float) and math.isnan(v) else v
    return {
        "zones": {z: {"columns": [c for c, _ in ZONE_COLUMNS[z]],
                      "rows": [[clean(v) for v in row] for row in rows]}
                  for z, rows in result.zones.items()},
        "ride_offset": result.ride_offset,
        "quarantine": [list(q) for q in result.quarantine],
        "streams": result.streams,
        "data_quality": result.data_quality,
    }


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("landing", help="folder holding deloton/")
    ap.add_argument("--json", metavar="OUT.json", help="dump zones, accounting and quarantine")
    ap.add_argument("--show-quarantine", action="store_true")
    args = ap.parse_args(argv)
    result = compute(args.landing)
    for stream, s in result.streams.items():
        reasons = ", ".join("%s=%d" % (k, v) for k, v in sorted(s["quarantined_by_reason"].items()))
        print("stream %-40r lines=%d blank=%d markers=%d accepted=%d duplicates=%d quarantined=%d%s"
              % (stream, s["lines"], s["blank"], s["markers"], s["accepted"], s["duplicates"],
                 s["quarantined"], " (" + reasons + ")" if reasons else ""))
    print("zones: " + " / ".join("%s %d" % (z, n) for z, n in result.counts().items()))
    print("data quality: " + ", ".join("%s=%d" % kv for kv in result.data_quality.items()))
    if args.show_quarantine:
        for stream, path, offset, reason in result.quarantine:
            print("  %r %s @%d %s" % (stream, os.path.basename(path), offset, reason))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(to_jsonable(result), f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
