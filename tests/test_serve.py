"""The loopback server's slow-network mode: every byte of every concurrent download shares one link."""
from __future__ import annotations

import threading
import time
import urllib.request

from export.browser import Link, serve


def test_a_slow_link_is_shared_by_concurrent_downloads_and_counts_every_byte(tmp_path):
    (tmp_path / "a.bin").write_bytes(bytes(100_000))
    (tmp_path / "b.bin").write_bytes(bytes(100_000))
    link = Link(bytes_per_second=1_000_000, round_trip_s=0.05)
    with serve(tmp_path, link=link) as base:
        sizes: list[int] = []
        start = time.monotonic()
        threads = [threading.Thread(target=lambda n=name: sizes.append(len(urllib.request.urlopen(base + n).read())))
                   for name in ("a.bin", "b.bin")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
    assert sizes == [100_000, 100_000] and link.bytes_sent == 200_000
    assert elapsed >= 0.2 + 0.05  # 200 kB through 1 MB/s, after one round trip: not 0.1 s each in parallel


def test_without_a_link_the_server_is_not_slowed(tmp_path):
    (tmp_path / "a.bin").write_bytes(bytes(1_000_000))
    with serve(tmp_path) as base:
        start = time.monotonic()
        assert len(urllib.request.urlopen(base + "a.bin").read()) == 1_000_000
        assert time.monotonic() - start < 1.0
