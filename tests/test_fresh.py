"""Search results kept while the store stays still, computed once for workers asking together."""

from __future__ import annotations

import threading
import time

from socialdesk.services.fresh import FreshCache


def test_a_result_is_kept_until_the_store_changed_and_time_passed():
    counter, calls = [1], []
    cache = FreshCache(lambda: counter[0], fresh=0.05)
    compute = lambda: calls.append(1) or len(calls)  # noqa: E731
    assert cache.get("refund", compute) == 1
    counter[0] = 2
    assert cache.get("refund", compute) == 1  # changed, but within `fresh`: the same result
    time.sleep(0.06)
    assert cache.get("refund", compute) == 2  # changed and stale: computed again
    time.sleep(0.06)
    assert cache.get("refund", compute) == 2  # stale but unchanged: kept


def test_workers_asking_at_once_wait_for_one_computation_and_other_keys_do_not_wait():
    cache, calls = FreshCache(lambda: 1), []
    release = threading.Event()

    def slow():
        calls.append("slow")
        release.wait(2)
        return "hits"

    threads = [threading.Thread(target=cache.get, args=("refund", slow)) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert cache.get("other", lambda: "quick") == "quick"  # not held up by the slow key
    release.set()
    for thread in threads:
        thread.join()
    assert calls == ["slow"]
