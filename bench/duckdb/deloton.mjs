// The DuckDB peer of the Deloton pipeline (../shared/DELOTON.md, docs/deloton-decisions.md): the five
// zones (riders, rides, readings, heart_rate_alerts, daily) computed with SQL from the landing NDJSON
// dumps and written to Parquet, one file per zone.
//
// usage: node deloton.mjs --landing DIR --out DIR [--threads N] [--dump DIR]
//
//   DIR/deloton/<stream>/*  one stream per non-hidden sub-folder; files directly in deloton/ are
//                           stream "". A stream's files are read in byte order of their names.
//   OUT/<zone>.parquet      DELOTON.md's columns in its order, rows in its order.
//   --dump DIR              also writes DIR/<zone>.jsonl (same rows, after the timing) for
//                           deloton_check.py's value comparison.
//
// It prints `RESULT duckdb_key=value` lines (as stedi_privacy.mjs): duckdb_seconds (script start to
// the last Parquet file), per-step seconds, duckdb_zone_<zone>_rows, landing bytes, MB/s, peak RSS.
// DuckDB runs with --threads threads (default 2).
//
// How the rules map to SQL (one pass per stage, no row-by-row JavaScript):
//  1. load: read_json (newline_delimited, records = true, column `log` VARCHAR, ignore_errors;
//     without records = true a file holding a bare JSON string line is read as whole values) reads
//     every file in stream order; one RE2 regular expression takes each log line apart (timestamp, bike, kind,
//     number holes with the grammar built in); rows that are no ride start / ride line / telemetry
//     line (markers, blank lines, broken records, unknown shapes, bad timestamps or numbers, negative
//     values) are dropped next (a view over the parsed rows): they play no part in ride logic.
//     Insertion order is preserved while loading, so a row's position in the landing is
//     (file, rowid). Files that start with a UTF-8 BOM are read as lines by read_csv (DuckDB's JSON
//     reader drops a BOM file's first line) and the log is taken out with json_extract_string.
//  2. rides: the ride starts of a (stream, bike) in stream order; a start whose timestamp equals the
//     previous start line's (lag) is a duplicate delivery. ride_id = row_number() over (start_time,
//     bike, stream, position); strings compare in byte order (DuckDB's default collation).
//  3. readings: each INFO line belongs to the latest ride start of its bike before it in its stream
//     (ASOF join; lines with none are orphans and drop out); duplicates (same ride, kind, timestamp as
//     an earlier line) drop out (DISTINCT ON); a reading = a ride line whose next remaining INFO line
//     of the ride (lead) is a telemetry line.
//  4. zones: ride aggregates (GROUP BY), alerts (a reading and the two before it in the ride all
//     abnormal: the first such reading is the third of the first run of 3), riders (arg_max by
//     ride_id of the parsed user JSON), daily (GROUP BY date; distinct riders by gender / age band).
//
// Differences from mpilake's HDF5 zones: a NULL int64 or float64 is a Parquet NULL (not INT64_MIN /
// NaN); NULL strings are "" as in the contract. Float sums (energy, power averages, daily durations)
// are DuckDB's parallel sums, so their last bits may differ from mpilake's left-to-right sums.
// Corner cases of the contract not reproduced exactly: bench/README.md, "The pieces", duckdb/deloton.mjs.
import { DuckDBInstance } from '@duckdb/node-api';
import fs from 'node:fs';
import path from 'node:path';
import { DUCKDB_BUDGET_OPTIONS, parsePeerArgs, peerUsage, resultTimings } from '../peer_common.mjs';

const started = performance.now();

const OPTIONS = { '--dump': 'dump', ...DUCKDB_BUDGET_OPTIONS };
const usage = peerUsage('deloton.mjs', OPTIONS);
const args = parsePeerArgs('deloton.mjs', 2, OPTIONS);

// ---------------------------------------------------------------------------------------------
// The landing files, in stream order (streams by name in byte order, "" first; a stream's files
// by name in byte order). Symbolic links are followed; hidden names are skipped.
// ---------------------------------------------------------------------------------------------
const byteOrder = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const top = path.join(args.landing, 'deloton');
if (!fs.existsSync(top) || !fs.statSync(top).isDirectory()) usage(`no deloton/ folder in ${args.landing}`);
const isKind = (file, kind) => {
  try {
    return kind === 'file' ? fs.statSync(file).isFile() : fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
};
const visible = (folder) => fs.readdirSync(folder).filter((name) => !name.startsWith('.')).sort(byteOrder);
const regularFiles = (folder) =>
  visible(folder).filter((name) => isKind(path.join(folder, name), 'file')).map((name) => path.join(folder, name));

const streams = []; // [{ name, files }] in byte order of the names
const rootFiles = regularFiles(top);
if (rootFiles.length > 0) streams.push({ name: '', files: rootFiles });
for (const name of visible(top)) {
  if (isKind(path.join(top, name), 'dir')) streams.push({ name, files: regularFiles(path.join(top, name)) });
}

// Every file gets a global number in stream order: (file number, row in the read) orders the landing.
const files = []; // { path, stream (index into streams), bom, size }
let landingBytes = 0;
streams.forEach((stream, index) => {
  for (const file of stream.files) {
    const size = fs.statSync(file).size;
    landingBytes += size;
    files.push({ path: file, stream: index, bom: startsWithBom(file), size });
  }
});

function startsWithBom(file) {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(3);
  const got = fs.readSync(fd, head, 0, 3, 0);
  fs.closeSync(fd);
  return got === 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf;
}

const quote = (text) => `'${String(text).replaceAll("'", "''")}'`;
const fileList = (list) => `[${list.map((f) => quote(f.path)).join(', ')}]`;

// ---------------------------------------------------------------------------------------------
// The log-line grammar as one RE2 expression. Groups, in order:
//   ts, bike, system (non-empty for a ride start), user (the user JSON), ride ('R' for a ride line),
//   duration, resistance, telemetry ('T'), hrt, rpm, power.
// <ts> is the text before the second space (the pattern holds exactly one space); <bike> is text
// without ": " before the first ": " (an empty bike is rejected afterwards). A ride or
// telemetry line whose numbers are not in the grammar does not match at all (unknown shape and
// bad number both drop the line, which is all the zones see). One final "\n" (and a "\r" before it)
// is not part of the last hole. "Getting user data from server.." lines are markers: no match.
// ---------------------------------------------------------------------------------------------
const INT = '-?[0-9]+';
const NUM = '-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?';
const TS = '[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]) (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,6})?';
const BIKE = '(?:[^:]|:+[^: ])*:*'; // no ": " inside
const LINE_RE =
  `(?s)^(${TS}) (${BIKE}): (?:` +
  `(\\[SYSTEM\\] data = )(.*?)` +
  `|\\[INFO\\]: (R)ide - duration = (${NUM}); resistance = (${INT})` +
  `|\\[INFO\\]: (T)elemetry - hrt = (${INT}); rpm = (${INT}); power = (${NUM})` +
  `)(?:\\r?\\n)?$`;
const GROUPS = ['ts', 'bike', 'sys', 'usr', 'r', 'dur', 'res', 't', 'hrt', 'rpm', 'pow'];

// From a relation with columns (file_index, log): one row per line, with kind 0 (ride start),
// 1 (ride line), 2 (telemetry line) or NULL (anything else). a = duration / power, b = resistance /
// hrt, c = rpm. The regular expression is evaluated once per line: the checks that drop lines
// (VALID_LINE) run in the next statement, as a filter here would be pushed below the projection
// and evaluate the expression again.
function parseSelect(fromSql, fileNumbers, fileStreams) {
  return `
    SELECT CAST(${fileNumbers}[CAST(file_index AS BIGINT) + 1] AS INTEGER) AS file,
           CAST(${fileStreams}[CAST(file_index AS BIGINT) + 1] AS INTEGER) AS stream,
           CASE WHEN m.r <> '' THEN 1 WHEN m.t <> '' THEN 2 WHEN m.sys <> '' THEN 0 END::UTINYINT AS kind,
           m.bike AS bike,
           CASE WHEN NOT starts_with(m.ts, '0000') THEN epoch_us(TRY_CAST(m.ts AS TIMESTAMP)) END AS ts,
           CASE WHEN m.r <> '' THEN TRY_CAST(m.dur AS DOUBLE) ELSE TRY_CAST(m.pow AS DOUBLE) END AS a,
           CASE WHEN m.r <> '' THEN TRY_CAST(m.res AS BIGINT) ELSE TRY_CAST(m.hrt AS BIGINT) END AS b,
           CASE WHEN m.t <> '' THEN TRY_CAST(m.rpm AS BIGINT) END AS c,
           CASE WHEN m.sys <> '' THEN m.usr END AS usr
    FROM (SELECT file_index, regexp_extract(log, ${quote(LINE_RE)}, ${JSON.stringify(GROUPS).replaceAll('"', "'")}) AS m
          FROM ${fromSql}) AS s`;
}
const VALID_LINE = `kind IS NOT NULL AND bike <> '' AND ts IS NOT NULL
    AND (kind = 0 OR (a IS NOT NULL AND isfinite(a) AND a >= 0 AND b IS NOT NULL AND b >= 0))
    AND (kind <> 2 OR (c IS NOT NULL AND c >= 0))`;

function loadSql(list, bom) {
  const numbers = `[${list.map((f) => files.indexOf(f)).join(', ')}]`;
  const fileStreams = `[${list.map((f) => f.stream).join(', ')}]`;
  if (!bom) {
    const from = `read_json(${fileList(list)}, format = 'newline_delimited', records = true, columns = {log: 'VARCHAR'},
                            ignore_errors = true)`;
    return parseSelect(from, numbers, fileStreams);
  }
  // BOM files: lines via read_csv (which strips the BOM), the log via json_extract_string when the
  // line is a JSON object with a string "log".
  const from = `(SELECT file_index, CASE WHEN json_valid(line) AND json_type(line) = 'OBJECT'
                                          AND json_type(line, '$.log') = 'VARCHAR'
                                     THEN json_extract_string(line, '$.log') END AS log
                 FROM read_csv(${fileList(list)}, columns = {'line': 'VARCHAR'}, delim = E'\\x01', quote = '',
                               escape = '', header = false, auto_detect = false, strict_mode = false,
                               ignore_errors = true, max_line_size = 16777216))`;
  return parseSelect(from, numbers, fileStreams);
}

// ---------------------------------------------------------------------------------------------
// SQL of the stages
// ---------------------------------------------------------------------------------------------
const US_PER_DAY = 86400000000;
const MS_PER_DAY = 86400000;

// DuckDB's JSON parser is lenient where RFC 8259 is not (NaN / Infinity literals, trailing commas,
// raw control characters in strings). For the user JSON (one per ride start: cheap) the text is
// checked strictly as well: with the well-formed strings replaced by 0, only the letters of true,
// false, null and exponents may remain, no quote (a string holding a control character) and no
// comma before a closing bracket.
const STRICT_JSON = (j) => `(
  SELECT NOT regexp_matches(regexp_replace(x, 'true|false|null', '', 'g'), '[A-DF-Za-df-z"]|,[ \\t\\n\\r]*[]}]')
  FROM (SELECT regexp_replace(${j}, '"(?:[^"\\\\\\x00-\\x1f]|\\\\.)*"', '0', 'g') AS x))`;
// A JSON integer that fits int64 (INT64_MIN excluded) at `path` of json text `j`, else NULL.
const jsonInt = (j, key) =>
  `CASE WHEN json_type(${j}, '$.${key}') IN ('BIGINT', 'UBIGINT')
        THEN NULLIF(TRY_CAST(json_extract_string(${j}, '$.${key}') AS BIGINT), -9223372036854775808) END`;
// A JSON string at `path`, "" is NULL.
const jsonStr = (j, key) =>
  `CASE WHEN json_type(${j}, '$.${key}') = 'VARCHAR' THEN NULLIF(json_extract_string(${j}, '$.${key}'), '') END`;
// Epoch ms -> UTC date (floor division), NULL outside years 0001..9999.
const msDate = (ms) =>
  `CASE WHEN fdiv(${ms}, ${MS_PER_DAY}) BETWEEN -719162 AND 2932896
        THEN (DATE '1970-01-01' + CAST(fdiv(${ms}, ${MS_PER_DAY}) AS INTEGER)) END`;
const dateText = (d) => `coalesce(strftime(${d}, '%Y-%m-%d'), '')`;
// Full years from date b to date d.
const age = (b, d) =>
  `(year(${d}) - year(${b}) - CASE WHEN month(${d}) * 100 + day(${d}) < month(${b}) * 100 + day(${b}) THEN 1 ELSE 0 END)`;
const gender = (g) => `CASE WHEN ${g} IN ('male', 'female') THEN ${g} ELSE 'other' END`;
const SPACE_CLASS = "'[ \\t\\n\\v\\f\\r]+'";
const TRIM_CHARS = "E' \\t\\n\\x0b\\x0c\\r'";

const STAGES = [
  [
    // The ride starts that are no duplicate delivery, their ride_id and their parsed user JSON.
    'rides_base',
    `WITH starts AS (
       SELECT stream, bike, pos, ts, usr, lag(ts) OVER (PARTITION BY stream, bike ORDER BY pos) AS previous_ts
       FROM lines WHERE kind = 0),
     fresh AS (SELECT * FROM starts WHERE previous_ts IS DISTINCT FROM ts),
     parsed AS (
       SELECT *, CASE WHEN json_valid(usr) AND ${STRICT_JSON('usr')} AND json_type(usr) = 'OBJECT' THEN usr END AS j
       FROM fresh),
     users AS (
       SELECT stream, bike, pos, ts, j, ${jsonInt('j', 'user_id')} AS user_id FROM parsed)
     SELECT row_number() OVER (ORDER BY ts, bike, stream, pos) AS ride_id, stream, bike, pos, ts AS start_time,
            user_id,
            CASE WHEN user_id IS NOT NULL THEN ${jsonStr('j', 'name')} END AS name,
            CASE WHEN user_id IS NOT NULL THEN ${jsonStr('j', 'gender')} END AS gender,
            CASE WHEN user_id IS NOT NULL THEN ${jsonStr('j', 'address')} END AS address,
            CASE WHEN user_id IS NOT NULL THEN ${jsonInt('j', 'date_of_birth')} END AS date_of_birth,
            CASE WHEN user_id IS NOT NULL THEN ${jsonStr('j', 'email_address')} END AS email_address,
            CASE WHEN user_id IS NOT NULL THEN ${jsonInt('j', 'height_cm')} END AS height_cm,
            CASE WHEN user_id IS NOT NULL THEN ${jsonInt('j', 'weight_kg')} END AS weight_kg,
            CASE WHEN user_id IS NOT NULL THEN ${jsonInt('j', 'account_create_date')} END AS account_create_date,
            CASE WHEN user_id IS NOT NULL THEN ${jsonStr('j', 'bike_serial')} END AS bike_serial,
            CASE WHEN user_id IS NOT NULL THEN ${jsonStr('j', 'original_source')} END AS original_source
     FROM users`,
  ],
  [
    // Every reading: ride line + the next non-duplicate INFO line of its ride, a telemetry line.
    'readings_base',
    `WITH info AS (SELECT stream, bike, pos, kind, ts, a, b, c FROM lines WHERE kind <> 0),
     assigned AS (
       SELECT r.ride_id, i.pos, i.kind, i.ts, i.a, i.b, i.c
       FROM info AS i ASOF JOIN rides_base AS r
         ON i.stream = r.stream AND i.bike = r.bike AND i.pos > r.pos),
     fresh AS (SELECT DISTINCT ON (ride_id, kind, ts) * FROM assigned ORDER BY ride_id, kind, ts, pos),
     paired AS (
       SELECT ride_id, pos, kind, ts, a, b,
              lead(kind) OVER w AS next_kind, lead(a) OVER w AS next_a, lead(b) OVER w AS next_b,
              lead(c) OVER w AS next_c
       FROM fresh WINDOW w AS (PARTITION BY ride_id ORDER BY pos))
     SELECT ride_id, pos, ts AS time, a AS elapsed_s, b AS resistance,
            NULLIF(next_b, 0) AS heart_rate, next_c AS rpm, next_a AS power_w
     FROM paired WHERE kind = 1 AND next_kind = 2`,
  ],
  [
    // Heart-rate limits of the rides whose rider has a date of birth (the ride's own user JSON).
    'ride_limits',
    `WITH a AS (
       SELECT ride_id, user_id, bike, email_address, name, ${gender('gender')} AS g,
              ${age(msDate('date_of_birth'), `CAST(make_timestamp(start_time) AS DATE)`)} AS age
       FROM rides_base WHERE user_id IS NOT NULL AND ${msDate('date_of_birth')} IS NOT NULL)
     SELECT *,
            CASE WHEN g = 'male' THEN (CASE WHEN age < 40 THEN 40 WHEN age < 65 THEN 47 ELSE 52 END)
                 ELSE (CASE WHEN age < 40 THEN 45 WHEN age < 65 THEN 52 ELSE 57 END) END AS hr_lower,
            CASE WHEN g = 'male' THEN (CASE WHEN age < 40 THEN 220 - age ELSE CAST(fdiv(2085 - 7 * age, 10) AS BIGINT) END)
                 ELSE CAST(fdiv(20650 - 88 * age, 100) AS BIGINT) END AS hr_upper
     FROM a`,
  ],
  [
    // The first reading of each ride that is abnormal with the two readings before it.
    'alerts_base',
    `WITH flagged AS (
       SELECT r.ride_id, r.pos, r.time, r.heart_rate,
              r.heart_rate IS NOT NULL AND (r.heart_rate < l.hr_lower OR r.heart_rate > l.hr_upper) AS abnormal
       FROM readings_base AS r JOIN ride_limits AS l USING (ride_id)),
     runs AS (
       SELECT *, abnormal AND lag(abnormal, 1) OVER w AND lag(abnormal, 2) OVER w AS third
       FROM flagged WINDOW w AS (PARTITION BY ride_id ORDER BY pos))
     SELECT ride_id, arg_min(time, pos) AS alert_time, arg_min(heart_rate, pos) AS heart_rate
     FROM runs WHERE third GROUP BY ride_id`,
  ],
  [
    'rides',
    `WITH agg AS (
       SELECT ride_id, max(time) AS end_time, max(elapsed_s) AS duration_s, count(*) AS readings,
              min(heart_rate) AS heart_rate_min, max(heart_rate) AS heart_rate_max,
              sum(heart_rate) AS heart_rate_sum, count(heart_rate) AS heart_rate_count,
              sum(rpm) AS rpm_sum, sum(resistance) AS resistance_sum, sum(power_w) AS power_sum
       FROM readings_base GROUP BY ride_id)
     SELECT r.ride_id, s.name AS stream, r.bike, r.user_id, r.start_time, a.end_time,
            coalesce(a.duration_s, 0.0) AS duration_s, coalesce(a.readings, 0) AS readings,
            a.heart_rate_min, a.heart_rate_max,
            CAST(a.heart_rate_sum AS DOUBLE) / a.heart_rate_count AS heart_rate_avg,
            CAST(a.rpm_sum AS DOUBLE) / a.readings AS rpm_avg,
            CAST(a.resistance_sum AS DOUBLE) / a.readings AS resistance_avg,
            a.power_sum / a.readings AS power_avg_w,
            coalesce(a.power_sum, 0.0) / 1000.0 AS energy_kj,
            CASE WHEN al.ride_id IS NULL THEN 0 ELSE 1 END::BIGINT AS alert,
            -- for daily
            coalesce(a.power_sum, 0.0) AS power_sum, coalesce(a.heart_rate_sum, 0) AS heart_rate_sum,
            coalesce(a.heart_rate_count, 0) AS heart_rate_count,
            CAST(make_timestamp(r.start_time) AS DATE) AS start_date
     FROM rides_base AS r
     JOIN stream_names AS s ON s.stream = r.stream
     LEFT JOIN agg AS a USING (ride_id)
     LEFT JOIN alerts_base AS al USING (ride_id)`,
  ],
  [
    'heart_rate_alerts',
    `SELECT a.ride_id, l.user_id, l.bike, a.alert_time,
            CASE WHEN a.heart_rate > l.hr_upper THEN 'high' ELSE 'low' END AS kind,
            a.heart_rate, CAST(l.hr_lower AS BIGINT) AS hr_lower, CAST(l.hr_upper AS BIGINT) AS hr_upper,
            CAST(l.age AS BIGINT) AS age, l.g AS gender, coalesce(l.email_address, '') AS email,
            ${firstName('l.name')} AS first_name
     FROM alerts_base AS a JOIN ride_limits AS l USING (ride_id)`,
  ],
  [
    // One row per user_id: the user JSON of the latest ride (the largest ride_id).
    'riders',
    `WITH latest AS (
       SELECT user_id, count(*) AS rides, min(start_time) AS first_ride_start, max(start_time) AS last_ride_start,
              arg_max({name: name, gender: gender, address: address, date_of_birth: date_of_birth,
                       email_address: email_address, height_cm: height_cm, weight_kg: weight_kg,
                       account_create_date: account_create_date, bike_serial: bike_serial,
                       original_source: original_source}, ride_id) AS u
       FROM rides_base WHERE user_id IS NOT NULL GROUP BY user_id),
     split AS (
       SELECT *, ${nameWords('u.name')} AS words,
              CASE WHEN u.address IS NOT NULL
                   THEN list_transform(string_split(u.address, ','), p -> trim(p, ${TRIM_CHARS})) END AS parts
       FROM latest),
     titled AS (
       SELECT *, len(words) >= 2 AND regexp_full_match(words[1], '(Mr|Mrs|Miss|Ms|Dr|Mx|Prof)\\.?') AS has_title
       FROM split)
     SELECT user_id,
            CASE WHEN has_title THEN rtrim(words[1], '.') ELSE '' END AS title,
            coalesce(CASE WHEN has_title THEN words[2] ELSE words[1] END, '') AS first_name,
            coalesce(array_to_string(CASE WHEN has_title THEN words[3:] ELSE words[2:] END, ' '), '') AS last_name,
            coalesce(u.gender, '') AS gender,
            ${dateText(msDate('u.date_of_birth'))} AS date_of_birth,
            u.height_cm, u.weight_kg, coalesce(u.email_address, '') AS email,
            CASE WHEN len(parts) > 2 THEN array_to_string(parts[1:len(parts) - 2], ', ') ELSE '' END AS address_street,
            CASE WHEN len(parts) >= 2 THEN parts[len(parts) - 1] ELSE '' END AS address_town,
            coalesce(parts[len(parts)], '') AS address_postcode,
            ${dateText(msDate('u.account_create_date'))} AS account_created,
            coalesce(u.bike_serial, '') AS bike_serial, coalesce(u.original_source, '') AS original_source,
            rides, first_ride_start, last_ride_start,
            -- for daily
            ${gender('u.gender')} AS g, ${msDate('u.date_of_birth')} AS birth
     FROM titled`,
  ],
  [
    'daily',
    `WITH days AS (
       SELECT start_date, count(*) AS rides, sum(duration_s) AS duration_s, sum(power_sum) AS power_sum,
              sum(readings) AS readings, sum(heart_rate_sum) AS heart_rate_sum,
              sum(heart_rate_count) AS heart_rate_count, sum(alert) AS alerts
       FROM rides GROUP BY start_date),
     by_gender AS (
       SELECT r.start_date,
              coalesce(sum(r.duration_s) FILTER (WHERE p.g = 'male'), 0.0) AS duration_s_male,
              coalesce(sum(r.duration_s) FILTER (WHERE p.g = 'female'), 0.0) AS duration_s_female,
              coalesce(sum(r.duration_s) FILTER (WHERE p.g = 'other'), 0.0) AS duration_s_other
       FROM rides AS r JOIN riders AS p USING (user_id) GROUP BY r.start_date),
     day_riders AS (
       SELECT DISTINCT r.start_date, r.user_id, p.g,
              CASE WHEN p.birth IS NOT NULL THEN ${age('p.birth', 'r.start_date')} END AS age
       FROM rides AS r JOIN riders AS p USING (user_id)),
     counts AS (
       SELECT start_date, count(*) AS riders,
              count(*) FILTER (WHERE g = 'male') AS riders_male,
              count(*) FILTER (WHERE g = 'female') AS riders_female,
              count(*) FILTER (WHERE g = 'other') AS riders_other,
              count(*) FILTER (WHERE age < 18) AS riders_age_under_18,
              count(*) FILTER (WHERE age >= 18 AND age < 25) AS riders_age_18_24,
              count(*) FILTER (WHERE age >= 25 AND age < 35) AS riders_age_25_34,
              count(*) FILTER (WHERE age >= 35 AND age < 45) AS riders_age_35_44,
              count(*) FILTER (WHERE age >= 45 AND age < 55) AS riders_age_45_54,
              count(*) FILTER (WHERE age >= 55 AND age < 65) AS riders_age_55_64,
              count(*) FILTER (WHERE age >= 65) AS riders_age_65_plus
       FROM day_riders GROUP BY start_date)
     SELECT strftime(d.start_date, '%Y-%m-%d') AS date, d.rides, coalesce(c.riders, 0) AS riders,
            d.duration_s, d.power_sum / 1000.0 AS energy_kj,
            d.power_sum / NULLIF(d.readings, 0) AS power_avg_w,
            CAST(d.heart_rate_sum AS DOUBLE) / NULLIF(d.heart_rate_count, 0) AS heart_rate_avg,
            CAST(d.alerts AS BIGINT) AS alerts,
            ${['riders_male', 'riders_female', 'riders_other'].map((k) => `coalesce(c.${k}, 0) AS ${k}`).join(', ')},
            ${['male', 'female', 'other'].map((k) => `coalesce(g.duration_s_${k}, 0.0) AS duration_s_${k}`).join(', ')},
            ${['under_18', '18_24', '25_34', '35_44', '45_54', '55_64', '65_plus']
              .map((k) => `coalesce(c.riders_age_${k}, 0) AS riders_age_${k}`).join(', ')}
     FROM days AS d LEFT JOIN counts AS c USING (start_date) LEFT JOIN by_gender AS g USING (start_date)`,
  ],
];

// Names: words on ASCII whitespace; a leading title word (exact case, optional final '.') is
// dropped when another word follows.
function nameWords(name) {
  return `list_filter(regexp_split_to_array(coalesce(${name}, ''), ${SPACE_CLASS}), w -> w <> '')`;
}
function firstName(name) {
  const words = nameWords(name);
  return `coalesce(CASE WHEN len(${words}) >= 2 AND regexp_full_match((${words})[1], '(Mr|Mrs|Miss|Ms|Dr|Mx|Prof)\\.?')
                   THEN (${words})[2] ELSE (${words})[1] END, '')`;
}

// The zones as written: DELOTON.md's columns, in its order, rows in its order.
const ZONES = {
  riders: {
    columns: `user_id, title, first_name, last_name, gender, date_of_birth, height_cm, weight_kg, email,
              address_street, address_town, address_postcode, account_created, bike_serial, original_source,
              rides, first_ride_start, last_ride_start`,
    order: 'user_id',
  },
  rides: {
    columns: `ride_id, stream, bike, user_id, start_time, end_time, duration_s, readings, heart_rate_min,
              heart_rate_max, heart_rate_avg, rpm_avg, resistance_avg, power_avg_w, energy_kj, alert`,
    order: 'ride_id',
  },
  readings: {
    from: 'readings_base',
    columns: 'ride_id, time, elapsed_s, resistance, heart_rate, rpm, power_w',
    order: 'ride_id, pos',
  },
  heart_rate_alerts: {
    columns: 'ride_id, user_id, bike, alert_time, kind, heart_rate, hr_lower, hr_upper, age, gender, email, first_name',
    order: 'ride_id',
  },
  daily: {
    columns: `date, rides, riders, duration_s, energy_kj, power_avg_w, heart_rate_avg, alerts, riders_male,
              riders_female, riders_other, duration_s_male, duration_s_female, duration_s_other,
              riders_age_under_18, riders_age_18_24, riders_age_25_34, riders_age_35_44, riders_age_45_54,
              riders_age_55_64, riders_age_65_plus`,
    order: 'date',
  },
};

// ---------------------------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------------------------
const seconds = (from) => (performance.now() - from) / 1000;
const result = (key, value) => console.log(`RESULT duckdb_${key}=${value}`);

// Spill files (large landings) go under OUT, not into the working directory; removed at the end.
fs.mkdirSync(args.out, { recursive: true });
const spill = args.tempDirectory ?? path.join(args.out, '.duckdb_spill');
const config = { threads: String(args.threads), temp_directory: spill };
if (args.memoryLimit) config.memory_limit = args.memoryLimit;
const instance = await DuckDBInstance.create(':memory:', config);
const connection = await instance.connect();
const scalar = async (sql) => (await connection.runAndReadAll(sql)).getRows()[0][0];
// DELOTON_DUCKDB_TRACE=1 prints each statement's seconds on stderr.
if (process.env.DELOTON_DUCKDB_TRACE) {
  const run = connection.run.bind(connection);
  connection.run = async (sql) => {
    const at = performance.now();
    const r = await run(sql);
    console.error(`${seconds(at).toFixed(3)} s  ${sql.replace(/\s+/g, ' ').slice(0, 90)}`);
    return r;
  };
}
fs.mkdirSync(args.out, { recursive: true });
const times = {};

// 1. Load: every parsed line with its stream and position. Rows keep the order of the files'
// lines (preserve_insertion_order), so rowid orders the lines of one read.
let step = performance.now();
await connection.run(
  `CREATE TABLE stream_names AS SELECT * FROM (VALUES ${
    streams.length ? streams.map((s, i) => `(${i}, ${quote(s.name)})`).join(', ') : '(0, NULL)'
  }) AS t(stream, name)`,
);
const reads = [];
for (const bom of [false, true]) {
  const list = files.filter((f) => f.bom === bom);
  if (list.length === 0) continue;
  const table = `raw_${reads.length}`;
  await connection.run(`CREATE TABLE ${table} AS ${loadSql(list, bom)}`);
  reads.push(table);
}
const EMPTY = `SELECT 0::INTEGER AS file, 0::INTEGER AS stream, 0::UTINYINT AS kind, ''::VARCHAR AS bike, 0::BIGINT AS ts, 0::DOUBLE AS a,
                      0::BIGINT AS b, 0::BIGINT AS c, ''::VARCHAR AS usr, 0::BIGINT AS rowid WHERE false`;
// A view: rides_base and readings_base each scan it once (a filter is cheaper than a copy).
await connection.run(
  `CREATE VIEW lines AS
   SELECT stream, (CAST(file AS BIGINT) << 40) + rowid AS pos, kind, bike, ts, a, b, c, usr
   FROM (${reads.length ? reads.map((t) => `SELECT *, rowid FROM ${t}`).join(' UNION ALL ') : EMPTY})
   WHERE ${VALID_LINE}`,
);
// Positions are explicit from here on: the later tables need not keep their rows' order.
await connection.run('SET preserve_insertion_order = false');
times.load = seconds(step);

// 2.-4. Rides, readings and the zones.
step = performance.now();
for (const [name, sql] of STAGES) await connection.run(`CREATE TABLE ${name} AS ${sql}`);
times.zones = seconds(step);

// 5. Parquet (DuckDB's defaults: snappy, row groups of 122,880 rows), rows in the zones' order.
step = performance.now();
await connection.run('SET preserve_insertion_order = true');
for (const [zone, { from, columns, order }] of Object.entries(ZONES)) {
  const target = path.join(args.out, `${zone}.parquet`);
  await connection.run(`COPY (SELECT ${columns} FROM ${from ?? zone} ORDER BY ${order}) TO ${quote(target)} (FORMAT parquet)`);
}
times.write = seconds(step);
const total = seconds(started);

result('seconds', total.toFixed(6));
result('version', await scalar('SELECT version()'));
result('threads', await scalar("SELECT current_setting('threads')"));
result('landing_bytes', landingBytes);
result('landing_files', files.length);
result('bom_files', files.filter((f) => f.bom).length);
result('streams', streams.length);
result('parsed_lines', await scalar('SELECT count(*) FROM lines'));
for (const zone of Object.keys(ZONES)) {
  const from = ZONES[zone].from ?? zone;
  result(`zone_${zone}_rows`, await scalar(`SELECT count(*) FROM ${from}`));
}
resultTimings(result, times, total, landingBytes);
if (args.dump) {
  fs.mkdirSync(args.dump, { recursive: true });
  for (const zone of Object.keys(ZONES)) {
    const target = path.join(args.dump, `${zone}.jsonl`);
    await connection.run(`COPY (FROM read_parquet(${quote(path.join(args.out, `${zone}.parquet`))})) TO ${quote(target)} (FORMAT json)`);
  }
}
console.log(`wall ${total.toFixed(3)} s, ${(landingBytes / 1e6).toFixed(1)} MB, ${(landingBytes / 1e6 / total).toFixed(1)} MB/s`);
connection.closeSync?.();
instance.closeSync?.();
fs.rmSync(spill, { recursive: true, force: true });
