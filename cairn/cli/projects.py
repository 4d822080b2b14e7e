"""`cairn run`: run a project (a directory or git repository with an MLproject file).

The command only parses its arguments and calls `cairn.projects.run`; the project's output
streams through unchanged, and `cairn run` exits with the command's own exit status. Ctrl-C
(or SIGTERM) cancels the command's whole process group and records the run as KILLED.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any

import typer

from cairn.cli.options import TrackingUri
from cairn.cli.output import stderr
from cairn.exceptions import InvalidParameterValue


class EnvManager(StrEnum):
    """How the project's environment is made."""

    local = "local"
    virtualenv = "virtualenv"
    uv = "uv"
    conda = "conda"


def run_project(
    uri: Annotated[
        str,
        typer.Argument(
            metavar="URI",
            help="A project directory or git repository (https://, git@…, file://); "
            "append #sub/dir for a project in a subdirectory.",
        ),
    ],
    entry_point: Annotated[
        str,
        typer.Option(
            "--entry-point",
            "-e",
            metavar="NAME",
            help="Entry point from the MLproject file, or a .py or .sh file in the project.",
        ),
    ] = "main",
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-P",
            metavar="KEY=VALUE",
            help="A parameter value; repeatable. Undeclared ones are passed on as --KEY VALUE.",
        ),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            "-v",
            metavar="REF",
            help="Git commit, branch or tag to run (git projects only).",
        ),
    ] = None,
    experiment_name: Annotated[
        str | None,
        typer.Option(
            "--experiment-name", metavar="NAME", help="Experiment for the run; created if new."
        ),
    ] = None,
    experiment_id: Annotated[
        str | None, typer.Option("--experiment-id", metavar="ID", help="Experiment for the run.")
    ] = None,
    run_name: Annotated[
        str | None, typer.Option("--run-name", metavar="NAME", help="Name of the new run.")
    ] = None,
    env_manager: Annotated[
        EnvManager | None,
        typer.Option(
            "--env-manager",
            case_sensitive=False,
            help="Environment to run in; default: what the project declares (python_env: "
            "virtualenv, conda_env: conda, docker_env: docker, none: local).",
        ),
    ] = None,
    docker_args: Annotated[
        list[str] | None,
        typer.Option(
            "--docker-args",
            "-A",
            metavar="NAME[=VALUE]",
            help="Extra `docker run` flag for a docker_env project, e.g. -A gpus=all; repeatable.",
        ),
    ] = None,
    storage_dir: Annotated[
        str | None,
        typer.Option(
            "--storage-dir",
            metavar="DIR",
            help="Where `path` parameters given as URIs are downloaded (default: a temp dir).",
        ),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", metavar="ID", help="Record into this existing run instead."),
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Run a project: check its parameters, prepare its environment (built once, cached), and
    run its command as a new run that records code version, parameters and environment."""
    from cairn.projects import run

    try:
        with _sigterm_as_interrupt():
            submitted = run(
                uri,
                entry_point=entry_point,
                version=version,
                parameters=parse_pairs(param, "-P"),
                docker_args=_docker_args(docker_args),
                experiment_name=experiment_name,
                experiment_id=experiment_id,
                storage_dir=storage_dir,
                synchronous=False,
                run_id=run_id,
                run_name=run_name,
                env_manager=None if env_manager is None else env_manager.value,
                tracking_uri=tracking_uri,
            )
    except KeyboardInterrupt:  # while fetching the code or building the environment
        stderr().print("cairn: interrupted before the command started")
        raise typer.Exit(130) from None
    try:
        with _sigterm_as_interrupt():
            submitted.wait()
    except KeyboardInterrupt:
        stderr().print(f"cairn: interrupted; cancelling run {submitted.run_id}")
        submitted.cancel()
        stderr().print(f"cairn: run {submitted.run_id} {submitted.get_status()}")
        raise typer.Exit(130) from None
    status = submitted.get_status()
    stderr().print(f"cairn: run {submitted.run_id} {status}")
    if status != "FINISHED":
        code = getattr(submitted, "returncode", None) or 1
        raise typer.Exit(128 - code if code < 0 else code)


def parse_pairs(pairs: list[str] | None, flag: str) -> dict[str, str]:
    """`["a=1", "b=x=y"]` -> {"a": "1", "b": "x=y"}; a repeated key is an error."""
    found: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidParameterValue(f"{flag} takes KEY=VALUE; got {pair!r}.")
        if key in found:
            raise InvalidParameterValue(f"{flag} {key} is given more than once.")
        found[key] = value
    return found


def _docker_args(pairs: list[str] | None) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        args[name] = value if sep else True
    return args


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while waiting, so the run is cancelled and recorded."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
