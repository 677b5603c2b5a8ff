"""`checkonce serve`: the web API and the job scheduler in one command.

One process by default: uvicorn serves the API and the same process runs the jobs.
`--workers N` starts N API processes; all of them try the job runner lock and exactly one
runs the jobs (the others take over if it dies), so a job never runs twice.

Serving needs `CHECKONCE_ENV=prod` and a real `CHECKONCE_SECRET_KEY` (checked for length
and entropy by checkonce.config), or an explicit `--dev`: development mode, with the public
default secret, listens on the loopback address only and says so loudly.

Behind an HTTPS reverse proxy, `--forwarded-allow-ips` names the proxy's addresses: uvicorn
then takes the client address and the scheme (https) from X-Forwarded-For/-Proto, so
cookies are marked Secure and login back-off counts the real client.
"""

from __future__ import annotations

import os
import tempfile
from inspect import signature

import typer

WORKER_HEALTHCHECK_SECONDS = 60
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
DEV_BANNER = (
    "开发模式（--dev）：使用公开的默认密钥，任何人都能伪造登录凭证；只监听本机 {host}，"
    "切勿用于正式环境。正式运行请设置 CHECKONCE_ENV=prod 与 CHECKONCE_SECRET_KEY。"
)


def check_serve_mode(*, dev: bool, host: str) -> None:
    """Refuse to serve in an unsafe mode: dev mode on a non-loopback address, or anything
    but prod without --dev (the settings then refuse a placeholder or weak secret)."""
    from checkonce.config import get_settings
    from checkonce.errors import CheckOnceError

    if dev:
        if host not in LOOPBACK:
            raise CheckOnceError(
                f"开发模式只能监听本机地址（127.0.0.1 或 ::1），不能监听 {host}；"
                "对外服务请设置 CHECKONCE_ENV=prod 与真实的 CHECKONCE_SECRET_KEY"
            )
        os.environ["CHECKONCE_ENV"] = "dev"  # inherited by the worker processes
        get_settings.cache_clear()
        return
    try:
        settings = get_settings()
    except ValueError as exc:  # pydantic's ValidationError: a weak secret in prod
        errors = getattr(exc, "errors", None)
        reason = "; ".join(e["msg"] for e in errors()) if callable(errors) else str(exc)
        raise CheckOnceError(f"配置有误：{reason}") from None
    if settings.env != "prod":
        raise CheckOnceError(
            f"CHECKONCE_ENV={settings.env}：正式运行请设置 CHECKONCE_ENV=prod 与真实的 "
            "CHECKONCE_SECRET_KEY（python3 -c 'import secrets; print(secrets.token_urlsafe(48))'）；"
            "本机开发请用 checkonce serve --dev"
        )


def recover_interrupted(sessions) -> None:
    """On start: schedule generations and job runs whose process is gone (killed, crashed,
    host restarted) are marked failed ("interrupted") and can be retried, instead of
    showing "running" for ever and blocking their period."""
    import logging

    from checkonce.jobs.registry import fail_interrupted_runs
    from checkonce.visits.jobs import fail_interrupted

    try:
        fail_interrupted(sessions)
        fail_interrupted_runs(sessions)
    except Exception:  # a start-up chore: never keep the server from starting
        logging.getLogger("checkonce.serve").exception("could not mark interrupted runs")


def served_app():
    """The application as `serve` runs it (uvicorn calls this in every worker process):
    JSON logs, and the job runner attached unless jobs are disabled."""
    from checkonce.api.app import create_app
    from checkonce.config import get_settings
    from checkonce.jobs.logs import configure_logging
    from checkonce.jobs.runner import attach_runner

    settings = get_settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    recover_interrupted(app.state.sessions)
    if settings.jobs_enabled:
        attach_runner(app, retry_seconds=settings.jobs_retry_seconds)
    return app


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="监听地址"),
        port: int = typer.Option(8000, min=1, max=65535, help="端口"),
        workers: int = typer.Option(
            1, min=1, max=64, help="Web 进程数（其中恰好一个运行后台任务）"
        ),
        jobs: bool = typer.Option(True, "--jobs/--no-jobs", help="是否运行后台任务"),
        dev: bool = typer.Option(
            False, "--dev", help="开发模式：默认密钥，只监听本机（正式环境不可用）"
        ),
        forwarded_allow_ips: str | None = typer.Option(
            None,
            "--forwarded-allow-ips",
            help="反向代理的地址（逗号分隔）：信任其 X-Forwarded-For/-Proto（HTTPS 时 Cookie 加 Secure）",
        ),
    ) -> None:
        """启动 Web 服务（API 与页面；接口文档见 /docs）和后台任务调度。"""
        import uvicorn

        from checkonce.cli import err_console
        from checkonce.config import get_settings
        from checkonce.migrations import upgrade

        check_serve_mode(dev=dev, host=host)
        if dev:
            err_console.print(
                f"[bold white on red] {DEV_BANNER.format(host=host)} [/]", highlight=False
            )

        if not jobs:
            # Read by get_settings() here and inherited by the worker processes.
            os.environ["CHECKONCE_JOBS_ENABLED"] = "false"
            get_settings.cache_clear()
        upgrade(get_settings().database_url)
        if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Worker processes share one metrics folder so /metrics adds them all up; it must
            # be set before any worker imports prometheus_client.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="checkonce-metrics-")
        options = {}
        if "timeout_worker_healthcheck" in signature(uvicorn.run).parameters:
            # uvicorn kills a worker that does not answer its health check in time (5 s by
            # default); a worker still importing the solver and map libraries on a busy
            # machine is slow, not hung, and would be restarted over and over.
            options["timeout_worker_healthcheck"] = WORKER_HEALTHCHECK_SECONDS
        if forwarded_allow_ips:
            options["proxy_headers"] = True
            options["forwarded_allow_ips"] = forwarded_allow_ips
        uvicorn.run(
            "checkonce.cli.serve:served_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            **options,
        )
