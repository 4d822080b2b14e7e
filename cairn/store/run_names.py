"""Readable generated run names (`brave-otter-417`), as users of MLflow expect."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "amber agile bold brave bright calm clever cosmic crisp daring deft eager fleet "
    "gentle glad golden grand hardy honest jolly keen kind lively lucid merry mighty "
    "nimble noble patient placid proud quick quiet rapid regal sharp shy silent sleek "
    "smooth snappy solid spry steady stellar sunny swift tidy tough upbeat valiant vivid "
    "warm wise witty zesty"
).split()
_NOUNS = (
    "alpaca badger bat bear beaver bison boar carp cat cod colt crane crow deer dingo "
    "dove duck eagle eel elk falcon ferret finch fox frog gazelle gnu goat goose hare "
    "hawk heron hound ibis jay koala lark lemur lion lynx mole moose moth newt otter owl "
    "panda pike puffin quail rabbit raven robin seal shark skunk sloth snail sparrow "
    "squid stag swan tern tiger toad trout viper vole whale wolf wren yak zebra"
).split()


def generate_run_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(100, 999)}"
