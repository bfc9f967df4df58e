"""How many threads the CPU training uses, chosen by measuring, again and again.

Training runs niced beside whatever else a session does (builds, tests, evaluations). With two
OpenMP threads every parallel region waits for both: when another process holds one core, each of the
LSTM's 300 time steps and every convolution waits for a thread that is not running, and the run fell to
5x real time where one thread still made 28x (throughput.py, same run, load 7 on two cores). On a quiet
machine two threads are faster. Neither setting is right for a whole session, so this tries each for a
few steps, keeps the faster for a while, and tries again.
"""
from __future__ import annotations

import torch


class ThreadTuner:
    def __init__(self, choices: tuple[int, ...] = (1, 2), probe_steps: int = 6, hold_steps: int = 240):
        self.choices = tuple(choices)
        self.probe_steps = probe_steps
        self.hold_steps = hold_steps
        self.speed: dict[int, float] = {}
        self._plan: list[int] = []
        self._acc: dict[int, list[float]] = {}
        self.chosen = self.choices[-1]
        self._start_probe()

    def _start_probe(self):
        self._plan = [n for n in self.choices for _ in range(self.probe_steps)]
        self._acc = {n: [0.0, 0.0] for n in self.choices}  # audio seconds, wall seconds
        self._seen = {n: 0 for n in self.choices}

    def threads(self) -> int:
        """The thread count for the next step (also set in torch)."""
        n = self._plan[0] if self._plan else self.chosen
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
        return n

    def record(self, audio_seconds: float, wall_seconds: float):
        """What the step just run with `threads()` achieved."""
        if not self._plan:
            self._hold_left -= 1
            if self._hold_left <= 0:
                self._start_probe()
            return
        n = self._plan.pop(0)
        self._seen[n] += 1
        if self._seen[n] > 1:  # the first step after a switch pays for waking the other pool: not counted
            self._acc[n][0] += audio_seconds
            self._acc[n][1] += wall_seconds
        if not self._plan:
            self.speed = {k: a / w for k, (a, w) in self._acc.items() if w > 0}
            self.chosen = max(self.speed, key=self.speed.get) if self.speed else self.choices[-1]
            self._hold_left = self.hold_steps

    def describe(self) -> str:
        if not self.speed:
            return f"threads={torch.get_num_threads()} (measuring)"
        return f"threads={self.chosen} (" + ", ".join(f"{n}: {v:.0f}x" for n, v in sorted(self.speed.items())) + ")"
