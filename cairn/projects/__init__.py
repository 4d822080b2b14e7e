"""Projects: run code from a directory or git repository as a recorded, reproducible run.

A project is a directory with an `MLproject` file (MLflow's format; see `spec`) naming its
entry points, their typed parameters, and the environment to run them in. `run` fetches the
code (`sources`), checks the inputs (`parameters`), prepares the environment (`environments`,
cached by digest in `env_cache`), and launches the command as a run (`execution`,
`submitted`):

    import cairn

    submitted = cairn.projects.run(".", entry_point="train", parameters={"alpha": 0.5})
    print(submitted.run_id, submitted.get_status())

`cairn run URI -e ENTRY -P key=value` is the same from the shell.
"""

from cairn.exceptions import ExecutionException
from cairn.projects.environments import ENV_MANAGERS
from cairn.projects.execution import run
from cairn.projects.spec import EntryPoint, Parameter, Project, load_project
from cairn.projects.submitted import LocalSubmittedRun, SubmittedRun

__all__ = [
    "ENV_MANAGERS",
    "EntryPoint",
    "ExecutionException",
    "LocalSubmittedRun",
    "Parameter",
    "Project",
    "SubmittedRun",
    "load_project",
    "run",
]
