#!/usr/bin/python3
"""`torchrun` for Debian 12's PyTorch 1.13 on Python 3.11: the same command line as torchrun.

Debian's `torchrun` (and `python3 -m torch.distributed.run`) crashes at start on Python 3.11 with
"AttributeError: 'NoneType' object has no attribute 'get'": torch 1.13 parses --redirects/--tee
(default "0") by iterating over the IntFlag `Std`, and since Python 3.11 iterating a Flag yields only
its single-bit members, so "0" (NONE) and "3" (ALL) map to None. This wrapper replaces that parser
with `Std(int(value))` and then runs torch.distributed.run unchanged:

    /usr/bin/python3 scripts/torchrun.py --nproc_per_node 2 scripts/train_torch.py --zone ...
"""
import re
import sys

from torch.distributed.elastic.multiprocessing import api as _api


def _std_from_str(vm):
    if re.fullmatch(r"[0-3]", vm):
        return _api.Std(int(vm))
    if re.fullmatch(r"(\d:[0-3],)*\d:[0-3]", vm):
        return {int(i): _api.Std(int(v)) for i, v in (m.split(":") for m in vm.split(","))}
    raise ValueError(f"{vm} does not match <0-3> or <local_rank:0-3,...>")


_api.Std.from_str = staticmethod(_std_from_str)

from torch.distributed import run as _run  # noqa: E402  (after the patch)

if __name__ == "__main__":
    sys.exit(_run.main())
