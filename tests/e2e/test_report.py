#!/usr/bin/python3
"""`mpilake report`: Deloton's daily executive report, end to end.

On generated Deloton data (two generated landings merged, so the data's range has two days without
rides in it, and a bad-line rate that leaves some rides with unknown riders), run at 2 ranks:
- every figure in the report's JSON equals the `daily` zone's row AND a recomputation done here from
  `rides`, `riders` and `readings` with h5py/numpy (rides, riders, ride time, energy, average power and
  heart rate, alerts, first-time riders, genders, age bands at the day, ride time by gender,
  rides by hour, the scatter's points), for the day and the day before, and the changes between them;
- the PDF has pages and embedded chart images (pdfinfo, pdfimages -list) and its first page renders
  to a PNG (pdftoppm); the HTML is self-contained (charts as data: URIs); no rider's name or email is
  in the HTML, JSON or PDF text;
- a date in the range without rides gives the "no rides" report; the first day has no day before;
- bad dates (syntax, outside the range), a STEDI run's folder, a missing folder and bad flags give one
  error line and exit 2;
- --email delivers one MIME message (HTML body with the charts inline, the PDF attached, the right
  envelope recipients) to an aiosmtpd server started here on 127.0.0.1; a server that is down gives one
  clear error line, exit 1, and the files are still written.
"""
import argparse
import datetime as dt
import email
import email.policy
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from e2e_harness import free_port  # noqa: E402

FAILURES = []
US_PER_DAY = 86_400_000_000
INT64_NULL = np.iinfo(np.int64).min
AGE_BANDS = ["under_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_plus"]
GENDERS = ["male", "female", "other"]
START = dt.date(2026, 3, 1)  # landing A: 1 and 2 March; landing B: 5 March; 3 and 4 March have no rides


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)
    return condition


def close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def env():
    e = dict(os.environ)
    e.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    return e


def run(cmd, timeout=300):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env())


# ---------------------------------------------------------------------------------------------------
# The independent recomputation from the zones
# ---------------------------------------------------------------------------------------------------
def read(path, columns):
    with h5py.File(path, "r") as f:
        data = {c: f[c][()] for c in columns}
    for name, values in data.items():
        if values.dtype.kind == "S":
            data[name] = np.array([bytes(v).decode("utf-8") for v in values], dtype=object)
    return data


class Zones:
    def __init__(self, out):
        self.daily = read(os.path.join(out, "daily.h5"), ["date", "rides", "riders", "duration_s", "energy_kj",
                                                          "power_avg_w", "heart_rate_avg", "alerts"] +
                          [f"riders_{g}" for g in GENDERS] + [f"duration_s_{g}" for g in GENDERS] +
                          [f"riders_age_{b}" for b in AGE_BANDS])
        self.rides = read(os.path.join(out, "rides.h5"), ["ride_id", "user_id", "start_time", "duration_s",
                                                          "readings", "heart_rate_avg", "power_avg_w", "energy_kj",
                                                          "alert"])
        self.riders = read(os.path.join(out, "riders.h5"), ["user_id", "gender", "date_of_birth", "first_name",
                                                            "last_name", "email"])
        self.readings = read(os.path.join(out, "readings.h5"), ["ride_id", "heart_rate", "power_w"])

    def daily_row(self, date):
        dates = list(self.daily["date"])
        return dates.index(date.isoformat()) if date.isoformat() in dates else None


def age_at(birth, day):
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def age_band(age):
    for upper, band in ((18, "under_18"), (25, "18_24"), (35, "25_34"), (45, "35_44"), (55, "45_54"), (65, "55_64")):
        if age < upper:
            return band
    return "65_plus"


def recompute(z, day):
    """The day's figures from rides/riders/readings (never from the daily zone or the report)."""
    start_day = z.rides["start_time"] // US_PER_DAY
    on_day = start_day == (day - dt.date(1970, 1, 1)).days
    uid = z.rides["user_id"][on_day]
    known = sorted(set(int(u) for u in uid if u != INT64_NULL))
    rider_index = {int(u): i for i, u in enumerate(z.riders["user_id"])}
    gender_of = {}
    for u in known:
        g = z.riders["gender"][rider_index[u]]
        gender_of[u] = g if g in ("male", "female") else "other"
    bands = {b: 0 for b in AGE_BANDS}
    for u in known:
        dob = z.riders["date_of_birth"][rider_index[u]]
        if dob:
            bands[age_band(age_at(dt.date.fromisoformat(dob), day))] += 1
    time_by_gender = {g: 0.0 for g in GENDERS}
    for u, d in zip(uid, z.rides["duration_s"][on_day]):
        if u != INT64_NULL:
            time_by_gender[gender_of[int(u)]] += float(d)
    ride_ids = z.rides["ride_id"][on_day]
    in_day = np.isin(z.readings["ride_id"], ride_ids)
    power = z.readings["power_w"][in_day]
    hr = z.readings["heart_rate"][in_day]
    hr = hr[hr != INT64_NULL]
    # First-time riders: the first ride of each known rider over all rides.
    first_start = {}
    for u, s in zip(z.rides["user_id"], z.rides["start_time"]):
        if u != INT64_NULL:
            first_start[int(u)] = min(first_start.get(int(u), s), s)
    new_riders = sum(1 for s in first_start.values() if s // US_PER_DAY == (day - dt.date(1970, 1, 1)).days)
    ride_hr, ride_power = z.rides["heart_rate_avg"][on_day], z.rides["power_avg_w"][on_day]
    usable = (z.rides["readings"][on_day] > 0) & np.isfinite(ride_hr) & np.isfinite(ride_power)
    hours = (z.rides["start_time"][on_day] // 3_600_000_000) % 24
    return {
        "rides": int(on_day.sum()), "riders": len(known), "total_ride_time_s": float(z.rides["duration_s"][on_day].sum()),
        "energy_kj": float(z.rides["energy_kj"][on_day].sum()),
        "power_avg_w": float(power.mean()) if len(power) else None,
        "heart_rate_avg": float(hr.mean()) if len(hr) else None,
        "alerts": int(z.rides["alert"][on_day].sum()), "new_riders": new_riders,
        "riders_by_gender": {g: sum(1 for v in gender_of.values() if v == g) for g in GENDERS},
        "riders_by_age_band": bands, "ride_time_s_by_gender": time_by_gender,
        "rides_by_hour": [int((hours == h).sum()) for h in range(24)],
        "scatter": sorted((round(float(a), 3), round(float(b), 3)) for a, b in zip(ride_hr[usable], ride_power[usable])),
    }


def check_against_daily(z, day, expected):
    """The recomputation agrees with the daily zone (so both references hold)."""
    i = z.daily_row(day)
    if expected["rides"] == 0:
        check(i is None, f"{day}: no daily row for a day without rides")
        return
    if not check(i is not None, f"{day}: a daily row"):
        return
    d = z.daily
    for key, column in (("rides", "rides"), ("riders", "riders"), ("alerts", "alerts")):
        check(int(d[column][i]) == expected[key], f"{day}: daily.{column} {d[column][i]} = recomputed {expected[key]}")
    for key, column in (("total_ride_time_s", "duration_s"), ("energy_kj", "energy_kj"), ("power_avg_w", "power_avg_w"),
                        ("heart_rate_avg", "heart_rate_avg")):
        check(close(float(d[column][i]), expected[key]), f"{day}: daily.{column} {d[column][i]} = recomputed {expected[key]}")
    for g in GENDERS:
        check(int(d[f"riders_{g}"][i]) == expected["riders_by_gender"][g], f"{day}: daily.riders_{g}")
        check(close(float(d[f"duration_s_{g}"][i]), expected["ride_time_s_by_gender"][g]), f"{day}: daily.duration_s_{g}")
    for b in AGE_BANDS:
        check(int(d[f"riders_age_{b}"][i]) == expected["riders_by_age_band"][b], f"{day}: daily.riders_age_{b}")


def check_report_json(report, z, day, has_previous):
    today = recompute(z, day)
    check_against_daily(z, day, today)
    previous_day = day - dt.timedelta(days=1)
    before = recompute(z, previous_day) if has_previous else None
    if before:
        check_against_daily(z, previous_day, before)
    check(report["date"] == day.isoformat() and report["previous_date"] == previous_day.isoformat(), f"{day}: dates")
    check(report["previous_in_data"] == has_previous, f"{day}: previous_in_data is {has_previous}")
    check(report["has_rides"] == (today["rides"] > 0), f"{day}: has_rides")
    kpis = report["kpis"]
    check(set(kpis) == {"rides", "riders", "total_ride_time_s", "energy_kj", "power_avg_w", "heart_rate_avg", "alerts",
                        "new_riders"}, f"{day}: the KPIs shown: {sorted(kpis)}")
    for key in kpis:
        value, previous = today[key], before[key] if before else None
        check(close(kpis[key]["value"], value), f"{day}: {key} = {kpis[key]['value']}, recomputed {value}")
        check(close(kpis[key]["previous"], previous), f"{day}: {key} the day before = {kpis[key]['previous']}, "
                                                      f"recomputed {previous}")
        if value is not None and previous is not None:
            check(close(kpis[key]["change"], value - previous), f"{day}: {key} change")
            expected_pct = (value - previous) / previous * 100 if previous else None
            check(close(kpis[key]["change_pct"], expected_pct), f"{day}: {key} change_pct")
        else:
            check(kpis[key]["change"] is None, f"{day}: {key} has no change without the day before")
    if not today["rides"]:
        check("charts" not in report, f"{day}: no charts on a day without rides")
        check("no rides" in report["headline"].lower(), f"{day}: the headline says no rides: {report['headline']!r}")
        return today
    charts = report["charts"]
    check(charts["riders_by_gender"]["riders"] == today["riders_by_gender"], f"{day}: riders by gender")
    check(charts["riders_by_gender"]["previous"] == (before["riders_by_gender"] if before else None),
          f"{day}: riders by gender the day before")
    bands = {b["key"]: b["riders"] for b in charts["riders_by_age_band"]["bands"]}
    check(bands == today["riders_by_age_band"], f"{day}: riders by age band {bands} vs {today['riders_by_age_band']}")
    check(charts["riders_by_age_band"]["unknown_age"] == today["riders"] - sum(today["riders_by_age_band"].values()),
          f"{day}: riders of unknown age")
    seconds = charts["ride_time_by_gender"]["seconds"]
    check(all(close(seconds[g], today["ride_time_s_by_gender"][g]) for g in GENDERS), f"{day}: ride time by gender")
    check(close(charts["ride_time_by_gender"]["unknown_rider_seconds"],
                max(0.0, today["total_ride_time_s"] - sum(today["ride_time_s_by_gender"].values())), rel=1e-6),
          f"{day}: ride time of unknown riders")
    check(charts["rides_by_hour"]["rides"] == today["rides_by_hour"], f"{day}: rides by hour")
    scatter = charts["power_vs_heart_rate"]
    check(scatter["points"] == len(today["scatter"]) == len(scatter["rides"]), f"{day}: scatter points")
    check(sorted(tuple(p) for p in scatter["rides"]) == today["scatter"], f"{day}: the scatter's points")
    check(scatter["rides_without_heart_rate"] == today["rides"] - len(today["scatter"]), f"{day}: rides left out")
    # Takeaways are computed: they name the chart's leading value.
    top_band = max(AGE_BANDS, key=lambda b: today["riders_by_age_band"][b])
    label = {"under_18": "Under 18", "65_plus": "65+"}.get(top_band, top_band.replace("_", "–"))
    pct = 100.0 * today["riders_by_age_band"][top_band] / today["riders"]
    check(label in charts["riders_by_age_band"]["takeaway"] and f"({pct:.0f}%)" in charts["riders_by_age_band"]["takeaway"],
          f"{day}: age takeaway names {label} ({pct:.0f}%): {charts['riders_by_age_band']['takeaway']!r}")
    peak = int(np.argmax(today["rides_by_hour"]))
    check(f"{peak:02d}:00" in charts["rides_by_hour"]["takeaway"], f"{day}: hour takeaway names {peak:02d}:00")
    top_gender = max(GENDERS, key=lambda g: today["riders_by_gender"][g])
    check(str(today["riders_by_gender"][top_gender]) in charts["riders_by_gender"]["takeaway"], f"{day}: gender takeaway")
    for name, chart in charts.items():
        check(isinstance(chart["takeaway"], str) and len(chart["takeaway"]) > 10, f"{day}: {name} has a takeaway")
    return today


def check_pdf(pdf, pages_at_least, images_at_least, tmp):
    info = run(["pdfinfo", pdf])
    pages = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    check(info.returncode == 0 and pages and int(pages.group(1)) >= pages_at_least,
          f"{pdf}: at least {pages_at_least} pages: {info.stdout[-300:]} {info.stderr}")
    listing = run(["pdfimages", "-list", pdf])
    images = [line for line in listing.stdout.splitlines()[2:] if line.split()[2:3] == ["image"]]
    check(len(images) >= images_at_least, f"{pdf}: at least {images_at_least} embedded images, found {len(images)}")
    png = os.path.join(tmp, os.path.basename(pdf) + "-page")
    rendered = run(["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-png", pdf, png])
    pngs = [f for f in os.listdir(tmp) if f.startswith(os.path.basename(png)) and f.endswith(".png")]
    check(rendered.returncode == 0 and pngs and os.path.getsize(os.path.join(tmp, pngs[0])) > 5000,
          f"{pdf}: page 1 renders to a PNG")
    return run(["pdftotext", pdf, "-"]).stdout


def check_no_personal_data(z, texts, label):
    words = set()
    for column in ("first_name", "last_name", "email"):
        words.update(v for v in z.riders[column] if len(v) >= 5)
    for text in texts:
        leaked = sorted(w for w in words if w in text)
        check(not leaked, f"{label}: no rider's name or email in the report (found {leaked[:5]})")


def one_error_line(result, label, needle, code=2):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return check(result.returncode == code and len(lines) == 1 and lines[0].startswith("mpilake: error: ") and
                 needle in lines[0], f"{label}: one error line naming {needle!r}, exit {code}; got "
                                     f"{result.returncode} {result.stderr!r}")



class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that keeps every envelope."""

    def __enter__(self):
        from aiosmtpd.controller import Controller

        messages = self.messages = []

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                messages.append(envelope)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def write_zone(path, columns):
    with h5py.File(path, "w") as f:
        f.attrs["pipeline"] = np.bytes_("deloton")
        for name, values in columns.items():
            f[name] = values


def check_corner_cases(tmp):
    """The generator alone on hand-made zones: a day whose rides are all by unknown riders, one ride
    without readings (NaN averages), and nothing on the day before."""
    out = os.path.join(tmp, "corner")
    os.makedirs(out)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"pipeline": "deloton"}, f)
    t0 = (dt.date(2026, 6, 2) - dt.date(1970, 1, 1)).days * US_PER_DAY + 9 * 3_600_000_000
    nan = float("nan")
    write_zone(os.path.join(out, "rides.h5"), {
        "ride_id": np.array([1, 2, 3]), "user_id": np.array([7, INT64_NULL, INT64_NULL]),
        "start_time": np.array([t0 - US_PER_DAY, t0, t0 + 600_000_000]), "duration_s": np.array([60.0, 120.0, 0.0]),
        "readings": np.array([60, 120, 0]), "heart_rate_avg": np.array([110.0, 120.0, nan]),
        "power_avg_w": np.array([80.0, 90.0, nan]), "energy_kj": np.array([4.8, 10.8, 0.0]),
        "alert": np.array([0, 1, 0])})
    write_zone(os.path.join(out, "riders.h5"), {"user_id": np.array([7]), "first_ride_start": np.array([t0 - US_PER_DAY])})
    zero = np.array([0, 0])
    daily = {"date": np.array([b"2026-06-01", b"2026-06-02"]), "rides": np.array([1, 2]), "riders": np.array([1, 0]),
             "duration_s": np.array([60.0, 120.0]), "energy_kj": np.array([4.8, 10.8]),
             "power_avg_w": np.array([80.0, 90.0]), "heart_rate_avg": np.array([110.0, 120.0]),
             "alerts": np.array([0, 1]), "riders_male": np.array([1, 0]), "riders_female": zero, "riders_other": zero,
             "duration_s_male": np.array([60.0, 0.0]), "duration_s_female": np.zeros(2), "duration_s_other": np.zeros(2)}
    for b in AGE_BANDS:
        daily[f"riders_age_{b}"] = np.array([1, 0]) if b == "25_34" else zero
    write_zone(os.path.join(out, "daily.h5"), daily)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "report", "deloton_report.py")
    prefix = os.path.join(out, "r")
    result = run(["/usr/bin/python3", script, "--out", out, "--date", "2026-06-02", "--prefix", prefix])
    if check(result.returncode == 0, f"corner cases: {result.stderr}"):
        r = json.load(open(prefix + ".json"))
        check(r["kpis"]["riders"]["value"] == 0 and r["kpis"]["rides"]["value"] == 2 and
              r["kpis"]["riders"]["change_pct"] == -100.0, f"corner cases: riders and rides {r['kpis']}")
        check(r["charts"]["power_vs_heart_rate"]["points"] == 1 and
              r["charts"]["power_vs_heart_rate"]["rides_without_heart_rate"] == 1, "corner cases: scatter points")
        check(close(r["charts"]["ride_time_by_gender"]["unknown_rider_seconds"], 120.0), "corner: unknown riders' time")
        check("unknown riders" in r["charts"]["ride_time_by_gender"]["takeaway"], "corner: time takeaway")
        check(os.path.getsize(prefix + ".pdf") > 1000, "corner cases: a PDF")
    result = run(["/usr/bin/python3", script, "--out", out, "--date", "2026-06-03", "--prefix", prefix + "x"])
    one_error_line(result, "generator alone, outside the range", "2026-06-01 to 2026-06-02")


# ---------------------------------------------------------------------------------------------------
def make_runs(args, tmp, mpirun):
    landing = os.path.join(tmp, "landing")
    extra = os.path.join(tmp, "landing-later")
    common = ["--bikes", "10", "--streams", "2", "--bad-line-rate", "0.002"]
    for out, days, seed, start in ((landing, 2, 31, START), (extra, 1, 32, START + dt.timedelta(days=4))):
        result = run(mpirun + ["-n", "2", args.mpilake, "generate", "--pipeline", "deloton", "--out", out, "--days",
                               str(days), "--seed", str(seed), "--start-date", start.isoformat()] + common)
        if not check(result.returncode == 0, f"generate: {result.stderr}"):
            return None, None
    # Two more streams from later days: the range then has days without rides in it.
    for name in os.listdir(os.path.join(extra, "deloton")):
        shutil.move(os.path.join(extra, "deloton", name), os.path.join(landing, "deloton", name + "0"))
    out = os.path.join(tmp, "deloton-run")
    result = run(mpirun + ["-n", "2", args.mpilake, "run", "--pipeline", "deloton", "--landing", landing, "--out", out,
                           "--quiet"], timeout=600)
    if not check(result.returncode == 0 and os.path.isfile(os.path.join(out, "summary.json")),
                 f"deloton run: {result.stderr}"):
        return None, None
    stedi_landing, stedi_out = os.path.join(tmp, "stedi-landing"), os.path.join(tmp, "stedi-run")
    result = run([args.mpilake, "generate", "--out", stedi_landing, "--customers", "10", "--readings-per-customer", "3"])
    result2 = run([args.mpilake, "run", "--landing", stedi_landing, "--out", stedi_out, "--quiet"])
    check(result.returncode == 0 and result2.returncode == 0, f"stedi run: {result.stderr} {result2.stderr}")
    return out, stedi_out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    args = parser.parse_args()
    for tool in ("pdfinfo", "pdfimages", "pdftoppm", "pdftotext"):
        if shutil.which(tool) is None:
            print(f"test_report: SKIP ({tool} from poppler-utils is not installed)")
            return 77
    mpirun = [args.mpiexec, "--allow-run-as-root", "--oversubscribe"]
    with tempfile.TemporaryDirectory() as tmp:
        check_corner_cases(tmp)
        out, stedi_out = make_runs(args, tmp, mpirun)
        if out is None:
            return 1
        z = Zones(out)
        dates = list(z.daily["date"])
        print(f"data: {len(z.rides['ride_id'])} rides on {dates}, "
              f"{int((z.rides['user_id'] == INT64_NULL).sum())} by unknown riders", flush=True)
        check(dates == [START.isoformat(), (START + dt.timedelta(days=1)).isoformat(),
                        (START + dt.timedelta(days=4)).isoformat()], f"the data's days: {dates}")
        day = START + dt.timedelta(days=1)

        # The full report, at 2 ranks (rank 0 works), with the email.
        with SmtpServer() as smtp:
            recipients = ["ceo@deloton.example", "cfo@deloton.example"]
            result = run(mpirun + ["-n", "2", args.mpilake, "report", "--out", out, "--date", day.isoformat(), "--email",
                                   f"smtp://127.0.0.1:{smtp.port}", "--from", "reports@deloton.example", "--to",
                                   ",".join(recipients)])
            check(result.returncode == 0, f"report with email: {result.returncode} {result.stderr}")
            check(result.stdout.count("report for") == 1, f"only rank 0 reports: {result.stdout!r}")
            messages = list(smtp.messages)
        prefix = os.path.join(out, "reports", f"deloton-{day}")
        report = json.load(open(prefix + ".json"))
        today = check_report_json(report, z, day, has_previous=True)
        html_text = open(prefix + ".html", encoding="utf-8").read()
        check(html_text.count("src=\"data:image/png;base64,") == 5, "the HTML embeds the 5 charts as data: URIs")
        check(not re.search(r"(src|href)=\"(https?:|file:|/)", html_text), "the HTML loads nothing from outside")
        pdf_text = check_pdf(prefix + ".pdf", 2, 5, tmp)
        check(f"{today['rides']:,}" in pdf_text and "riders by age band" in pdf_text.lower(), "the PDF shows the figures")
        check_no_personal_data(z, [html_text, json.dumps(report), pdf_text], str(day))
        check(not [f for f in os.listdir(os.path.dirname(prefix)) if f.startswith(".")], "no temporary files left")

        if check(len(messages) == 1, f"one email delivered, got {len(messages)}"):
            envelope = messages[0]
            check(sorted(envelope.rcpt_tos) == sorted(recipients), f"envelope recipients: {envelope.rcpt_tos}")
            check(envelope.mail_from == "reports@deloton.example", f"envelope sender: {envelope.mail_from}")
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            check(sorted(a.strip() for a in message["To"].split(",")) == sorted(recipients), f"To: {message['To']}")
            check(day.isoformat() in message["Subject"], f"Subject names the day: {message['Subject']}")
            html_part = message.get_body(preferencelist=("html",))
            check(html_part is not None and "Daily executive report" in html_part.get_content(), "an HTML body")
            check(message.get_body(preferencelist=("plain",)) is not None, "a plain-text alternative")
            inline = [p for p in message.walk() if p.get_content_type() == "image/png"]
            check(len(inline) == 5 and html_part is not None and
                  all(f"cid:{p['Content-ID'].strip('<>')}" in html_part.get_content() for p in inline),
                  "the 5 charts inline, referenced by cid:")
            pdfs = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
            check(len(pdfs) == 1 and pdfs[0].get_filename() == f"deloton-{day}.pdf" and
                  pdfs[0].get_content() == open(prefix + ".pdf", "rb").read(), "the PDF attached, same bytes")

        # The first day: no day before in the data.
        first = START
        result = run([args.mpilake, "report", "--out", out, "--date", first.isoformat(), "--save-as",
                      os.path.join(tmp, "named", "first")])
        if check(result.returncode == 0, f"report for the first day: {result.stderr}"):
            check_report_json(json.load(open(os.path.join(tmp, "named", "first.json"))), z, first, has_previous=False)
            check(all(os.path.isfile(os.path.join(tmp, "named", "first" + s)) for s in (".html", ".pdf")),
                  "--save-as names the files")

        # Days without rides inside the range: the day after a day with rides, and one after none.
        for no_rides, previous_has_rides in ((START + dt.timedelta(days=2), True), (START + dt.timedelta(days=3), False)):
            result = run([args.mpilake, "report", "--out", out, "--date", no_rides.isoformat()])
            if check(result.returncode == 0, f"report for {no_rides} (no rides): {result.stderr}"):
                p = os.path.join(out, "reports", f"deloton-{no_rides}")
                r = json.load(open(p + ".json"))
                check_report_json(r, z, no_rides, has_previous=True)
                check((r["kpis"]["rides"]["previous"] > 0) == previous_has_rides, f"{no_rides}: the day before")
                text = check_pdf(p + ".pdf", 1, 0, tmp)
                check("There were no rides on" in text and "There were no rides on" in open(p + ".html").read(),
                      f"{no_rides}: the report says there were no rides")
        later = START + dt.timedelta(days=4)
        result = run([args.mpilake, "report", "--out", out, "--date", later.isoformat()])
        if check(result.returncode == 0, f"report for {later}: {result.stderr}"):
            r = check_report_json(json.load(open(os.path.join(out, "reports", f"deloton-{later}.json"))), z, later, True)

        # Errors: one line, exit 2, nothing written.
        before = sorted(os.listdir(os.path.join(out, "reports")))
        last = START + dt.timedelta(days=4)
        for label, flags, needle in (
                ("date syntax", ["--out", out, "--date", "2026-3-01"], "YYYY-MM-DD"),
                ("no such day", ["--out", out, "--date", "2026-02-30"], "calendar date"),
                ("before the data", ["--out", out, "--date", "2026-02-28"], f"range {START} to {last}"),
                ("after the data", ["--out", out, "--date", "2026-03-06"], f"range {START} to {last}"),
                ("a STEDI run", ["--out", stedi_out, "--date", START.isoformat()], "not a Deloton run"),
                ("a missing folder", ["--out", os.path.join(tmp, "nowhere"), "--date", START.isoformat()],
                 "no such folder"),
                ("no --date", ["--out", out], "--date"),
                ("an abbreviated flag", ["--out", out, "--dat", START.isoformat()], "--dat"),
                ("--to without --email", ["--out", out, "--date", START.isoformat(), "--to", "a@b.c"], "--email"),
                ("a bad SMTP URL", ["--out", out, "--date", START.isoformat(), "--email", "mail.example:25", "--from",
                                    "a@b.c", "--to", "d@e.f"], "smtp://HOST:PORT"),
                ("a bad recipient", ["--out", out, "--date", START.isoformat(), "--email", "smtp://127.0.0.1:25",
                                     "--from", "a@b.c", "--to", "d@e.f,Bcc: x@y.z"], "--to")):
            one_error_line(run([args.mpilake, "report"] + flags), label, needle)
        check(sorted(os.listdir(os.path.join(out, "reports"))) == before, "a refused report writes nothing")
        missing = dict(os.environ, MPILAKE_REPORT_SCRIPT=os.path.join(tmp, "missing.py"))
        result = subprocess.run([args.mpilake, "report", "--out", out, "--date", START.isoformat()], capture_output=True,
                                text=True, timeout=60, env=missing)
        one_error_line(result, "a missing generator", "MPILAKE_REPORT_SCRIPT")
        blocker = os.path.join(tmp, "a-file")
        open(blocker, "w").close()
        one_error_line(run([args.mpilake, "report", "--out", out, "--date", START.isoformat(), "--save-as",
                            os.path.join(blocker, "report")]), "--save-as under a file", "cannot write the report")

        # An SMTP server that is down: one clear error, exit 1, the files are written.
        port = free_port()
        save_as = os.path.join(tmp, "down", "report")
        result = run([args.mpilake, "report", "--out", out, "--date", day.isoformat(), "--save-as", save_as, "--email",
                      f"smtp://127.0.0.1:{port}", "--from", "reports@deloton.example", "--to", "ceo@deloton.example"])
        one_error_line(result, "SMTP server down", "could not email the report", code=1)
        check(all(os.path.isfile(save_as + s) for s in (".html", ".pdf", ".json")), "files written when SMTP fails")
    if FAILURES:
        print(f"test_report: FAILED ({len(FAILURES)} problems)")
        return 1
    print("test_report: the report's figures equal the daily zone and the recomputation; PDF, no-rides, errors "
          "and email as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
