"""Every command's --help fits an 80-column terminal and names every option in full (rich's help tables cut
long option names to "--audio-projec…" at that width)."""

import click
import pytest
import typer
from typer.testing import CliRunner

from almkit.cli import app

ROOT = typer.main.get_command(app)


def _commands(group: click.Command, path: tuple[str, ...] = ()):
    yield path, group
    for name, sub in getattr(group, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(ROOT))


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) or "almkit" for p, _ in COMMANDS])
def test_help_fits_80_columns_with_every_option_named(path, command):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    too_long = [line for line in result.output.splitlines() if len(line) > 80]
    assert not too_long, too_long
    for param in command.params:
        for flag in (*param.opts, *param.secondary_opts):
            if flag.startswith("-"):
                assert flag in result.output, (flag, result.output)
