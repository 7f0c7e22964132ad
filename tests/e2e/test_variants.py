#!/usr/bin/env python3
"""Older customer dumps (../shared/data/stedi/variants, see its SOURCE.md) with the real
accelerometer and step-trainer data: the float-timestamp / explicit-null / numeric-phone variants
describe the same customers, so every zone count must equal DESIGN.md's table; the 2022 dump reuses
30 serial numbers (SOURCE.md), which the data-quality summary must report. Exit 77 (skipped) when
../shared is absent."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

PRIVACY_COUNTS = {"customer_trusted": 482, "accelerometer_trusted": 32025, "customer_curated": 464,
                  "step_trainer_trusted": 11297, "machine_learning_curated": 32025}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--ranks", type=int, default=3)
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--data", default=os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "data", "stedi")))
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.data, "variants")):
        print(f"skipped: {args.data}/variants not found")
        return 77
    failures = []
    for variant in sorted(os.listdir(os.path.join(args.data, "variants"))):
        with tempfile.TemporaryDirectory() as tmp:
            landing = os.path.join(tmp, "landing")
            os.makedirs(landing)
            os.symlink(os.path.join(args.data, "variants", variant), os.path.join(landing, "customer"))
            for source in ("accelerometer", "step_trainer"):
                os.symlink(os.path.join(args.data, "landing", source), os.path.join(landing, source))
            out = os.path.join(tmp, "out")
            result = subprocess.run([args.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", str(args.ranks),
                                     args.mpilake, "run", "-q", "--landing", landing, "--out", out],
                                    capture_output=True, text=True, timeout=300)
            summary_path = os.path.join(out, "summary.json")
            if result.returncode != 0 or not os.path.exists(summary_path):
                failures.append(f"{variant}: run failed: {result.stderr.strip()}")
                continue
            with open(summary_path) as f:
                summary = json.load(f)
            customer = summary["sources"]["customer"]
            if customer["quarantined"] != 0 or customer["lines"] != customer["accepted"]:
                failures.append(f"{variant}: customer lines should all be accepted: {customer}")
            rows = {zone: v["rows"] for zone, v in summary["zones"].items()}
            if "30serials" in variant:
                shared = summary["data_quality"]["shared_serials"]
                if shared != 30:
                    failures.append(f"{variant}: expected 30 shared serial numbers reported, got {shared}")
                # Its serials do not match the 2023 step-trainer data (SOURCE.md).
                if rows["step_trainer_trusted"] != 0:
                    failures.append(f"{variant}: step_trainer_trusted should be empty, got {rows}")
            elif rows != PRIVACY_COUNTS:
                failures.append(f"{variant}: zone rows {rows} differ from DESIGN.md {PRIVACY_COUNTS}")
            print(f"{variant}: {rows}, shared serials {summary['data_quality']['shared_serials']}")
    for failure in failures:
        print("FAIL:", failure)
    print("test_variants:", "FAILED" if failures else "all variants ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
