"""The [rules] section: keyword tables, priority, routing, hours, canned responses, privacy,
approvals and alerts, validated at start so that a bad rule never reaches a running desk."""

from __future__ import annotations

from pydantic import Field

from .base import Model


class RulesConfig(Model):
    influencer_followers: int = Field(default=10_000, ge=0)
    sla_minutes: int = Field(default=60, ge=1)
    private_priority_boost: int = 20
