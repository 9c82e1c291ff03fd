"""``omcm batch --check``: what running a plan would do, without running anything.

The plan's waves and file conflicts (:func:`omcm.batch.plan.analyse`) and where
each task would run: the same routing the executor uses (:func:`omcm.batch.executor.route`).
"""

from __future__ import annotations

import os
import time
from typing import Any

from omcm.batch import plan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.config import Config


def check(the_plan: plan.Plan, conf: Config, project: str) -> dict[str, Any]:
    """What running the plan would do, without running anything."""
    from omcm.batch import executor
    from omcm.calls.call import Source

    analysis = plan.analyse(the_plan, project)
    session = os.environ.get("CLAUDE_CODE_SESSION_ID", "")
    source = Source(door="cli", session_id=session, cwd=project)
    routes = {}
    for task in the_plan.tasks:
        decision = executor.route(task, conf, source).decision
        routes[task.id] = {
            "agent": decision.agent,
            "tier": decision.tier,
            "runs_on": [r.provider for r in decision.routes] or ["claude"],
            "model": decision.routes[0].model if decision.routes else "",
            "reason": decision.reason,
            "why": decision.explain(),
            "skipped": decision.skipped,
            "isolated": the_plan.isolated(task),
        }
    return {
        "plan": the_plan.source,
        "tasks": len(the_plan.tasks),
        "max_concurrent": the_plan.max_concurrent,
        "strategy": the_plan.strategy,
        "on_failure": the_plan.on_failure,
        "waves": analysis.waves,
        "conflicts": [
            {"first": c.first, "then": c.then, "patterns": list(c.patterns)}
            for c in analysis.conflicts
        ],
        "routes": routes,
        "canParallel": analysis.can_parallel,
        "reason": analysis.reason,
        "checked_at": time.time(),
    }
