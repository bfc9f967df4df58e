"""ThreadTuner keeps the thread count that trained faster, and measures again later."""
import torch

from crn_train.threads import ThreadTuner


def run(tuner, speed_of, steps):
    used = []
    for _ in range(steps):
        n = tuner.threads()
        assert torch.get_num_threads() == n
        used.append(n)
        tuner.record(10.0, 10.0 / speed_of(n))
    return used


def test_keeps_the_faster_setting_then_measures_again():
    before = torch.get_num_threads()
    try:
        t = ThreadTuner((1, 2), probe_steps=3, hold_steps=5)
        loaded = {1: 30.0, 2: 5.0}  # another process holds a core: one thread wins
        used = run(t, loaded.get, 6)
        assert used == [1, 1, 1, 2, 2, 2] and t.chosen == 1
        assert t.speed == {1: 30.0, 2: 5.0}  # the first step of each block is not counted, the rest are
        assert run(t, loaded.get, 5) == [1] * 5
        quiet = {1: 30.0, 2: 50.0}  # the other process ended: two threads win at the next measurement
        assert run(t, quiet.get, 6) == [1, 1, 1, 2, 2, 2]
        assert t.chosen == 2 and run(t, quiet.get, 3) == [2, 2, 2]
        assert "threads=2 (1: 30x, 2: 50x)" == t.describe()
    finally:
        torch.set_num_threads(before)
