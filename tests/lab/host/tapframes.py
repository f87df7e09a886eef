#!/usr/bin/python3
"""tapframes.py - frames for the tap proofs, generated and compared byte for byte.

  tapframes.py send IFACE DST COUNT [MAX]     scapy: COUNT rx-pattern frames into IFACE
  tapframes.py check-rx LOG TAG DST COUNT [MAX]
                                              the guest's "FRAME <hex>" lines between
                                              "TAPRX-BEGIN TAG" and "TAPRX-END TAG" in LOG
                                              must be exactly the rx pattern, in order
  tapframes.py check-tx PCAP SRC COUNT SIZE TAG
                                              the frames from SRC with ethertype 0x88b5 and
                                              SIZE bytes in PCAP must be exactly the tx
                                              pattern of unic-lab-tapio tx, in order

rx pattern (host to guest), frame i: dst DST, src 02:00:00:00:00:01, type 0x88b5,
  bytes 14-17 i big-endian, byte k >= 18 (i * 17 + k * 3) & 0xff, length 60 + (i * 151) % 1455;
  with MAX (jumbo frames, MAX > 1514): length MAX - (i * 1009) % (MAX - 59), so frame 0 is MAX bytes.
tx pattern (guest to host): see tests/lab/bin/tapio.c.
"""
import sys

ETHERTYPE = b"\x88\xb5"
HOST_SRC = bytes.fromhex("020000000001")


def mac_bytes(mac):
    return bytes.fromhex(mac.replace(":", ""))


STD_MAX = 1514


def rx_size(i, maxsize):
    if maxsize <= STD_MAX:
        return 60 + (i * 151) % 1455
    return maxsize - (i * 1009) % (maxsize - 59)


def rx_frame(dst, i, maxsize=STD_MAX):
    size = rx_size(i, maxsize)
    head = mac_bytes(dst) + HOST_SRC + ETHERTYPE + i.to_bytes(4, "big")
    return head + bytes((i * 17 + k * 3) & 0xFF for k in range(18, size))


def tx_frame(src, i, size):
    head = b"\xff" * 6 + mac_bytes(src) + ETHERTYPE + i.to_bytes(4, "big")
    return head + bytes((i * 31 + k) & 0xFF for k in range(18, size))


def compare(what, got, want):
    bad = 0
    for i, w in enumerate(want):
        if i >= len(got):
            print(f"FAIL {what}: frame {i} missing ({len(got)} of {len(want)} arrived)")
            return False
        if got[i] != w:
            bad += 1
            if bad <= 3:
                print(f"FAIL {what}: frame {i} differs: got {len(got[i])} bytes {got[i][:24].hex()}..., "
                      f"want {len(w)} bytes {w[:24].hex()}...")
    if len(got) > len(want):
        print(f"FAIL {what}: {len(got) - len(want)} extra frames")
        return False
    if bad:
        return False
    print(f"PASS {what}: {len(want)} frames byte-identical")
    return True


def send(iface, dst, count, maxsize):
    from scapy.all import Raw, sendp  # imported here: only this command needs scapy's sockets
    sendp([Raw(rx_frame(dst, i, maxsize)) for i in range(count)], iface=iface, verbose=False)


def guest_lines(log, begin, end, prefix):
    """The guest's lines starting with prefix (prefix cut off) between the last begin line and
    the end line after it, in LOG."""
    got, inside = [], False
    with open(log, errors="replace") as f:
        for line in f:
            line = line.strip().replace("\r", "")
            if line == begin:
                inside, got = True, []
            elif line == end:
                inside = False
            elif inside and line.startswith(prefix):
                got.append(line[len(prefix):])
    return got


def check_rx(log, tag, dst, count, maxsize):
    got = [bytes.fromhex(h) for h in guest_lines(log, f"TAPRX-BEGIN {tag}", f"TAPRX-END {tag}", "FRAME ")]
    return compare(f"tap-rx-{tag} (scapy -> guest)", got, [rx_frame(dst, i, maxsize) for i in range(count)])


def check_tx(pcap, src, count, size, tag):
    from scapy.all import rdpcap
    s = mac_bytes(src)
    got = [bytes(p) for p in rdpcap(pcap)]
    got = [g for g in got if g[6:12] == s and g[12:14] == ETHERTYPE and len(g) == size]
    return compare(f"tap-tx-{tag} (guest -> tshark)", got, [tx_frame(src, i, size) for i in range(count)])


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "send" and len(argv) in (5, 6):
        send(argv[2], argv[3], int(argv[4]), int(argv[5]) if len(argv) == 6 else STD_MAX)
        return 0
    if cmd == "check-rx" and len(argv) in (6, 7):
        return 0 if check_rx(argv[2], argv[3], argv[4], int(argv[5]), int(argv[6]) if len(argv) == 7 else STD_MAX) else 1
    if cmd == "check-tx" and len(argv) == 7:
        return 0 if check_tx(argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6]) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
