"""lemon24's reader as a one-shot peer for bench/farm.py: add the URLs (first run), update all
(`scheduled=False`: every feed, as the other tools poll every feed, not only those due).

    .venv-peers/bin/python bench/peer_reader.py DB URLS_FILE

Runs in its own virtual environment so that reader never enters Radar's dependencies.
"""

import sys
from pathlib import Path

from reader import make_reader


def main() -> None:
    db, urls_file = sys.argv[1], sys.argv[2]
    lines = Path(urls_file).read_text(encoding="utf-8").splitlines()
    urls = [line.strip() for line in lines if line.strip()]
    reader = make_reader(db)
    known = {feed.url for feed in reader.get_feeds()}
    for url in urls:
        if url not in known:
            reader.add_feed(url)
    reader.update_feeds(scheduled=False)
    reader.close()


if __name__ == "__main__":
    main()
