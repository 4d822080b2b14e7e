"""`run`: fetch a project, check its inputs, create the run, prepare the environment, launch.

The order matters: everything that can be wrong with the request — the URI and version, the
MLproject file, the entry point, every parameter value, the environment manager and its tool,
the Python version — is checked before a run is created, so bad input leaves no trace. Then
the run is created with its tags and parameters, the environment is built (or taken from the
cache; a failed build marks the run FAILED) and the command starts with the run's id and
tracking URI in its environment, so `cairn.start_run()` in the script resumes this run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cairn import settings
from cairn.entities import LifecycleStage, Param, RunStatus, RunTag
from cairn.exceptions import CairnException, ExecutionException, InvalidParameterValue
from cairn.projects import parameters as params_mod
from cairn.projects.environments import EnvPlan, PreparedEnv, plan_environment
from cairn.projects.sources import FetchedProject, fetch_project
from cairn.projects.spec import EntryPoint, load_project
from cairn.projects.submitted import LocalSubmittedRun, SubmittedRun
from cairn.tracking import fluent, system_tags
from cairn.tracking.client import PARENT_RUN_ID_TAG, CairnClient
from cairn.tracking.tracking_uri import is_http_uri

# Tags, as MLflow sets them on project runs (plus Cairn's environment digest).
PROJECT_ENV_TAG = "mlflow.project.env"
PROJECT_BACKEND_TAG = "mlflow.project.backend"
LEGACY_GIT_REPO_URL_TAG = "mlflow.gitRepoURL"
LEGACY_GIT_BRANCH_TAG = "mlflow.gitBranchName"
ENV_DIGEST_TAG = "cairn.project.envDigest"


def run(
    uri: str,
    entry_point: str = "main",
    version: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    docker_args: Mapping[str, str | bool] | None = None,
    experiment_name: str | None = None,
    experiment_id: str | int | None = None,
    backend: str = "local",
    backend_config: Mapping[str, Any] | None = None,
    storage_dir: str | os.PathLike[str] | None = None,
    synchronous: bool = True,
    run_id: str | None = None,
    run_name: str | None = None,
    env_manager: str | None = None,
    build_image: bool = False,
    docker_auth: Mapping[str, Any] | None = None,
    *,
    tracking_uri: str | None = None,
) -> SubmittedRun:
    """Run the project at `uri` (a directory or git repository, `#subdir` allowed) and
    record it as a run; MLflow's `mlflow.projects.run`.

    `parameters` fill the entry point's declared parameters; others are passed on as
    `--key value`. `env_manager` is local, virtualenv, uv or conda (default: what the
    project declares). `version` is a git commit, branch or tag. With `synchronous` (the
    default) this returns when the command ends and raises `ExecutionException` if it
    failed; otherwise it returns at once, and the `SubmittedRun` can `wait()`, `cancel()`
    and `get_status()`. Called while a run is active, the project run is nested in it.
    `storage_dir` receives downloads for `path` parameters given as URIs (default: a
    temporary directory). `tracking_uri` (a Cairn addition) overrides the current one.
    `docker_args` become `docker run` flags for docker_env projects.
    """
    _check_options(backend, backend_config, build_image, docker_auth)
    if experiment_name is not None and experiment_id is not None:
        raise InvalidParameterValue("Give experiment_name or experiment_id, not both.")
    client, parent_id, parent_experiment = _client_and_parent(tracking_uri)
    fetched = fetch_project(uri, version)
    downloads: list[Path] = []
    try:
        project = load_project(fetched.directory)
        entry = project.entry_point(entry_point)
        resolved = params_mod.resolve_parameters(
            entry,
            parameters,
            cwd=Path.cwd(),
            storage_dir=lambda: _storage(storage_dir, downloads),
            download=_downloader(client),
        )
        for key in resolved.extras:
            if entry.parameters or project.has_mlproject:
                print(
                    f"cairn: {key!r} is not a declared parameter of entry point "
                    f"{entry.name!r}; passing it on as --{key}.",
                    file=sys.stderr,
                )
        plan = plan_environment(project, env_manager)
        exp_id = _experiment_id(client, experiment_name, experiment_id, parent_experiment)
        command = params_mod.build_command(entry, resolved)
        the_run_id = _start_run(
            client, exp_id, run_id, run_name, parent_id, fetched, entry, plan, resolved.logged
        )
    except BaseException:
        _cleanup(fetched, downloads)
        raise

    def cleanup() -> None:
        _cleanup(fetched, downloads)

    submitted = _launch(
        client, the_run_id, exp_id, fetched, entry, plan, command, docker_args, cleanup
    )
    if synchronous:
        wait_or_raise(submitted)
    return submitted


def wait_or_raise(submitted: SubmittedRun) -> None:
    """Wait for `submitted`; Ctrl-C cancels it (KILLED), a failure raises."""
    try:
        ok = submitted.wait()
    except KeyboardInterrupt:
        print(f"cairn: interrupted; cancelling run {submitted.run_id}", file=sys.stderr)
        submitted.cancel()
        raise
    if not ok:
        code = getattr(submitted, "returncode", None)
        raise ExecutionException(
            f"Run (ID '{submitted.run_id}') failed"
            + (f": its command exited with status {code}." if code is not None else ".")
        )


def _check_options(
    backend: str,
    backend_config: Mapping[str, Any] | None,
    build_image: bool,
    docker_auth: Mapping[str, Any] | None,
) -> None:
    if backend != "local":
        raise InvalidParameterValue(f"Backend {backend!r} is not supported; Cairn runs 'local'.")
    if backend_config:
        raise InvalidParameterValue(
            f"backend_config is not supported by the local backend (got {sorted(backend_config)})."
        )
    if build_image or docker_auth:
        raise InvalidParameterValue(
            "build_image and docker_auth are not supported: Cairn runs a docker_env project in "
            "its image with the project mounted, and uses docker's own login."
        )


def _client_and_parent(tracking_uri: str | None) -> tuple[CairnClient, str | None, str | None]:
    """The client to record with, and the active run to nest under (if in the same store)."""
    active = fluent.active_run()
    if active is None:
        return (CairnClient(tracking_uri) if tracking_uri else fluent.client()), None, None
    parent_client = fluent.client_for_run(active.info.run_id)
    client = CairnClient(tracking_uri) if tracking_uri else parent_client
    if client.tracking_uri != parent_client.tracking_uri:
        return client, None, None
    return client, active.info.run_id, active.info.experiment_id


def _experiment_id(
    client: CairnClient,
    name: str | None,
    experiment_id: str | int | None,
    parent_experiment: str | None,
) -> str:
    if experiment_id is not None:
        experiment = client.get_experiment(experiment_id)
    elif name is not None:
        found = client.get_experiment_by_name(name)
        if found is None:
            print(f"cairn: creating experiment {name!r}", file=sys.stderr)
            return client.create_experiment(name)
        experiment = found
    elif parent_experiment is not None:
        return parent_experiment
    elif client.tracking_uri == fluent.client().tracking_uri:
        return fluent.get_experiment_id()
    else:
        env_id, env_name = settings.EXPERIMENT_ID.get(), settings.EXPERIMENT_NAME.get()
        if env_id or env_name:
            return _experiment_id(client, env_name if not env_id else None, env_id, None)
        return fluent.DEFAULT_EXPERIMENT_ID
    if experiment.lifecycle_stage is LifecycleStage.DELETED:
        raise InvalidParameterValue(
            f"Experiment {experiment.name!r} (id {experiment.experiment_id}) is deleted; "
            "restore it or choose another."
        )
    return experiment.experiment_id


def _start_run(
    client: CairnClient,
    experiment_id: str,
    run_id: str | None,
    run_name: str | None,
    parent_id: str | None,
    fetched: FetchedProject,
    entry: EntryPoint,
    plan: EnvPlan,
    logged: dict[str, str],
) -> str:
    tags = _tags(fetched, entry, plan)
    if run_id is not None:
        client.update_run(run_id, status=RunStatus.RUNNING, name=run_name)
    else:
        if parent_id is not None:
            tags[PARENT_RUN_ID_TAG] = parent_id
        tags[system_tags.USER] = system_tags.current_user()
        run_id = client.create_run(experiment_id, tags=tags, run_name=run_name).info.run_id
        tags = {}
    client.log_batch(
        run_id,
        params=[Param(k, v) for k, v in logged.items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
        synchronous=True,
    )
    return run_id


def _tags(fetched: FetchedProject, entry: EntryPoint, plan: EnvPlan) -> dict[str, str]:
    tags = {
        system_tags.SOURCE_NAME: fetched.source_name,
        system_tags.SOURCE_TYPE: "PROJECT",
        system_tags.ENTRY_POINT: entry.name,
        PROJECT_ENV_TAG: plan.manager,
        PROJECT_BACKEND_TAG: "local",
    }
    if plan.digest is not None:
        tags[ENV_DIGEST_TAG] = plan.digest
    git = fetched.git
    if git is not None:
        tags[system_tags.GIT_COMMIT] = git.commit
        if git.repo_url:
            tags[system_tags.GIT_REPO_URL] = tags[LEGACY_GIT_REPO_URL_TAG] = git.repo_url
        if git.branch:
            tags[system_tags.GIT_BRANCH] = tags[LEGACY_GIT_BRANCH_TAG] = git.branch
    return tags


def _launch(
    client: CairnClient,
    run_id: str,
    experiment_id: str,
    fetched: FetchedProject,
    entry: EntryPoint,
    plan: EnvPlan,
    command: str,
    docker_args: Mapping[str, str | bool] | None,
    cleanup: Callable[[], None],
) -> LocalSubmittedRun:
    try:
        prepared = plan.prepare()
        env = prepared.apply(child_environment(client, run_id, experiment_id, entry.name))
        argv = _argv(prepared, fetched.directory, command, env, docker_args)
        print(
            f"cairn: running `{command}` in run {run_id} (experiment {experiment_id})",
            file=sys.stderr,
            flush=True,
        )
        process = subprocess.Popen(argv, cwd=fetched.directory, env=env, start_new_session=True)
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        try:
            client.set_terminated(run_id, RunStatus.KILLED if interrupted else RunStatus.FAILED)
        finally:
            cleanup()
        if isinstance(exc, OSError):
            raise ExecutionException(f"Could not start `{command}`: {exc}") from exc
        raise
    return LocalSubmittedRun(run_id, process, client, on_end=cleanup)


def child_environment(
    client: CairnClient, run_id: str, experiment_id: str, entry_point: str
) -> dict[str, str]:
    """The caller's environment plus what makes the script log into this run.

    MLFLOW_TRACKING_URI is set only for a tracking server: the MLflow client cannot use a
    Cairn database directly (it would try to create its own tables in it), so for a database
    URI it is removed and an MLflow script fails clearly instead.
    """
    env = dict(os.environ)
    for name in ("CAIRN_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    uri = client.tracking_uri
    env.update(
        {
            "CAIRN_RUN_ID": run_id,
            "MLFLOW_RUN_ID": run_id,
            "CAIRN_TRACKING_URI": uri,
            "CAIRN_EXPERIMENT_ID": experiment_id,
            "MLFLOW_EXPERIMENT_ID": experiment_id,
            "CAIRN_PROJECT_ENTRY_POINT": entry_point,
            "MLFLOW_PROJECT_ENTRY_POINT": entry_point,
        }
    )
    if is_http_uri(uri):
        env["MLFLOW_TRACKING_URI"] = uri
    for variable in (settings.ARTIFACT_ROOT.env, settings.ARTIFACT_ROOT.mlflow_env or ""):
        value = env.get(variable)
        if value and "://" not in value:
            env[variable] = os.path.abspath(os.path.expanduser(value))  # the child's cwd differs
    return env


def _argv(
    prepared: PreparedEnv,
    directory: Path,
    command: str,
    env: dict[str, str],
    docker_args: Mapping[str, str | bool] | None,
) -> list[str]:
    if prepared.docker is not None:
        from cairn.projects.docker import docker_command

        docker, docker_env = prepared.docker
        passed = sorted(k for k in env if k.startswith(("CAIRN_", "MLFLOW_")))
        return docker_command(docker, docker_env, directory, command, env, passed, docker_args)
    shell = shutil.which("bash", path=env.get("PATH")) or "/bin/sh"
    return [shell, "-c", command]


def _storage(storage_dir: str | os.PathLike[str] | None, created: list[Path]) -> Path:
    if storage_dir is not None:
        path = Path(storage_dir).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path
    if not created:
        created.append(Path(tempfile.mkdtemp(prefix="cairn-params-")))
    return created[0]


def _downloader(client: CairnClient) -> params_mod.Downloader:
    def download(uri: str, target: Path) -> str:
        try:
            if uri.startswith("runs:/"):
                run_id, _, path = uri.removeprefix("runs:/").lstrip("/").partition("/")
                return client.download_artifacts(run_id, path, target)
            from cairn.artifacts import get_artifact_repository

            parent, _, name = uri.rstrip("/").rpartition("/")
            return get_artifact_repository(parent).download_artifacts(name, target)
        except CairnException as exc:
            raise InvalidParameterValue(f"Cannot download {uri}: {exc.message}") from None
        except OSError as exc:
            raise ExecutionException(f"Cannot download {uri}: {exc}") from None

    return download


def _cleanup(fetched: FetchedProject, downloads: list[Path]) -> None:
    fetched.cleanup()
    for path in downloads:
        shutil.rmtree(path, ignore_errors=True)
