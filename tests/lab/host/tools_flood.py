#!/usr/bin/python3
"""tools_flood.py - host side of the unic-echo proofs (tools-echo-*.conf).

  tools_flood.py flood IFACE DST_MAC OUR_IP ECHO_IP COUNT RATE [SEED]
      COUNT random and malformed frames into IFACE, paced at RATE frames/s, every one
      addressed to DST_MAC (or broadcast) so the NIC hands each to unic-echo. Prints
      "flood: sent N frames in S s" and exits 0 when all were sent.
  tools_flood.py udp-echo ECHO_IP
      one UDP datagram to port 7; exits 0 when the same payload comes back.

Frames are built from a few thousand scapy templates of every kind unic-echo must
survive (truncated, bad lengths and checksums, options, fragments, odd ARP, VLAN,
IPv6, random bytes, and some valid requests), each mutated at random before sending.
"""
import os
import random
import socket
import sys
import time

TEMPLATES = 3000
MIN_FRAME, MAX_FRAME = 14, 1514


def templates(rng, dst, our_ip, echo_ip):
    # scapy is imported here only: udp-echo does not need it
    from scapy.all import ARP, ICMP, IP, UDP, Dot1Q, Ether, IPv6, Raw, raw

    def src():
        mac = [rng.randrange(256) for _ in range(6)]
        if rng.random() < 0.9:
            mac[0] &= 0xFE  # mostly unicast sources; some group ones to be refused
        return ":".join("%02x" % b for b in mac)

    def eth(dst_mac=None, **kw):
        return Ether(dst=dst_mac or (dst if rng.random() < 0.9 else "ff:ff:ff:ff:ff:ff"), src=src(), **kw)

    def payload(n):
        return Raw(bytes(rng.randrange(256) for _ in range(n)))

    def odd_arp():  # a request for us with one of htype, ptype, hlen, plen wrong
        a = bytearray(raw(ARP(psrc=our_ip, pdst=echo_ip)))
        field = rng.choice([(0, 2), (2, 2), (4, 1), (5, 1)])
        a[field[0]:field[0] + field[1]] = bytes(rng.randrange(256) for _ in range(field[1]))
        return bytes(a)

    def ip(**kw):
        kw.setdefault("src", our_ip if rng.random() < 0.5 else "10.0.0.%d" % rng.randrange(256))
        kw.setdefault("dst", echo_ip if rng.random() < 0.8 else "10.0.0.%d" % rng.randrange(256))
        return IP(**kw)

    kinds = [
        lambda: eth() / payload(rng.randrange(0, 1500)),                      # random bytes
        lambda: eth("ff:ff:ff:ff:ff:ff") / ARP(op=rng.choice([1, 1, 2, 3]), psrc=our_ip,
                                                pdst=rng.choice([echo_ip, our_ip, "10.0.0.9"])),
        lambda: eth(type=0x0806) / Raw(odd_arp()),
        lambda: eth() / ip(proto=1) / ICMP(type=8) / payload(rng.randrange(0, 200)),  # valid ping
        lambda: eth() / ip(proto=1) / ICMP(type=rng.randrange(256), code=rng.randrange(3)) / payload(20),
        lambda: eth() / ip(proto=1) / ICMP(type=8, chksum=rng.randrange(65536)) / payload(30),
        lambda: eth() / ip(ihl=rng.randrange(16), version=rng.choice([4, 4, 6, 0, 15])) / ICMP() / payload(10),
        lambda: eth() / ip(len=rng.randrange(65536)) / ICMP() / payload(rng.randrange(60)),
        lambda: eth() / ip(chksum=rng.randrange(65536)) / ICMP() / payload(8),
        lambda: eth() / ip(options=b"\x01" * 4 * rng.randrange(1, 10)) / ICMP() / payload(8),
        lambda: eth() / ip(flags=rng.choice(["MF", 0]), frag=rng.randrange(8192)) / ICMP() / payload(40),
        lambda: eth() / ip(proto=rng.randrange(256)) / payload(rng.randrange(64)),
        lambda: eth() / ip() / UDP(dport=7, sport=rng.choice([7, 19, 0, 40000])) / payload(rng.randrange(100)),
        lambda: eth() / ip() / UDP(dport=rng.choice([7, 9, 53]), len=rng.randrange(65536)) / payload(20),
        lambda: eth() / ip() / UDP(dport=7, chksum=rng.randrange(65536)) / payload(20),
        lambda: eth() / Dot1Q(vlan=rng.randrange(4096)) / ip() / ICMP() / payload(10),
        lambda: eth() / IPv6() / payload(rng.randrange(100)),
        lambda: eth() / Raw(bytes([0x88, 0xCC]) + bytes(rng.randrange(256) for _ in range(40))),
    ]
    out = []
    for _ in range(TEMPLATES):
        frame = raw(rng.choice(kinds)())
        if rng.random() < 0.3:  # truncate anywhere after the Ethernet header
            frame = frame[: rng.randrange(MIN_FRAME, max(len(frame), MIN_FRAME) + 1)]
        out.append(frame[:MAX_FRAME])
    return out


def mutate(rng, frame):
    if len(frame) <= 12 or rng.random() < 0.4:
        return frame  # some go out as built: valid requests stay valid
    b = bytearray(frame)
    for _ in range(rng.randrange(1, 4)):
        b[rng.randrange(12, len(b))] = rng.randrange(256)  # never the destination MAC
    return bytes(b)


def flood(iface, dst, our_ip, echo_ip, count, rate, seed):
    rng = random.Random(seed)
    pool = templates(rng, dst, our_ip, echo_ip)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    start = time.monotonic()
    sent = 0
    burst = 64
    while sent < count:
        due = int((time.monotonic() - start) * rate)
        if due <= sent:
            time.sleep(min(burst / rate, 0.01))
            continue
        for _ in range(min(due - sent, burst, count - sent)):
            frame = mutate(rng, pool[rng.randrange(len(pool))])
            s.send(frame.ljust(MIN_FRAME, b"\0"))
            sent += 1
    elapsed = time.monotonic() - start
    print("flood: sent %d frames in %.1f s (%.0f frames/s)" % (sent, elapsed, sent / elapsed))
    return 0


def udp_echo(echo_ip):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    msg = os.urandom(32)
    for _ in range(3):
        s.sendto(msg, (echo_ip, 7))
        try:
            data, peer = s.recvfrom(2048)
        except socket.timeout:
            continue
        if data == msg and peer == (echo_ip, 7):
            print("udp-echo: reply from %s:%d matches" % peer)
            return 0
    print("udp-echo: no matching reply")
    return 1


def main(argv):
    if len(argv) >= 7 and argv[1] == "flood":
        seed = int(argv[8]) if len(argv) > 8 else 1
        return flood(argv[2], argv[3], argv[4], argv[5], int(argv[6]), float(argv[7]), seed)
    if len(argv) == 3 and argv[1] == "udp-echo":
        return udp_echo(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
