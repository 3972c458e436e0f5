"""`--set` details: values read as YAML (quotes are YAML's), `extends` not overridable."""

from __future__ import annotations

from pathlib import Path

import pytest

from expctl.errors import BadInputError
from expctl.recipes import load_recipe
from expctl.workspace import Workspace


@pytest.mark.parametrize("text", ["+extends=other", "extends=other", "+extends.x=1"])
def test_extends_cannot_be_set(workspace: Path, text: str) -> None:
    with pytest.raises(BadInputError, match="`extends` cannot be overridden"):
        load_recipe(Workspace(workspace), "baseline", [text])


@pytest.mark.parametrize(("text", "expected"), [("model.name='3'", "3"),
                                                 ('model.name="3"', "3"),
                                                 ("model.name=007", "007"),
                                                 ("model.name=3", "3"),
                                                 ("model.name='a b'", "a b"),
                                                 ("model.name=it's", "it's")])
def test_a_string_param_takes_the_yaml_string(workspace: Path, text: str, expected: str) -> None:
    _, config = load_recipe(Workspace(workspace), "baseline", [text])
    assert config["params"]["model"]["name"] == expected


def test_extends_on_the_command_line_is_one_line(workspace: Path, cli) -> None:
    code, _, err = cli("new", "baseline_1k", "--set", "+extends=x")
    assert code == 2 and "extends" in err and len(err.strip().splitlines()) == 2, err
    assert not (workspace / "runs" / "baseline_1k").exists()
