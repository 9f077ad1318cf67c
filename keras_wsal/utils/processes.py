"""Whether a process still runs: tells a killed writer's leftovers from a live writer's files."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """True if a process `pid` exists on this machine (it may belong to another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # e.g. Windows, where signal 0 is not a probe: assume it runs
        return True
    return True
