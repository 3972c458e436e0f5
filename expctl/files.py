"""Reading and writing the plain files of a workspace: YAML and JSON, validated and atomic."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from expctl.errors import BadInputError, NotFoundError

T = TypeVar("T")


def current_umask() -> int:
    """The process's umask, read without changing it where Linux says it (/proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (the CLI is single-threaded)
    os.umask(mask)
    return mask


def shared_mode(folder: bool = False) -> int:
    """The mode a new file (0666) or folder (0777) gets under the umask: 0644/0755 under 022,
    so a team on shared storage can read each other's runs."""
    return (0o777 if folder else 0o666) & ~current_umask()


def write_text_atomic(path: Path, text: str | bytes, private: bool = False) -> None:
    """Replace `path` with `text` (UTF-8, or bytes as they are) so that readers see the old or
    the new file, never half. Its mode follows the umask; `private` (secrets) keeps it 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    try:
        if not private:  # mkstemp creates 0600 whatever the umask says
            os.fchmod(fd, shared_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, dumps_json(data) + "\n")


NON_FINITE = {math.inf: "inf", -math.inf: "-inf"}


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float as the string "inf", "-inf" or "nan": JSON has no
    such numbers (json.dumps would write `Infinity`, which strict parsers refuse)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else NON_FINITE.get(value, "nan")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dumps_json(data: Any, indent: int | None = 2) -> str:
    """Strict JSON text: non-finite numbers as strings (json_safe), other values as text."""
    return json.dumps(json_safe(data), indent=indent, default=str, allow_nan=False)


def write_yaml(path: Path, data: Any) -> None:
    import yaml

    write_text_atomic(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def read_yaml(path: Path) -> Any:
    """Parse a YAML file within limits (expctl.yaml_limits); a syntax error, bytes that are
    not UTF-8 or a file past the limits is one BadInputError naming the file."""
    import yaml

    from expctl.yaml_limits import MAX_BYTES

    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise BadInputError(f"{path}: {size:,} bytes, more than the {MAX_BYTES:,} a YAML "
                                "file of expctl may have.", hint="shorten the file")
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"File `{path}` does not exist.") from None
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: not UTF-8 text (byte {exc.start}).",
                            hint="save the file as UTF-8") from None
    except IsADirectoryError:
        raise BadInputError(f"{path} is a folder, not a YAML file.") from None
    try:
        return load_yaml_text(text, str(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BadInputError(f"{where}: YAML syntax error: {problem}") from None


def load_yaml_text(text: str, source: str) -> Any:
    """YAML text as Python values, within expctl.yaml_limits (BadInputError naming `source`
    past them); a syntax error is raised as yaml.YAMLError, found by the pure-Python loader
    so that it carries the line."""
    import yaml

    from expctl.yaml_limits import check_node, plainly_within

    fast = getattr(yaml, "CSafeLoader", None)  # libyaml: several times faster (reindex)
    plain = plainly_within(text)
    for attempt in (fast, yaml.SafeLoader):
        if attempt is None:
            continue
        loader = attempt(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            if not plain:
                check_node(node, source)  # before building: a bomb is refused unexpanded
            return loader.construct_document(node)
        except yaml.YAMLError:
            if attempt is yaml.SafeLoader:
                raise
        finally:
            loader.dispose()
    return None


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"File `{path}` does not exist.") from None
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: not UTF-8 text (byte {exc.start}).",
                            hint="save the file as UTF-8") from None
    except ValueError as exc:
        raise BadInputError(f"{path}: invalid JSON: {exc}") from None


def validate(model: type[T], data: Any, source: str) -> T:
    """Build a pydantic model, turning validation errors into one `source: key: message` line."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise BadInputError(f"{source}: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: Any) -> str:
    """The first problem of a pydantic ValidationError as `key.path: message`."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{where}: {msg}")
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
