"""Give memory back after big work: a TUI lives all day on a shared SSH box."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

_libc = None
try:
    _path = ctypes.util.find_library("c")
    _libc = ctypes.CDLL(_path) if _path else None
except OSError:  # not a C library we can load
    _libc = None


def give_back() -> None:
    """Collect, then ask the C allocator to return free pages to the system (glibc keeps the
    freed tens of MB of a 50,000-conversation command otherwise)."""
    gc.collect()
    trim = getattr(_libc, "malloc_trim", None)
    if trim is not None:
        trim(0)
