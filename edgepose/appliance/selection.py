"""The programs the appliance offers, checked against the installed ones before it starts.

``program.default = "nosuch"`` or a misspelt ``program.cycle`` entry passes the config's own
syntax check; without this check ``serve`` would start and then stop on the first button press (or
not start at all), and systemd would restart it in a loop.
"""

from __future__ import annotations

from typing import Any

from edgepose.errors import ConfigError


def program_problems(cfg: Any) -> list[str]:
    """One message per ``[program]`` name that is not an installed, loadable program."""
    from edgepose.programs import ProgramError, load_program, program_paths

    where = str(cfg.path) if getattr(cfg, "path", None) else "<config>"
    known = program_paths()
    names = ", ".join(known) or "(none)"
    out: list[str] = []
    checks = [(f"program.cycle[{i}]", n) for i, n in enumerate(cfg.program.cycle)]
    if cfg.program.default:
        checks.insert(0, ("program.default", cfg.program.default))
    for key, name in checks:
        if name not in known:
            out.append(f"{where}: {key}: no installed program named {name!r}; use one of {names} "
                       "(see `edgepose programs`)")
            continue
        try:
            load_program(name)
        except ProgramError as e:
            out.append(f"{where}: {key}: program {name!r} does not load: {e}")
    if not checks and not known:
        out.append(f"{where}: program: no programs are installed; reinstall edgepose or add one")
    return out


def offered_programs(cfg: Any) -> list[str]:
    """``program.cycle``, or every installed program, by name."""
    from edgepose.programs import program_paths

    return list(cfg.program.cycle) or list(program_paths())


def validate_programs(cfg: Any) -> None:
    """Raise :class:`ConfigError` naming the first ``[program]`` key that names no usable program."""
    problems = program_problems(cfg)
    if problems:
        raise ConfigError(problems[0] if len(problems) == 1 else "; ".join(problems))
