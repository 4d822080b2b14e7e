"""Encoding big answers (`cairn.server.wire.encoded_answer`): the collector stays paused
until what the answer was built from is released, and comes back however encoding ends."""

from __future__ import annotations

import gc
import weakref

import orjson
import pytest

from cairn.server.wire import encoded_answer


class Point(dict):  # a dict that can be watched with a weak reference
    pass


def test_the_collector_is_paused_until_the_answer_is_released() -> None:
    assert gc.isenabled()
    watched: list[weakref.ref[Point]] = []

    def answer() -> dict[str, object]:
        points = [Point(step=i) for i in range(3)]
        watched.append(weakref.ref(points[0]))
        return {"metrics": points, "next_page_token": "t"}

    encoded = encoded_answer(answer)
    assert orjson.loads(encoded.body)["metrics"][2] == {"step": 2}
    assert encoded.token == "t"
    assert not gc.isenabled() and watched[0]() is not None  # held, and nothing collects it
    encoded.release()
    assert gc.isenabled() and watched[0]() is None
    encoded.release()  # a second release changes nothing
    assert gc.isenabled()


def test_a_failing_answer_leaves_the_collector_on() -> None:
    def fails() -> dict[str, object]:
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        encoded_answer(fails)
    assert gc.isenabled()
    with pytest.raises(TypeError):
        encoded_answer(lambda: {"metrics": object()})  # cannot be encoded
    assert gc.isenabled()
