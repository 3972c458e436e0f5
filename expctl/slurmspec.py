"""sbatch settings (SlurmSpec): the `slurm:` section of a recipe and of expctl.yaml, checked
before anything is submitted."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_SLURM_WORD = re.compile(r"[A-Za-z0-9_.,:+=@%/-]+")  # a partition, account, qos, constraint
_SLURM_MEM = re.compile(r"\d+[KMGT]?")
_SLURM_TIME = re.compile(r"\d+(:\d+){0,2}|\d+-\d+(:\d+){0,2}")  # Slurm's --time forms


class SlurmSpec(Strict):
    """sbatch settings for `launch --slurm`. Unset keys (None) leave the cluster's default;
    workspace settings give defaults and a recipe overrides them key by key."""

    partition: str | None = None  # e.g. gpu; default: the cluster's default partition
    account: str | None = None  # the project charged for the job
    qos: str | None = None
    constraint: str | None = None  # node features, e.g. a100
    nodes: int | None = Field(None, ge=1)  # machines; above 1, srun starts the command on each
    gpus_per_node: int | None = Field(None, ge=0)
    cpus_per_task: int | None = Field(None, ge=1)  # CPU cores per node (one task per node)
    mem: str | None = None  # memory per node: 64G, 500M, 0 (all of it)
    time: str | None = None  # time limit: minutes, HH:MM:SS or D-HH:MM:SS
    python: str | None = None  # interpreter on the compute nodes; default: the one running expctl
    extra: list[str] = Field(default_factory=list)  # more #SBATCH options: --exclusive, --hold

    @field_validator("partition", "account", "qos", "constraint")
    @classmethod
    def _one_word(cls, v: str | None) -> str | None:
        if v is not None and not _SLURM_WORD.fullmatch(v):
            raise ValueError("expected one word of letters, digits and `_.,:+=@%/-`")
        return v

    @field_validator("mem", mode="before")
    @classmethod
    def _memory(cls, v: Any) -> Any:
        if v is not None and not (isinstance(v, (str, int)) and _SLURM_MEM.fullmatch(str(v))):
            raise ValueError("expected a size like 64G, 500M or 0")
        return None if v is None else str(v)

    @field_validator("time", mode="before")
    @classmethod
    def _time_limit(cls, v: Any) -> Any:
        if v is not None and not (isinstance(v, (str, int)) and _SLURM_TIME.fullmatch(str(v))):
            raise ValueError("expected minutes, HH:MM:SS or D-HH:MM:SS")
        return None if v is None else str(v)

    @field_validator("extra")
    @classmethod
    def _options(cls, v: list[str]) -> list[str]:
        for item in v:
            if not item.startswith("-") or any(c in item for c in "\n\r\0"):
                raise ValueError(f"`{item}`: expected one sbatch option per item, like --exclusive")
        return v
