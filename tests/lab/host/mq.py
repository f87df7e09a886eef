#!/usr/bin/python3
"""mq.py - host side of the multi-queue tap proofs (tests/lab/bin/mq.c, scenarios/virtio-mq.guest).

  mq.py send IFACE DST COUNT MAX [LONG]          scapy: COUNT IPv4/UDP frames to DST over 64 flows, then
                                                 LONG frames of 9014 bytes (more than the guest's buffers
                                                 hold at mtu 1500: it must drop them all, print none)
  mq.py check-rx LOG TAG DST COUNT MAX QUEUES    the guest's "MQRX <queue> <len> <fnv1a-64>" lines
                                                 between "MQ-BEGIN TAG" and "MQ-END TAG": every frame
                                                 sent arrived exactly once, byte for byte (length and
                                                 FNV-1a 64 of the whole frame), and on every queue
  mq.py check-tx PCAP SRC QUEUES COUNT SIZE TAG  the capture holds, for every queue q, exactly frames
                                                 0..COUNT-1 of the guest's pattern (SIZE bytes), byte
                                                 for byte, each once

Host frame i: dst DST, src 02:00:00:00:00:01, IPv4 10.0.0.1 -> 10.0.0.2, UDP source port
40000 + i % 64 (the flow), destination port 9, payload "UNICMQ", i (4 bytes, big-endian), then
(i * 7 + k) & 0xff; length MAX for even i, 60 + (i * 151) % (MAX - 59) for odd i.
Guest frame (queue q, frame i): see tests/lab/bin/mq.c.
"""
import sys

FLOWS = 64
LONG_FRAME = 9014
HOST_SRC = "02:00:00:00:00:01"
LOCAL_TYPE = b"\x88\xb5"


def fnv1a64(data):
    h = 14695981039346656037
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def host_frame(dst, i, max_len):
    from scapy.all import IP, UDP, Ether, Raw
    size = max_len if i % 2 == 0 else 60 + (i * 151) % (max_len - 59)
    head = Ether(dst=dst, src=HOST_SRC) / IP(src="10.0.0.1", dst="10.0.0.2", id=i & 0xFFFF) / \
        UDP(sport=40000 + i % FLOWS, dport=9)
    fixed = b"UNICMQ" + i.to_bytes(4, "big")
    pad = size - len(head) - len(fixed)
    return bytes(head / Raw(fixed + bytes((i * 7 + k) & 0xFF for k in range(pad))))


def guest_frame(src, q, i, size):
    head = b"\xff" * 6 + bytes.fromhex(src.replace(":", "")) + LOCAL_TYPE + bytes([q]) + i.to_bytes(4, "big")
    return head + bytes((q * 101 + i * 31 + k) & 0xFF for k in range(19, size))


def send(iface, dst, count, max_len, long_count=0):
    from scapy.all import sendp
    frames = [host_frame(dst, i, max_len) for i in range(count)]
    frames += [host_frame(dst, count + 2 * i, LONG_FRAME) for i in range(long_count)]
    sendp(frames, iface=iface, verbose=False)


def check_rx(log, tag, dst, count, max_len, queues):
    from tapframes import guest_lines  # the same directory
    got = []
    for line in guest_lines(log, f"MQ-BEGIN {tag}", f"MQ-END {tag}", "MQRX "):
        q, n, h = line.split()
        got.append((int(q), int(n), int(h, 16)))
    want = {}
    for i in range(count):
        fr = host_frame(dst, i, max_len)
        want[(len(fr), fnv1a64(fr))] = i
    seen, per_queue, bad = set(), [0] * queues, 0
    for q, n, h in got:
        i = want.get((n, h))
        if i is None or i in seen or q >= queues:
            bad += 1
            if bad <= 3:
                print(f"FAIL mq-rx-{tag}: a frame of {n} bytes on queue {q} is "
                      f"{'a duplicate' if i in seen else 'not one the host sent'}")
            continue
        seen.add(i)
        per_queue[q] += 1
    counts = ", ".join(f"queue {q}: {c}" for q, c in enumerate(per_queue))
    if bad or len(seen) != count or 0 in per_queue:
        print(f"FAIL mq-rx-{tag} (host -> guest): {len(seen)} of {count} frames arrived intact ({counts}), "
              f"{bad} bad")
        return False
    print(f"PASS mq-rx-{tag} (host -> guest): {count} frames byte-identical, each once ({counts})")
    return True


def check_tx(pcap, src, queues, count, size, tag):
    from scapy.all import rdpcap
    s = bytes.fromhex(src.replace(":", ""))
    frames = [bytes(p) for p in rdpcap(pcap)]
    frames = [f for f in frames if f[6:12] == s and f[12:14] == LOCAL_TYPE and len(f) == size]
    ok, counts = True, []
    for q in range(queues):
        mine = [f for f in frames if f[14] == q]
        want = [guest_frame(src, q, i, size) for i in range(count)]
        if sorted(mine) != sorted(want):
            missing = len(set(want) - set(mine))
            print(f"FAIL mq-tx-{tag} queue {q}: {len(mine)} frames captured, {missing} of {count} missing "
                  f"or different")
            ok = False
        counts.append(f"queue {q}: {len(mine)}")
    if ok:
        print(f"PASS mq-tx-{tag} (guest -> capture): {count} frames of {size} bytes from each of {queues} queues "
              f"byte-identical ({', '.join(counts)})")
    return ok


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "send" and len(argv) in (6, 7):
        send(argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]) if len(argv) == 7 else 0)
        return 0
    if cmd == "check-rx" and len(argv) == 8:
        return 0 if check_rx(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]), int(argv[7])) else 1
    if cmd == "check-tx" and len(argv) == 8:
        return 0 if check_tx(argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]), argv[7]) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
