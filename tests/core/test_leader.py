"""One leader among engines sharing Redis: elected once, replaced within the lease when it dies."""

from __future__ import annotations

import threading
import time

from enginekit import wait_for

from core.wake.leader import LEADER_KEY, LeaderLease


class Seat:
    """Counts elections and depositions of one engine's lease."""

    def __init__(self, url: str, name: str) -> None:
        self.elected = 0
        self.deposed = 0
        self.lock = threading.Lock()
        self.lease = LeaderLease(url, name, 1.5, self._elected, self._deposed)

    def _elected(self) -> None:
        with self.lock:
            self.elected += 1

    def _deposed(self) -> None:
        with self.lock:
            self.deposed += 1

    def die(self) -> None:
        """Stop renewing without releasing: what a SIGKILLed engine leaves behind."""
        self.lease._stop.set()
        self.lease._thread.join(timeout=5)


def leaders(seats: list[Seat]) -> list[Seat]:
    return [seat for seat in seats if seat.lease.leading]


def test_exactly_one_leader_and_a_new_one_after_each_death(redis_url: str) -> None:
    seats = [Seat(redis_url, f"engine-{n}") for n in range(3)]
    for seat in seats:
        seat.lease.start()
    try:
        first = wait_for(lambda: leaders(seats), timeout=10, what="a leader")
        assert len(first) == 1
        assert seats[0].lease.current_leader() == first[0].lease.identity
        for _ in range(2):  # the leader is killed twice
            dead = leaders(seats)[0]
            dead.die()
            dead.lease.leading = False  # it is gone; it no longer counts
            start = time.monotonic()
            successor = wait_for(
                lambda dead=dead: [seat for seat in leaders(seats) if seat is not dead],
                timeout=10,
                what="a successor",
            )
            assert len(successor) == 1
            assert time.monotonic() - start < 5  # within the lease: a loose bound on a busy machine
            seats.remove(dead)
        assert sum(seat.elected for seat in seats) == 1  # the last survivor was elected once
    finally:
        for seat in seats:
            seat.lease.stop()
    import redis

    assert redis.Redis.from_url(redis_url).get(LEADER_KEY) is None  # released on a clean stop
