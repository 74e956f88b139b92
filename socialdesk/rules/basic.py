"""The first rules: a priority score and noise tags from what a message says about itself.
Pure functions over plain values; the keyword tables and routing grow here later."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Settings:
    influencer_followers: int = 10_000
    sla_minutes: int = 60
    private_priority_boost: int = 20


@dataclass(frozen=True, slots=True)
class Classification:
    priority: int
    tags: tuple[str, ...]
    noise: bool


BASE_PRIORITY = 30


def classify(*, followers: int, private: bool, is_repost: bool, bot: bool, settings: Settings) -> Classification:
    """Reposts and bots are noise (kept, tagged, bottom of the queue); private messages and
    influencers rise. Priority is a 0–100 score: P1 ≥ 75, P2 ≥ 50, P3 ≥ 25, else P4."""
    if is_repost or bot:
        return Classification(priority=0, tags=("noise",), noise=True)
    priority = BASE_PRIORITY
    tags: list[str] = []
    if private:
        priority += settings.private_priority_boost
    if followers >= settings.influencer_followers:
        priority += 30
        tags.append("influencer")
    return Classification(priority=min(priority, 100), tags=tuple(tags), noise=False)
