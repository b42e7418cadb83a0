"""The malloc-arena cap the app sets at start-up (glibc Linux, as in CI and Spaces)."""

from __future__ import annotations

import platform

import pytest

from models.runtime import limit_malloc_arenas


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_arena_cap_is_set_on_glibc(monkeypatch):
    monkeypatch.delenv("ANATOMY_MALLOC_ARENAS", raising=False)
    assert limit_malloc_arenas() is True


def test_zero_leaves_the_allocator_alone(monkeypatch):
    monkeypatch.setenv("ANATOMY_MALLOC_ARENAS", "0")
    assert limit_malloc_arenas() is False
