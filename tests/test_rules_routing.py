"""Routing: tag → team → the least-loaded available agent with the skills and room under the cap;
overflow on time and when full (chains, loops); nobody with room → the team's queue."""

from __future__ import annotations

import pytest

from socialdesk.rules.routing import AgentState, Route, RouteRequest, TeamRule, assign_batch, route

TEAMS = (
    TeamRule("billing", tags=("billing", "refund"), overflow="support", overflow_after_minutes=30),
    TeamRule("support", tags=("customer-service", "bug"), overflow="tier2"),
    TeamRule("tier2", tags=("escalation",), skills=("senior",)),
    TeamRule("social", tags=("marketing", "billing")),  # "billing" is billing's: first team wins
)


def agent(name, teams, *, skills=(), status="available", load=0, cap=5):
    return AgentState(name=name, teams=tuple(teams), skills=tuple(skills), status=status, load=load, cap=cap)


AGENTS = (
    agent("bea", ["billing"], load=2),
    agent("bob", ["billing"], load=1),
    agent("bill", ["billing"], load=1),
    agent("sue", ["support"], skills=["de"], load=3),
    agent("sam", ["support", "billing"], skills=["de", "fr"], load=4),
    agent("tom", ["tier2"], skills=["senior"], load=0),
    agent("tia", ["tier2"], skills=[], load=0),  # not senior: tier2 work needs it
    agent("mia", ["social"], load=0),
)


def r(tags, **kw):
    kw.setdefault("teams", TEAMS)
    kw.setdefault("agents", AGENTS)
    return route(tags, **kw)


def test_tag_to_team_to_the_least_loaded_agent_name_breaking_ties():
    got = r(["refund"])
    assert (got.team, got.agent) == ("billing", "bill")  # bill and bob at 1: name decides
    assert "tag 'refund' → billing" in got.reason and "bill 1/5" in got.reason


def test_the_first_team_in_configuration_order_wins_not_the_tag_order():
    assert r(["marketing", "billing"]).team == "billing"
    assert r(["marketing"]).team == "social"


def test_tags_match_case_insensitively():
    assert r(["Customer-Service"]).team == "support"


def test_no_matching_tag_uses_the_default_team_or_no_team():
    got = r(["weather"], default_team="support")
    assert (got.team, got.agent) == ("support", "sue")
    assert "default support" in got.reason
    got = r(["weather"])
    assert got == Route(None, None, "no team for tags (weather) and no default team")


def test_required_skills_filter_agents():
    got = r(["bug"], required_skills=["fr"])
    assert (got.team, got.agent) == ("support", "sam")
    got = r(["escalation"])
    assert (got.team, got.agent) == ("tier2", "tom")  # the team's own skill: senior


def test_agents_at_their_cap_get_nothing_more():
    agents = (agent("a", ["billing"], load=5, cap=5), agent("b", ["billing"], load=6, cap=9))
    assert r(["billing"], agents=agents).agent == "b"
    full = (agent("a", ["billing"], load=5, cap=5), agent("z", ["billing"], load=0, cap=0))
    assert r(["billing"], agents=full).agent is None


@pytest.mark.parametrize("status", ["busy", "away", "offline", "AVAILABLE?"])
def test_agents_not_available_get_nothing_new(status):
    agents = (agent("a", ["billing"], status=status, load=0), agent("b", ["billing"], load=4))
    assert r(["billing"], agents=agents).agent == "b"


def test_a_full_team_overflows_to_its_overflow_team():
    agents = (agent("bea", ["billing"], load=5, cap=5), agent("sue", ["support"], load=1))
    got = r(["billing"], agents=agents)
    assert (got.team, got.agent) == ("support", "sue")
    assert "billing full" in got.reason and "overflow → support" in got.reason


def test_waiting_past_the_time_limit_moves_to_the_overflow_team():
    got = r(["billing"], waiting_minutes=30)
    assert (got.team, got.agent) == ("support", "sue")
    assert "waited 30 min ≥ 30 → support" in got.reason
    assert r(["billing"], waiting_minutes=29.9).team == "billing"


def test_the_overflow_chain_is_followed_to_the_end():
    agents = (agent("bea", ["billing"], load=5, cap=5), agent("sue", ["support"], load=5, cap=5),
              agent("tom", ["tier2"], skills=["senior"], load=2))
    got = r(["refund"], agents=agents)
    assert (got.team, got.agent) == ("tier2", "tom")
    assert "overflow → support" in got.reason and "overflow → tier2" in got.reason


def test_a_loop_in_the_overflow_configuration_ends():
    teams = (TeamRule("a", ("x",), overflow="b", overflow_after_minutes=5),
             TeamRule("b", ("y",), overflow="c", overflow_after_minutes=5),
             TeamRule("c", ("z",), overflow="a", overflow_after_minutes=5))
    nobody = (agent("n", ["a"], load=1, cap=1),)
    got = r(["x"], teams=teams, agents=nobody, waiting_minutes=60)
    assert got.agent is None
    assert got.team == "c"  # moved a → b → c on time; c → a would loop
    assert "overflow loop at a ignored" in got.reason
    got = r(["x"], teams=teams, agents=(agent("n", ["a"], load=1, cap=1),))  # capacity loop
    assert (got.team, got.agent) == ("a", None)
    assert "overflow loop at a ignored" in got.reason
    self_loop = (TeamRule("a", ("x",), overflow="a", overflow_after_minutes=0),)
    assert r(["x"], teams=self_loop, agents=(agent("n", ["a"]),)) .agent == "n"


def test_nobody_with_room_anywhere_waits_in_the_team_queue_and_says_why():
    agents = (agent("bea", ["billing"], load=5, cap=5), agent("sue", ["support"], status="away"),
              agent("tom", ["tier2"], skills=["senior"], status="offline"))
    got = r(["billing"], agents=agents)
    assert (got.team, got.agent) == ("billing", None)
    assert got.reason == ("tag 'billing' → billing; billing full; overflow → support; support: nobody available; "
                          "overflow → tier2; tier2: nobody available; waiting in billing queue")


def test_missing_skills_are_named():
    got = r(["bug"], agents=(agent("sue", ["support"]),), teams=(TeamRule("support", ("bug",)),),
            required_skills=["ja"])
    assert got == Route("support", None, "tag 'bug' → support; support: nobody available with ja; "
                                         "waiting in support queue")


def test_a_team_nobody_belongs_to():
    got = r(["bug"], agents=(), teams=(TeamRule("support", ("bug",)),))
    assert got == Route("support", None, "tag 'bug' → support; support has no agents; waiting in support queue")


def test_an_overflow_team_that_is_not_declared_still_gets_its_members():
    teams = (TeamRule("a", ("x",), overflow="night"),)
    got = r(["x"], teams=teams, agents=(agent("owl", ["night"]),))
    assert (got.team, got.agent) == ("night", "owl")


def test_a_batch_spreads_over_the_team_up_to_the_caps():
    agents = (agent("a", ["billing"], load=0, cap=2), agent("b", ["billing"], load=1, cap=3),
              agent("c", ["support"], load=0, cap=1))
    routes = assign_batch([("billing",)] * 7, teams=TEAMS, agents=agents)
    assert [x.agent for x in routes] == ["a", "a", "b", "b", "c", None, None]
    assert [x.team for x in routes] == ["billing"] * 4 + ["support", "billing", "billing"]


def test_a_batch_takes_requests_with_their_own_waiting_time_and_skills():
    routes = assign_batch(
        [RouteRequest(("billing",), waiting_minutes=45), RouteRequest(("bug",), required_skills=("fr",)), ("refund",)],
        teams=TEAMS, agents=AGENTS)
    assert [(x.team, x.agent) for x in routes] == [("support", "sue"), ("support", "sam"), ("billing", "bill")]


def test_a_batch_does_not_change_the_agents_it_was_given():
    assign_batch([("billing",)] * 3, teams=TEAMS, agents=AGENTS)
    assert [a.load for a in AGENTS] == [2, 1, 1, 3, 4, 0, 0, 0]


def test_a_big_batch_is_fast():
    import time

    agents = tuple(agent(f"agent{i:03d}", ["billing" if i % 2 else "support"], load=i % 7, cap=50)
                   for i in range(200))
    start = time.perf_counter()
    routes = assign_batch([("refund",), ("bug",)] * 2_000, teams=TEAMS, agents=agents)
    assert time.perf_counter() - start < 2.0
    assert sum(1 for x in routes if x.agent) == 4_000
