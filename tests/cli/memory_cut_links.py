#!/usr/bin/env python3
"""memory_cut_links.py INDEX LABEL...: removes every layer-0 link to the given labels (episode seqs) from
a retrace HNSW index file and rewrites its checksum, as a file from a build without the reachability
repair could be: the nodes stay in the file, and no walk from the entry point reaches them. Used by
tests/cli/memory.sh to show `memory check` reporting such nodes and `memory rebuild` fixing them. The
layout and checksum follow src/memory/hnsw_io.c and src/memory/hash.c (written from their comments)."""
import struct
import sys

M64 = (1 << 64) - 1
P1, P2 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F


def rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def checksum(data):
    lanes = [(P1 * (i + 1)) & M64 for i in range(4)]
    full = len(data) // 32 * 32
    for off in range(0, full, 32):
        for i in range(4):
            w = struct.unpack_from("<Q", data, off + 8 * i)[0]
            lanes[i] = (lanes[i] + w * P2) & M64
            lanes[i] = (rotl(lanes[i], 31) * P1) & M64
    h = (rotl(lanes[0], 1) + rotl(lanes[1], 7) + rotl(lanes[2], 12) + rotl(lanes[3], 18)) & M64
    h ^= len(data)
    for b in data[full:]:  # FNV-1a over the tail
        h = ((h ^ b) * 0x100000001B3) & M64
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & M64
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & M64
    return h ^ (h >> 31)


def main():
    path, labels = sys.argv[1], {int(x) for x in sys.argv[2:]}
    data = bytearray(open(path, "rb").read())
    assert data[:6] == b"RTHNSW", "not a retrace index"
    assert checksum(bytes(data[:-8])) == struct.unpack_from("<Q", data, len(data) - 8)[0], "checksum does not match"
    version, dim, _metric, m, _efc, _efs, n_slots = struct.unpack_from("<7I", data, 8)
    slots, off = [], 192
    for _ in range(n_slots):
        slots.append(struct.unpack_from("<q", data, off)[0])
        off += 9
    victims = {i for i, lab in enumerate(slots) if lab in labels}
    assert len(victims) == len(labels), "label not in the index"
    off += n_slots * dim * 4
    width = 1 + 2 * m
    for i in range(n_slots):
        base = off + 4 * width * i
        links = struct.unpack_from("<%dI" % width, data, base)
        kept = [x for x in links[1 : 1 + links[0]] if x not in victims or i in victims]
        struct.pack_into("<%dI" % width, data, base, len(kept), *(kept + [0] * (width - 1 - len(kept))))
    struct.pack_into("<Q", data, len(data) - 8, checksum(bytes(data[:-8])))
    open(path, "wb").write(data)
    print("cut the in-links of %d nodes (index format %d)" % (len(victims), version))


main()
