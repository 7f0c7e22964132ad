// Deloton live dashboard: polls GET /live (with the staff token when one is entered) and draws the
// current ride and the last 12 hours with Chart.js. No framework, no network beyond this server.
"use strict";

const POLL_MS = 5000;
const TOKEN_KEY = "mpilake-token";
const COLORS = { hr: "#f56565", rpm: "#63b3ed", power: "#f6ad55", res: "#b794f4", accent: "#4fd1c5",
                 safe: "rgba(72, 187, 120, 0.16)", safeLine: "rgba(72, 187, 120, 0.7)", grid: "#2a3450",
                 text: "#8c97b2", male: "#63b3ed", female: "#f687b3", other: "#b794f4" };
const BAND_LABELS = { under_18: "<18", "18_24": "18–24", "25_34": "25–34", "35_44": "35–44", "45_54": "45–54",
                      "55_64": "55–64", "65_plus": "65+", unknown: "unknown" };

const state = { runId: null, charts: {}, renders: 0, lastError: null };
window.__dashboard = state;  // read by the browser test

const $ = (id) => document.getElementById(id);
const fixed = (value, digits) => (value === null || value === undefined ? "–" : Number(value).toFixed(digits));
const utc = (micros) => (micros === null || micros === undefined ? "–"
                         : new Date(micros / 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC");
const clock = (micros) => new Date(micros / 1000).toISOString().slice(11, 16);
const minutes = (seconds) => (seconds === null ? "–" : `${Math.floor(seconds / 60)}:${String(Math.round(seconds % 60)).padStart(2, "0")}`);

function setText(id, text) { $(id).textContent = text; }

function baseOptions(yTitle) {
  return {
    responsive: true, maintainAspectRatio: false, animation: false, normalized: true,
    interaction: { mode: "nearest", intersect: false },
    plugins: { legend: { display: false }, tooltip: { enabled: true } },
    scales: {
      x: { type: "linear", ticks: { color: COLORS.text, maxTicksLimit: 8, callback: (v) => minutes(v) },
           grid: { color: COLORS.grid }, title: { display: true, text: "elapsed (min:s)", color: COLORS.text } },
      y: { ticks: { color: COLORS.text }, grid: { color: COLORS.grid },
           title: { display: !!yTitle, text: yTitle, color: COLORS.text } },
    },
    elements: { point: { radius: 0 }, line: { borderWidth: 1.6, tension: 0.2 } },
  };
}

function lineChart(id, color, label) {
  return new Chart($(id), { type: "line", data: { datasets: [{ label, data: [], borderColor: color,
    backgroundColor: color + "33", fill: true, spanGaps: false }] }, options: baseOptions(label) });
}

function makeCharts() {
  Chart.defaults.font.family = "DejaVu Sans, system-ui, sans-serif";
  const hr = baseOptions("bpm");
  hr.plugins.legend = { display: true, labels: { color: COLORS.text, boxWidth: 12,
                        filter: (item) => item.text !== "safe lower" } };
  state.charts.hr = new Chart($("chart-hr"), { type: "line", options: hr, data: { datasets: [
    { label: "safe lower", data: [], borderColor: COLORS.safeLine, borderDash: [4, 4], borderWidth: 1, fill: false },
    { label: "safe range", data: [], borderColor: COLORS.safeLine, borderDash: [4, 4], borderWidth: 1,
      backgroundColor: COLORS.safe, fill: "-1" },
    { label: "heart rate", data: [], borderColor: COLORS.hr, backgroundColor: COLORS.hr, fill: false },
  ] } });
  state.charts.rpm = lineChart("chart-rpm", COLORS.rpm, "rpm");
  state.charts.power = lineChart("chart-power", COLORS.power, "W");
  state.charts.resistance = lineChart("chart-resistance", COLORS.res, "resistance");
  const axis = { ticks: { color: COLORS.text }, grid: { color: COLORS.grid } };
  state.charts.hours = new Chart($("chart-hours"), { type: "bar", data: { labels: [], datasets: [
    { type: "bar", label: "rides", data: [], backgroundColor: COLORS.accent, yAxisID: "y" },
    { type: "line", label: "avg power (W)", data: [], borderColor: COLORS.power, backgroundColor: COLORS.power,
      yAxisID: "y1", spanGaps: true, pointRadius: 2 },
  ] }, options: { responsive: true, maintainAspectRatio: false, animation: false,
    plugins: { legend: { labels: { color: COLORS.text, boxWidth: 12 } } },
    scales: { x: axis, y: { ...axis, beginAtZero: true, title: { display: true, text: "rides", color: COLORS.text } },
              y1: { ...axis, position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                    title: { display: true, text: "W", color: COLORS.text } } } } });
  state.charts.gender = new Chart($("chart-gender"), { type: "doughnut", data: { labels: ["male", "female", "other"],
    datasets: [{ data: [0, 0, 0], backgroundColor: [COLORS.male, COLORS.female, COLORS.other], borderWidth: 0 }] },
    options: { responsive: true, maintainAspectRatio: false, animation: false, cutout: "62%",
               plugins: { legend: { position: "right", labels: { color: COLORS.text, boxWidth: 12 } } } } });
  state.charts.age = new Chart($("chart-age"), { type: "bar", data: { labels: [], datasets: [
    { label: "riders", data: [], backgroundColor: COLORS.res }] },
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } },
               scales: { x: axis, y: { ...axis, beginAtZero: true, ticks: { color: COLORS.text, precision: 0 } } } } });
}

function points(xs, ys) {
  const out = new Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = { x: xs[i], y: ys[i] };
  return out;
}

function best(entry, digits, unit) {
  if (!entry) return "–";
  const value = unit === "time" ? minutes(entry.value) : `${fixed(entry.value, digits)} ${unit}`;
  return `${value} <small>ride ${entry.ride_id}</small>`;
}

function renderRide(current) {
  const c = state.charts;
  if (!current) { setText("ride-label", "no rides in this run"); return; }
  const ride = current.ride, rider = current.rider, r = current.readings;
  setText("ride-label", `#${ride.ride_id} · ${ride.bike} · started ${utc(ride.start_time)}`);
  $("ride-label").dataset.rideId = ride.ride_id;
  const name = rider && rider.first_name ? rider.first_name : rider ? `Rider ${rider.user_id}` : "unknown rider";
  setText("rider-name", name);
  setText("rider-initial", name.charAt(0).toUpperCase());
  setText("rider-gender", rider && rider.gender ? rider.gender : "–");
  setText("rider-band", rider && rider.age_band ? BAND_LABELS[rider.age_band] : "–");
  $("rider-band").dataset.band = rider && rider.age_band ? rider.age_band : "";
  $("ride-alert").classList.toggle("hidden", ride.alert !== 1);
  setText("ride-duration", minutes(ride.duration_s));
  setText("ride-energy", `${fixed(ride.energy_kj, 1)} kJ`);
  setText("ride-power", `${fixed(ride.power_avg_w, 1)} W`);
  setText("ride-rpm", fixed(ride.rpm_avg, 1));
  setText("ride-hr", ride.heart_rate_avg === null ? "–" : `${fixed(ride.heart_rate_avg, 1)} bpm`);
  setText("ride-readings", String(ride.readings));

  const x = r.elapsed_s;
  const safe = current.safe_range;
  const first = x.length ? x[0] : 0, last = x.length ? x[x.length - 1] : 1;
  c.hr.data.datasets[0].data = safe ? [{ x: first, y: safe.hr_lower }, { x: last, y: safe.hr_lower }] : [];
  c.hr.data.datasets[1].data = safe ? [{ x: first, y: safe.hr_upper }, { x: last, y: safe.hr_upper }] : [];
  c.hr.data.datasets[2].data = points(x, r.heart_rate);
  setText("safe-range-note", safe ? `safe range ${safe.hr_lower}–${safe.hr_upper} bpm`
                                  : "(the safe range shows with the staff token: it gives the exact age away)");
  c.rpm.data.datasets[0].data = points(x, r.rpm);
  c.power.data.datasets[0].data = points(x, r.power_w);
  c.resistance.data.datasets[0].data = points(x, r.resistance);
  for (const key of ["hr", "rpm", "power", "resistance"]) {
    c[key].options.scales.x.min = first;
    c[key].options.scales.x.max = last;
    c[key].update("none");
  }

  const b = current.personal_bests;
  setText("bests-rides", b ? `(${b.rides} rides)` : "");
  $("best-duration").innerHTML = best(b && b.duration_s, 0, "time");
  $("best-energy").innerHTML = best(b && b.energy_kj, 1, "kJ");
  $("best-power").innerHTML = best(b && b.power_avg_w, 1, "W");
  $("best-rpm").innerHTML = best(b && b.rpm_avg, 1, "rpm");
  $("best-hr").innerHTML = best(b && b.heart_rate_max, 0, "bpm");
}

function renderWindow(w) {
  const c = state.charts;
  if (!w) return;
  setText("window-label", `${utc(w.from)} – ${utc(w.to)}`);
  setText("kpi-rides", String(w.rides));
  setText("kpi-riders", String(w.riders));
  setText("kpi-energy", `${fixed(w.energy_kj, 1)} kJ`);
  setText("kpi-power", `${fixed(w.power_avg_w, 1)} W`);
  setText("kpi-alerts", String(w.alerts));
  c.hours.data.labels = w.hours.map((h) => clock(h.start));
  c.hours.data.datasets[0].data = w.hours.map((h) => h.rides);
  c.hours.data.datasets[1].data = w.hours.map((h) => h.power_avg_w);
  c.gender.data.datasets[0].data = ["male", "female", "other"].map((g) => w.riders_by_gender[g]);
  const bands = Object.keys(w.riders_by_age_band).filter((b) => b !== "unknown" || w.riders_by_age_band[b] > 0);
  c.age.data.labels = bands.map((b) => BAND_LABELS[b]);
  c.age.data.datasets[0].data = bands.map((b) => w.riders_by_age_band[b]);
  for (const key of ["hours", "gender", "age"]) c[key].update("none");
  const body = $("alerts-body");
  body.replaceChildren();
  for (const a of w.recent_alerts) {
    const row = document.createElement("tr");
    const who = a.first_name ? a.first_name : `${a.gender || "?"}, ${BAND_LABELS[a.age_band] || "?"}`;
    for (const [text, cls] of [[utc(a.alert_time).slice(0, 16), ""], [`#${a.ride_id}`, ""], [a.bike, ""], [who, ""],
                               [a.kind, `kind-${a.kind}`], [`${a.heart_rate} bpm`, ""]]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (cls) cell.className = cls;
      row.appendChild(cell);
    }
    body.appendChild(row);
  }
  if (!w.recent_alerts.length) body.innerHTML = '<tr><td colspan="6" class="muted">no alerts in these 12 hours</td></tr>';
}

async function refresh() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  try {
    const response = await fetch("/live", { headers, cache: "no-store" });
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      setText("token-state", "token rejected: public view");
      return refresh();
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const live = await response.json();
    renderRide(live.current_ride);
    renderWindow(live.last_12_hours);
    state.runId = live.run_id;
    state.renders += 1;
    state.lastError = null;
    setText("run-id", live.run_id);
    setText("data-time", utc(live.latest_time));
    setText("run-time", live.created_utc.replace("T", " ").replace(/:\d\dZ$/, " UTC"));
    setText("last-updated", new Date().toISOString().slice(11, 19) + " UTC");
    setText("token-state", live.personal ? "staff view" : "public view");
    $("token-button").textContent = token ? "Lock" : "Unlock";
    $("status-dot").className = "dot ok";
  } catch (error) {
    state.lastError = String(error);
    $("status-dot").className = "dot bad";
    setText("last-updated", `${$("last-updated").textContent.split(" (")[0]} (connection lost, retrying)`);
  }
}

function start() {
  makeCharts();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("token-input");
    if (sessionStorage.getItem(TOKEN_KEY)) sessionStorage.removeItem(TOKEN_KEY);
    else if (input.value.trim()) sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    refresh();
  });
  refresh();
  setInterval(refresh, POLL_MS);
}

document.addEventListener("DOMContentLoaded", start);
