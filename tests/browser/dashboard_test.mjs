// Browser test of the `mpilake serve` dashboard: Debian's headless Chromium, driven by
// playwright-core, opens the page, waits for the charts, checks the numbers shown against values
// the caller computed from the zones (--expect FILE), saves a screenshot, and with --swap waits for
// a second run: it prints READY, reads the second run's expectations' path from stdin, and checks
// the open page shows that run without a reload and without an error.
//   node dashboard_test.mjs --url URL --expect FILE --screenshot FILE [--token TOKEN] [--swap]
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const key = process.argv[i].replace(/^--/, "");
  const next = process.argv[i + 1];
  args[key] = next === undefined || next.startsWith("--") ? true : (i++, next);
}
const failures = [];
const fail = (message) => { failures.push(message); console.log(`FAIL: ${message}`); };

function numberIn(text) {
  const match = String(text).replace(/,/g, "").match(/-?\d+(\.\d+)?/);
  return match ? Number(match[0]) : NaN;
}

// Shown numbers are rounded to `digits`: equal within half a unit of the last digit.
function checkNumber(label, shown, expected, digits) {
  if (expected === null || expected === undefined) {
    if (!/–/.test(shown)) fail(`${label}: shows '${shown}', expected no value`);
    return;
  }
  const tolerance = 0.5 * 10 ** -digits + 1e-9;
  if (!(Math.abs(numberIn(shown) - expected) <= tolerance)) fail(`${label}: shows '${shown}', expected ${expected}`);
}

async function text(page, id) { return (await page.textContent(`#${id}`)).trim(); }

async function waitForRun(page, runId, personal) {
  await page.waitForFunction(([id, staff]) => {
    const d = window.__dashboard;
    return d && d.runId === id && d.renders > 0 && d.lastError === null &&
           document.getElementById("token-state").textContent === (staff ? "staff view" : "public view");
  }, [runId, personal], { timeout: 30000, polling: 200 });
}

async function checkPage(page, expected, personal) {
  const e = expected;
  if ((await text(page, "run-id")) !== e.run_id) fail(`run id shown is not ${e.run_id}`);
  // The charts are drawn: the datasets hold the ride's readings and the canvases are not blank.
  const drawn = await page.evaluate(() => {
    const c = window.__dashboard.charts;
    const painted = (chart) => {
      const canvas = chart.canvas;
      const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
      return false;
    };
    return { hr: c.hr.data.datasets[2].data.length, band: c.hr.data.datasets[1].data.length,
             hours: c.hours.data.datasets[0].data, gender: c.gender.data.datasets[0].data,
             painted: Object.values(c).every(painted), count: Object.keys(c).length };
  });
  if (drawn.count !== 7 || !drawn.painted) fail(`all 7 charts drawn (got ${drawn.count}, painted ${drawn.painted})`);
  if (drawn.hr !== e.ride.readings) fail(`heart-rate chart has ${drawn.hr} points, expected ${e.ride.readings}`);
  if ((drawn.band > 0) !== (personal && e.safe_range !== null)) fail(`safe range drawn: ${drawn.band > 0}`);
  if (JSON.stringify(drawn.hours) !== JSON.stringify(e.window.hours_rides)) fail(`rides per hour ${drawn.hours} != ${e.window.hours_rides}`);
  if (JSON.stringify(drawn.gender) !== JSON.stringify(e.window.gender)) fail(`riders by gender ${drawn.gender} != ${e.window.gender}`);

  const rideId = await page.getAttribute("#ride-label", "data-ride-id");
  if (Number(rideId) !== e.ride.ride_id) fail(`current ride ${rideId}, expected ${e.ride.ride_id}`);
  checkNumber("ride energy", await text(page, "ride-energy"), e.ride.energy_kj, 1);
  checkNumber("ride avg power", await text(page, "ride-power"), e.ride.power_avg_w, 1);
  checkNumber("ride avg rpm", await text(page, "ride-rpm"), e.ride.rpm_avg, 1);
  checkNumber("ride avg heart rate", await text(page, "ride-hr"), e.ride.heart_rate_avg, 1);
  checkNumber("ride readings", await text(page, "ride-readings"), e.ride.readings, 0);
  const duration = await text(page, "ride-duration");
  const [m, s] = duration.split(":").map(Number);
  if (Math.abs(m * 60 + s - e.ride.duration_s) > 0.5) fail(`ride duration ${duration}, expected ${e.ride.duration_s} s`);
  const name = await text(page, "rider-name");
  const wantName = personal && e.rider.first_name ? e.rider.first_name : `Rider ${e.rider.user_id}`;
  if (name !== wantName) fail(`rider shown as '${name}', expected '${wantName}'`);
  if ((await text(page, "rider-gender")) !== e.rider.gender) fail(`gender shown is not ${e.rider.gender}`);
  if ((await page.getAttribute("#rider-band", "data-band")) !== e.rider.age_band) fail(`age band shown is not ${e.rider.age_band}`);
  const body = await page.textContent("body");
  for (const secret of e.secrets) if (body.includes(secret)) fail(`personal detail '${secret}' on the page`);
  if (!personal && body.includes(e.rider.first_name)) fail("the rider's first name shown without the token");
  checkNumber("12 h rides", await text(page, "kpi-rides"), e.window.rides, 0);
  checkNumber("12 h riders", await text(page, "kpi-riders"), e.window.riders, 0);
  checkNumber("12 h energy", await text(page, "kpi-energy"), e.window.energy_kj, 1);
  checkNumber("12 h avg power", await text(page, "kpi-power"), e.window.power_avg_w, 1);
  checkNumber("12 h alerts", await text(page, "kpi-alerts"), e.window.alerts, 0);
  checkNumber("personal best duration rides", await text(page, "bests-rides"), e.bests_rides, 0);
}

async function main() {
  const expected = JSON.parse(readFileSync(args.expect, "utf8"));
  const personal = Boolean(args.token);
  const profile = mkdtempSync(join(tmpdir(), "mpilake-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium", headless: true, viewport: { width: 1400, height: 1000 },
    bypassCSP: true,  // playwright's waitForFunction evaluates strings, which the page's CSP forbids
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run"] });
  try {
    const page = context.pages()[0] || (await context.newPage());
    const errors = [];
    page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
    page.on("console", (message) => { if (message.type() === "error") errors.push(`console: ${message.text()}`); });
    let loads = 0;
    page.on("load", () => { loads += 1; });
    await page.goto(args.url, { waitUntil: "load" });
    if (personal) {
      await page.fill("#token-input", args.token);
      await page.click("#token-button");
    }
    await waitForRun(page, expected.run_id, personal);
    await checkPage(page, expected, personal);
    await page.screenshot({ path: args.screenshot, fullPage: true });
    console.log(`screenshot ${args.screenshot}`);
    if (args.swap) {
      console.log("READY");
      const lines = createInterface({ input: process.stdin });
      const next = await new Promise((resolve) => lines.once("line", resolve));
      lines.close();
      const second = JSON.parse(readFileSync(next.trim(), "utf8"));
      await waitForRun(page, second.run_id, personal);
      await checkPage(page, second, personal);
      if (loads !== 1) fail(`the page was loaded ${loads} times (it must update in place)`);
      await page.screenshot({ path: args.screenshot.replace(/\.png$/, "-second.png"), fullPage: true });
      console.log("SWAP SEEN");
    }
    for (const error of errors) fail(error);
  } catch (error) {
    fail(String(error && error.stack ? error.stack : error));
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  console.log(failures.length ? `BROWSER TEST FAILED (${failures.length})` : "BROWSER TEST PASSED");
  process.exit(failures.length ? 1 : 0);
}

main();
