"""The registry's tables, as SQLModel classes. Imported only to create or migrate a schema.

The registry is an index over run folders (the folders are the truth): every value is read from
runs/<id>/ and can be rebuilt from there with `expctl reindex`.

Changing a table: edit the class *and* append a migration to expctl.registry.migrations that
brings an existing database to the same shape. m001 creates tables from these classes as they
are today, so later migrations must check before they alter (a fresh registry already has the
new shape).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

# SQLite: tables clustered by their primary key (WITHOUT ROWID). A row is then one B-tree
# search away by (run_id, name), and every secondary index carries the primary key, so
# "metrics by (name, value)" yields run ids without touching the table. Other databases
# ignore the option.
CLUSTERED = {"sqlite_with_rowid": False}


class RunRow(SQLModel, table=True):
    """One run of one workspace: run.yaml's facts, the status last derived from its files, its
    primary metric. Every table starts with the workspace key (expctl.registry.scope): a shared
    registry holds many workspaces, and each command reads and writes its own."""

    __tablename__ = "runs"
    __table_args__ = (
        # ls: newest first, optionally filtered by status or recipe
        Index("ix_runs_created", "workspace", "created_ts", "id"),
        Index("ix_runs_status_created", "workspace", "status", "created_ts"),
        Index("ix_runs_recipe_created", "workspace", "recipe", "created_ts"),
        Index("ix_runs_sweep_created", "workspace", "sweep", "created_ts"),  # --sweep
        CLUSTERED,
    )

    workspace: str = Field(primary_key=True)  # the workspace key
    id: str = Field(primary_key=True)
    workspace_path: str | None = None  # the workspace's folder when indexed, for display
    recipe: str | None = None
    status: str  # last known: derived from the files when indexed; refreshed by ls if volatile
    created: str  # as written in run.yaml (ISO 8601 with offset)
    created_ts: float  # seconds since the epoch, for ordering across time zones
    imported: bool = False
    steps: int | None = None  # planned steps
    primary_metric: str | None = None  # the recipe's metrics.primary, from config.yaml
    git_sha: str | None = None
    git_branch: str | None = None
    git_dirty: bool = False
    launcher: str | None = None
    session: str | None = None  # screen/tmux session or Slurm job id
    sweep: str | None = None  # run.yaml's sweep id (`expctl sweep`)
    indexed_at: str  # when this row was last written
    # The run folder's mtime (ns) when its files were read: a folder changed since (edited,
    # pulled by git) is read again by the next `ls` (expctl.registry.freshness).
    folder_mtime_ns: int | None = Field(default=None, sa_type=BigInteger)


class ParamRow(SQLModel, table=True):
    """One flattened param of a run's config.yaml (`train.lr`): as text, and as a number when
    it is one."""

    __tablename__ = "params"
    __table_args__ = (
        # leaderboard --where KEY=VALUE: numeric or text equality on one key
        Index("ix_params_name_num", "workspace", "name", "value_num"),
        Index("ix_params_name_text", "workspace", "name", "value_text"),
        CLUSTERED,
    )

    workspace: str = Field(primary_key=True)
    run_id: str = Field(primary_key=True)
    name: str = Field(primary_key=True)  # flattened key, e.g. train.lr
    value_text: str  # strings as written; other values as JSON (true, null, [1, 2])
    value_num: float | None = None  # set for ints and floats (not booleans)


class MetricRow(SQLModel, table=True):
    """One metric of a run: its final value (experiment_results.json) and, when the run logged
    it as a series (metrics.jsonl), the last, lowest and highest points with their steps."""

    __tablename__ = "metrics"
    __table_args__ = (
        # leaderboard: runs ranked by one metric's final value
        Index("ix_metrics_name_value", "workspace", "name", "value"),
        CLUSTERED,
    )

    workspace: str = Field(primary_key=True)
    run_id: str = Field(primary_key=True)
    name: str = Field(primary_key=True)
    value: float | None = None  # final value; None when only a series was logged
    last: float | None = None
    last_step: int | None = None
    min: float | None = None
    min_step: int | None = None
    max: float | None = None
    max_step: int | None = None
    count: int | None = None  # points in the series


class TagRow(SQLModel, table=True):
    """One tag of a run (annotations.yaml in its folder). Created by m002_tags."""

    __tablename__ = "tags"
    __table_args__ = (
        # ls/leaderboard --tag T: the runs with a tag
        Index("ix_tags_tag", "workspace", "tag", "run_id"),
        CLUSTERED,
    )

    workspace: str = Field(primary_key=True)  # the workspace key, as in runs
    run_id: str = Field(primary_key=True)
    tag: str = Field(primary_key=True)


class MigrationRow(SQLModel, table=True):
    """Bookkeeping: the migrations applied to this database, by name."""

    __tablename__ = "expctl_migrations"

    name: str = Field(primary_key=True)
    applied: str  # ISO 8601 time


INDEX_TABLES = (RunRow, ParamRow, MetricRow)


def create_index_tables(conn) -> None:
    """Create the index tables (m001) on a SQLAlchemy connection, inside its transaction."""
    SQLModel.metadata.create_all(conn, tables=[t.__table__ for t in INDEX_TABLES])


def drop_index_tables(conn) -> None:
    """Drop expctl's own index tables and tags (never another table): they are rebuilt from
    run folders."""
    for table in (TagRow, *reversed(INDEX_TABLES)):
        table.__table__.drop(conn, checkfirst=True)
def create_tags_table(conn) -> None:
    """The tags table (m002), unless it exists."""
    TagRow.__table__.create(conn, checkfirst=True)


def create_bookkeeping(conn) -> None:
    MigrationRow.__table__.create(conn, checkfirst=True)
