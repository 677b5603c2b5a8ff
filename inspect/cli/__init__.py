"""The `checkonce` command. Each module in COMMAND_MODULES adds its commands via register(app).

Users see Chinese messages; domain errors are printed without a traceback and exit 1.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from checkonce.errors import CheckOnceError

COMMAND_MODULES = [
    "account",
    "db",
    "demo",
    "registry",
    "plans",
    "draws",
    "users",
    "schedule",
    "codes",
    "scheduling",
    "maps",
    "findings",
    "serve",
    "jobs",
    "audit",
    "documents",
]

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    help="CheckOnce 综合查一次：跨部门联合检查计划、双随机抽取、合并排程与监督。",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def build_app() -> typer.Typer:
    """Register every command module once and return the app (tests use it with CliRunner)."""
    if not getattr(app, "_checkonce_registered", False):
        for name in COMMAND_MODULES:
            importlib.import_module(f"checkonce.cli.{name}").register(app)
        app._checkonce_registered = True  # type: ignore[attr-defined]
    return app


def main() -> None:
    """Entry point of the console script and of `python -m checkonce`."""
    try:
        build_app()(prog_name="checkonce")
    except CheckOnceError as exc:
        err_console.print(f"[bold red]错误：[/bold red]{exc.message}", highlight=False)
        sys.exit(1)
