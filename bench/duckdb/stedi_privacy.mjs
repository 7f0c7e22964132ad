// The peer of the mpilake benchmark: DuckDB (the engine shipped in the npm package @duckdb/node-api)
// computes the five STEDI zones with the `privacy` rules (DESIGN.md, "The zones and their rules")
// from the same landing NDJSON files and writes each zone to Parquet.
//
// usage: node stedi_privacy.mjs --landing DIR --out DIR [--threads N] [--memory-limit SIZE]
//                               [--temp-directory DIR]
//
// It prints `RESULT duckdb_key=value` lines: wall time (total and per step), zone row counts, peak
// memory. DuckDB runs with its default thread count (one per core) unless --threads is given.
//
// Reading the landing data. The generated data carries the quirks of the real dumps (README.md,
// "Outputs" and DESIGN.md); this script handles every one that `mpilake generate` writes:
//   - integers written as integral floats (1655564376361.0) or decimal strings: read as BIGINT,
//     which DuckDB's JSON reader converts from both;
//   - the phone written as a JSON number: read as VARCHAR (DuckDB gives its text);
//   - "" for an optional string means NULL: NULLIF(column, '');
//   - `timeStamp` instead of `timestamp`: DuckDB matches JSON keys to columns case-insensitively
//     for naming but exactly for reading, and cannot declare both names in one read, so the
//     accelerometer files are read twice (once per spelling, projecting only the other columns);
//     a line carries one spelling, so UNION ALL of the non-NULL rows gives each line once;
//   - unknown extra keys: ignored by read_json with explicit columns; blank lines and CRLF: fine;
//   - a UTF-8 byte-order mark: DuckDB's JSON reader rejects such files ("BOM is not supported"),
//     so files that start with one are read as lines with read_csv (which strips it) and taken
//     apart with json_extract_string. Files without a BOM take the fast read_json path.
// Lines that mpilake would quarantine (broken JSON, missing required fields) are not expected: the
// benchmark generates data without --bad-line-rate; rows missing a required field are dropped.
import { DuckDBInstance } from '@duckdb/node-api';
import fs from 'node:fs';
import path from 'node:path';
import {
  ALIASES,
  COLUMNS as SOURCE_COLUMNS,
  REQUIRED,
  SOURCES,
  landingFiles,
  parsePeerArgs,
  resultTimings,
  startsWithBom,
  DUCKDB_BUDGET_OPTIONS,
} from '../peer_common.mjs';

const started = performance.now();

const args = parsePeerArgs('stedi_privacy.mjs', null, DUCKDB_BUDGET_OPTIONS);
const { files, landingBytes } = landingFiles(args.landing);


const quote = (text) => `'${String(text).replaceAll("'", "''")}'`;
const fileList = (list) => `[${list.map(quote).join(', ')}]`;

// Column name -> DuckDB type, in the zone column order.
const DUCKDB_TYPE = { str: 'VARCHAR', int: 'BIGINT', float: 'DOUBLE' };
const COLUMNS = Object.fromEntries(
  Object.entries(SOURCE_COLUMNS).map(([source, fields]) => [
    source,
    Object.fromEntries(Object.entries(fields).map(([name, kind]) => [name, DUCKDB_TYPE[kind]])),
  ]),
);

const ident = (name) => `"${name}"`;
// A normalised value: "" is NULL for strings.
const normalised = (name, type, expression) =>
  type === 'VARCHAR' ? `NULLIF(${expression}, '') AS ${ident(name)}` : `${expression} AS ${ident(name)}`;

// The fast path: read_json with explicit columns (one read per spelling of an aliased key).
function readJsonSelect(source, list) {
  const columns = COLUMNS[source];
  const aliases = ALIASES[source] ?? {};
  const spellings = [{}];  // key -> spelling used in this read
  for (const [name, alias] of Object.entries(aliases)) spellings.push({ [name]: alias });
  return spellings
    .map((spelling) => {
      const struct = Object.entries(columns)
        .map(([name, type]) => `${ident(spelling[name] ?? name)}: '${type}'`)
        .join(', ');
      const select = Object.entries(columns)
        .map(([name, type]) => normalised(name, type, ident(spelling[name] ?? name)))
        .join(', ');
      // A line with the other spelling has NULL here; it is read by the other branch.
      const present = Object.keys(aliases).map((name) => `${ident(spelling[name] ?? name)} IS NOT NULL`);
      const where = present.length > 0 ? ` WHERE ${present.join(' AND ')}` : '';
      return `SELECT ${select} FROM read_json(${fileList(list)}, format = 'newline_delimited', columns = {${struct}})${where}`;
    })
    .join('\nUNION ALL\n');
}

// The BOM path: lines via read_csv (which strips the BOM), fields via json_extract_string.
function readLinesSelect(source, list) {
  const columns = COLUMNS[source];
  const aliases = ALIASES[source] ?? {};
  const paths = [];
  const select = Object.entries(columns).map(([name, type]) => {
    const at = paths.push(`'$.${name}'`);
    let value = `v[${at}]`;
    if (aliases[name]) value = `coalesce(v[${at}], v[${paths.push(`'$.${aliases[name]}'`)}])`;
    if (type === 'BIGINT') value = `CAST(CAST(${value} AS DOUBLE) AS BIGINT)`;
    if (type === 'DOUBLE') value = `CAST(${value} AS DOUBLE)`;
    return normalised(name, type, value);
  });
  return (
    `SELECT ${select.join(', ')} FROM (SELECT json_extract_string(line, [${paths.join(', ')}]) AS v FROM ` +
    `read_csv(${fileList(list)}, columns = {'line': 'VARCHAR'}, delim = E'\\x01', quote = '', escape = '', ` +
    `header = false, auto_detect = false, strict_mode = false) WHERE trim(line) <> '')`
  );
}

function sourceSelect(source) {
  const plain = files[source].filter((file) => !startsWithBom(file));
  const bom = files[source].filter((file) => startsWithBom(file));
  const parts = [];
  if (plain.length > 0) parts.push(readJsonSelect(source, plain));
  if (bom.length > 0) parts.push(readLinesSelect(source, bom));
  if (parts.length === 0) {
    // No files: an empty table with the right columns.
    const select = Object.entries(COLUMNS[source]).map(([name, type]) => `CAST(NULL AS ${type}) AS ${ident(name)}`);
    return { sql: `SELECT ${select.join(', ')} WHERE false`, bomFiles: 0 };
  }
  const required = REQUIRED[source].map((name) => `${ident(name)} IS NOT NULL`).join(' AND ');
  return { sql: `SELECT * FROM (${parts.join('\nUNION ALL\n')}) WHERE ${required}`, bomFiles: bom.length };
}

// The privacy rules, zone by zone (each materialised once, as later zones read earlier ones).
const ZONES = [
  [
    'customer_trusted',
    `SELECT * FROM customer WHERE shareWithResearchAsOfDate IS NOT NULL`,
  ],
  [
    // Readings of trusted customers' emails taken at or after the earliest consent for that email;
    // each landing row at most once (the consent table has one row per email).
    'accelerometer_trusted',
    `SELECT a.* FROM accelerometer AS a
       JOIN (SELECT email, min(shareWithResearchAsOfDate) AS consent FROM customer_trusted GROUP BY email) AS c
         ON a."user" = c.email AND a."timestamp" >= c.consent`,
  ],
  [
    // Distinct trusted customer rows with a trusted reading at or after the row's own consent.
    'customer_curated',
    `SELECT DISTINCT t.* FROM customer_trusted AS t
       JOIN (SELECT "user", max("timestamp") AS latest FROM accelerometer_trusted GROUP BY "user") AS r
         ON r."user" = t.email AND r.latest >= t.shareWithResearchAsOfDate`,
  ],
  [
    // Step-trainer rows of curated customers' devices taken at or after the earliest curated consent
    // for that serial number.
    'step_trainer_trusted',
    `SELECT s.* FROM step_trainer AS s
       JOIN (SELECT serialNumber, min(shareWithResearchAsOfDate) AS consent FROM customer_curated
             GROUP BY serialNumber) AS c
         ON s.serialNumber = c.serialNumber AND s.sensorReadingTime >= c.consent`,
  ],
  [
    // An accelerometer row takes the serial numbers of the curated customers with its email; the
    // join key is (serialNumber, sensorReadingTime = timestamp).
    'machine_learning_curated',
    `SELECT s.sensorReadingTime, s.serialNumber, s.distanceFromObject, a."user", a."timestamp", a.x, a.y, a.z
       FROM accelerometer_trusted AS a
       JOIN (SELECT DISTINCT email, serialNumber FROM customer_curated) AS o ON o.email = a."user"
       JOIN step_trainer_trusted AS s ON s.serialNumber = o.serialNumber AND s.sensorReadingTime = a."timestamp"`,
  ],
];

const seconds = (from) => (performance.now() - from) / 1000;
const result = (key, value) => console.log(`RESULT duckdb_${key}=${value}`);

// Under --memory-limit DuckDB spills to --temp-directory (default OUT/.duckdb_spill), removed at the end.
fs.mkdirSync(args.out, { recursive: true });
const spill = args.tempDirectory ?? path.join(args.out, '.duckdb_spill');
const config = { temp_directory: spill };
if (args.threads) config.threads = String(args.threads);
if (args.memoryLimit) config.memory_limit = args.memoryLimit;
const instance = await DuckDBInstance.create(':memory:', config);
const connection = await instance.connect();
const scalar = async (sql) => (await connection.runAndReadAll(sql)).getRows()[0][0];

fs.mkdirSync(args.out, { recursive: true });
const times = {};

// 1. Load the three sources into tables (DuckDB parallelises the scan over its threads).
let step = performance.now();
let bomFiles = 0;
for (const source of SOURCES) {
  const { sql, bomFiles: bom } = sourceSelect(source);
  bomFiles += bom;
  await connection.run(`CREATE TABLE ${source} AS ${sql}`);
}
times.load = seconds(step);

// 2. The zones.
step = performance.now();
for (const [zone, sql] of ZONES) await connection.run(`CREATE TABLE ${zone} AS ${sql}`);
times.zones = seconds(step);

// 3. Write each zone to Parquet (DuckDB's defaults: snappy, row groups of 122,880 rows).
step = performance.now();
for (const [zone] of ZONES) {
  const target = path.join(args.out, `${zone}.parquet`);
  await connection.run(`COPY ${zone} TO ${quote(target)} (FORMAT parquet)`);
}
times.write = seconds(step);
const total = seconds(started);

result('version', await scalar('SELECT version()'));
result('threads', await scalar("SELECT current_setting('threads')"));
result('memory_limit', String(await scalar("SELECT current_setting('memory_limit')")).replaceAll(' ', ''));
result('landing_bytes', landingBytes);
result('bom_files', bomFiles);
for (const source of SOURCES) result(`source_${source}_rows`, await scalar(`SELECT count(*) FROM ${source}`));
for (const [zone] of ZONES) result(`zone_${zone}_rows`, await scalar(`SELECT count(*) FROM ${zone}`));
resultTimings(result, times, total, landingBytes);
connection.closeSync?.();
fs.rmSync(spill, { recursive: true, force: true });
