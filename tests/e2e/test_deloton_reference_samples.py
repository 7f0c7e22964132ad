#!/usr/bin/python3
"""Self-test of the Deloton reference (deloton_reference.py).

1. Hand-derived unit checks of its helpers (timestamps, numbers, ages and heart-rate limits,
   29 February, names, addresses, user JSON, NDJSON records, line shapes and check order).
2. Small hand-written landing sets for the ride logic (duplicates, unpaired lines, orphans,
   bad user JSON, ride_id ties, alerts, daily).
3. The real samples in ../shared/data/deloton/landing (each file its own stream, copied into
   a temporary landing root): the facts published in SOURCE.md / DELOTON.md.

Every expected value here is a literal worked out by hand from DELOTON.md and
docs/deloton-decisions.md, not computed by the reference.

Exit 0 = pass, 1 = fail, 77 = the samples are absent (the checks of 1 and 2 still ran and
passed; a failure there exits 1).
"""

import datetime
import json
import math
import os
import re
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deloton_reference as ref  # noqa: E402
import e2e_harness  # noqa: E402

NULL = ref.INT64_MIN
UNKNOWN = ref.UNKNOWN_SHAPE
FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL: " + message, flush=True)


def _exact(value):
    """A comparable form in which floats compare bit for bit (NaN = NaN, -0.0 != 0.0) and an
    int never equals a float."""
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value.hex())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_exact(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple(sorted((k, _exact(v)) for k, v in value.items()))
    return (type(value).__name__, value)


def check_eq(actual, expected, what):
    check(_exact(actual) == _exact(expected), "%s:\n    got      %r\n    expected %r" % (what, actual, expected))


def find_samples(start=None):
    """<ancestor>/shared/data/deloton/landing, walking up from this file."""
    return e2e_harness.find_shared_data("deloton", "landing", start=start)


# ---------------------------------------------------------------------------
# 1. Helpers
# ---------------------------------------------------------------------------
def unit_timestamps():
    t = ref.parse_timestamp
    check_eq(t("1970-01-01 00:00:00"), 0, "epoch")
    check_eq(t("1970-01-01 00:00:00.5"), 500000, "1 fraction digit = tenths")
    check_eq(t("1970-01-01 00:00:00.25"), 250000, "2 fraction digits")
    check_eq(t("1970-01-01 00:00:00.125"), 125000, "3 fraction digits")
    check_eq(t("1970-01-01 00:00:00.0625"), 62500, "4 fraction digits")
    check_eq(t("1970-01-01 00:00:00.00001"), 10, "5 fraction digits")
    check_eq(t("1970-01-01 00:00:00.000001"), 1, "6 fraction digits")
    check_eq(t("1970-01-01 00:00:00.0000001"), None, "7 fraction digits")
    check_eq(t("1970-01-01 00:00:00."), None, "a dot without digits")
    check_eq(t("1969-12-31 23:59:59.999999"), -1, "1 us before the epoch")
    # 2022-11-03 = 2022-01-01 (1640995200) + 306 days; 18:42:00 = 67320 s.
    check_eq(t("2022-11-03 18:42:00.422392"), (1640995200 + 306 * 86400 + 67320) * 10 ** 6 + 422392,
             "the eros-code capture's first timestamp")
    check_eq(t("0001-01-01 00:00:00"), -62135596800 * 10 ** 6, "year 1")
    check_eq(t("9999-12-31 23:59:59.999999"), 253402300799 * 10 ** 6 + 999999, "year 9999")
    check_eq(t("0000-12-31 23:59:59"), None, "year 0")
    check_eq(t("2024-02-29 00:00:00"), (1704067200 + 59 * 86400) * 10 ** 6, "29 Feb of a leap year")
    check_eq(t("2023-02-29 00:00:00"), None, "29 Feb of a common year")
    check_eq(t("1900-02-29 00:00:00"), None, "1900 is not a leap year")
    check_eq(t("2000-02-29 00:00:00"), 951782400 * 10 ** 6, "2000 is a leap year")
    check_eq(t("2022-04-31 00:00:00"), None, "31 April")
    check_eq(t("2022-13-01 00:00:00"), None, "month 13")
    check_eq(t("2022-00-01 00:00:00"), None, "month 0")
    check_eq(t("2022-01-00 00:00:00"), None, "day 0")
    check_eq(t("2022-01-01 24:00:00"), None, "hour 24")
    check_eq(t("2022-01-01 23:60:00"), None, "minute 60")
    check_eq(t("2022-01-01 23:59:60"), None, "second 60 (no leap seconds)")
    check_eq(t("2022-1-01 00:00:00"), None, "one-digit month")
    check_eq(t("2022-01-01T00:00:00"), None, "ISO 'T'")
    check_eq(t("2022-01-01 00:00:00Z"), None, "zone suffix")
    check_eq(t("2022-01-01 00:00:0\u0661"), None, "a non-ASCII digit")


def unit_numbers():
    i, n = ref.parse_integer, ref.parse_number
    check_eq(i("0"), 0, "integer 0")
    check_eq(i("007"), 7, "leading zeros")
    check_eq(i("-0"), 0, "-0")
    check_eq(i("-5"), -5, "negative integer (sign checked later)")
    check_eq(i("9223372036854775807"), 2 ** 63 - 1, "INT64_MAX")
    check_eq(i("0009223372036854775807"), 2 ** 63 - 1, "INT64_MAX with leading zeros")
    check_eq(i("9223372036854775808"), None, "INT64_MAX + 1")
    check_eq(i("30.0"), None, "30.0 is not an integer")
    check_eq(i("1e2"), None, "1e2 is not an integer")
    check_eq(i("+1"), None, "plus sign")
    check_eq(i(""), None, "empty")
    check_eq(i(" 1"), None, "leading space")
    check_eq(i("\u0661"), None, "Arabic-Indic digit")
    check_eq(i("1" * 5000), None, "5000 digits")
    check_eq(n("9.737739856000001"), 9.737739856000001, "float artefact")
    check_eq(n("0"), 0.0, "number 0")
    check_eq(n("1e2"), 100.0, "exponent")
    check_eq(n("1E+2"), 100.0, "exponent E+")
    check_eq(n("-0.0"), -0.0, "-0.0 keeps its sign")
    check_eq(n(".5"), None, "no integer part")
    check_eq(n("1."), None, "no fraction digits")
    check_eq(n("01.5"), None, "leading zero in a number")
    check_eq(n("1e999"), None, "overflow to infinity")
    check_eq(n("1e-400"), 0.0, "underflow to 0 is finite: accepted")
    check_eq(n("NaN"), None, "NaN")
    check_eq(n("Infinity"), None, "Infinity")
    check_eq(n("1_0"), None, "underscore")


def unit_dates_ages_limits():
    d = datetime.date
    check_eq(ref.date_from_epoch_ms(273715200000), d(1978, 9, 4), "dob of user 100")
    check_eq(ref.date_from_epoch_ms(-336700800000), d(1959, 5, 2), "dob of user 815")
    check_eq(ref.date_from_epoch_ms(-842140800000), d(1943, 4, 26), "dob of user 4526")
    check_eq(ref.date_from_epoch_ms(0), d(1970, 1, 1), "epoch ms 0")
    check_eq(ref.date_from_epoch_ms(-1), d(1969, 12, 31), "epoch ms -1: floor division")
    check_eq(ref.date_from_epoch_ms(-86400000), d(1969, 12, 31), "-1 day")
    check_eq(ref.date_from_epoch_ms(-86400001), d(1969, 12, 30), "-1 day - 1 ms")
    check_eq(ref.date_from_epoch_ms(10 ** 18), None, "beyond year 9999")
    check_eq(ref.date_string(d(7, 3, 9)), "0007-03-09", "date string zero-padded")

    born = d(2000, 6, 15)
    for day, age in ((d(2018, 6, 14), 17), (d(2018, 6, 15), 18), (d(2040, 6, 14), 39),
                     (d(2040, 6, 15), 40), (d(2065, 6, 14), 64), (d(2065, 6, 15), 65),
                     (d(1997, 6, 16), -3)):
        check_eq(ref.age_on(born, day), age, "age on %s of someone born %s" % (day, born))
    leap = d(2000, 2, 29)
    for day, age in ((d(2001, 2, 28), 0), (d(2001, 3, 1), 1), (d(2004, 2, 28), 3),
                     (d(2004, 2, 29), 4), (d(2004, 3, 1), 4), (d(2100, 2, 28), 99),
                     (d(2100, 3, 1), 100)):
        check_eq(ref.age_on(leap, day), age, "age on %s of a 29 February birthday" % day)

    # (age, gender) -> (lower, upper).  male < 40: 220 - age; male >= 40: (2085 - 7 age) div 10;
    # female / other: (20650 - 88 age) div 100.  Lower: male 40/47/52, else 45/52/57.
    expected = {
        (17, "male"): (40, 203), (18, "male"): (40, 202), (39, "male"): (40, 181),
        (40, "male"): (47, 180),    # 1805 div 10 (208 - 28 = 180)
        (45, "male"): (47, 177),    # 1770 div 10 (208 - 31.5 = 176.5 rounds half up)
        (64, "male"): (47, 163),    # 1637 div 10
        (65, "male"): (52, 163),    # 1630 div 10
        (300, "male"): (52, -2),    # -15 div 10 = -2: floor division
        (17, "female"): (45, 191),  # 19154 div 100
        (39, "female"): (45, 172),  # 17218 div 100
        (40, "female"): (52, 171),  # 17130 div 100
        (64, "female"): (52, 150),  # 15018 div 100
        (65, "female"): (57, 149),  # 14930 div 100 (206 - 57.2 = 148.8)
        (65, "other"): (57, 149),
        (-3, "other"): (45, 209),   # 20914 div 100
    }
    for (age, gender), limits in expected.items():
        check_eq(ref.heart_rate_limits(age, gender), limits, "limits for %s aged %d" % (gender, age))
    # Integer averages: the exact sum rounded to float64 once, then one division.  For this
    # sum (beyond 2**53) that differs from Python's correctly rounded int / int.
    big = 2974783599962084569
    check_eq(ref.exact_average(big, 3), float(big) / 3.0, "exact_average of a sum beyond 2**53")
    check(float(big) / 3.0 != big / 3, "the exact_average check no longer tells the two apart")
    check_eq(ref.exact_average(421, 5), 84.2, "exact_average 421 / 5")
    check_eq(ref.exact_average(0, 0), math.nan, "exact_average with no values")
    for gender, norm in (("male", "male"), ("female", "female"), ("Male", "other"),
                         ("", "other"), (None, "other"), ("nonbinary", "other")):
        check_eq(ref.normalise_gender(gender), norm, "gender %r" % (gender,))
    for age, band in ((-3, 0), (17, 0), (18, 1), (24, 1), (25, 2), (34, 2), (35, 3), (44, 3),
                      (45, 4), (54, 4), (55, 5), (64, 5), (65, 6), (120, 6)):
        check_eq(ref.age_band(age), band, "age band of %d" % age)


def unit_names_addresses():
    for name, parts in (
            ("Mr Stuart Austin", ("Mr", "Stuart", "Austin")),
            ("Mr. Stuart Austin", ("Mr", "Stuart", "Austin")),
            ("Steven Pearce", ("", "Steven", "Pearce")),
            ("Brian Norris-King", ("", "Brian", "Norris-King")),
            ("Ms Jodie Dale", ("Ms", "Jodie", "Dale")),
            ("Mrs Ann Lee", ("Mrs", "Ann", "Lee")), ("Miss Ann Lee", ("Miss", "Ann", "Lee")),
            ("Dr Ann Lee", ("Dr", "Ann", "Lee")), ("Mx Ann Lee", ("Mx", "Ann", "Lee")),
            ("Prof. Ann", ("Prof", "Ann", "")),
            ("Dr  Anna \t van der  Berg ", ("Dr", "Anna", "van der Berg")),
            ("Mr", ("", "Mr", "")),            # a title alone is the first name
            ("Mr.", ("", "Mr.", "")),
            ("mr Stuart", ("", "mr", "Stuart")),  # exact case only
            ("MR Stuart", ("", "MR", "Stuart")),
            ("Mr.. Bob", ("", "Mr..", "Bob")),  # one optional dot only
            ("Mrs.Ann Lee", ("", "Mrs.Ann", "Lee")),
            ("Sir John Smith", ("", "Sir", "John Smith")),
            ("Mr Dr Who", ("Mr", "Dr", "Who")),  # one title removed
            ("Ann\u00a0Lee", ("", "Ann\u00a0Lee", "")),  # no-break space is no separator
            ("Ann", ("", "Ann", "")), ("   ", ("", "", "")), ("", ("", "", "")),
            (None, ("", "", ""))):
        check_eq(ref.split_name(name), parts, "split_name(%r)" % (name,))
    for address, parts in (
            ("0 Simpson locks,Wilkinsonshire,E68 8SH", ("0 Simpson locks", "Wilkinsonshire", "E68 8SH")),
            ("Studio 3,William alley,New Bethan,WR4V 7TA",
             ("Studio 3, William alley", "New Bethan", "WR4V 7TA")),
            (" a , b ,\tc ", ("a", "b", "c")),
            ("a,b,c,d,e", ("a, b, c", "d", "e")),
            ("Town,PC", ("", "Town", "PC")),
            ("PC", ("", "", "PC")),
            ("a,,c", ("a", "", "c")),
            (",b,c,d", (", b", "c", "d")),  # an empty first part still joins
            ("", ("", "", "")), (None, ("", "", ""))):
        check_eq(ref.split_address(address), parts, "split_address(%r)" % (address,))


def unit_user_json():
    u = ref.parse_user_json
    good = u('{"user_id":100,"name":"Steven Pearce","gender":"male","address":"a,b,c",'
             '"date_of_birth":273715200000,"email_address":"s@x","height_cm":167,"weight_kg":83,'
             '"account_create_date":1647993600000,"bike_serial":"SN0000","original_source":"direct"}')
    check(good is not None, "a sample user JSON parses")
    if good is not None:
        check_eq(good.key(), (100, "Steven Pearce", "male", "a,b,c", 273715200000, "s@x", 167, 83,
                              1647993600000, "SN0000", "direct"), "sample user JSON fields")
    for text, ok in (('{"user_id":1}', True), ('  {"user_id":1}\t', True),
                     ('{"user_id":-7}', True), ('{"user_id":-0}', True),
                     ('{"user_id":9223372036854775807}', True),
                     ('{"user_id":-9223372036854775808}', False),  # INT64_MIN is the NULL value
                     ('{"user_id":9223372036854775808}', False),
                     ('{"user_id":100.0}', False), ('{"user_id":1e2}', False),
                     ('{"user_id":"100"}', False), ('{"user_id":true}', False),
                     ('{"user_id":null}', False), ('{"name":"x"}', False), ('[1]', False),
                     ('100', False), ('', False), ('{"user_id":1} x', False),
                     ('{"user_id":1}{"user_id":2}', False), ('{"user_id":1,}', False),
                     ('{"user_id":1,"h":NaN}', False), ('{"user_id":1,"h":-Infinity}', False),
                     ('{"user_id":1,"h":1e999}', True),  # valid JSON: the grammar is what counts
                     ('{"user_id":1,"name":"\\ud800"}', False),     # lone surrogate escape
                     ('{"user_id":1,"name":"\\ud83d\\ude00"}', True),  # a proper pair
                     ('{"user_id":1,"name":"a\tb"}', False),        # raw control character
                     ('{"user_id":1,"user_id":"x"}', True),         # the first key counts
                     ('{"user_id":"x","user_id":1}', False)):
        check_eq(u(text) is not None, ok, "user JSON %r accepted" % text)
    first = u('{"user_id":1,"user_id":2,"name":"A","name":"B"}')
    check_eq((first.user_id, first.name) if first else None, (1, "A"), "first duplicate key wins")
    nulls = u('{"user_id":5,"name":"","gender":7,"address":null,"date_of_birth":1.0,'
              '"email_address":["x"],"height_cm":170.0,"weight_kg":"80","account_create_date":true,'
              '"bike_serial":{},"original_source":false}')
    check_eq(nulls.key() if nulls else None, (5,) + (None,) * 10, "wrong types and \"\" are NULL")
    big = u('{"user_id":5,"height_cm":99999999999999999999,"weight_kg":-9223372036854775808}')
    check_eq((big.height_cm, big.weight_kg) if big else None, (None, None), "integers outside int64")
    neg = u('{"user_id":5,"date_of_birth":-1}')
    check_eq(neg.date_of_birth if neg else None, -1, "negative epoch ms kept")


def unit_records_and_shapes():
    rec = ref.parse_record
    check_eq(rec(b'{"log": "x\\n"}'), "x\n", "plain record")
    check_eq(rec(b'{"other": 1, "log": "x"}'), "x", "other keys ignored")
    check_eq(rec(b' {"log": "x"} \r'), "x", "JSON whitespace around the record")
    check_eq(rec(b'{"log": "x", "log": 5}'), "x", "first log key counts")
    check_eq(rec(b'{"log": 5, "log": "x"}'), None, "first log key is not a string")
    check_eq(rec(b'{"log": null}'), None, "log null")
    check_eq(rec(b'{"Log": "x"}'), None, "no log key")
    check_eq(rec(b'["log", "x"]'), None, "not an object")
    check_eq(rec(b'"x"'), None, "a string, not an object")
    check_eq(rec(b'{"log": "x"'), None, "truncated")
    check_eq(rec(b'{"log": "caf\xc3\xa9"}'), "caf\u00e9", "valid UTF-8")
    check_eq(rec(b'{"log": "caf\xe9"}'), None, "invalid UTF-8 (Latin-1 byte)")
    check_eq(rec(b'{"log": "\xed\xa0\x80"}'), None, "UTF-8-encoded surrogate")
    check_eq(rec(b'{"log": "\xc0\xaf"}'), None, "overlong UTF-8")
    check_eq(rec(b'{"log": "x", "k": "\\udc00"}'), None, "lone surrogate escape in another key")
    check_eq(rec(b'{"log": "x", "\\ud800": 1}'), None, "lone surrogate escape in a key")
    check_eq(rec(b'{"log": "x", "k": NaN}'), None, "NaN in another key")
    # Ignored values need only be in JSON's grammar, whatever their size.
    check_eq(rec(b'{"log": "x", "k": 1e999}'), "x", "infinite number in another key")
    check_eq(rec(b'{"log": "x", "k": ' + b"1" * 400 + b'}'), "x", "400-digit integer in another key")
    check_eq(rec(b'{"log": "x", "k": ' + b"1" * 300 + b'}'), "x", "300-digit integer (finite)")
    check_eq(rec(b'{"log": "x", "k": 01}'), None, "leading zero in another key")
    check_eq(rec(b'{"log": "x", "k": tru}'), None, "bad literal in another key")
    check_eq(rec(b'\xef\xbb\xbf{"log": "x"}'), None, "a BOM inside a file is not skipped")
    # Depth: the top-level object is depth 0, the value of "k" depth 1; k nested arrays put the
    # innermost scalar at depth k + 1, which must be <= 1024.
    check_eq(rec(b'{"log": "x", "k": ' + b"[" * 1023 + b"1" + b"]" * 1023 + b"}"), "x", "depth 1024")
    check_eq(rec(b'{"log": "x", "k": ' + b"[" * 1024 + b"1" + b"]" * 1024 + b"}"), None, "depth 1025")
    check_eq(rec(b'{"log": "x", "k": ' + b"[" * 100000 + b"}"), None, "100000 open brackets")

    def reason(log):
        line = ref.classify_log(log)
        return line.reason if line.kind == "quarantine" else line.kind

    ts = "2022-07-25 16:13:37.709125"
    ride = ts + " mendoza v9: [INFO]: Ride - duration = 1.0; resistance = 30\n"
    tel = ts + " mendoza v9: [INFO]: Telemetry - hrt = 84; rpm = 14; power = 1.648772319\n"
    for log, expected in (
            ("--------- beginning of main\n", "marker"),
            ("--------- beginning of a new ride\n", "marker"),
            ("--------- beginning of a new ride", "marker"),  # no final newline
            ("--------- beginning of main\r\n", "marker"),
            ("--------- beginning of main \n", UNKNOWN),
            ("--------- beginning of main\n\n", UNKNOWN),  # only one final \n is removed
            (ts + " mendoza v9: Getting user data from server..\n", "marker"),
            ("2022-07-25 25:13:37 mendoza v9: Getting user data from server..\n", ref.BAD_TIMESTAMP),
            (ts + " mendoza v9: Getting user data from server.\n", UNKNOWN),
            (ride, "ride"), (tel, "telemetry"),
            (ride[:-1], "ride"), (ride[:-1] + "\r\n", "ride"),
            (ride[:-1] + "\r", ref.BAD_NUMBER),  # a '\r' without '\n' stays: "30\r"
            (ride.replace("= 30", "= 30.0"), ref.BAD_NUMBER),
            (ride.replace("= 1.0", "= 1e0"), "ride"),
            (ride.replace("= 1.0", "= -1.0"), ref.NEGATIVE_VALUE),
            (ride.replace("= 30", "= -0"), "ride"),
            (ride.replace("= 1.0", "= -0.0"), "ride"),
            (ride.replace("= 1.0", "= -1.0").replace("= 30", "= x"), ref.BAD_NUMBER),
            (ride.replace("= 1.0", "= "), ref.BAD_NUMBER),  # an empty number
            (ride.replace("= 1.0", "= 1.0 "), ref.BAD_NUMBER),
            (ride.replace("= 1.0", "=  1.0"), ref.BAD_NUMBER),
            (ride.replace("duration = ", "duration ="), UNKNOWN),
            (ride.replace("Ride", "ride"), UNKNOWN),
            (tel.replace("= 84", "= 84.0"), ref.BAD_NUMBER),
            (tel.replace("= 14", "= -14"), ref.NEGATIVE_VALUE),
            (tel.replace("= 1.648772319", "= 1e999"), ref.BAD_NUMBER),
            (tel.replace("= 1.648772319", "= NaN"), ref.BAD_NUMBER),
            (ride.replace(ts, "2022-07-25 16:13:61"), ref.BAD_TIMESTAMP),
            # The timestamp is checked before the numbers:
            (ride.replace(ts, "2022-02-30 00:00:00").replace("= 30", "= x"), ref.BAD_TIMESTAMP),
            (ride.replace(ts, "2022-07-25T16:13:37 x"), ref.BAD_TIMESTAMP),  # ts = text before 2nd space
            (ride.replace(" mendoza v9: ", " : "), UNKNOWN),  # empty bike
            (ride.replace(" mendoza v9: ", " a:b c: "), "ride"),  # colons without a space are fine
            (ride.replace("mendoza v9: ", ""), UNKNOWN),  # no ": " after the second space
            ("nonsense\n", UNKNOWN), ("\n", UNKNOWN), ("", UNKNOWN),
            (ts + " mendoza v9: [SYSTEM] data = {\"user_id\":1}\n", "start"),
            (ts + " mendoza v9: [SYSTEM] data = {\"user_id\":-1.5}\n", "start"),  # bad user JSON
            (ts + " mendoza v9: [SYSTEM] data ={\"user_id\":1}\n", UNKNOWN),
            ("2022-07-25 16:13:37.1234567 mendoza v9: [SYSTEM] data = {\"user_id\":1}\n",
             ref.BAD_TIMESTAMP),
            (ts + " mendoza v9: [DEBUG]: hello\n", UNKNOWN)):
        check_eq(reason(log), expected, "classify %r" % log)
    line = ref.classify_log(ride.replace(" mendoza v9: ", " a:b c: "))
    check_eq(line.bike, "a:b c", "bike with colons")
    line = ref.classify_log(tel)
    check_eq((line.hrt, line.rpm, line.power), (84, 14, 1.648772319), "telemetry values")
    line = ref.classify_log(ts + " mendoza v9: [SYSTEM] data = {\"user_id\":-1.5}\n")
    check_eq(line.user, None, "a ride start with a bad user JSON has user None")



def unit_file_lines():
    check_eq(ref.file_lines(b""), [], "empty file")
    check_eq(ref.file_lines(b"a\nb"), [(0, b"a"), (2, b"b")], "last line without newline")
    check_eq(ref.file_lines(b"a\n\nb\n"), [(0, b"a"), (2, b""), (3, b"b")], "empty line kept")
    check_eq(ref.file_lines(b"\xef\xbb\xbfa\r\nb\n"), [(0, b"a\r"), (6, b"b")], "BOM (3 bytes), CRLF")
    check_eq(ref.file_lines(b"\xef\xbb\xbf"), [(0, b"")], "a file of only a BOM: one blank line")
    check_eq(ref.file_lines(b"a\n\xef\xbb\xbfb"), [(0, b"a"), (2, b"\xef\xbb\xbfb")],
             "a BOM after the start is kept")
    for line, blank in ((b"", True), (b" \t\r", True), (b"\r", True), (b"\x0b", False),
                        (b"\xc2\xa0", False), (b" x ", False)):
        check_eq(ref.is_blank(line), blank, "is_blank(%r)" % line)


# ---------------------------------------------------------------------------
# 2. Ride logic on small hand-written landing sets
# ---------------------------------------------------------------------------
def log_record(log):
    return json.dumps({"log": log + "\n"}).encode("ascii") + b"\n"


def start(ts, bike, user_json):
    return log_record("%s %s: [SYSTEM] data = %s" % (ts, bike, user_json))


def ride_line(ts, bike, duration, resistance):
    return log_record("%s %s: [INFO]: Ride - duration = %s; resistance = %s" % (ts, bike, duration, resistance))


def tel_line(ts, bike, hrt, rpm, power):
    return log_record("%s %s: [INFO]: Telemetry - hrt = %s; rpm = %s; power = %s" % (ts, bike, hrt, rpm, power))


def write_landing(root, streams):
    """streams: {stream: {file name: bytes}}; stream "" = files directly in deloton/."""
    for stream, files in streams.items():
        folder = os.path.join(root, "deloton", stream) if stream else os.path.join(root, "deloton")
        os.makedirs(folder, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)


def T(text):
    return ref.parse_timestamp("2023-03-01 " + text)


def scenario_ride_logic(tmp):
    """Stream p0: bike B (duplicates, unpaired lines) interleaved with bike C (orphans, lines
    quarantined while parsed, bad user JSON), split over two files."""
    U1 = '{"user_id":1,"name":"Ann Lee","gender":"female","date_of_birth":0}'
    U1b = '{"user_id":1,"name":"Ann Smith","gender":"female","date_of_birth":0}'
    f1 = b"".join([
        start("2023-03-01 10:00:00", "B", U1),               # 1  B ride 1 starts: accepted
        ride_line("2023-03-01 10:00:01", "B", "1.0", 10),    # 2  pending
        start("2023-03-01 10:00:00", "B", '{"user_id":2}'),  # 3  duplicate start: skipped, 2 stays pending
        ride_line("2023-03-01 10:00:02", "C", "1.0", 10),    # 4  C has no ride: orphan_line
        tel_line("2023-03-01 10:00:01.5", "B", 100, 50, "1.5"),  # 5  pairs with 2: reading, 2 accepted
        ride_line("2023-03-01 10:00:01", "B", "1.0", 10),    # 6  (ride, ts of 2) seen: duplicate
        start("2023-03-01 10:00:0x", "C", U1),               # 7  bad_timestamp: starts no ride
        ride_line("2023-03-01 10:00:03", "C", "2.0", 10),    # 8  C still has no ride: orphan_line
    ])
    f2 = b"".join([
        b"\n",                                               # 9  blank
        tel_line("2023-03-01 10:00:01.5", "B", 100, 50, "1.5"),  # 10 duplicate
        ride_line("2023-03-01 10:00:03", "B", "2.0", 10),    # 11 pending
        ride_line("2023-03-01 10:00:04", "B", "3.0", 20),    # 12 11 -> ride_line_without_telemetry; 12 pending
        log_record("--------- beginning of a new ride"),    # 13 marker
        start("2023-03-01 10:00:05", "C", '{"user_id":1.0}'),  # 14 bad_user_json: C ride, unknown rider
        tel_line("2023-03-01 10:00:04.5", "B", 0, 60, "2.5"),  # 15 pairs with 12 (hrt 0 = NULL)
        tel_line("2023-03-01 10:00:06", "B", 90, 60, "2.5"),   # 16 telemetry_without_ride_line
        ride_line("2023-03-01 10:00:06", "C", "1.0", 5),       # 17 C pending
        tel_line("2023-03-01 10:00:06.5", "C", 70, -1, "1.0"), # 18 negative_value: not "the next INFO"
        tel_line("2023-03-01 10:00:07", "C", 70, 40, "4.0"),   # 19 pairs with 17
        ride_line("2023-03-01 10:00:07", "B", "4.0", 20),      # 20 pending
        start("2023-03-01 10:00:08", "B", U1b),                # 21 20 -> unpaired; B ride 2 (changed name)
        ride_line("2023-03-01 10:00:07", "B", "4.0", 20),      # 22 same (kind, ts) as 20 but a new ride: pending
        b"{not json}\n",                                       # 23 bad_record
    ])                                                         # end: 22 -> ride_line_without_telemetry
    write_landing(tmp, {"p0": {"a.ndjson": f1, "b.ndjson": f2}})
    result = ref.compute(tmp)
    s = result.streams.get("p0", {})
    # lines 23 = blank 1 + markers 1 + accepted 8 (starts 1, 21; readings 2+5, 12+15, 17+19)
    #          + duplicates 3 (3, 6, 10) + quarantined 10 (4, 8 orphan; 7 bad_timestamp;
    #            11, 20, 22 unpaired ride lines; 14 bad_user_json; 16 telemetry; 18 negative; 23 bad_record)
    check_eq({k: s.get(k) for k in ref.STREAM_COUNTERS},
             {"lines": 23, "blank": 1, "markers": 1, "accepted": 8, "duplicates": 3, "quarantined": 10},
             "scenario 1 accounting")
    check_eq(s.get("quarantined_by_reason"),
             {ref.ORPHAN_LINE: 2, ref.BAD_TIMESTAMP: 1, ref.RIDE_LINE_WITHOUT_TELEMETRY: 3,
              ref.BAD_USER_JSON: 1, ref.TELEMETRY_WITHOUT_RIDE_LINE: 1, ref.NEGATIVE_VALUE: 1,
              ref.BAD_RECORD: 1}, "scenario 1 reasons")
    # Offsets: a.ndjson lines 4 and 8 are orphans, 7 bad_timestamp; in b.ndjson offsets counted
    # from the file start (the blank line 9 is at offset 0).
    a, b = (os.path.join(tmp, "deloton", "p0", n) for n in ("a.ndjson", "b.ndjson"))
    offs_a = [o for o, _ in ref.file_lines(open(a, "rb").read())]
    offs_b = [o for o, _ in ref.file_lines(open(b, "rb").read())]
    check_eq(result.quarantine, [
        ("p0", a, offs_a[3], ref.ORPHAN_LINE), ("p0", a, offs_a[6], ref.BAD_TIMESTAMP),
        ("p0", a, offs_a[7], ref.ORPHAN_LINE),
        ("p0", b, offs_b[2], ref.RIDE_LINE_WITHOUT_TELEMETRY), ("p0", b, offs_b[5], ref.BAD_USER_JSON),
        ("p0", b, offs_b[7], ref.TELEMETRY_WITHOUT_RIDE_LINE), ("p0", b, offs_b[9], ref.NEGATIVE_VALUE),
        ("p0", b, offs_b[11], ref.RIDE_LINE_WITHOUT_TELEMETRY),
        ("p0", b, offs_b[13], ref.RIDE_LINE_WITHOUT_TELEMETRY), ("p0", b, offs_b[14], ref.BAD_RECORD)],
        "scenario 1 quarantine records, in stream order")
    # ride_id by start time: B 10:00:00 (1), C 10:00:05 (2), B 10:00:08 (3).
    rides = result.zones["rides"]
    check_eq([(r[0], r[2], r[3], r[4], r[7]) for r in rides],
             [(1, "B", 1, T("10:00:00"), 2), (2, "C", NULL, T("10:00:05"), 1),
              (3, "B", 1, T("10:00:08"), 0)], "scenario 1 rides (id, bike, user, start, readings)")
    if len(rides) == 3:
        r1 = rides[0]
        check_eq(r1[5], T("10:00:04"), "ride 1 end_time = latest ride-line time")
        check_eq(r1[6], 3.0, "ride 1 duration_s")
        check_eq((r1[8], r1[9], r1[10]), (100, 100, 100.0), "ride 1 heart rate min/max/avg (one NULL)")
        check_eq((r1[11], r1[12]), (55.0, 15.0), "ride 1 rpm avg (50+60)/2, resistance avg (10+20)/2")
        check_eq((r1[13], r1[14]), (2.0, 0.004), "ride 1 power avg (1.5+2.5)/2, energy 4.0/1000")
        r3 = rides[2]
        check_eq(r3[5:], (NULL, 0.0, 0, NULL, NULL, math.nan, math.nan, math.nan, math.nan, 0.0, 0),
                 "a ride without readings")
    check_eq(result.zones["readings"], [
        (1, T("10:00:01"), 1.0, 10, 100, 50, 1.5), (1, T("10:00:04"), 3.0, 20, NULL, 60, 2.5),
        (2, T("10:00:06"), 1.0, 5, 70, 40, 4.0)], "scenario 1 readings")
    check_eq(result.ride_offset, [0, 2, 3, 3], "scenario 1 ride_offset")
    riders = result.zones["riders"]
    check_eq([(r[0], r[1], r[2], r[3], r[15], r[16], r[17]) for r in riders],
             [(1, "", "Ann", "Smith", 2, T("10:00:00"), T("10:00:08"))],
             "scenario 1 riders: latest ride start's attributes")
    check_eq(result.data_quality, {
        "orphan_lines": 2, "unpaired_lines": 4, "duplicate_deliveries": 3,
        "rides_without_readings": 1, "rides_with_unknown_rider": 1,
        "riders_with_changed_details": 1, "bikes_in_several_streams": 0,
        "user_strings_with_nul": 0, "rides_with_nul_in_bike": 0}, "scenario 1 data quality")


def scenario_streams_alerts_daily(tmp):
    """Streams "" (root files), "p1" (BOM, CRLF), "p10" and "p2": stream order, ride_id ties,
    alerts, daily across midnight, unknown riders in daily."""
    # Rider 7: female, born 1993-03-01 (epoch ms 730944000000 = 8460 days): age 30 on
    # 2023-03-01 -> limits [45, (20650 - 2640) div 100 = 180].
    U7 = ('{"user_id":7,"name":"Dr Eve Stone","gender":"female","date_of_birth":730944000000,'
          '"email_address":"eve@x","height_cm":170,"weight_kg":60}')
    # Rider 8: male, no date of birth: no alert is evaluated.
    U8 = '{"user_id":8,"name":"Bo","gender":"male"}'
    day = "2023-03-01 "
    # (heart rate, comment) of the 7 readings of rider 7's ride, durations 1.0 ... 7.0:
    heart_rates = ((190, "high"), (200, "high"), (0, "NULL: breaks the run"), (195, "high (1)"),
                   (40, "low (2)"), (30, "low (3): the alert"), (20, "low: no second alert"))
    p1_lines = [start(day + "12:00:00", "X", U7)]
    for k, (hrt, _) in enumerate(heart_rates, start=1):
        p1_lines.append(ride_line(day + "12:00:%02d" % k, "X", "%d.0" % k, 1))
        p1_lines.append(tel_line(day + "12:00:%02d.5" % k, "X", hrt, 1, "1.0"))
    p1 = b"\xef\xbb\xbf" + b"".join(x.replace(b"\n", b"\r\n") for x in p1_lines)
    # The same bike and start time in streams "" and "p10" and "p2": ties go by stream name
    # in byte order: "" < "p1" < "p10" < "p2".
    root = start(day + "12:00:00", "X", U8) + ride_line(day + "23:59:59", "X", "2.5", 3) + \
        tel_line("2023-03-02 00:00:00.5", "X", 250, 9, "0.3")
    p10 = start(day + "12:00:00", "X", '{"user_id":"bad"}') + \
        ride_line(day + "12:00:01", "X", "8.0", 2) + tel_line(day + "12:00:01.5", "X", 60, 4, "0.9")
    p2 = start(day + "12:00:00", "X", U8) + start("2023-03-02 00:00:01", "Y", U7)
    write_landing(tmp, {"": {"z.ndjson": root}, "p1": {"f": p1, ".hidden": b"garbage\n"},
                        "p10": {"f": p10}, "p2": {"f": p2}})
    result = ref.compute(tmp)
    check_eq(list(result.streams), ["", "p1", "p10", "p2"], "stream order")
    check_eq(result.streams["p1"]["lines"], 15, "p1 lines (the hidden file is not read)")
    check_eq(result.streams["p1"]["accepted"], 15, "p1: BOM and CRLF lines accepted")
    rides = result.zones["rides"]
    check_eq([(r[0], r[1], r[2], r[3]) for r in rides],
             [(1, "", "X", 8), (2, "p1", "X", 7), (3, "p10", "X", NULL), (4, "p2", "X", 8),
              (5, "p2", "Y", 7)], "ride_id ties by stream name")
    check_eq([r[15] for r in rides], [0, 1, 0, 0, 0], "alert column")
    check_eq(result.zones["heart_rate_alerts"],
             [(2, 7, "X", T("12:00:06"), "low", 30, 45, 180, 30, "female", "eve@x", "Eve")],
             "alert row: third reading of the first run (high, low, low -> kind low)")
    # daily 2023-03-01: rides 1-4 (ride 1's reading after midnight counts on its start day).
    #   riders {7, 8} (unknown rider of ride 3 not counted); durations 2.5 + 7.0 + 8.0 + 0.0;
    #   power sums 0.3, 7.0, 0.9, 0 in ride_id order -> ((0.0 + 0.3) + 7.0) + 0.9 + 0.0 = 8.2
    #   (another order gives 8.200000000000001); readings 1 + 7 + 1 = 9;
    #   heart rates 250 + (190+200+195+40+30+20) + 60 over 8 non-NULL = 985 / 8.
    #   gender: 8 male, 7 female; by-gender duration: male 2.5 + 0.0, female 7.0 (ride 3: none).
    #   age bands: 7 is 30 -> 25-34; 8 has no birth date -> none.
    # daily 2023-03-02: ride 5 (rider 7, no readings; age 30).
    power = (((0.0 + 0.3) + 7.0) + 0.9) + 0.0
    check(power != ((0.0 + 0.9) + 7.0) + 0.3, "the daily scenario no longer pins the summation order")
    check_eq(result.zones["daily"], [
        ("2023-03-01", 4, 2, ((0.0 + 2.5) + 7.0) + 8.0 + 0.0, power / 1000.0, power / 9,
         985 / 8, 1, 1, 1, 0, 2.5 + 0.0, 7.0, 0.0, 0, 0, 1, 0, 0, 0, 0),
        ("2023-03-02", 1, 1, 0.0, 0.0, math.nan, math.nan, 0, 0, 1, 0, 0.0, 0.0, 0.0,
         0, 0, 1, 0, 0, 0, 0)], "daily rows")
    check_eq(result.data_quality["bikes_in_several_streams"], 1, "bike X in 4 streams")
    check_eq(result.data_quality["rides_with_unknown_rider"], 1, "ride 3 unknown rider")
    riders = result.zones["riders"]
    check_eq([r[:15] for r in riders], [
        (7, "Dr", "Eve", "Stone", "female", "1993-03-01", 170, 60, "eve@x", "", "", "", "", "", ""),
        (8, "", "Bo", "", "male", "", NULL, NULL, "", "", "", "", "", "", "")], "riders attributes")


# The users of scenario_genders_and_nul: (user_id, gender part of the user JSON, gender class).
# DELOTON.md: "Gender is `male` or `female` as written (lower case); anything else, or missing,
# is `other`" -- read literally: exact text, no case folding, no trimming.
GENDER_CASES = (
    (31, '"gender":"male",', "male"),
    (32, '"gender":"female",', "female"),
    (33, '"gender":"Male",', "other"),        # another case
    (34, '"gender":" female",', "other"),     # not trimmed
    (35, '"gender":"",', "other"),            # "" is NULL: missing
    (36, '"gender":null,', "other"),          # NULL
    (37, '', "other"),                        # no gender key
    (38, '"gender":"nonbinary",', "other"),   # another word
    (39, '"gender":"male\\u0000",', "other"),  # male and a NUL: not "male" as written
    (40, '"gender":"female",', "female"),
    (41, '"gender":"FEMALE",', "other"),
)


def genders_and_nul_landing(root):
    """One stream p0 on 2023-03-01: users 31..40 start rides on bikes b31..b40 at 10:00:01..10
    (ride ids 1..10); user 39's gender and user 40's name and address hold a NUL ("\\u0000");
    at 10:00:20 two rides tie on start time: bike "n\\u0000" (user 41) and bike "n\\u0001" (a bad
    user JSON).  No readings."""
    lines = []
    for k, (user, gender, _) in enumerate(GENDER_CASES[:10], start=1):
        name = "Mr Ann\\u0000e Lee" if user == 40 else "Al Bo"
        address = "1 Road\\u0000,Town,PC\\u0000" if user == 40 else "a,b,c"
        user_json = '{"user_id":%d,%s"name":"%s","address":"%s","date_of_birth":0}' % (user, gender, name, address)
        lines.append(start("2023-03-01 10:00:%02d" % k, "b%d" % user, user_json))
    lines.append(start("2023-03-01 10:00:20", "n\x00", '{"user_id":41,%s"name":"Cy"}' % GENDER_CASES[10][1]))
    lines.append(start("2023-03-01 10:00:20", "n\x01", '{"user_id":"x"}'))
    write_landing(root, {"p0": {"a.ndjson": b"".join(lines)}})


def scenario_genders_and_nul(tmp):
    genders_and_nul_landing(tmp)
    result = ref.compute(tmp)
    riders = result.zones["riders"]
    check_eq([(r[0], r[4]) for r in riders], [(u, g) for u, _, g in GENDER_CASES],
             "riders.gender is the class male/female/other, not the text as written")
    by_user = {r[0]: r for r in riders}
    rider_40 = by_user.get(40, (None,) * 18)
    check_eq((rider_40[1], rider_40[2], rider_40[3], rider_40[9], rider_40[10], rider_40[11]),
             ("Mr", "Ann\ufffde", "Lee", "1 Road\ufffd", "Town", "PC\ufffd"),
             "a NUL in a user's name / address is kept as U+FFFD, then split")
    rides = result.zones["rides"]
    # The tie at 10:00:20 goes by the bike as written: "n\x01" (6E 01) before "n\ufffd" (6E EF BF BD).
    check_eq([(r[0], r[2], r[3]) for r in rides[10:]], [(11, "n\x01", NULL), (12, "n\ufffd", 41)],
             "a NUL in a bike name is written as U+FFFD, and ride order compares that text")
    check_eq(result.zones["daily"], [
        ("2023-03-01", 12, 11, 0.0, 0.0, math.nan, math.nan, 0, 1, 2, 8, 0.0, 0.0, 0.0,
         0, 0, 0, 0, 10, 0, 0)], "daily: 1 male, 2 female, 8 other riders; users 31-40 born 1970: 53")
    check_eq({k: result.data_quality[k] for k in ("user_strings_with_nul", "rides_with_nul_in_bike")},
             {"user_strings_with_nul": 3, "rides_with_nul_in_bike": 1},
             "NULs counted: user 39's gender, user 40's name and address; one bike")
    check_eq(result.streams["p0"]["quarantined_by_reason"], {ref.BAD_USER_JSON: 1}, "only the bad user JSON")


def scenario_ride_order(tmp):
    """ride_id ties within one stream: bikes in UTF-8 byte order ("B" 0x42 < "a" 0x61 <
    "\u00e9" 0xC3 0xA9), then the ride start's stream position."""
    lines = [
        start("2023-03-01 10:00:00", "\u00e9", '{"user_id":20}'),  # 10:00 bike e-acute
        start("2023-03-01 10:00:00", "a", '{"user_id":21}'),        # 10:00 bike a (first)
        start("2023-03-01 10:00:00", "B", '{"user_id":22}'),        # 10:00 bike B
        start("2023-03-01 09:00:00", "a", '{"user_id":23}'),        # 09:00 bike a: a new ride
        start("2023-03-01 10:00:00", "a", '{"user_id":24}'),        # 10:00 bike a again: not a
    ]                                                               # duplicate (a's current start is 09:00)
    write_landing(tmp, {"s": {"f": b"".join(lines)}})
    result = ref.compute(tmp)
    check_eq([(r[0], r[2], r[3]) for r in result.zones["rides"]],
             [(1, "a", 23), (2, "B", 22), (3, "a", 21), (4, "a", 24), (5, "\u00e9", 20)],
             "ride_id order: start time, bike bytes, stream position")
    check_eq(result.streams["s"]["duplicates"], 0, "no duplicate starts in the ride-order scenario")


# ---------------------------------------------------------------------------
# 3. The real samples
# ---------------------------------------------------------------------------
EROS = "eros-code__deloton__cleaning_stage_cell2__2022-11-03T1842"
HMAY_0706 = "hmay01__staging_cell6__2022-07-06T2329"
SYSTEM_ONLY = "hakan212__batch_kafka_ingestion__SYSTEM-only__2022-10-04T1047"
LCAWOOD = "lcawood__test_pipeline_fixture__2022-07-25T1613"
# SOURCE.md: the live captures that start and end mid-ride, with no SYSTEM line.
MID_RIDE = (
    "hmay01__staging_cell6__2022-10-05T1442",
    "hakan212__initial-ingestion_kafka_ingestion__2022-10-03T1918",
    "hakan212__initial-ingestion_kafka_ingestion__2022-10-04T0928a",
    "hakan212__initial-ingestion_kafka_ingestion__2022-10-04T0928b",
    "hakan212__batch_initial-ingestion_kafka_ingestion__2022-10-04T1005",
    "hakan212__batch_initial-ingestion_kafka_ingestion__2022-10-04T1024",
    "hakan212__real_time_processing_cell3__2022-10-04T1032",
    "hakan212__real_time_processing_cell4__2022-10-04T1033",
    "hakan212__batch_kafka_ingestion_INFO-only__2022-10-05T0731",
)


def sample_checks(samples, tmp):
    names = sorted(n[:-len(".ndjson")] for n in os.listdir(samples) if n.endswith(".ndjson"))
    check_eq(len(names), 13, "number of sample captures (SOURCE.md)")
    for name in names:  # copies in a temporary folder only: never committed
        os.makedirs(os.path.join(tmp, "deloton", name))
        shutil.copyfile(os.path.join(samples, name + ".ndjson"),
                        os.path.join(tmp, "deloton", name, name + ".ndjson"))
    result = ref.compute(tmp)
    rides = result.zones["rides"]
    readings = result.zones["readings"]
    rides_of = {}
    for r in rides:
        rides_of.setdefault(r[1], []).append(r)

    for stream, s in result.streams.items():
        total = s["blank"] + s["markers"] + s["accepted"] + s["duplicates"] + s["quarantined"]
        check_eq(total, s["lines"], "%s: blank + markers + accepted + duplicates + quarantined" % stream)
        check_eq(sum(s["quarantined_by_reason"].values()), s["quarantined"],
                 "%s: quarantined_by_reason adds up" % stream)
    check_eq(len(result.ride_offset), len(rides) + 1, "ride_offset length")
    check_eq(result.ride_offset[-1], len(readings), "ride_offset end")
    for stream, path, offset, _ in result.quarantine:  # offsets are line starts
        with open(path, "rb") as f:
            data = f.read()
        check(offset == 0 or data[offset - 1:offset] == b"\n",
              "%s: quarantine offset %d is not a line start" % (stream, offset))

    # The two 1000-line captures from the start of the topic (SOURCE.md): 3 markers, one
    # SYSTEM line of user 100, 498 Ride/Telemetry pairs for durations 1.0 ... 498.0.
    per_capture = {}
    for name in (EROS, HMAY_0706):
        s = result.streams.get(name, {})
        check_eq({k: s.get(k) for k in ref.STREAM_COUNTERS},
                 {"lines": 1000, "blank": 0, "markers": 3, "accepted": 997, "duplicates": 0,
                  "quarantined": 0}, "%s accounting" % name)
        mine = rides_of.get(name, [])
        check_eq([(r[3], r[7]) for r in mine], [(100, 498)], "%s: one ride of user 100 with 498 readings" % name)
        if len(mine) != 1:
            continue
        ride_id = mine[0][0]
        rows = readings[result.ride_offset[ride_id - 1]:result.ride_offset[ride_id]]
        per_capture[name] = rows
        check_eq([r[2] for r in rows], [float(d) for d in range(1, 499)], "%s: durations 1..498" % name)
        check_eq(sum(1 for r in rows if r[4] == NULL), 10, "%s: hrt = 0 ten times -> NULL" % name)
        check_eq([int(r[2]) for r in rows if r[4] == NULL], [1, 2, 3, 4, 5, 6, 7, 94, 95, 310],
                 "%s: durations with hrt = 0" % name)
        check_eq(max(r[6] for r in rows), 792.0630783, "%s: peak power" % name)
        check_eq([r[5] for r in rows if r[6] == 792.0630783], [143], "%s: rpm at peak power" % name)
        check_eq(sorted({r[3] for r in rows}), [0, 30, 99, 170], "%s: resistances" % name)
        check_eq(mine[0][6], 498.0, "%s: duration_s" % name)
        # Power sums: plain left to right from 0.0 over the file's power values in order, read
        # here with a regex on the raw file.  For this capture math.fsum and the reversed order
        # give other bits, so the check pins the order.
        powers = []
        with open(os.path.join(samples, name + ".ndjson"), "rb") as f:
            for raw in f:
                m = re.search(rb"Telemetry - hrt = [0-9]+; rpm = [0-9]+; power = ([0-9.e+-]+)", raw)
                if m:
                    powers.append(float(m.group(1)))
        total = 0.0
        for p in powers:
            total += p
        check(total != math.fsum(powers), "the power-sum check no longer tells the orders apart")
        check_eq((mine[0][13], mine[0][14]), (total / 498, total / 1000), "%s: power_avg_w, energy_kj" % name)
        check_eq(mine[0][15], 0, "%s: no alert" % name)
    if len(per_capture) == 2:  # identical apart from the timestamps
        a, b = (per_capture[n] for n in (EROS, HMAY_0706))
        check_eq([r[2:] for r in a], [r[2:] for r in b], "the two 1000-line captures differ only in time")

    # User 100 "Steven Pearce" (male, dob 1978-09-04, source direct), latest ride = 2022-11-03.
    riders = {r[0]: r for r in result.zones["riders"]}
    if 100 in riders:
        check_eq(riders[100][1:6] + riders[100][14:16], ("", "Steven", "Pearce", "male", "1978-09-04",
                                                          "direct", 2), "rider 100")

    # SYSTEM-only: 9 consecutive rides, no readings; 4526 x3, 4527 x6.
    mine = rides_of.get(SYSTEM_ONLY, [])
    check_eq([r[3] for r in mine], [4526] * 3 + [4527] * 6, "SYSTEM-only capture: users of its 9 rides")
    check_eq([r[7] for r in mine], [0] * 9, "SYSTEM-only capture: no readings")
    check_eq(result.streams.get(SYSTEM_ONLY, {}).get("accepted"), 9, "SYSTEM-only: 9 accepted ride starts")
    if 4527 in riders:
        check_eq(riders[4527][1:4], ("Mr", "Stuart", "Austin"), "'Mr Stuart Austin' split")
        check_eq(riders[4527][8], "mr.s@gmail.com", "rider 4527 email")
        check_eq(riders[4527][15], 6, "rider 4527 rides")
    if 4526 in riders:
        check_eq(riders[4526][1:6], ("", "Charlene", "Brown", "female", "1943-04-26"), "rider 4526")
        check_eq(riders[4526][9:12], ("Flat 98y, Carolyn haven", "East Valeriemouth", "S5T 0TT"),
                 "rider 4526 address (4 parts)")
        check_eq(riders[4526][15], 3, "rider 4526 rides")

    # lcawood fixture, worked out by hand from the file (40 lines, no blank ones):
    #   lines 1-3 markers (main, new ride, Getting user data), 4 SYSTEM 16:13:37.209120 -> ride
    #     starts, accepted 1;
    #   lines 5-12 durations 454-457 (4 pairs): after the ride start in stream order, so they
    #     are readings of that ride although stamped earlier (not orphans): accepted 8;
    #   lines 13-15 markers, 16 SYSTEM with the same bike and timestamp as the current ride's
    #     start -> duplicate;
    #   lines 17-28 durations 1-6 (6 pairs), new timestamps -> readings: accepted 12;
    #   lines 29-31 markers, 32 SYSTEM duplicate again;
    #   lines 33-40 durations 3-6 again, the same (kind, timestamp) as lines 21-28 -> 8 duplicates.
    # markers 9, accepted 1 + 8 + 12 = 21, duplicates 2 + 8 = 10, quarantined 0: 9+21+10 = 40.
    s = result.streams.get(LCAWOOD, {})
    check_eq({k: s.get(k) for k in ref.STREAM_COUNTERS},
             {"lines": 40, "blank": 0, "markers": 9, "accepted": 21, "duplicates": 10, "quarantined": 0},
             "lcawood fixture accounting")
    mine = rides_of.get(LCAWOOD, [])
    check_eq([(r[3], r[4], r[7]) for r in mine],
             [(815, ref.parse_timestamp("2022-07-25 16:13:37.209120"), 10)],
             "lcawood: one ride of user 815 with 10 readings")
    if len(mine) == 1:
        r = mine[0]
        # end_time = the latest ride-line time (duration 6.0 at 16:13:42.709168); duration_s =
        # the largest duration, 457.0; heart rates: hrt 0 for 454-457 and duration 1 (NULL),
        # then 84, 84, 84, 84, 85 -> min 84, max 85, avg 421 / 5.
        check_eq(r[5], ref.parse_timestamp("2022-07-25 16:13:42.709168"), "lcawood end_time")
        check_eq(r[6], 457.0, "lcawood duration_s")
        check_eq((r[8], r[9], r[10]), (84, 85, 421 / 5), "lcawood heart rates")
        # Wayne Fitzgerald, male, born 1959-05-02, 63 on 2022-07-25: limits [47, 164]: no alert.
        check_eq(r[15], 0, "lcawood no alert")
        rows = readings[result.ride_offset[r[0] - 1]:result.ride_offset[r[0]]]
        check_eq([x[2] for x in rows], [454.0, 455.0, 456.0, 457.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                 "lcawood readings in stream order")
    if 815 in riders:
        check_eq(riders[815][1:13], ("", "Wayne", "Fitzgerald", "male", "1959-05-02", 187, 52,
                                     "wayne_fitzgerald@hotmail.com", "Studio 3, William alley",
                                     "New Bethan", "WR4V 7TA", "2022-01-04"), "rider 815")

    # The mid-ride captures: every line is an INFO line of a bike with no ride start.
    for name in MID_RIDE:
        s = result.streams.get(name, {})
        check(s.get("lines", 0) > 0, "%s: read" % name)
        check_eq((s.get("quarantined"), s.get("quarantined_by_reason"), s.get("accepted")),
                 (s.get("lines"), {ref.ORPHAN_LINE: s.get("lines")}, 0),
                 "%s: all INFO lines quarantined as orphan_line" % name)
        check_eq(rides_of.get(name, []), [], "%s: no ride" % name)

    check_eq(len(rides), 12, "rides in all samples: 2 + 1 + 9")
    check_eq(result.data_quality["orphan_lines"], sum(result.streams[n]["lines"] for n in MID_RIDE),
             "orphan_lines = the mid-ride captures' lines")
    check_eq(result.data_quality["duplicate_deliveries"], 10, "duplicates: lcawood's 10")
    check_eq(result.data_quality["rides_without_readings"], 9, "the 9 SYSTEM-only rides")
    check_eq([d[0] for d in result.zones["daily"]], ["2022-07-06", "2022-07-25", "2022-10-04", "2022-11-03"],
             "daily dates")


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", default=None,
                    help="the sample landing folder (default: shared/data/deloton/landing above this file)")
    args = ap.parse_args(argv)
    for unit in (unit_timestamps, unit_numbers, unit_dates_ages_limits, unit_names_addresses,
                 unit_user_json, unit_records_and_shapes, unit_file_lines):
        unit()
    for scenario in (scenario_ride_logic, scenario_streams_alerts_daily, scenario_ride_order,
                     scenario_genders_and_nul):
        with tempfile.TemporaryDirectory(prefix="deloton-ref-test-") as tmp:
            scenario(tmp)
    print("unit checks and hand-written scenarios: %s" % ("FAILED" if FAILURES else "ok"))
    samples = args.samples or find_samples()
    if samples is None or not os.path.isdir(samples):
        if FAILURES:
            return 1
        print("SKIP: shared/data/deloton/landing not found above %s" % os.path.dirname(__file__))
        return 77
    with tempfile.TemporaryDirectory(prefix="deloton-ref-samples-") as tmp:
        before = len(FAILURES)
        sample_checks(samples, tmp)
        print("real samples (%s): %s" % (samples, "FAILED" if len(FAILURES) > before else "ok"))
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
