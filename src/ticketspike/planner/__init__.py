"""The escalation planner: from a spike transition to a typed, reviewable plan.

Pure: no clock (time comes from the transition), no I/O, no plugins. The
workflow (:mod:`.workflow`) and routing rules (:mod:`.routing`) are checked
when the config loads; :class:`Planner` turns each transition into an
:class:`~ticketspike.planner.plan.EscalationPlan`.
"""

from __future__ import annotations

from .alert import AlertLinks, alert_message, escalation_message, resolution_message
from .planner import Planner
from .routing import RoutingDecision, RoutingRule, RoutingRules, routing_from_config
from .workflow import Step, Workflow, default_workflow, workflow_from_config

__all__ = [
    "AlertLinks",
    "Planner",
    "RoutingDecision",
    "RoutingRule",
    "RoutingRules",
    "Step",
    "Workflow",
    "alert_message",
    "default_workflow",
    "escalation_message",
    "resolution_message",
    "routing_from_config",
    "workflow_from_config",
]
