"""The `report` stage's settings, apart from its code: the parameters it describes the run with. The settings
registry (check_params, the sweep's pre-check) reads them without loading the report's writers."""
from __future__ import annotations

from typing import Any

from ferpipe.core.settings import PartialSettings, Settings, params_keys


# The parameters the report states (split protocol, network, training budget), declared in dvc.yaml.
# Their types and documentation are those of the stages that use them (fetch, train); the report
# only needs them present, and does not import those stages' modules (they are no dependency of it).
class _ReportFetch(PartialSettings):
    ckplus_protocol: Any
    folds: Any
    fold: Any


class _ReportTrain(PartialSettings):
    input_size: Any
    steps_per_epoch: Any
    schedule: Any


class _ReportEmbed(PartialSettings):
    features: Any


class ReportParams(Settings):
    key = ""
    dataset: Any
    fetch: _ReportFetch
    embed: _ReportEmbed
    arch: Any
    weights: Any
    lr: Any
    batch_size: Any
    epochs: Any
    n_kerns: Any
    pool_size: Any
    train: _ReportTrain


REPORT_PARAMS = tuple(params_keys(ReportParams))
