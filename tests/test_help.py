"""Every command's --help, as a user reads it in an 80-column terminal: complete, unbroken, with examples that parse.

The examples are parsed by the command itself (``make_context``), so an example naming an option that does
not exist, or a value the option refuses, fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from perfrules.cli.main import main

COMMANDS = sorted(main.commands)
PERFRULES = str(Path(sys.executable).with_name("perfrules"))  # the installed command, as a user types it
ASCII_TOKEN = re.compile(r"[A-Za-z0-9_./$%<>\-]{3,}")


def help_text(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run([PERFRULES, *args, "--help"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def examples(text: str, name: str) -> list[list[str]]:
    """The example command lines of a help text, as argument lists after ``perfrules NAME``."""
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith(f"perfrules {name} ")]
    return [shlex.split(line.replace("$(date +%F)", "2026-11-21"))[2:] for line in lines]


def test_the_group_lists_every_command_with_an_example() -> None:
    text = help_text()
    for name in COMMANDS:
        assert re.search(rf"^\s+{name}\s", text, re.M), name
    assert "示例" in text and "perfrules check " in text


@pytest.mark.parametrize("name", COMMANDS)
def test_help_is_complete_unbroken_and_its_examples_parse(name: str) -> None:
    command = main.commands[name]
    text = help_text(name)
    assert text.startswith(f"Usage: perfrules {name} ")
    found = examples(text, name)
    assert found, f"{name} --help has no example"
    for args in found:
        # raises on an unknown option or bad value; the group's help names, as click caches a command's help option
        command.make_context(name, list(args), resilient_parsing=False, help_option_names=["-h", "--help"])
    description = ASCII_TOKEN.findall(text.split("\nOptions:")[0])
    written = ASCII_TOKEN.findall(command.help or "")
    for token in written:  # the command's own text: no option name broken either
        assert description.count(token) >= written.count(token), f"{name}: {token!r} is broken or missing in --help"
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        assert param.opts[-1] in text or param.opts[0] in text, f"{name}: {param.opts} not in help"
        assert param.help, f"{name} {param.opts[0]} has no help text"
        for token in ASCII_TOKEN.findall(param.help):  # a word broken across lines would be missing
            assert token in text, f"{name} {param.opts[0]}: {token!r} is broken or missing in --help"


def test_help_texts_say_what_the_commands_do() -> None:
    check = help_text("check")
    assert "默认 national。" not in check and "jurisdiction" in check  # the default is each record's jurisdiction
    assert "junit" in check and "each finding and note names its input" in " ".join(check.split())
    screen = help_text("screen")
    assert "manifest" not in screen and "export" not in screen and "导出" not in screen and "as_of" in screen
    nightly = " ".join(help_text("nightly").split())
    for output in ("findings.jsonl", "findings.csv", "report.xlsx", "report.html", "summary.json", "notices/"):
        assert output in nightly
    assert "junit" in help_text("test")
    assert "RUN_DIR" in help_text("notices")
