from __future__ import annotations

import subprocess
import sys
import time

from omcm.calls import slots


def test_at_most_count_slots_are_held() -> None:
    deadline = time.monotonic() + 0.2
    first = slots.acquire(2, deadline)
    second = slots.acquire(2, deadline)
    assert first is not None and second is not None
    assert {first.index, second.index} == {0, 1}
    started = time.monotonic()
    assert slots.acquire(2, time.monotonic() + 0.2) is None
    assert time.monotonic() - started >= 0.2
    first.release()
    third = slots.acquire(2, time.monotonic() + 0.2)
    assert third is not None and third.index == first.index
    second.release()
    third.release()


def test_a_dead_holder_frees_its_slot() -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time, omcm.calls.slots as s; slot = s.acquire(1, time.monotonic() + 5); "
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        assert slots.acquire(1, time.monotonic() + 0.1) is None
        holder.kill()
        holder.wait()
        slot = slots.acquire(1, time.monotonic() + 2)
        assert slot is not None
        slot.release()
    finally:
        holder.kill()
        holder.wait()
