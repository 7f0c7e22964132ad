// A peer of the mpilake benchmark: Polars (npm nodejs-polars, the Rust engine) computes the five STEDI
// zones with the `privacy` rules (DESIGN.md, "The zones and their rules") from the same landing NDJSON
// files and writes each zone to Parquet. The zones are those of bench/duckdb/stedi_privacy.mjs.
//
// usage: node stedi_privacy.mjs --landing DIR --out DIR [--threads N]   (default 2 threads)
//
// It prints `RESULT polars_key=value` lines: wall time (total and per step), zone row counts, peak memory.
// POLARS_MAX_THREADS is set before the engine loads (Polars sizes its pool once).
//
// Reading the landing data (the quirks `mpilake generate` writes, as in the DuckDB peer):
//   - every scalar is read as a string (Polars' NDJSON reader turns numbers into their text for a
//     String column), then cast: integers via Float64 (integral floats "1655564376361.0" and digit
//     strings both), floats to Float64; the phone stays text;
//   - "" for an optional string means NULL;
//   - `timeStamp` instead of `timestamp`: both are declared (keys are case-sensitive) and coalesced;
//   - unknown extra keys are ignored (explicit schema); blank lines and CRLF are fine;
//   - a UTF-8 byte-order mark (rejected by the reader): such files are copied without it under OUT.
// Broken lines are not expected (the benchmark data has none); rows missing a required field are dropped.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ALIASES, COLUMNS, REQUIRED, SOURCES, landingFiles, parsePeerArgs, resultTimings, startsWithBom } from '../peer_common.mjs';

const started = performance.now();

const args = parsePeerArgs('stedi_privacy.mjs', 2);
process.env.POLARS_MAX_THREADS = String(args.threads);
const pl = createRequire(import.meta.url)('nodejs-polars');
const { files, landingBytes } = landingFiles(args.landing);

fs.mkdirSync(args.out, { recursive: true });
const bomFolder = fs.mkdtempSync(path.join(args.out, '.bom-'));
let bomFiles = 0;

function readSource(source) {
  const columns = COLUMNS[source];
  const aliases = ALIASES[source] ?? {};
  const schema = {};
  for (const name of Object.keys(columns)) schema[name] = pl.Utf8;
  for (const alias of Object.values(aliases)) schema[alias] = pl.Utf8;
  const frames = files[source].map((file, i) => {
    let input = file;
    if (startsWithBom(file)) {
      // Polars' NDJSON reader rejects a byte-order mark: read a copy without it (counted in the time).
      input = path.join(bomFolder, `${source}-${i}.json`);
      fs.writeFileSync(input, fs.readFileSync(file).subarray(3));
      ++bomFiles;
    }
    return pl.scanJson(input, { schema });
  });
  let raw = frames.length > 0 ? pl.concat(frames, { how: 'vertical' }).collectSync() : pl.DataFrame({}, { schema });
  const exprs = Object.entries(columns).map(([name, kind]) => {
    let column = pl.col(name);
    if (aliases[name]) column = pl.when(pl.col(name).isNotNull()).then(pl.col(name)).otherwise(pl.col(aliases[name]));
    if (kind === 'str') return pl.when(column.eq(pl.lit(''))).then(pl.lit(null)).otherwise(column).alias(name);
    const number = column.cast(pl.Float64, false);
    return (kind === 'int' ? number.cast(pl.Int64) : number).alias(name);
  });
  raw = raw.select(...exprs);
  return raw.filter(REQUIRED[source].map((name) => pl.col(name).isNotNull()).reduce((a, b) => a.and(b)));
}

const seconds = (from) => (performance.now() - from) / 1000;
const result = (key, value) => console.log(`RESULT polars_${key}=${value}`);
const times = {};

// 1. Load.
let step = performance.now();
const customer = readSource('customer');
const accelerometer = readSource('accelerometer');
const stepTrainer = readSource('step_trainer');
times.load = seconds(step);
fs.rmSync(bomFolder, { recursive: true, force: true });

// 2. The zones (each materialised once, as later zones read earlier ones).
step = performance.now();
const customerTrusted = customer.filter(pl.col('shareWithResearchAsOfDate').isNotNull());
// Readings of trusted emails at or after the earliest consent for that email.
const emailConsent = customerTrusted
  .groupBy('email')
  .agg(pl.col('shareWithResearchAsOfDate').min().alias('consent'));
const accelerometerTrusted = accelerometer
  .join(emailConsent, { leftOn: 'user', rightOn: 'email', how: 'inner' })
  .filter(pl.col('timestamp').gtEq(pl.col('consent')))
  .select('user', 'timestamp', 'x', 'y', 'z');
// Distinct trusted rows with a trusted reading at or after the row's own consent.
const latest = accelerometerTrusted.groupBy('user').agg(pl.col('timestamp').max().alias('latest'));
const customerCurated = customerTrusted
  .join(latest, { leftOn: 'email', rightOn: 'user', how: 'inner' })
  .filter(pl.col('latest').gtEq(pl.col('shareWithResearchAsOfDate')))
  .select(...customerTrusted.columns)
  .unique({ maintainOrder: false });
// Step-trainer rows of curated devices at or after the earliest curated consent of that serial.
const serialConsent = customerCurated
  .groupBy('serialNumber')
  .agg(pl.col('shareWithResearchAsOfDate').min().alias('consent'));
const stepTrainerTrusted = stepTrainer
  .join(serialConsent, { on: 'serialNumber', how: 'inner' })
  .filter(pl.col('sensorReadingTime').gtEq(pl.col('consent')))
  .select('sensorReadingTime', 'serialNumber', 'distanceFromObject');
// ML: a reading takes the serials of the curated customers with its email; key (serial, time).
const owners = customerCurated.select('email', 'serialNumber').unique();
const machineLearning = accelerometerTrusted
  .join(owners, { leftOn: 'user', rightOn: 'email', how: 'inner' })
  .join(stepTrainerTrusted, {
    leftOn: ['serialNumber', 'timestamp'],
    rightOn: ['serialNumber', 'sensorReadingTime'],
    how: 'inner',
  })
  .select(
    pl.col('timestamp').alias('sensorReadingTime'),
    'serialNumber', 'distanceFromObject', 'user', 'timestamp', 'x', 'y', 'z',
  );
const ZONES = [
  ['customer_trusted', customerTrusted],
  ['accelerometer_trusted', accelerometerTrusted],
  ['customer_curated', customerCurated],
  ['step_trainer_trusted', stepTrainerTrusted],
  ['machine_learning_curated', machineLearning],
];
times.zones = seconds(step);

// 3. Write each zone to Parquet (Polars' defaults: zstd).
step = performance.now();
for (const [zone, frame] of ZONES) frame.writeParquet(path.join(args.out, `${zone}.parquet`));
times.write = seconds(step);
const total = seconds(started);

result('version', pl.version ?? '?');
result('threads', args.threads);
result('landing_bytes', landingBytes);
result('bom_files', bomFiles);
result('source_customer_rows', customer.height);
result('source_accelerometer_rows', accelerometer.height);
result('source_step_trainer_rows', stepTrainer.height);
for (const [zone, frame] of ZONES) result(`zone_${zone}_rows`, frame.height);
resultTimings(result, times, total, landingBytes);
