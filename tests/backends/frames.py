#!/usr/bin/python3
"""frames.py - the frame checks of tests/backends/run.

  frames.py send IFACE          scapy sends the SCAPY_FRAMES list out of IFACE (sendp)
  frames.py check-scapy PCAP    the frames of PCAP from SCAPY_SRC are the list, byte for byte, in order
  frames.py check-pktgen PCAP SRC_MAC COUNT SIZE FLOWS
                                tshark reads COUNT frames of SIZE bytes from PCAP, each byte-identical
                                to what unic-pktgen sends (tests/lab/host/tools_pcap.py rebuilds them)
Prints one PASS or FAIL line; exits non-zero on FAIL.
"""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab", "host"))

SCAPY_SRC = bytes.fromhex("02000000beef")
DST = bytes.fromhex("ffffffffffff")
ETHERTYPE_TEST = b"\x88\xb5"   # IEEE 802 local experimental ethertype: no stack answers it
VLAN_8021Q = b"\x81\x00"
VLAN_8021AD = b"\x88\xa8"


def scapy_frames():
    """Sizes over the whole range, random bytes, and tagged frames (the kernel strips the tag:
    the backend must put it back)."""
    rnd = random.Random(13)
    out = []
    for i, size in enumerate([60, 61, 64, 100, 127, 128, 255, 256, 512, 999, 1024, 1500, 1514] * 3):
        body = bytes([i]) + bytes(rnd.getrandbits(8) for _ in range(size - 15))
        out.append(DST + SCAPY_SRC + ETHERTYPE_TEST + body)
    for tpid, tci in ((VLAN_8021Q, 0x0064), (VLAN_8021Q, 0xE00A), (VLAN_8021AD, 0x0123)):
        body = bytes(rnd.getrandbits(8) for _ in range(100))
        out.append(DST + SCAPY_SRC + tpid + tci.to_bytes(2, "big") + ETHERTYPE_TEST + body)
    return out


def pcap_frames(path):
    from scapy.utils import RawPcapReader  # pcap and pcapng

    return [bytes(data) for data, _meta in RawPcapReader(path)]


def send(iface):
    from scapy.all import conf, sendp  # noqa: F401 (conf: scapy's socket layer)

    sendp([bytes(f) for f in scapy_frames()], iface=iface, verbose=False)
    return None


def check_scapy(path):
    want = scapy_frames()
    got = [f for f in pcap_frames(path) if f[6:12] == SCAPY_SRC]
    if len(got) != len(want):
        return "the capture holds %d of scapy's frames, wanted %d" % (len(got), len(want))
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return "frame %d (%d bytes) differs from the %d bytes scapy sent" % (i + 1, len(g), len(w))
    return None


def check_pktgen(path, src, count, size, flows):
    import tools_pcap

    return tools_pcap.check(os.path.basename(path), path, int(count), int(size), int(flows),
                            bytes.fromhex(src.replace(":", "")))


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "send":
        why = send(*args)
        what = "scapy sent %d frames out of %s" % (len(scapy_frames()), args[0])
    elif cmd == "check-scapy":
        why = check_scapy(*args)
        what = "%d scapy frames (60..1514 bytes, 802.1Q and 802.1ad tagged) byte-identical in %s" % (
            len(scapy_frames()), os.path.basename(args[0]))
    else:
        why = check_pktgen(*args)
        what = "tshark read %s frames of %s bytes, each byte-identical to unic-pktgen's" % (args[2], args[3])
    if why:
        print("FAIL %s" % why)
        return 1
    print("PASS %s" % what)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
