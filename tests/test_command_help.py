"""Each command's --help says what the command does in whole sentences: its module's first docstring
paragraph, never cut at the end of a source line."""
from __future__ import annotations

import importlib

import pytest

from ferpipe.__main__ import COMMANDS
from ferpipe.commands import help_description


def test_help_description_joins_the_first_paragraph_and_drops_the_usage():
    doc = "`python -m ferpipe x [--y]`: does one thing\nacross two lines.\n\nDetails nobody reads in --help."
    assert help_description(doc) == "does one thing across two lines."
    assert help_description("Plain words\nhere.\n") == "Plain words here."


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_command_s_help_ends_its_sentence(name, capsys):
    with pytest.raises(SystemExit) as done:
        importlib.import_module(COMMANDS[name][0]).main(["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    description = text.split(" options: ")[0].split(" positional arguments: ")[0]
    assert description.rstrip().endswith((".", ")")), description[-120:]
