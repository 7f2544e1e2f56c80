"""Timer triggers: each runs one pipeline step. Schedules are app settings (NCRONTAB, UTC)."""

from __future__ import annotations

import logging

import azure.functions as func

from pipeline.cycle import (
    Step,
    check_apple_app_step,
    collect_and_evaluate_step,
    digest_step,
    notify_step,
    run_with_settings,
)
from pipeline.settings import load_settings

bp = func.Blueprint()  # type: ignore[no-untyped-call]
log = logging.getLogger("legacy_auth_monitor")


async def _run(step: Step) -> None:
    for run in await run_with_settings(load_settings(), [step]):
        log.info("%s %s: %s", run.step, run.outcome, run)


@bp.timer_trigger(schedule="%LAM_COLLECT_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def collect_and_evaluate(timer: func.TimerRequest) -> None:
    await _run(collect_and_evaluate_step)


@bp.timer_trigger(schedule="%LAM_APPLE_CHECK_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def check_apple_app(timer: func.TimerRequest) -> None:
    await _run(check_apple_app_step)


@bp.timer_trigger(schedule="%LAM_NOTIFY_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def notify_users(timer: func.TimerRequest) -> None:
    await _run(notify_step)


@bp.timer_trigger(schedule="%LAM_DIGEST_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def send_digest(timer: func.TimerRequest) -> None:
    await _run(digest_step)
