#!/usr/bin/python3
"""Prove two STEDI runs wrote the same outputs: every .h5 file's datasets (names, dtypes, shapes, raw
bytes) and attributes (all but created_utc) and quarantine.jsonl byte for byte.

usage:
  compare_runs.py OUT_A OUT_B                 compare two finished output folders
  compare_runs.py --matrix BASE NEW WORK       run BASE and NEW mpilake binaries on the starter data and
                                               a generated set with 1% bad lines, at 1, 2 and 4 ranks,
                                               under each rule set, and compare every pair
Exit 0 when everything is equal, 1 on a difference (each one printed), 2 on bad usage.
"""
import os
import subprocess
import sys

import h5py
import numpy as np

SKIPPED_ATTRIBUTES = {"created_utc"}


def h5_items(path):
    """name -> ('dataset', dtype, shape, bytes, attrs) or ('group', attrs), for every object."""
    items = {}
    with h5py.File(path, "r") as f:
        def attrs_of(obj):
            out = {}
            for key, value in obj.attrs.items():
                if key in SKIPPED_ATTRIBUTES:
                    continue
                out[key] = value.tobytes() if isinstance(value, np.ndarray) else value
            return out

        items["/"] = ("group", attrs_of(f))

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                data = obj[()]
                raw = data.tobytes() if isinstance(data, np.ndarray) else bytes(str(data), "utf8")
                items[name] = ("dataset", str(obj.dtype), obj.shape, raw, attrs_of(obj))
            else:
                items[name] = ("group", attrs_of(obj))

        f.visititems(visit)
    return items


def compare(a, b):
    problems = []
    names_a = sorted(n for n in os.listdir(a) if n.endswith(".h5") or n == "quarantine.jsonl")
    names_b = sorted(n for n in os.listdir(b) if n.endswith(".h5") or n == "quarantine.jsonl")
    if names_a != names_b:
        problems.append(f"files differ: {names_a} vs {names_b}")
    for name in sorted(set(names_a) & set(names_b)):
        pa, pb = os.path.join(a, name), os.path.join(b, name)
        if name == "quarantine.jsonl":
            if open(pa, "rb").read() != open(pb, "rb").read():
                problems.append(f"{name}: bytes differ")
            continue
        ia, ib = h5_items(pa), h5_items(pb)
        if sorted(ia) != sorted(ib):
            problems.append(f"{name}: objects differ: {sorted(set(ia) ^ set(ib))}")
        for obj in sorted(set(ia) & set(ib)):
            if ia[obj][0] != ib[obj][0]:
                problems.append(f"{name}:{obj}: kind differs")
                continue
            if ia[obj][0] == "dataset":
                _, dta, sha, rawa, attra = ia[obj]
                _, dtb, shb, rawb, attrb = ib[obj]
                if dta != dtb:
                    problems.append(f"{name}:{obj}: dtype {dta} vs {dtb}")
                if sha != shb:
                    problems.append(f"{name}:{obj}: shape {sha} vs {shb}")
                if rawa != rawb:
                    problems.append(f"{name}:{obj}: raw bytes differ")
            else:
                attra, attrb = ia[obj][1], ib[obj][1]
            if attra.keys() != attrb.keys() or any(not np.array_equal(attra[k], attrb[k]) for k in attra):
                problems.append(f"{name}:{obj}: attributes differ")
    return problems


def matrix(base, new, work):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    starter = os.path.join(root, "..", "shared", "data", "stedi", "landing")
    mpirun = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
    os.makedirs(work, exist_ok=True)
    generated = os.path.join(work, "generated")
    if not os.path.isdir(generated):
        subprocess.run(mpirun + ["-np", "2", base, "generate", "--out", generated, "--customers", "3000",
                                 "--target-bytes", "40000000", "--bad-line-rate", "0.01", "--seed", "7"],
                       check=True, stdout=subprocess.DEVNULL)
    sets = [("generated", generated)]
    if os.path.isdir(starter):
        sets.insert(0, ("starter", os.path.realpath(starter)))
    else:
        print(f"starter data not found at {starter}: skipped")
    failures = 0
    for set_name, landing in sets:
        for rules in ("privacy", "serial", "rubric"):
            for ranks in (1, 2, 4):
                outs = []
                for label, binary in (("base", base), ("new", new)):
                    out = os.path.join(work, f"{set_name}-{rules}-{ranks}-{label}")
                    subprocess.run(mpirun + ["-np", str(ranks), binary, "run", "--landing", landing, "--out", out,
                                             "--rules", rules, "--quiet", "--overwrite"], check=True)
                    outs.append(out)
                problems = compare(*outs)
                failures += bool(problems)
                print(f"{set_name:<10} {rules:<8} {ranks} ranks: {'equal' if not problems else 'DIFFERENT'}")
                for problem in problems:
                    print("   ", problem)
    print("all equal" if failures == 0 else f"{failures} configurations differ")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 2:
        problems = compare(argv[0], argv[1])
        for problem in problems:
            print(problem)
        print("equal" if not problems else "DIFFERENT")
        return 1 if problems else 0
    if len(argv) == 4 and argv[0] == "--matrix":
        return matrix(os.path.abspath(argv[1]), os.path.abspath(argv[2]), os.path.abspath(argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
