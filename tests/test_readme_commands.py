"""The README's commands are the CLI's: every `edgepose ...` line in it parses as written.

A command or flag renamed in the code but not in the README fails here, so a new user never
copies a command that cannot work. Lines like `edgepose outbox status | flush` list
alternatives; each is checked.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from edgepose.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            words = shlex.split(line, comments=True) if line else []
            while words and words[0] in ("sudo", "exec"):
                words = words[1:]
            if not words or not re.fullmatch(r"(\S*/)?edgepose", words[0]):
                continue
            if "|" in words:  # "models fetch | verify | list": each alternative after the common head
                head = words[:words.index("|") - 1]
                alts = [w for w in words[len(head):] if w != "|"]
                out += [[*head[1:], a] for a in alts]
            else:
                out.append(words[1:])
    return out


COMMANDS = readme_commands()


def test_the_readme_has_commands():
    names = {c[0] for c in COMMANDS}
    assert {"run", "infer", "match", "analyze", "serve", "config", "dashboard", "models"} <= names


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_each_readme_command_parses(argv, capsys):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse's way of refusing
        pytest.fail(f"README command `edgepose {' '.join(argv)}` is refused: {capsys.readouterr().err.strip()}"
                    f" (exit {e.code})")
    assert getattr(args, "func", None) is not None, f"`edgepose {' '.join(argv)}` names no command"


@pytest.mark.parametrize("argv", [["programs"], ["models", "list"], ["config", "path"], ["--help"]])
def test_read_only_readme_commands_run(argv):
    p = subprocess.run([sys.executable, "-m", "edgepose.cli", *argv], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip()
