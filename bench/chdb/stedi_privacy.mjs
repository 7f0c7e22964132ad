// A peer of the mpilake benchmark: chDB (npm chdb, embedded ClickHouse) computes the five STEDI zones
// with the `privacy` rules (DESIGN.md, "The zones and their rules") from the same landing NDJSON files
// and writes each zone to Parquet. The zones are those of bench/duckdb/stedi_privacy.mjs.
//
// usage: node stedi_privacy.mjs --landing DIR --out DIR [--threads N]   (default 2 threads)
//
// It prints `RESULT chdb_key=value` lines: wall time (total and per step), zone row counts, peak memory.
//
// Reading the landing data (the quirks `mpilake generate` writes, as in the DuckDB peer):
//   - every scalar is read as Nullable(String) (input_format_json_read_numbers_as_strings), then cast:
//     integers via Float64 (integral floats and digit strings both), floats to Float64;
//   - "" for an optional string means NULL (nullIf);
//   - `timeStamp` instead of `timestamp`: both are declared (names are case-sensitive) and coalesced;
//   - unknown keys are skipped; blank lines, CRLF and a UTF-8 byte-order mark are accepted by
//     ClickHouse's JSONEachRow reader.
// Broken lines are not expected (the benchmark data has none); rows missing a required field are dropped.
import fs from 'node:fs';
import path from 'node:path';
import { Session } from 'chdb';
import { ALIASES, COLUMNS, REQUIRED, SOURCES, landingFiles, parsePeerArgs, resultTimings } from '../peer_common.mjs';

const started = performance.now();

const args = parsePeerArgs('stedi_privacy.mjs', 2);
const { files, landingBytes } = landingFiles(args.landing);

const ident = (name) => `\`${name}\``;
const quote = (text) => `'${String(text).replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
const SETTINGS =
  `SETTINGS max_threads = ${args.threads}, input_format_json_read_numbers_as_strings = 1, ` +
  `input_format_skip_unknown_fields = 1, input_format_json_read_bools_as_strings = 1, ` +
  `engine_file_truncate_on_insert = 1`;

function sourceSelect(source) {
  const columns = COLUMNS[source];
  const aliases = ALIASES[source] ?? {};
  const declared = [...Object.keys(columns), ...Object.values(aliases)];
  const structure = declared.map((name) => `${ident(name)} Nullable(String)`).join(', ');
  const select = Object.entries(columns).map(([name, kind]) => {
    let value = ident(name);
    if (aliases[name]) value = `coalesce(${ident(name)}, ${ident(aliases[name])})`;
    if (kind === 'str') return `nullIf(${value}, '') AS ${ident(name)}`;
    const number = `toFloat64OrNull(${value})`;
    return `${kind === 'int' ? `toInt64(${number})` : number} AS ${ident(name)}`;
  });
  const required = REQUIRED[source].map((name) => `${ident(name)} IS NOT NULL`).join(' AND ');
  // One file() read per file (a list of paths is not a glob); UNION ALL keeps them in one query.
  const reads = files[source].map((file) => `SELECT * FROM file(${quote(file)}, 'JSONEachRow', ${quote(structure)})`);
  if (reads.length === 0) {
    const empty = Object.entries(columns).map(([name, kind]) =>
      `CAST(NULL AS Nullable(${kind === 'str' ? 'String' : kind === 'int' ? 'Int64' : 'Float64'})) AS ${ident(name)}`);
    return `SELECT ${empty.join(', ')} WHERE 0`;
  }
  return `SELECT * FROM (SELECT ${select.join(', ')} FROM (${reads.join(' UNION ALL ')})) WHERE ${required}`;
}

const ZONES = [
  ['customer_trusted', `SELECT * FROM customer WHERE shareWithResearchAsOfDate IS NOT NULL`],
  [
    'accelerometer_trusted',
    `SELECT a.* FROM accelerometer AS a
       INNER JOIN (SELECT email, min(shareWithResearchAsOfDate) AS consent FROM customer_trusted GROUP BY email) AS c
         ON a.user = c.email WHERE a.timestamp >= c.consent`,
  ],
  [
    'customer_curated',
    `SELECT DISTINCT t.* FROM customer_trusted AS t
       INNER JOIN (SELECT user, max(timestamp) AS latest FROM accelerometer_trusted GROUP BY user) AS r
         ON r.user = t.email WHERE r.latest >= t.shareWithResearchAsOfDate`,
  ],
  [
    'step_trainer_trusted',
    `SELECT s.* FROM step_trainer AS s
       INNER JOIN (SELECT serialNumber, min(shareWithResearchAsOfDate) AS consent FROM customer_curated
                   GROUP BY serialNumber) AS c
         ON s.serialNumber = c.serialNumber WHERE s.sensorReadingTime >= c.consent`,
  ],
  [
    'machine_learning_curated',
    `SELECT s.sensorReadingTime AS sensorReadingTime, s.serialNumber AS serialNumber,
            s.distanceFromObject AS distanceFromObject, a.user AS user, a.timestamp AS timestamp,
            a.x AS x, a.y AS y, a.z AS z
       FROM accelerometer_trusted AS a
       INNER JOIN (SELECT DISTINCT email, serialNumber FROM customer_curated) AS o ON o.email = a.user
       INNER JOIN step_trainer_trusted AS s
         ON s.serialNumber = o.serialNumber AND s.sensorReadingTime = a.timestamp`,
  ],
];

const seconds = (from) => (performance.now() - from) / 1000;
const result = (key, value) => console.log(`RESULT chdb_${key}=${value}`);
fs.mkdirSync(args.out, { recursive: true });
const session = new Session(fs.mkdtempSync(path.join(args.out, '.chdb-')));
const run = (sql) => session.query(`${sql} ${SETTINGS}`, 'CSV');
const scalar = (sql) => run(sql).trim().replace(/^"|"$/g, '');
const times = {};

// 1. Load the sources into Memory tables.
let step = performance.now();
for (const source of SOURCES) run(`CREATE TABLE ${source} ENGINE = Memory AS ${sourceSelect(source)}`);
times.load = seconds(step);

// 2. The zones, each materialised once.
step = performance.now();
for (const [zone, sql] of ZONES) run(`CREATE TABLE ${zone} ENGINE = Memory AS ${sql}`);
times.zones = seconds(step);

// 3. Each zone to Parquet (ClickHouse's defaults: lz4).
step = performance.now();
for (const [zone] of ZONES) {
  const target = path.join(args.out, `${zone}.parquet`);
  run(`INSERT INTO FUNCTION file(${quote(target)}, 'Parquet') SELECT * FROM ${zone}`);
}
times.write = seconds(step);
const total = seconds(started);

result('version', scalar('SELECT version()'));
result('threads', args.threads);
result('landing_bytes', landingBytes);
for (const source of SOURCES) result(`source_${source}_rows`, scalar(`SELECT count() FROM ${source}`));
for (const [zone] of ZONES) result(`zone_${zone}_rows`, scalar(`SELECT count() FROM ${zone}`));
resultTimings(result, times, total, landingBytes);
const sessionPath = session.path;
session.cleanup?.();
fs.rmSync(sessionPath, { recursive: true, force: true });
