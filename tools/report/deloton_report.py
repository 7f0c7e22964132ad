#!/usr/bin/python3
"""Deloton's daily executive report from a finished `mpilake run --pipeline deloton` output folder.

Started by `mpilake report` (which checks the folder and the date first), or by hand:
  /usr/bin/python3 deloton_report.py --out DIR --date YYYY-MM-DD --prefix PATH
                                     [--email smtp://HOST:PORT --from A --to B[,C]]
                                     [--tls required|opportunistic|off] [--ca-file FILE]
Reads the daily, rides and riders zones with h5py (from riders only user_id and first_ride_start: no
personal data is ever read), draws the charts with matplotlib, fills an HTML template with the charts
embedded as data: URIs, renders it to PDF with weasyprint, and writes PATH.html, PATH.pdf and PATH.json
(every figure the report shows) atomically. With --email, also sends it as one MIME message (HTML body
with the charts inline, PDF attached) with smtplib: smtp:// with STARTTLS as --tls says, or smtps://
(implicit TLS), certificates checked against the system's CAs or --ca-file, and a login from
MPILAKE_SMTP_USER / MPILAKE_SMTP_PASSWORD when set (`mpilake report` sets them from --smtp-auth-file).

Exit codes: 0 done; 2 bad input (one `mpilake: error:` line, nothing written); 1 the files are written
but the email could not be sent (one error line).
"""
import argparse
import base64
import datetime as dt
import email.message
import email.policy
import email.utils
import io
import json
import logging
import math
import os
import re
import smtplib
import ssl
import sys
import tempfile

import h5py
import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import jinja2  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = "deloton_report.html.j2"
REPORT_SCHEMA_VERSION = 1
US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000
EPOCH = dt.date(1970, 1, 1)

GENDERS = [("male", "Male", "Men"), ("female", "Female", "Women"), ("other", "Other", "Other riders")]
AGE_BANDS = [("under_18", "Under 18"), ("18_24", "18–24"), ("25_34", "25–34"), ("35_44", "35–44"),
             ("45_54", "45–54"), ("55_64", "55–64"), ("65_plus", "65+")]
DAILY_COLUMNS = (["date", "rides", "riders", "duration_s", "energy_kj", "power_avg_w", "heart_rate_avg", "alerts"] +
                 ["riders_" + g for g, _, _ in GENDERS] + ["duration_s_" + g for g, _, _ in GENDERS] +
                 ["riders_age_" + b for b, _ in AGE_BANDS])
RIDE_COLUMNS = ["ride_id", "user_id", "start_time", "duration_s", "readings", "heart_rate_avg", "power_avg_w",
                "energy_kj", "alert"]
# The only columns read from riders.h5: nothing that identifies a person.
RIDER_COLUMNS = ["user_id", "first_ride_start"]

# Palette: one dark brand colour, one accent, muted greys; gender colours stay the same in every chart.
NAVY, ACCENT, MUTED, GRID, INK = "#17324d", "#1f8a70", "#b8c4cf", "#e3e8ee", "#22303c"
GENDER_COLOURS = {"male": "#2f6690", "female": "#d1495b", "other": "#edae49", "unknown": "#9aa5b1"}
GOOD, BAD, NEUTRAL = "#1b7f5b", "#c0392b", "#6b7785"


class ReportError(Exception):
    """A problem with the input: one error line, exit 2, nothing written."""


# ---------------------------------------------------------------------------------------------------
# Reading the zones
# ---------------------------------------------------------------------------------------------------
def _text(value):
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def read_zone(out, zone, columns):
    path = os.path.join(out, zone + ".h5")
    if not os.path.isfile(path):
        raise ReportError(f"{out} is not a finished Deloton run: {zone}.h5 is missing")
    try:
        with h5py.File(path, "r") as f:
            if _text(f.attrs.get("pipeline", b"")) != "deloton":
                raise ReportError(f"{path} is not a Deloton zone (its pipeline attribute is not 'deloton')")
            missing = [c for c in columns if c not in f]
            if missing:
                raise ReportError(f"{path} lacks the column(s) {', '.join(missing)}")
            data = {c: f[c][()] for c in columns}
    except OSError as exc:
        raise ReportError(f"cannot read {path}: {exc}") from None
    for name, values in data.items():
        if values.dtype.kind == "S":
            data[name] = np.array([bytes(v).decode("utf-8") for v in values], dtype=object)
    return data


def day_number(date):
    return (date - EPOCH).days


def parse_date(text):
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text or ""):
        raise ReportError(f"--date must be a date as YYYY-MM-DD (got '{text}')")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ReportError(f"--date {text} is not a calendar date") from None


def finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------------------------------
# The figures
# ---------------------------------------------------------------------------------------------------
def day_figures(daily, index):
    """The `daily` row as the report's figures (zeros and no averages for a day without rides)."""
    if index is None:
        return {"rides": 0, "riders": 0, "total_ride_time_s": 0.0, "energy_kj": 0.0, "power_avg_w": None,
                "heart_rate_avg": None, "alerts": 0, "riders_by_gender": {g: 0 for g, _, _ in GENDERS},
                "ride_time_s_by_gender": {g: 0.0 for g, _, _ in GENDERS},
                "riders_by_age_band": {b: 0 for b, _ in AGE_BANDS}}
    return {
        "rides": int(daily["rides"][index]),
        "riders": int(daily["riders"][index]),
        "total_ride_time_s": float(daily["duration_s"][index]),
        "energy_kj": float(daily["energy_kj"][index]),
        "power_avg_w": finite_or_none(daily["power_avg_w"][index]),
        "heart_rate_avg": finite_or_none(daily["heart_rate_avg"][index]),
        "alerts": int(daily["alerts"][index]),
        "riders_by_gender": {g: int(daily["riders_" + g][index]) for g, _, _ in GENDERS},
        "ride_time_s_by_gender": {g: float(daily["duration_s_" + g][index]) for g, _, _ in GENDERS},
        "riders_by_age_band": {b: int(daily["riders_age_" + b][index]) for b, _ in AGE_BANDS},
    }


def change(value, previous):
    if value is None or previous is None:
        return None, None
    delta = value - previous
    return delta, (delta / previous * 100.0 if previous else None)


def pearson(x, y):
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def percent(part, whole):
    return 100.0 * part / whole if whole else 0.0


def short_day(date):
    return date.strftime("%a ") + str(date.day) + date.strftime(" %b")


def long_day(date):
    return date.strftime("%A ") + str(date.day) + date.strftime(" %B %Y")


def hours(seconds):
    return seconds / 3600.0


def read_summary(out):
    path = os.path.join(out, "summary.json")
    try:
        with open(path, encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, ValueError) as exc:
        raise ReportError(f"{out} is not a finished mpilake run: cannot read summary.json ({exc})") from None
    if not isinstance(summary, dict) or summary.get("pipeline") != "deloton":
        raise ReportError(f"{out} is not a Deloton run (summary.json says pipeline "
                          f"'{summary.get('pipeline') if isinstance(summary, dict) else None}')")
    return summary


def compute(out, date):
    summary = read_summary(out)
    daily = read_zone(out, "daily", DAILY_COLUMNS)
    rides = read_zone(out, "rides", RIDE_COLUMNS)
    riders = read_zone(out, "riders", RIDER_COLUMNS)
    dates = list(daily["date"])
    if not dates:
        raise ReportError(f"{out} holds no rides at all, so there is no day to report on")
    first, last = dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[-1])
    if not first <= date <= last:
        raise ReportError(f"--date {date} is outside the data's date range {first} to {last}")
    index_of = {d: i for i, d in enumerate(dates)}
    previous_date = date - dt.timedelta(days=1)
    today = day_figures(daily, index_of.get(date.isoformat()))
    previous = day_figures(daily, index_of.get(previous_date.isoformat())) if previous_date >= first else None

    # Per ride: the rides that started on the day (UTC), as the daily zone counts them.
    start_day = rides["start_time"] // US_PER_DAY
    on_day = start_day == day_number(date)
    if int(on_day.sum()) != today["rides"]:
        raise ReportError(f"the zones in {out} disagree: daily.h5 has {today['rides']} rides on {date}, "
                          f"rides.h5 {int(on_day.sum())} (mixed runs in one folder?)")
    by_hour = np.bincount((rides["start_time"][on_day] // US_PER_HOUR) % 24, minlength=24).astype(int)
    hr, power = rides["heart_rate_avg"][on_day], rides["power_avg_w"][on_day]
    usable = (rides["readings"][on_day] > 0) & np.isfinite(hr) & np.isfinite(power)
    hr, power = hr[usable], power[usable]
    first_ride_day = riders["first_ride_start"] // US_PER_DAY
    new_riders = int((first_ride_day == day_number(date)).sum())
    new_riders_previous = int((first_ride_day == day_number(previous_date)).sum()) if previous else None

    kpis = {}
    for key, label, unit, value, before, higher_is_better in [
        ("rides", "Rides", "rides", today["rides"], previous and previous["rides"], True),
        ("riders", "Riders", "riders", today["riders"], previous and previous["riders"], True),
        ("total_ride_time_s", "Total ride time", "s", today["total_ride_time_s"],
         previous and previous["total_ride_time_s"], True),
        ("energy_kj", "Energy", "kJ", today["energy_kj"], previous and previous["energy_kj"], True),
        ("power_avg_w", "Average power", "W", today["power_avg_w"], previous and previous["power_avg_w"], True),
        ("heart_rate_avg", "Average heart rate", "bpm", today["heart_rate_avg"],
         previous and previous["heart_rate_avg"], None),
        ("alerts", "Heart-rate alerts", "alerts", today["alerts"], previous and previous["alerts"], False),
        ("new_riders", "First-time riders", "riders", new_riders, new_riders_previous, True),
    ]:
        if previous is None:
            before = None
        delta, delta_pct = change(value, before)
        kpis[key] = {"label": label, "unit": unit, "value": value, "previous": before, "change": delta,
                     "change_pct": delta_pct, "higher_is_better": higher_is_better}

    report = {
        "report": "deloton-daily-executive-report",
        "schema_version": REPORT_SCHEMA_VERSION,
        "date": date.isoformat(),
        "previous_date": previous_date.isoformat(),
        "previous_in_data": previous is not None,
        "data_range": {"first": first.isoformat(), "last": last.isoformat()},
        "source": {"out": os.path.abspath(out), "run_created_utc": summary.get("created_utc")},
        "has_rides": today["rides"] > 0,
        "kpis": kpis,
    }
    report["nearest_days_with_rides"] = {
        "before": max((d for d in dates if d < date.isoformat()), default=None),
        "after": min((d for d in dates if d > date.isoformat()), default=None),
    }
    if report["has_rides"]:
        report["charts"] = charts_data(today, previous, by_hour, hr, power)
    report["headline"] = headline(report, date, previous_date)
    return report


def charts_data(today, previous, by_hour, hr, power):
    riders = today["riders"]
    gender = today["riders_by_gender"]
    top = max(GENDERS, key=lambda g: gender[g[0]])
    tied = [g for g in GENDERS if gender[g[0]] == gender[top[0]]]
    if riders == 0:
        gender_takeaway = "No rider of the day is known by account (all rides by unknown riders)"
    elif len(tied) > 1:
        gender_takeaway = (" and ".join(g[2].lower() for g in tied).capitalize() +
                           f" were level at {gender[top[0]]} riders each ({percent(gender[top[0]], riders):.0f}%)")
    else:
        gender_takeaway = (f"{top[2]} were the largest group: {gender[top[0]]} of {riders} riders "
                           f"({percent(gender[top[0]], riders):.0f}%)")

    bands = today["riders_by_age_band"]
    unknown_age = riders - sum(bands.values())
    best = max(AGE_BANDS, key=lambda b: bands[b[0]])
    age_takeaway = (f"The largest age band was {best[1]}: {bands[best[0]]} of {riders} riders "
                    f"({percent(bands[best[0]], riders):.0f}%)" if bands[best[0]] else
                    "No rider of the day has a known age")

    time_by_gender = dict(today["ride_time_s_by_gender"])
    unknown_time = max(0.0, today["total_ride_time_s"] - sum(time_by_gender.values()))
    top_time = max(GENDERS, key=lambda g: time_by_gender[g[0]])
    total_time = today["total_ride_time_s"]
    if time_by_gender[top_time[0]] > 0:
        time_takeaway = (f"{top_time[2]} rode the most: {hours(time_by_gender[top_time[0]]):.1f} h, "
                         f"{percent(time_by_gender[top_time[0]], total_time):.0f}% of all "
                         f"{hours(total_time):.1f} h ridden")
    else:
        time_takeaway = f"All {hours(total_time):.1f} h ridden were by unknown riders"

    r = pearson(hr, power)
    if r is None:
        scatter_takeaway = f"Too few rides with heart-rate data to compare ({len(hr)})"
    else:
        strength = ("No clear" if abs(r) < 0.1 else "Weak" if abs(r) < 0.3 else "Moderate" if abs(r) < 0.5 else
                    "Strong")
        direction = "" if abs(r) < 0.1 else (" positive" if r > 0 else " negative")
        scatter_takeaway = f"{strength}{direction} link between effort and heart rate (r = {r:.2f}, {len(hr)} rides)"

    peak = int(np.argmax(by_hour))
    hour_takeaway = (f"Busiest hour: {peak:02d}:00–{(peak + 1) % 24:02d}:00 UTC, {int(by_hour[peak])} rides "
                     f"({percent(int(by_hour[peak]), int(by_hour.sum())):.0f}%)")
    return {
        "riders_by_gender": {"riders": gender, "previous": previous and previous["riders_by_gender"],
                             "takeaway": gender_takeaway},
        "riders_by_age_band": {"bands": [{"key": b, "label": label, "riders": bands[b]} for b, label in AGE_BANDS],
                               "unknown_age": unknown_age, "takeaway": age_takeaway},
        "ride_time_by_gender": {"seconds": time_by_gender, "unknown_rider_seconds": unknown_time,
                                "takeaway": time_takeaway},
        "power_vs_heart_rate": {"points": int(len(hr)), "rides_without_heart_rate": today["rides"] - int(len(hr)),
                                "correlation": r,
                                "rides": [[round(float(h), 3), round(float(p), 3)] for h, p in zip(hr, power)],
                                "takeaway": scatter_takeaway},
        "rides_by_hour": {"rides": [int(v) for v in by_hour], "peak_hour": peak, "takeaway": hour_takeaway},
    }


def headline(report, date, previous_date):
    k = report["kpis"]
    if not report["has_rides"]:
        return f"No rides were recorded on {long_day(date)}."
    text = f"{k['rides']['value']:,} rides by {k['riders']['value']:,} riders"
    if k["rides"]["change_pct"] is not None:
        pct = k["rides"]["change_pct"]
        text += (f", rides {'up' if pct > 0 else 'down'} {abs(pct):.0f}% on {short_day(previous_date)}" if round(pct)
                 else f", level with {short_day(previous_date)}")
    elif report["previous_in_data"]:
        text += f" (no rides on {short_day(previous_date)})"
    alerts = k["alerts"]["value"]
    text += f"; {alerts} heart-rate alert{'s' if alerts != 1 else ''}."
    return text


# ---------------------------------------------------------------------------------------------------
# Charts (matplotlib, Agg): PNG bytes per chart
# ---------------------------------------------------------------------------------------------------
def chart_style():
    plt.rcParams.update({
        "font.family": ["Lato", "DejaVu Sans"], "font.size": 9, "axes.edgecolor": MUTED, "axes.labelcolor": INK,
        "axes.titlesize": 10, "xtick.color": INK, "ytick.color": INK, "axes.spines.top": False,
        "axes.spines.right": False, "axes.grid": False, "grid.color": GRID, "figure.dpi": 100,
        "savefig.dpi": 200, "axes.axisbelow": True,
    })
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


def png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return buffer.getvalue()


def draw_charts(report):
    chart_style()
    charts = report["charts"]
    images = {}
    size = (4.4, 2.3)

    gender = charts["riders_by_gender"]["riders"]
    fig, ax = plt.subplots(figsize=size)
    shown = [(label, gender[g], GENDER_COLOURS[g]) for g, label, _ in GENDERS if gender[g] > 0]
    total = sum(v for _, v, _ in shown)
    # With no known rider, an empty grey ring keeps the chart's shape.
    wedges, _ = ax.pie([v for _, v, _ in shown] or [1], colors=[c for _, _, c in shown] or [GRID], startangle=90,
                       counterclock=False, wedgeprops={"width": 0.42, "edgecolor": "white", "linewidth": 2})
    ax.text(0, 0.08, f"{total}", ha="center", va="center", fontsize=17, fontweight="bold", color=NAVY)
    ax.text(0, -0.2, "riders", ha="center", va="center", fontsize=8.5, color=NEUTRAL)
    labels = [f"{label}  {v}  ({percent(v, total):.0f}%)" for label, v, _ in shown] or ["no known riders"]
    ax.legend(wedges, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=9, handlelength=1,
              handleheight=1)
    ax.set_aspect("equal")
    images["riders_by_gender"] = png(fig)

    bands = charts["riders_by_age_band"]["bands"]
    labels = [b["label"] for b in bands] + (["Unknown"] if charts["riders_by_age_band"]["unknown_age"] else [])
    values = [b["riders"] for b in bands] + ([charts["riders_by_age_band"]["unknown_age"]]
                                             if charts["riders_by_age_band"]["unknown_age"] else [])
    fig, ax = plt.subplots(figsize=size)
    top = max(values)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    bars = ax.bar(labels, values, color=[ACCENT if v == top and v > 0 else MUTED for v in values], width=0.68)
    ax.bar_label(bars, labels=[str(v) for v in values], padding=2, fontsize=8.5, color=INK)
    ax.set_ylabel("riders")
    ax.set_ylim(0, max(1, top) * 1.18)
    ax.yaxis.grid(True)
    ax.tick_params(axis="x", labelsize=8.5)
    images["riders_by_age_band"] = png(fig)

    seconds = charts["ride_time_by_gender"]["seconds"]
    rows = [(label, seconds[g], GENDER_COLOURS[g]) for g, label, _ in GENDERS]
    if charts["ride_time_by_gender"]["unknown_rider_seconds"] >= 0.5:
        rows.append(("Unknown rider", charts["ride_time_by_gender"]["unknown_rider_seconds"], GENDER_COLOURS["unknown"]))
    total = sum(v for _, v, _ in rows)
    fig, ax = plt.subplots(figsize=size)
    y = list(range(len(rows)))[::-1]
    bars = ax.barh(y, [hours(v) for _, v, _ in rows], color=[c for _, _, c in rows], height=0.6)
    ax.set_yticks(y, [label for label, _, _ in rows])
    ax.bar_label(bars, labels=[f"{hours(v):.1f} h  ({percent(v, total):.0f}%)" for _, v, _ in rows], padding=3,
                 fontsize=8.5, color=INK)
    ax.set_xlabel("hours ridden")
    ax.set_xlim(0, max(0.1, max(hours(v) for _, v, _ in rows)) * 1.35)
    ax.xaxis.grid(True)
    images["ride_time_by_gender"] = png(fig)

    points = np.array(charts["power_vs_heart_rate"]["rides"], dtype=float).reshape(-1, 2)
    fig, ax = plt.subplots(figsize=(5.4, 3.3))
    ax.scatter(points[:, 0], points[:, 1], s=14, color=NAVY, alpha=0.55, edgecolors="none")
    if len(points) >= 3 and np.std(points[:, 0]) > 0:
        slope, intercept = np.polyfit(points[:, 0], points[:, 1], 1)
        xs = np.array([points[:, 0].min(), points[:, 0].max()])
        ax.plot(xs, slope * xs + intercept, color=ACCENT, linewidth=1.6, label="trend (least squares)")
        ax.legend(frameon=False, fontsize=8, loc="best")
    ax.set_xlabel("average heart rate of the ride (bpm)")
    ax.set_ylabel("average power (W)")
    ax.grid(True)
    images["power_vs_heart_rate"] = png(fig)

    by_hour = charts["rides_by_hour"]["rides"]
    peak = charts["rides_by_hour"]["peak_hour"]
    fig, ax = plt.subplots(figsize=size)
    ax.bar(range(24), by_hour, color=[ACCENT if h == peak else NAVY for h in range(24)], width=0.75)
    ax.set_xticks(range(0, 24, 3), [f"{h:02d}:00" for h in range(0, 24, 3)])
    ax.set_xlim(-0.7, 23.7)
    ax.set_xlabel("hour the ride started (UTC)")
    ax.set_ylabel("rides")
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.yaxis.grid(True)
    images["rides_by_hour"] = png(fig)
    return images


# ---------------------------------------------------------------------------------------------------
# HTML, PDF, JSON
# ---------------------------------------------------------------------------------------------------
def format_value(key, value):
    if value is None:
        return "–"
    if key == "total_ride_time_s":
        return f"{value / 60:,.0f} min" if abs(value) < 3600 else f"{hours(value):,.1f} h"
    if key == "energy_kj":
        return f"{value:,.0f} kJ"
    if key == "power_avg_w":
        return f"{value:,.1f} W"
    if key == "heart_rate_avg":
        return f"{value:,.1f} bpm"
    return f"{value:,}"


def change_view(key, kpi, previous_date, previous_in_data):
    """(the change: arrow and percent, colour, the day before's value) of a KPI against the day before."""
    if not previous_in_data:
        return "no data", NEUTRAL, f"{short_day(previous_date)}: before the data"
    before = f"{short_day(previous_date)}: {format_value(key, kpi['previous'])}"
    if kpi["change"] is None:
        return "–", NEUTRAL, before
    delta = kpi["change"]
    if abs(delta) < 1e-9:
        return "= level", NEUTRAL, before
    arrow = "▲" if delta > 0 else "▼"
    if kpi["change_pct"] is not None:
        amount = f"{abs(kpi['change_pct']):.1f}%"
    else:
        amount = "+" + format_value(key, delta)
    better = kpi["higher_is_better"]
    colour = NEUTRAL if better is None else (GOOD if (delta > 0) == better else BAD)
    return f"{arrow} {amount}", colour, before


def render_html(report, images, image_src):
    """image_src(name, png_bytes) -> the <img src>: a data: URI for the files, a cid: for the email."""
    date = dt.date.fromisoformat(report["date"])
    previous_date = dt.date.fromisoformat(report["previous_date"])
    cards = []
    for key, kpi in report["kpis"].items():
        text, colour, before = change_view(key, kpi, previous_date, report["previous_in_data"])
        cards.append({"label": kpi["label"], "value": format_value(key, kpi["value"]), "change": text,
                      "colour": colour, "before": before, "previous": format_value(key, kpi["previous"])})
    chart_titles = [
        ("riders_by_gender", "Riders by gender"), ("riders_by_age_band", "Riders by age band"),
        ("ride_time_by_gender", "Total ride time by gender"), ("rides_by_hour", "Rides by hour of day"),
        ("power_vs_heart_rate", "Average power vs average heart rate, per ride"),
    ]
    charts = []
    if report["has_rides"]:
        for name, title in chart_titles:
            charts.append({"name": name, "title": title, "takeaway": report["charts"][name]["takeaway"],
                           "src": image_src(name, images[name])})
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    nearest = report["nearest_days_with_rides"]
    return environment.get_template(TEMPLATE).render(
        report=report, long_date=long_day(date), short_date=short_day(date), cards=cards, charts=charts,
        previous_label=short_day(previous_date), nearest_before=nearest["before"], nearest_after=nearest["after"],
        colours={"navy": NAVY, "accent": ACCENT, "ink": INK, "muted": MUTED, "grid": GRID, "neutral": NEUTRAL},
        generated=report["generated_utc"])


def render_pdf(html_text):
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    import weasyprint  # slow to import: only when needed

    return weasyprint.HTML(string=html_text, base_url=HERE).write_pdf()


def data_uri(_name, data):
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def write_all_atomically(files):
    """{path: bytes}: each written under a hidden temporary name in its folder and fsynced, then all
    renamed, so a reader sees the old files or the new ones, and a failure leaves no new file."""
    staged = []
    try:
        for path, data in files.items():
            folder = os.path.dirname(os.path.abspath(path))
            os.makedirs(folder, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
            staged.append((temporary, path, folder))
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(handle, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
            with os.fdopen(handle, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for temporary, path, _ in staged:
            os.replace(temporary, path)
    except BaseException:
        for temporary, _, _ in staged:
            if os.path.exists(temporary):
                os.unlink(temporary)
        raise
    for folder in sorted(set(folder for _, _, folder in staged)):
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def json_ready(value):
    """NaN and infinities are not JSON: null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------------
# Email
# ---------------------------------------------------------------------------------------------------
def parse_smtp_url(url):
    """-> (scheme, host, port) of smtp://HOST[:PORT] or smtps://HOST[:PORT]."""
    match = re.fullmatch(r"(smtps?)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?/?", url or "")
    if not match or (match.group(3) and not 1 <= int(match.group(3)) <= 65535):
        raise ReportError(f"--email must be smtp://HOST:PORT or smtps://HOST:PORT (got '{url}')")
    scheme = match.group(1)
    return scheme, match.group(2).strip("[]"), int(match.group(3) or (465 if scheme == "smtps" else 25))


def smtp_login():
    """(user, password) from MPILAKE_SMTP_USER / MPILAKE_SMTP_PASSWORD, or None."""
    user, password = os.environ.get("MPILAKE_SMTP_USER", ""), os.environ.get("MPILAKE_SMTP_PASSWORD")
    if not user and password is None:
        return None
    if not user or password is None:
        raise ReportError("set both MPILAKE_SMTP_USER and MPILAKE_SMTP_PASSWORD for an SMTP login, or neither")
    return user, password


def check_address(address, flag):
    if not re.fullmatch(r"[^\s@,<>\"]+@[^\s@,<>\"]+", address):
        raise ReportError(f"{flag} needs an email address such as ceo@deloton.com (got '{address}')")
    return address


def plain_text(report):
    lines = [f"Deloton daily executive report — {long_day(dt.date.fromisoformat(report['date']))}", "",
             report["headline"], ""]
    previous_date = dt.date.fromisoformat(report["previous_date"])
    for key, kpi in report["kpis"].items():
        text, _, before = change_view(key, kpi, previous_date, report["previous_in_data"])
        lines.append(f"  {kpi['label']}: {format_value(key, kpi['value'])}  ({text}; {before})")
    if report["has_rides"]:
        lines += ["", "Takeaways:"] + [f"  - {chart['takeaway']}" for chart in report["charts"].values()]
    lines += ["", "The full report with charts is attached as PDF."]
    return "\n".join(lines) + "\n"


def build_email(report, images, pdf, pdf_name, sender, recipients):
    message = email.message.EmailMessage(policy=email.policy.SMTP)
    k = report["kpis"]
    summary = (f"{k['rides']['value']:,} rides, {k['riders']['value']:,} riders, {k['alerts']['value']} alerts"
               if report["has_rides"] else "no rides")
    message["Subject"] = f"Deloton daily report {report['date']}: {summary}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = email.utils.make_msgid(domain="deloton.report")
    message.set_content(plain_text(report))
    ids = {name: email.utils.make_msgid(domain="deloton.report") for name in images}
    html_text = render_html(report, images, lambda name, _data: "cid:" + ids[name][1:-1])
    message.add_alternative(html_text, subtype="html")
    html_part = message.get_payload()[1]
    for name, data in images.items():
        html_part.add_related(data, maintype="image", subtype="png", cid=ids[name], filename=name + ".png")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_name)
    return message


def reply_text(exc):
    error = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {' '.join(error.split())}"


def send_email(url, message, sender, recipients, tls, ca_file, login):
    """One SMTP session: TLS as asked, the login when given, the message. Raises ReportError with one
    line for the session's own failures (TLS, login); OSError / SMTPException for the rest."""
    scheme, host, port = parse_smtp_url(url)
    endpoint = f"{host}:{port}"
    tls = tls or ("required" if login else "opportunistic")
    context = ssl.create_default_context(cafile=ca_file or None)
    try:
        smtp = (smtplib.SMTP_SSL(host, port, timeout=30, context=context) if scheme == "smtps"
                else smtplib.SMTP(host, port, timeout=30))
    except ssl.SSLError as exc:
        raise ReportError(f"TLS with {endpoint} failed: {exc} (a private CA goes in --ca-file FILE)") from exc
    with smtp:
        smtp.ehlo()
        if scheme == "smtp" and tls != "off":
            if smtp.has_extn("starttls"):
                try:
                    smtp.starttls(context=context)
                except ssl.SSLError as exc:
                    raise ReportError(f"TLS with {endpoint} failed: {exc} (a private CA goes in --ca-file FILE)") \
                        from exc
                smtp.ehlo()
            elif tls == "required":
                raise ReportError(f"{endpoint} does not offer STARTTLS and --tls is required"
                                  + ("; the login was not sent" if login else ""))
        if login:
            if not smtp.has_extn("auth"):
                raise ReportError(f"{endpoint} offers no SMTP login (AUTH) on this connection; the login was not sent")
            try:
                smtp.login(*login)
            except smtplib.SMTPAuthenticationError as exc:
                raise ReportError(f"SMTP login refused by {endpoint} ({reply_text(exc)})") from exc
        refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)


# ---------------------------------------------------------------------------------------------------
def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="the finished Deloton run's output folder")
    parser.add_argument("--date", required=True, help="the day to report on, YYYY-MM-DD (UTC)")
    parser.add_argument("--prefix", required=True, help="write PREFIX.html, PREFIX.pdf and PREFIX.json")
    parser.add_argument("--email", help="smtp://HOST:PORT to send the report through")
    parser.add_argument("--from", dest="sender", help="the sender's address")
    parser.add_argument("--to", help="recipients, comma-separated")
    parser.add_argument("--tls", choices=("required", "opportunistic", "off"),
                        help="STARTTLS with smtp:// (default: required with a login, else opportunistic)")
    parser.add_argument("--ca-file", help="trust the server certificates this CA file (PEM) signs")
    args = parser.parse_args(argv)
    try:
        date = parse_date(args.date)
        recipients = []
        login = None
        if args.email:
            scheme = parse_smtp_url(args.email)[0]
            if scheme == "smtps" and args.tls not in (None, "required"):
                raise ReportError(f"--tls {args.tls} does not go with smtps:// (always TLS)")
            if args.ca_file and not os.access(args.ca_file, os.R_OK):
                raise ReportError(f"--ca-file {args.ca_file}: cannot read it")
            login = smtp_login()
            if not args.sender or not args.to:
                raise ReportError("--email needs --from and --to")
            check_address(args.sender, "--from")
            recipients = [check_address(a.strip(), "--to") for a in args.to.split(",")]
        elif args.sender or args.to:
            raise ReportError("--from and --to go with --email smtp://HOST:PORT")
        report = compute(args.out, date)
    except ReportError as exc:
        print(f"mpilake: error: {exc}", file=sys.stderr, flush=True)
        return 2
    report["generated_utc"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    images = draw_charts(report) if report["has_rides"] else {}
    html_text = render_html(report, images, data_uri)
    pdf = render_pdf(html_text)
    prefix = args.prefix
    files = {prefix + ".json": (json.dumps(json_ready(report), indent=2, ensure_ascii=False) + "\n").encode(),
             prefix + ".html": html_text.encode("utf-8"), prefix + ".pdf": pdf}
    try:
        write_all_atomically(files)
    except OSError as exc:
        print(f"mpilake: error: cannot write the report as {prefix}.*: {exc}", file=sys.stderr, flush=True)
        return 2
    written = list(files)
    print(f"report for {args.date} written: {', '.join(written)}", flush=True)
    if args.email:
        message = build_email(report, images, pdf, os.path.basename(prefix) + ".pdf", args.sender, recipients)
        try:
            send_email(args.email, message, args.sender, recipients, args.tls, args.ca_file, login)
        except ReportError as exc:
            print(f"mpilake: error: could not email the report through {args.email}: {exc} "
                  f"(the report files are written)", file=sys.stderr, flush=True)
            return 1
        except (OSError, smtplib.SMTPException) as exc:
            reason = str(exc) or type(exc).__name__
            print(f"mpilake: error: could not email the report through {args.email}: {reason} "
                  f"(the report files are written)", file=sys.stderr, flush=True)
            return 1
        print(f"report emailed to {', '.join(recipients)} through {args.email}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
