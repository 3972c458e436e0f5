"""`expctl init` writes a commented example recipe into an empty recipes/ folder, and only
there; the example is a valid recipe a run can be made from."""

from __future__ import annotations

from pathlib import Path

from standins.kit import cli

from expctl.files import read_yaml  # noqa: E402


def test_init_writes_a_working_example_only_into_an_empty_recipes_folder(tmp_path: Path):
    ws = tmp_path / "ws"
    ws.mkdir()
    done = cli(ws, "init")
    assert "created recipes/example.yaml (a commented example)" in done.stderr
    text = (ws / "recipes" / "example.yaml").read_text()
    assert text.count("#") > 20  # commented, key by key
    listed = cli(ws, "recipes", "-f", "json").stdout
    assert '"example"' in listed and "invalid" not in listed
    cli(ws, "new", "example_2k")
    assert read_yaml(ws / "runs" / "example_2k" / "config.yaml")["params"]["train"] == \
        {"max_steps": 2000, "lr": 0.001, "batch_size": 32}
    (ws / "recipes" / "example.yaml").unlink()
    (ws / "recipes" / "mine.yaml").write_text("command: 'true'\n")
    again = cli(ws, "init")  # recipes/ holds one already: nothing is added
    assert "example" not in again.stderr and not (ws / "recipes" / "example.yaml").exists()
