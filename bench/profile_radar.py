"""`radar run --once` under cProfile in every thread (parsing and database work run in worker
threads, which a plain `python -m cProfile` does not see), the profiles merged into one file.

    python bench/profile_radar.py OUT.prof [radar arguments, default: run --once]

bench/farm.py --profile uses it; read OUT.prof with `python -m pstats` or snakeviz. Time spent
waiting (the event loop's epoll, a worker's queue) shows up as well: read own time of the
functions that do work.
"""

import cProfile
import pstats
import sys
import threading

profiles: list[cProfile.Profile] = []
_run = threading.Thread.run


def _profiled_run(self):
    profile = cProfile.Profile()
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

    profile = cProfile.Profile()
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
