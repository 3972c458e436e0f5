"""Plain coercion of command-line values, so running a command does not import pydantic.

Typer (0.2x) converts every non-flag parameter through a pydantic TypeAdapter, which imports
pydantic and builds an adapter per parameter: about 0.12 s of each command's start-up, close
to half of what `expctl ls` may take in all. expctl's parameters are plain strings, integers,
paths and lists of strings; this module converts those directly and hands every other kind
(enums, datetimes, custom parsers, clamped ranges) to typer's own adapters.

It hooks typer internals (typer.core.build_runtime_param); when they are missing in another
typer version, `install` does nothing and typer's own coercion applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin


def install() -> None:
    """Route simple parameters around pydantic (idempotent; a no-op if typer changed)."""
    try:
        import typer.core as core
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
    except ImportError:
        return
    original = getattr(core, "build_runtime_param", None)
    if original is None or getattr(original, "_expctl_fast", False):
        return

    @dataclass(frozen=True)
    class SimpleRuntimeParam(RuntimeParam):
        """str, bool, int (with min/max), Path, and lists of those."""

        kind: Any  # str, bool, int or Path
        many: bool

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.many:
                items = value if isinstance(value, (list, tuple)) else [value]
                return [self._one(v, param, ctx) for v in items]
            return self._one(value, param, ctx)

        def _one(self, value: Any, param: Any, ctx: Any) -> Any:
            info = self.parameter_info
            if self.kind is str:
                return value if isinstance(value, str) else str(value)
            if self.kind is Path:
                return value if isinstance(value, Path) else Path(value)
            if self.kind is bool:
                return _boolean(value, param, ctx)
            try:
                number = value if isinstance(value, int) else int(str(value).strip())
            except ValueError:
                raise BadParameter(f"`{value}` is not an integer.", ctx=ctx, param=param) from None
            if info.min is not None and number < info.min:
                raise BadParameter(f"{number} is below the minimum {info.min}.",
                                   ctx=ctx, param=param)
            if info.max is not None and number > info.max:
                raise BadParameter(f"{number} is above the maximum {info.max}.",
                                   ctx=ctx, param=param)
            return number

    def build_runtime_param(descriptor: Any) -> Any:
        info = descriptor.parameter_info
        annotation = descriptor.annotation
        many = get_origin(annotation) is list
        kind = get_args(annotation)[0] if many else annotation
        simple = (
            descriptor.file_annotation is None
            and getattr(info, "parser", None) is None
            and not getattr(info, "clamp", False)
            and (kind in (str, bool, int) or (kind is Path and _plain_path(info)))
        )
        if not simple:
            return original(descriptor)
        return SimpleRuntimeParam(parameter_info=info, annotation=annotation, kind=kind,
                                  many=many)

    build_runtime_param._expctl_fast = True  # type: ignore[attr-defined]
    core.build_runtime_param = build_runtime_param


_TRUE = ("1", "true", "t", "yes", "y", "on")
_FALSE = ("0", "false", "f", "no", "n", "off", "")


def _boolean(value: Any, param: Any, ctx: Any) -> bool:
    """A flag's value: bools as they are, the usual words for true and false."""
    from typer._click.exceptions import BadParameter

    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise BadParameter(f"`{value}` is not true or false.", ctx=ctx, param=param)


def _plain_path(info: Any) -> bool:
    """A Path option without typer's path checks or conversions (those stay with typer)."""
    return not (getattr(info, "allow_dash", False) or getattr(info, "path_type", None)
                or getattr(info, "resolve_path", False) or getattr(info, "exists", False)
                or getattr(info, "writable", False) or getattr(info, "dir_okay", True) is False
                or getattr(info, "file_okay", True) is False)
