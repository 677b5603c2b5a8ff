"""`checkonce serve`: the web API and the job scheduler in one command.

One process by default: uvicorn serves the API and the same process runs the jobs.
`--workers N` starts N API processes; all of them try the job runner lock and exactly one
runs the jobs (the others take over if it dies), so a job never runs twice.
"""

from __future__ import annotations

import os
import tempfile
from inspect import signature

import typer

WORKER_HEALTHCHECK_SECONDS = 60


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
    ) -> None:
        """启动 Web 服务（API 与页面；接口文档见 /docs）和后台任务调度。"""
        import uvicorn

        from checkonce.config import get_settings
        from checkonce.migrations import upgrade

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
        uvicorn.run(
            "checkonce.cli.serve:served_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            **options,
        )
