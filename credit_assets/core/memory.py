"""Give memory a finished step freed back to the operating system, so the next step's peak does not stack on it."""

import ctypes
import ctypes.util
import gc

import pyarrow as pa


def release_freed_memory() -> None:
    """Free what only reference cycles still hold (GX builds many around a month's frame), then return freed Arrow
    buffers (its mimalloc pool keeps them) and freed C heap pages (glibc keeps them)."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    trim = getattr(ctypes.CDLL(ctypes.util.find_library("c")), "malloc_trim", None)  # glibc only
    if trim is not None:
        trim(0)
