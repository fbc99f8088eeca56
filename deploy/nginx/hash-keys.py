"""Prints, for N instances, the `hash` key that makes nginx pick each server of mcpd.conf's
upstream (in the order listed, equal weights), for the maps in deploy/nginx/mcpd.conf.

  python3 deploy/nginx/hash-keys.py 3

nginx's `hash KEY` (not `consistent`) picks server number
((crc32(KEY) >> 16) & 0x7fff) % N on the first try (ngx_http_upstream_hash_module, the
Cache::Memcached formula); when that server is down it re-hashes to another one, which
answers 404 for a session it does not hold, so the client re-initializes.
"""

import sys
import zlib


def server_of(key, n):
    return ((zlib.crc32(key.encode()) >> 16) & 0x7FFF) % n


def keys(n):
    found = []
    for index in range(n):
        j = 0
        while server_of(f"i{index + 1}.{j}", n) != index:
            j += 1
        found.append(f"i{index + 1}.{j}")
    return found


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    for index, key in enumerate(keys(n)):
        print(f"server {index + 1} (--instance-id i{index + 1}): {key}")
