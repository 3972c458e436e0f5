"""Recipes: extends, --set overrides, run-id parsing, command templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from expctl.errors import BadInputError, NotFoundError
from expctl.recipes import (
    apply_override,
    list_recipes,
    load_recipe,
    parse_steps,
    recipe_for_run_id,
    render_command,
)
from expctl.workspace import init_workspace


@pytest.fixture()
def ws(tmp_path: Path):
    workspace, _ = init_workspace(tmp_path)
    (tmp_path / "recipes" / "base.yaml").write_text(
        "description: the base\n"
        "command: python train.py {overrides}\n"
        "steps_param: train.max_steps\n"
        "params:\n"
        "  train: {max_steps: 1000, lr: 0.001, amp: false}\n"
        "  fpn: {in_stages: [2, 3, 4]}\n"
        "  name: run\n"
    )
    (tmp_path / "recipes" / "base_sizeaware.yaml").write_text(
        "description: size-aware\nextends: base\nparams:\n  loss: {size_aware: true}\n"
        "  train: {lr: 0.002}\n"
    )
    return workspace


def test_extends_deep_merges_child_wins(ws):
    recipe, config = load_recipe(ws, "base_sizeaware")
    assert recipe.params == {
        "train": {"max_steps": 1000, "lr": 0.002, "amp": False},
        "fpn": {"in_stages": [2, 3, 4]},
        "name": "run",
        "loss": {"size_aware": True},
    }
    assert recipe.description == "size-aware"
    assert "extends" not in config


def test_extends_cycle_is_an_error(ws):
    (ws.recipes_dir / "a.yaml").write_text("extends: b\n")
    (ws.recipes_dir / "b.yaml").write_text("extends: a\n")
    with pytest.raises(BadInputError, match="extends itself"):
        load_recipe(ws, "a")


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.lr=0.01", 0.01),
        ("train.lr=1", 1.0),  # ints widen to float
        ("train.max_steps=5", 5),
        ("train.amp=true", True),
        ("name=007", "007"),  # strings keep exactly what was typed
        ("fpn.in_stages=[1, 2, 3, 4]", [1, 2, 3, 4]),
    ],
)
def test_set_parses_and_type_checks(ws, override, expected):
    recipe, _ = load_recipe(ws, "base", [override])
    key = override.split("=")[0]
    node = recipe.params
    for part in key.split("."):
        node = node[part]
    assert node == expected
    assert type(node) is type(expected)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lr=abc", "expected a number"),
        ("train.max_steps=1.5", "expected an integer"),
        ("train.amp=3", "expected true or false"),
        ("fpn.in_stages=4", "expected a list"),
        ("train.lrr=1", "Unknown key `train.lrr`"),
        ("novalue", "has no `=`"),
        ("+train.lr=1", "already exists"),
        ("a;b=1", "Invalid override key"),
    ],
)
def test_bad_set_is_rejected(ws, override, message):
    with pytest.raises(BadInputError, match=message):
        load_recipe(ws, "base", [override])


def test_unknown_key_suggests_closest(ws):
    with pytest.raises(BadInputError) as info:
        load_recipe(ws, "base", ["train.max_step=3"])
    assert "train.max_steps" in info.value.hint
    assert "+train.max_step" in info.value.hint


def test_plus_adds_new_key(ws):
    recipe, _ = load_recipe(ws, "base", ["+model.depth=3"])
    assert recipe.params["model"] == {"depth": 3}


def test_set_reaches_recipe_sections(ws):
    recipe, _ = load_recipe(ws, "base", ["launch.num_processes=2"])
    assert recipe.launch.num_processes == 2


def test_unknown_recipe_key_names_file_and_key(ws):
    (ws.recipes_dir / "bad.yaml").write_text("description: x\ncomand: y\n")
    with pytest.raises(BadInputError) as info:
        load_recipe(ws, "bad")
    assert str(ws.recipes_dir / "bad.yaml") in info.value.message
    assert "comand: unknown key" in info.value.message


def test_yaml_syntax_error_names_file_and_line(ws):
    (ws.recipes_dir / "bad.yaml").write_text("description: x\nparams: [\n")
    with pytest.raises(BadInputError, match=r"bad\.yaml:3: YAML syntax error"):
        load_recipe(ws, "bad")


def test_list_recipes_shows_descriptions_and_broken_files(ws):
    (ws.recipes_dir / "broken.yaml").write_text("x: [\n")
    rows = dict(list_recipes(ws))
    assert rows["base"] == "the base"
    assert rows["base_sizeaware"] == "size-aware"
    assert rows["broken"].startswith("(invalid:")


@pytest.mark.parametrize(
    ("text", "steps"),
    [("100k", 100_000), ("2m", 2_000_000), ("500", 500), ("2K", 2000), ("x", None), ("1.5k", None)],
)
def test_parse_steps(text, steps):
    assert parse_steps(text) == steps


def test_run_id_picks_longest_recipe_prefix(ws):
    assert recipe_for_run_id(ws, "base_sizeaware_100k") == ("base_sizeaware", 100_000)
    assert recipe_for_run_id(ws, "base_2m") == ("base", 2_000_000)
    assert recipe_for_run_id(ws, "base") == ("base", None)
    with pytest.raises(NotFoundError):
        recipe_for_run_id(ws, "base_sizeaware_attention_100k")


def test_render_command_never_resplits_values():
    argv = render_command(
        'python train.py {overrides} --name "{run_id}" --out {run_dir}/x',
        {"a": {"b": [2, 3]}, "s": "x y; $(touch z) `w`", "flag": True},
        {"run_id": "r1", "run_dir": "/tmp/has space"},
    )
    assert argv == [
        "python", "train.py", "a.b=[2, 3]", "s=x y; $(touch z) `w`", "flag=true",
        "--name", "r1", "--out", "/tmp/has space/x",
    ]


def test_render_command_unknown_placeholder_and_escapes():
    assert render_command(["echo", "{{literal}}"], {}, {}) == ["echo", "{literal}"]
    with pytest.raises(BadInputError, match="Unknown placeholder"):
        render_command(["echo", "{nope}"], {}, {})


def test_override_on_raw_dict_keeps_other_keys():
    raw = {"params": {"a": 1, "b": {"c": "x"}}}
    apply_override(raw, "b.c=y")
    assert raw == {"params": {"a": 1, "b": {"c": "y"}}}


def test_plus_adds_into_a_section(ws):
    recipe, _ = load_recipe(ws, "base", ["+launch.env.NCCL_DEBUG=INFO"])
    assert recipe.launch.env == {"NCCL_DEBUG": "INFO"}


@pytest.mark.parametrize(("text", "value"), [("1e-4", 1e-4), ("3E5", 3e5), ("-2.5e-3", -2.5e-3)])
def test_exponent_numbers_are_numbers(ws, text, value):
    recipe, _ = load_recipe(ws, "base", [f"train.lr={text}"])
    assert recipe.params["train"]["lr"] == value


@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan", "1e999"])
def test_non_finite_numbers_are_refused(ws, text):
    with pytest.raises(BadInputError, match="not a finite number"):
        load_recipe(ws, "base", [f"train.lr={text}"])


def test_plus_never_replaces_a_value_with_a_mapping(ws):
    with pytest.raises(BadInputError, match="`train.lr` is already 0.001"):
        load_recipe(ws, "base", ["+train.lr.x=1"])
    with pytest.raises(BadInputError, match="not a mapping"):
        load_recipe(ws, "base", ["+fpn.in_stages.x=1"])


def test_a_steps_param_missing_from_params_names_the_recipe(ws):
    from expctl.recipes import load_raw, steps_override

    (ws.recipes_dir / "odd.yaml").write_text("steps_param: train.steps\nparams: {train: {}}\n")
    with pytest.raises(BadInputError, match="names steps_param `train.steps`, which is not in"):
        steps_override("odd", load_raw(ws, "odd"), 100)
