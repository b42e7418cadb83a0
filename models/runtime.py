"""Process-wide memory settings, applied once at start-up.

glibc gives every thread that allocates at the same time its own malloc arena,
and freed memory stays in that arena. A Gradio server answers from dozens of
worker threads, so after a busy minute the process holds many half-empty arenas:
with 16 concurrent sessions that was about 130 MB of resident memory that no
cache accounts for. Capping the arena count keeps the resident size close to
what the model and analysis caches hold.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h


def limit_malloc_arenas(default: int = 2) -> bool:
    """Cap glibc's malloc arenas (ANATOMY_MALLOC_ARENAS, 0 = leave glibc's default).

    Returns whether a cap was set; False off glibc (macOS, musl) or when disabled.
    """
    arenas = int(os.environ.get("ANATOMY_MALLOC_ARENAS", default))
    libc_name = ctypes.util.find_library("c")
    if arenas <= 0 or not libc_name:
        return False
    try:
        libc = ctypes.CDLL(libc_name)
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc: no mallopt
        return False
