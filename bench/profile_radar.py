"""`radar run --once` under cProfile in every thread (parsing and database work run in worker
threads, which a plain `python -m cProfile` does not see), the profiles merged into one file.
Each thread's clock is its own CPU time (`time.thread_time`), so a thread waiting on a lock, a
queue or the network costs nothing: what shows is work (a parse worker process is not seen).

    python bench/profile_radar.py OUT.prof [radar arguments, default: run --once]

bench/farm.py --profile uses it; read OUT.prof with `python -m pstats` or snakeviz. cProfile's
own cost inflates code that makes many small calls.
"""

import cProfile
import pstats
import sys
import threading
import time

profiles: list[cProfile.Profile] = []
_run = threading.Thread.run


def _profiled_run(self):
    profile = cProfile.Profile(time.thread_time)
    profiles.append(profile)
    profile.enable()
    try:
        _run(self)
    finally:
        profile.disable()


def main() -> int:
    out, args = sys.argv[1], sys.argv[2:] or ["run", "--once"]
    threading.Thread.run = _profiled_run
    from bot.cli import main as radar

    profile = cProfile.Profile(time.thread_time)
    profiles.insert(0, profile)
    profile.enable()
    try:
        return radar(args)
    finally:
        profile.disable()
        stats = pstats.Stats(profiles[0])
        for other in profiles[1:]:
            stats.add(other)
        stats.dump_stats(out)


if __name__ == "__main__":
    sys.exit(main())
