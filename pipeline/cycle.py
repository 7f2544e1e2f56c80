"""The steps the timers and the CLI run, and the order of a full cycle.

check the Apple app (tenant readiness) → collect + evaluate → notify; the digest runs on its own timer.
"""

from __future__ import annotations

from pipeline.steps.collect import APPLE_STREAM, LEGACY_STREAM, collect_and_evaluate_step
from pipeline.steps.notify import SendFailuresError, digest_step, notify_step
from pipeline.steps.tenant_check import check_apple_app_step
from pipeline.wiring import Services, Step, StepFailedError, run_with_settings

FULL_CYCLE: list[Step] = [check_apple_app_step, collect_and_evaluate_step, notify_step]
"""One full cycle, in the order that lets each step use the previous one's findings."""

__all__ = [
    "APPLE_STREAM",
    "FULL_CYCLE",
    "LEGACY_STREAM",
    "SendFailuresError",
    "Services",
    "Step",
    "StepFailedError",
    "check_apple_app_step",
    "collect_and_evaluate_step",
    "digest_step",
    "notify_step",
    "run_with_settings",
]
