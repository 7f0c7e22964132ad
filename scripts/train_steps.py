#!/usr/bin/python3
"""Train a step detector on mpilake's machine_learning_curated zone and print held-out metrics.

Reads OUT/machine_learning_curated.h5 (one 1-D dataset per column), cuts each device's accelerometer
series into windows, labels every window from the step trainer's distance signal, trains a
scikit-learn random forest on some devices and evaluates it on the others.

Devices
    A device is a serialNumber. When the zone carries the device index (`device_serial`, the
    distinct serials in sorted order, and `device_offset`, where device i owns rows
    device_offset[i]:device_offset[i+1]), the script reads the zone in device slices and never loads
    the serialNumber column. Without the index it reads the columns whole and groups the rows by
    serialNumber itself. Inside a device, rows are ordered by (timestamp, x, y, z, distance), so the
    result does not depend on the file's row order: both paths give the same metrics.

Step labels (from distanceFromObject, in cm)
    The step trainer measures the distance to the foot. Standing, it reads a device-specific rest
    distance plus sensor noise; on each step the foot rises and the distance drops by the lift
    height, then returns. Per device:
        standing  = 90th percentile of the device's distances (the foot is down at rest and at the
                    bottom of every step, so this is the rest distance whether or not the person
                    paused);
        depth     = standing - 10th percentile (how far the foot travels);
        lifted    = distance < standing - max(MIN_LIFT_CM, LIFT_FRACTION * depth).
    A reading is "foot lifted" when the foot is clearly off its rest position: more than a quarter
    of the device's own travel and more than 10 cm (several times the sensor noise), so a device
    that only stands still has no lifted readings. Thresholds are per device because rest distance
    and lift height differ between people and set-ups.
    A window is labelled "step" when it contains a step, i.e. at least one lifted reading (`--label
    any`, the default), or, with `--label majority`, when most of its readings are lifted (a stricter
    label: during stepping about two thirds of the readings are lifted, depending on how the sampling
    falls on the step cycle; during a pause none are).

Windows and features
    Per device, rows are cut into segments at time gaps (a gap is longer than GAP_FACTOR times the
    device's median positive sampling interval: another session, or a device shared by several
    customers), and each segment into consecutive, non-overlapping windows of N rows (a remainder
    shorter than N is dropped). Features, for x, y, z and the magnitude sqrt(x^2+y^2+z^2): mean,
    standard deviation, min, max, energy (mean of squares) and mean absolute first difference.
    The distance is not a feature (it defines the label).

Split and model
    Train/test split by device (GroupShuffleSplit: no device is in both sets). The first of a few
    seeded splits in which both sets hold both classes is used. Model: RandomForestClassifier(200
    trees, min_samples_leaf=2, fixed seed). Metrics on the held-out devices: accuracy, precision,
    recall, F1 (positive class = step), ROC AUC, and the majority-class baseline (the training
    set's majority class predicted for every test window).

Exit status: 0 metrics produced; 2 usage error, unreadable file or not a curated zone; 3 the data
cannot give a model (too few devices or windows, one class only) - a message says why, rows_read is
still printed and --json still written.
"""

import argparse
import json
import os
import sys
import time

REQUIRED = ("serialNumber", "timestamp", "distanceFromObject", "x", "y", "z")
INDEX = ("device_serial", "device_offset")

STANDING_QUANTILE = 90
LOW_QUANTILE = 10
LIFT_FRACTION = 0.25
MIN_LIFT_CM = 10.0
GAP_FACTOR = 5.0
BATCH_ROWS = 1 << 20  # rows read per batch of devices on the index path
SPLIT_TRIES = 20

EXIT_USAGE = 2
EXIT_DEGENERATE = 3


class UsageError(Exception):
    """Bad input file or arguments: one line, exit 2."""


def fail(message):
    print("train_steps.py: error: " + message, file=sys.stderr)
    sys.exit(EXIT_USAGE)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="train_steps.py",
        description="Train a step detector (scikit-learn random forest) on mpilake's "
                    "machine_learning_curated.h5: labels from the step trainer's distanceFromObject, "
                    "features from windows of accelerometer x/y/z per device, train/test split by "
                    "device. Prints rows_read and held-out accuracy, precision, recall, F1, ROC AUC "
                    "and the majority-class baseline.",
        epilog="Exit status: 0 metrics printed; 2 bad arguments or not a readable curated zone; "
               "3 the data cannot give a model (too few devices or windows, one class only). "
               "Run with Debian's /usr/bin/python3 (python3-h5py, python3-numpy, python3-sklearn). "
               "The labelling rule is described in the module docstring.")
    parser.add_argument("zone", metavar="ZONE.h5", help="path of machine_learning_curated.h5")
    parser.add_argument("--window", type=int, default=8, metavar="N",
                        help="accelerometer readings per window (default 8)")
    parser.add_argument("--test-fraction", type=float, default=0.25, metavar="F",
                        help="fraction of devices held out for testing, 0 < F < 1 (default 0.25)")
    parser.add_argument("--seed", type=int, default=1, metavar="S",
                        help="seed of the device split and of the forest (default 1)")
    parser.add_argument("--label", choices=("any", "majority"), default="any",
                        help="window is a step if any (it contains a step) or most (majority) of its "
                             "readings show the foot lifted off its rest distance (default any)")
    parser.add_argument("--trees", type=int, default=200, metavar="T",
                        help="trees in the random forest (default 200)")
    parser.add_argument("--jobs", type=int, default=1, metavar="J",
                        help="parallel jobs for the forest (default 1)")
    parser.add_argument("--json", metavar="OUT.json", help="also write the metrics as JSON to this file")
    args = parser.parse_args(argv)
    if args.window < 2:
        parser.error("--window must be >= 2")
    if not 0.0 < args.test_fraction < 1.0:
        parser.error("--test-fraction must be between 0 and 1 (exclusive)")
    if args.trees < 1:
        parser.error("--trees must be >= 1")
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    return args


# ---------------------------------------------------------------------------------------------
# Reading the zone
# ---------------------------------------------------------------------------------------------

def null_value(dataset):
    value = dataset.attrs.get("null_value")
    return None if value is None else int(value)


def open_zone(path, h5py):
    if not os.path.exists(path):
        raise UsageError("no such file: %s" % path)
    if os.path.isdir(path):
        raise UsageError("%s is a directory; give the path of machine_learning_curated.h5" % path)
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise UsageError("cannot open %s as HDF5: %s" % (path, error)) from None
    missing = [name for name in REQUIRED if name not in f or not isinstance(f[name], h5py.Dataset)]
    if missing:
        f.close()
        raise UsageError("%s is not a machine_learning_curated zone: missing dataset(s) %s"
                         % (path, ", ".join(missing)))
    lengths = {name: f[name].shape for name in REQUIRED}
    if any(len(shape) != 1 for shape in lengths.values()) or len({s[0] for s in lengths.values()}) != 1:
        f.close()
        raise UsageError("%s: the datasets %s must be 1-D and of equal length (got %s)"
                         % (path, ", ".join(REQUIRED), lengths))
    return f


def read_index(f, total):
    """(serials, offsets) when the zone carries a consistent device index, None when it has none."""
    present = [name for name in INDEX if name in f]
    if not present:
        return None
    if len(present) != len(INDEX):
        raise UsageError("the zone has %s but not %s" % (present[0], (set(INDEX) - set(present)).pop()))
    serials = f["device_serial"][:]
    offsets = f["device_offset"][:].astype("int64")
    import numpy as np
    if (offsets.ndim != 1 or len(offsets) != len(serials) + 1 or offsets[0] != 0 or offsets[-1] != total
            or np.any(np.diff(offsets) < 0)):
        raise UsageError("inconsistent device index: device_offset must hold len(device_serial)+1 "
                         "non-decreasing offsets from 0 to the row count %d" % total)
    if len(np.unique(serials)) != len(serials):
        raise UsageError("inconsistent device index: device_serial lists a serial twice")
    return serials, offsets


class Devices:
    """Per-device columns, each device's rows ordered by (timestamp, x, y, z, distance)."""

    def __init__(self):
        self.serials = []
        self.columns = []  # one dict of arrays per device

    def add_block(self, np, serials, lengths, cols):
        """cols: arrays of consecutive devices' rows; lengths: rows per device."""
        device = np.repeat(np.arange(len(lengths)), lengths)
        order = np.lexsort((cols["distance"], cols["z"], cols["y"], cols["x"], cols["timestamp"], device))
        cols = {name: values[order] for name, values in cols.items()}
        bounds = np.concatenate(([0], np.cumsum(lengths)))
        for i, serial in enumerate(serials):
            a, b = bounds[i], bounds[i + 1]
            self.serials.append(serial)
            self.columns.append({name: values[a:b] for name, values in cols.items()})


COLUMN_OF = {"timestamp": "timestamp", "distance": "distanceFromObject", "x": "x", "y": "y", "z": "z"}


def read_devices(f, np):
    """Returns (Devices, rows_read, used_index)."""
    total = int(f["x"].shape[0])
    index = read_index(f, total)
    devices = Devices()
    if index is not None:
        serials, offsets = index
        rows_read = 0
        first = 0
        while first < len(serials):
            # A batch of consecutive devices, about BATCH_ROWS rows (at least one device).
            last = int(np.searchsorted(offsets, offsets[first] + BATCH_ROWS, side="right")) - 1
            last = min(max(last, first + 1), len(serials))
            a, b = int(offsets[first]), int(offsets[last])
            cols = {name: f[column][a:b] for name, column in COLUMN_OF.items()}
            rows_read += b - a
            devices.add_block(np, list(serials[first:last]), np.diff(offsets[first:last + 1]), cols)
            first = last
        return devices, rows_read, True
    serial = f["serialNumber"][:]
    cols = {name: f[column][:] for name, column in COLUMN_OF.items()}
    rows_read = len(serial)
    unique, inverse, counts = np.unique(serial, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    cols = {name: values[order] for name, values in cols.items()}
    devices.add_block(np, list(unique), counts, cols)
    return devices, rows_read, False


# ---------------------------------------------------------------------------------------------
# Labels, windows, features
# ---------------------------------------------------------------------------------------------

def lifted_readings(np, distance):
    """Boolean per reading: the foot is clearly off its rest position (see the module docstring)."""
    standing, low = np.percentile(distance, [STANDING_QUANTILE, LOW_QUANTILE])
    threshold = standing - max(MIN_LIFT_CM, LIFT_FRACTION * (standing - low))
    return distance < threshold


def window_starts(np, timestamp, window):
    """Start rows of consecutive windows of `window` rows that do not cross a time gap."""
    if len(timestamp) < window:
        return np.empty(0, dtype=np.int64)
    dt = np.diff(timestamp)
    positive = dt[dt > 0]
    if len(positive):
        cuts = np.flatnonzero(dt > GAP_FACTOR * np.median(positive)) + 1
    else:
        cuts = np.empty(0, dtype=np.int64)
    edges = np.concatenate(([0], cuts, [len(timestamp)]))
    starts = [np.arange(a, a + ((b - a) // window) * window, window) for a, b in zip(edges[:-1], edges[1:])]
    return np.concatenate(starts).astype(np.int64)


FEATURE_NAMES = [signal + "_" + stat for signal in ("x", "y", "z", "mag")
                 for stat in ("mean", "std", "min", "max", "energy", "mean_abs_diff")]


def build_windows(np, devices, window, label_rule):
    """Returns features (W x F), labels (W), device serial of each window, rows skipped as NULL."""
    features, labels, groups = [], [], []
    skipped = 0
    offsets = np.arange(window)
    null_int = np.iinfo(np.int64).min
    for serial, cols in zip(devices.serials, devices.columns):
        valid = ((cols["distance"] != null_int) & (cols["timestamp"] != null_int)
                 & np.isfinite(cols["x"]) & np.isfinite(cols["y"]) & np.isfinite(cols["z"]))
        if not valid.all():
            skipped += int((~valid).sum())
            cols = {name: values[valid] for name, values in cols.items()}
        starts = window_starts(np, cols["timestamp"], window)
        if len(starts) == 0:
            continue
        rows = starts[:, None] + offsets  # W x N row numbers
        lifted = lifted_readings(np, cols["distance"].astype(np.float64))[rows]
        labels.append(lifted.mean(axis=1) > 0.5 if label_rule == "majority" else lifted.any(axis=1))
        x, y, z = cols["x"][rows], cols["y"][rows], cols["z"][rows]
        mag = np.sqrt(x * x + y * y + z * z)
        per_signal = []
        for v in (x, y, z, mag):
            per_signal += [v.mean(axis=1), v.std(axis=1), v.min(axis=1), v.max(axis=1), (v * v).mean(axis=1),
                           np.abs(np.diff(v, axis=1)).mean(axis=1)]
        features.append(np.column_stack(per_signal))
        groups.append(np.full(len(starts), serial, dtype=object))
    if not features:
        return np.empty((0, len(FEATURE_NAMES))), np.empty(0, dtype=bool), np.empty(0, dtype=object), skipped
    return np.concatenate(features), np.concatenate(labels), np.concatenate(groups), skipped


# ---------------------------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------------------------

class Degenerate(Exception):
    """The data cannot give a trained and evaluated model."""


def split_by_device(np, labels, groups, test_fraction, seed):
    from sklearn.model_selection import GroupShuffleSplit
    n_devices = len(np.unique(groups))
    if n_devices < 2:
        raise Degenerate("need windows from at least 2 devices to split train/test by device, got %d" % n_devices)
    if len(np.unique(labels)) < 2:
        only = "step" if labels[0] else "no-step"
        raise Degenerate("every window is labelled %s: nothing to learn" % only)
    splitter = GroupShuffleSplit(n_splits=SPLIT_TRIES, test_size=test_fraction, random_state=seed)
    fallback = None
    for train, test in splitter.split(labels, labels, groups):
        if len(np.unique(labels[train])) == 2:
            if len(np.unique(labels[test])) == 2:
                return train, test
            fallback = fallback or (train, test)
    if fallback is None:
        raise Degenerate("no device split of %d devices leaves both classes in the training set" % n_devices)
    return fallback


def train_and_evaluate(np, X, labels, groups, args):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
    train, test = split_by_device(np, labels, groups, args.test_fraction, args.seed)
    model = RandomForestClassifier(n_estimators=args.trees, min_samples_leaf=2, random_state=args.seed,
                                   n_jobs=args.jobs)
    model.fit(X[train], labels[train])
    y_true = labels[test]
    y_pred = model.predict(X[test])
    majority = bool(labels[train].mean() >= 0.5)
    baseline = np.full(len(test), majority)
    both = len(np.unique(y_true)) == 2
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0)),
        "roc_auc": float(roc_auc_score(y_true, model.predict_proba(X[test])[:, 1])) if both else None,
        "baseline_accuracy": float(accuracy_score(y_true, baseline)),
        "baseline_f1": float(f1_score(y_true, baseline, zero_division=0)),
    }
    split = {
        "train_windows": int(len(train)), "test_windows": int(len(test)),
        "train_devices": int(len(np.unique(groups[train]))), "test_devices": int(len(np.unique(groups[test]))),
        "test_step_fraction": float(y_true.mean()), "baseline_class": "step" if majority else "no-step",
    }
    if not both:
        split["note"] = "the held-out devices hold one class only; ROC AUC is undefined"
    return metrics, split


def fmt(value):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "%.4f" % value
    return str(value)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    try:
        import h5py
        import numpy as np
        import sklearn  # noqa: F401  (fail early, with a clear message)
    except ImportError as error:
        fail("%s; run with Debian's /usr/bin/python3 and install python3-h5py python3-numpy python3-sklearn"
             % error)

    report = {"zone": os.path.abspath(args.zone), "window": args.window, "test_fraction": args.test_fraction,
              "seed": args.seed, "label": args.label}
    try:
        with open_zone(args.zone, h5py) as f:
            rows_attribute = f.attrs.get("rows")
            rows_attribute = None if rows_attribute is None else int(rows_attribute)
            devices, rows_read, used_index = read_devices(f, np)
    except UsageError as error:
        fail(str(error))
    except OSError as error:
        fail("cannot read %s: %s" % (args.zone, error))

    report.update(rows_read=int(rows_read), rows_attribute=rows_attribute,
                  device_index="device_offset" if used_index else "none (grouped by serialNumber)",
                  devices=len(devices.serials))
    X, labels, groups, skipped = build_windows(np, devices, args.window, args.label)
    report.update(rows_skipped_null=skipped, windows=int(len(labels)),
                  step_window_fraction=float(labels.mean()) if len(labels) else None)

    print("train_steps: %s" % args.zone)
    print("rows_read=%d" % rows_read)
    print("rows_attribute=%s" % fmt(rows_attribute))
    if rows_attribute is not None and rows_attribute != rows_read:
        print("train_steps: warning: rows_read differs from the zone's rows attribute", file=sys.stderr)
    print("device_index=%s" % report["device_index"])
    print("devices=%d windows=%d window_rows=%d step_windows=%s rows_skipped_null=%d"
          % (len(devices.serials), len(labels), args.window, fmt(report["step_window_fraction"]), skipped))

    status = 0
    try:
        metrics, split = train_and_evaluate(np, X, labels, groups, args)
        report.update(split)
        report["metrics"] = metrics
        report["status"] = "ok"
        print("split by device: train %d devices / %d windows, test %d devices / %d windows (%.1f%% step)"
              % (split["train_devices"], split["train_windows"], split["test_devices"], split["test_windows"],
                 100 * split["test_step_fraction"]))
        if "note" in split:
            print("note: " + split["note"])
        for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "baseline_accuracy", "baseline_f1"):
            print("%s=%s" % (name, fmt(metrics[name])))
        print("baseline_class=%s" % split["baseline_class"])
    except Degenerate as reason:
        report["status"] = "degenerate"
        report["message"] = str(reason)
        report["metrics"] = None
        print("train_steps: cannot train: %s" % reason)
        status = EXIT_DEGENERATE
    report["seconds"] = round(time.perf_counter() - started, 3)
    print("seconds=%.2f" % report["seconds"])
    if args.json:
        try:
            with open(args.json, "w") as out:
                json.dump(report, out, indent=2, allow_nan=False)
                out.write("\n")
        except OSError as error:
            fail("cannot write %s: %s" % (args.json, error))
    return status


if __name__ == "__main__":
    sys.exit(main())
