"""The simulator's journal: a simulator started again on the same file knows the posts of the
earlier one, so replies to them are delivered (and a retried reply is not posted twice)."""

from __future__ import annotations

import json

import pytest

from socialdesk.adapters.simulator import ApiError, Simulator
from socialdesk.adapters.simulator.journal import Journal


def simulator(path, **options) -> Simulator:
    return Simulator(rate=0, seed=3, journal=path, followup_probability=1.0, followup_delay=(0.0, 0.0),
                     other_share=0.0, **options)


def test_a_restarted_simulator_takes_replies_to_the_posts_of_the_earlier_one(tmp_path):
    path = tmp_path / "simulator.jsonl"
    first = simulator(path, first_id=100)
    customer = first.generate(3)[1]["status"]
    earlier_reply = first.post_status({"status": "Looking into it", "in_reply_to_id": customer["id"]}, "key-1")
    first.stop()

    second = simulator(path, first_id=10_000)  # the demo's ids grow with the clock
    assert second.get_status(customer["id"]) == customer
    assert second.context(earlier_reply["id"])["ancestors"] == [customer]
    again = second.post_status({"status": "Looking into it", "in_reply_to_id": customer["id"]}, "key-1")
    assert again["id"] == earlier_reply["id"] and second.sent == []  # the Idempotency-Key still holds
    reply = second.post_status({"status": "Fixed now", "in_reply_to_id": customer["id"]}, "key-2")
    assert int(reply["id"]) > int(earlier_reply["id"])
    assert second.get_status(customer["id"])["replies_count"] == 2
    second.tick()  # the customer answers the reply, as they did before the restart
    assert second.mentions[-1]["status"]["in_reply_to_id"] == reply["id"]
    newer = second.generate(1)[0]
    assert int(newer["id"]) >= 10_000 and int(newer["status"]["id"]) > int(reply["id"])
    second.stop()


def test_without_a_journal_a_restart_forgets_and_replies_are_404(tmp_path):
    first = Simulator(rate=0, seed=3)
    customer = first.generate(1)[0]["status"]
    with pytest.raises(ApiError) as error:
        Simulator(rate=0, seed=3).post_status({"status": "Hi", "in_reply_to_id": customer["id"]}, None)
    assert error.value.status == 404


def test_a_line_cut_short_by_a_crash_is_skipped(tmp_path):
    path = tmp_path / "simulator.jsonl"
    first = simulator(path)
    kept = [n["status"]["id"] for n in first.generate(2)]
    first.stop()
    with path.open("a") as fh:
        fh.write('{"status": {"id": "99999999999999999999", "acc')
    second = simulator(path)
    assert [second.get_status(i)["id"] for i in kept] == kept
    with pytest.raises(ApiError):
        second.get_status("99999999999999999999")


def test_a_long_journal_is_cut_to_the_newest_records(tmp_path):
    path = tmp_path / "simulator.jsonl"
    with path.open("w") as fh:
        for n in range(1, 1200):
            fh.write(json.dumps({"status": {"id": str(n)}, "idempotency_key": None}) + "\n")
    records = Journal(path, keep=100).load()
    assert [r["status"]["id"] for r in records] == [str(n) for n in range(1100, 1200)]
    assert len(path.read_text().splitlines()) == 100  # rewritten, so the next start reads less
