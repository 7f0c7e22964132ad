"""mpilake's Python side: read a finished run's zones (NumPy, h5py) and train on them (PyTorch).

    from mpilake import open_run                      # NumPy / h5py; no torch needed
    from mpilake.torchdata import DeviceWindows, RideWindows   # torch.utils.data datasets

See README.md, "Python: zones in NumPy and PyTorch".
"""

from .zones import NULL_INT64, Run, Zone, ZoneError, check_zone, decode, open_run

__all__ = ["NULL_INT64", "Run", "Zone", "ZoneError", "check_zone", "decode", "open_run",
           "ZoneWindows", "DeviceWindows", "RideWindows"]


def __getattr__(name):  # the torch datasets without importing torch for open_run's users
    if name in ("ZoneWindows", "DeviceWindows", "RideWindows"):
        from . import torchdata

        return getattr(torchdata, name)
    raise AttributeError(f"module 'mpilake' has no attribute {name!r}")
