"""paused_gc: the collector is off inside, back on after the outermost pause, never turned on
when it was off to begin with."""

from __future__ import annotations

import gc
import threading

from cairn.gc_pause import paused_gc


def test_pauses_nest_and_restore() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_restored_after_an_error_and_across_threads() -> None:
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with paused_gc():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    inside.wait(5)
    try:
        with paused_gc():
            raise ValueError("boom")
    except ValueError:
        pass
    assert not gc.isenabled()  # the other thread's pause is still in force
    release.set()
    thread.join()
    assert gc.isenabled()
