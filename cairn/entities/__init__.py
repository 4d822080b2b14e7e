"""Plain, immutable data types. This package imports no other part of Cairn."""

from cairn.entities.dataset import DATASET_CONTEXT_TAG, Dataset, DatasetInput, InputTag
from cairn.entities.experiment import Experiment
from cairn.entities.file_info import FileInfo, PagedList
from cairn.entities.governance import (
    AuditEntry,
    TransitionRequest,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)
from cairn.entities.lifecycle import LifecycleStage, ViewType
from cairn.entities.logged_model import (
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
)
from cairn.entities.metric import Metric, MetricColumns
from cairn.entities.registry import (
    ModelVersion,
    ModelVersionStage,
    ModelVersionStatus,
    RegisteredModel,
)
from cairn.entities.run import Run, RunData, RunInfo, RunInputs, RunStatus
from cairn.entities.tags import ExperimentTag, Param, RunTag

__all__ = [
    "DATASET_CONTEXT_TAG",
    "AuditEntry",
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentTag",
    "FileInfo",
    "InputTag",
    "LifecycleStage",
    "LoggedModel",
    "LoggedModelMetric",
    "LoggedModelOutput",
    "LoggedModelStatus",
    "Metric",
    "MetricColumns",
    "ModelVersion",
    "ModelVersionStage",
    "ModelVersionStatus",
    "PagedList",
    "Param",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunStatus",
    "RunTag",
    "TransitionRequest",
    "ViewType",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
]
