// What the peer scripts (bench/{duckdb,polars,chdb}/stedi_privacy.mjs, bench/duckdb/deloton.mjs) share:
// their command line; and the STEDI ones the landing files, listed as mpilake lists them.
import fs from 'node:fs';
import path from 'node:path';

// What the usage line shows for an option's value (DIR unless listed).
const PLACEHOLDER = { memoryLimit: 'SIZE' };

// The DuckDB options of a budgeted run (issue 20): --memory-limit SIZE (DuckDB's memory_limit, e.g.
// 256MB) and --temp-directory DIR (where it spills; default OUT/.duckdb_spill).
export const DUCKDB_BUDGET_OPTIONS = { '--memory-limit': 'memoryLimit', '--temp-directory': 'tempDirectory' };

// The usage error of a peer script: prints the message and the usage line, ends the process with
// exit code 2. `extra` maps a script's own options to their argument names (e.g. {'--dump': 'dump'}).
export function peerUsage(script, extra = {}) {
  const options = Object.entries(extra).map(([option, name]) => ` [${option} ${PLACEHOLDER[name] ?? 'DIR'}]`).join('');
  return (message) => {
    console.error(`${script}: ${message}\nusage: node ${script} --landing DIR --out DIR [--threads N]${options}`);
    process.exit(2);
  };
}

// --landing DIR --out DIR [--threads N] and the script's `extra` options (see peerUsage); a usage
// error ends the process with exit code 2.
export function parsePeerArgs(script, defaultThreads, extra = {}) {
  const usage = peerUsage(script, extra);
  const args = { threads: defaultThreads };
  for (let i = 2; i < process.argv.length; ++i) {
    const arg = process.argv[i];
    const value = () => (i + 1 < process.argv.length ? process.argv[++i] : usage(`${arg} needs a value`));
    if (arg === '--landing') args.landing = value();
    else if (arg === '--out') args.out = value();
    else if (arg === '--threads') args.threads = Number(value());
    else if (Object.hasOwn(extra, arg)) args[extra[arg]] = value();
    else usage(`unknown argument ${arg}`);
  }
  if (!args.landing || !args.out) usage('--landing and --out are required');
  if (args.threads !== null && !(args.threads >= 1)) usage('--threads must be >= 1');
  return args;
}

export const SOURCES = ['customer', 'accelerometer', 'step_trainer'];

// Each source's fields and their kind (str, int, float), in the zone column order (DESIGN.md, "HDF5
// output contract"); the fields a row must have; the other spelling of a field a file may use.
export const COLUMNS = {
  customer: {
    customerName: 'str', email: 'str', phone: 'str', birthDay: 'str', serialNumber: 'str',
    registrationDate: 'int', lastUpdateDate: 'int', shareWithResearchAsOfDate: 'int',
    shareWithPublicAsOfDate: 'int', shareWithFriendsAsOfDate: 'int',
  },
  accelerometer: { user: 'str', timestamp: 'int', x: 'float', y: 'float', z: 'float' },
  step_trainer: { sensorReadingTime: 'int', serialNumber: 'str', distanceFromObject: 'int' },
};
export const REQUIRED = {
  customer: ['email', 'serialNumber'],
  accelerometer: ['user', 'timestamp', 'x', 'y', 'z'],
  step_trainer: ['sensorReadingTime', 'serialNumber', 'distanceFromObject'],
};
export const ALIASES = { accelerometer: { timestamp: 'timeStamp' } };

// The regular, non-hidden files of each source folder, sorted, and their total size in bytes.
export function landingFiles(landing) {
  const files = {};
  let landingBytes = 0;
  for (const source of SOURCES) {
    const folder = path.join(landing, source);
    files[source] = fs
      .readdirSync(folder, { withFileTypes: true })
      .filter((entry) => entry.isFile() && !entry.name.startsWith('.'))
      .map((entry) => path.join(folder, entry.name))
      .sort();
    for (const file of files[source]) landingBytes += fs.statSync(file).size;
  }
  return { files, landingBytes };
}

export function startsWithBom(file) {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(3);
  const got = fs.readSync(fd, head, 0, 3, 0);
  fs.closeSync(fd);
  return got === 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf;
}

// The timing RESULT lines every peer ends with (run_bench.sh and deloton_bench.sh read them):
// `times` holds the load, zones and write seconds, `total` the seconds since the script started.
export function resultTimings(result, times, total, landingBytes) {
  result('load_seconds', times.load.toFixed(6));
  result('zones_seconds', times.zones.toFixed(6));
  result('write_seconds', times.write.toFixed(6));
  result('total_seconds', total.toFixed(6));
  result('total_mb_per_s', (landingBytes / 1e6 / total).toFixed(3));
  result('peak_rss_bytes', process.resourceUsage().maxRSS * 1024);
}
