"""The main job as a new user runs it: `assay eval && assay report` on the bundled defaults.

    python benchmarks/default_job.py [--skip-cold]

Times, beside the targets of issues 15 and 18, in fresh temporary folders:
1. cold: an empty model cache (the GGUF file is dequantized and cached) and a new store;
2. warm: the cache from (1), a new store;
3. `assay report` on the store of (2);
4. a resumed `assay eval` on the same store (nothing left to compute).
Each line shows wall time, the process's CPU time and the load average, since the machines are
shared: on a busy machine wall time grows, CPU time much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

TARGETS = {"cold eval + report": 180.0, "warm eval + report": 90.0, "report": 5.0}


def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _job(env: dict[str, str], cwd: Path) -> dict[str, tuple[float, float]]:
    out = {"eval": _run(["assay", "eval", "--no-progress"], env, cwd)}
    out["report"] = _run(["assay", "report", "-o", "report.html"], env, cwd)
    out["resumed eval"] = _run(["assay", "eval", "--no-progress"], env, cwd)
    return out


def _line(name: str, wall: float, cpu: float, target: float | None = None) -> str:
    aim = f"target ≤ {target:.0f} s" if target else ""
    load = os.getloadavg()[0]
    return f"{name:<22} {wall:7.1f} s wall {cpu:7.1f} s CPU   {aim:<16} load {load:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cold", action="store_true", help="only the warm-cache run")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "ASSAY_STORE"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runs = []
        if not args.skip_cold:
            env_cold = {**env, "ASSAY_CACHE_DIR": str(root / "cache")}
            (root / "cold").mkdir()
            runs.append(("cold", _job(env_cold, root / "cold")))
            env = env_cold  # the warm run reuses the cache the cold run wrote
        (root / "warm").mkdir()
        runs.append(("warm", _job(env, root / "warm")))
        print(f"assay eval && assay report on the default job; {os.cpu_count()} CPUs")
        for label, times in runs:
            wall = times["eval"][0] + times["report"][0]
            cpu = times["eval"][1] + times["report"][1]
            print(_line(f"{label} eval + report", wall, cpu, TARGETS[f"{label} eval + report"]))
            print(_line(f"  {label} eval", *times["eval"]))
            print(_line(f"  {label} report", *times["report"], TARGETS["report"]))
            print(_line(f"  {label} resumed eval", *times["resumed eval"]))


if __name__ == "__main__":
    main()
