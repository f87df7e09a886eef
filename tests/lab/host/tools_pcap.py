#!/usr/bin/python3
"""tools_pcap.py LOG OUTDIR SRC_MAC - host side of tools-pcap.conf.

Takes the captures the guest printed base64-encoded between "TOOLS-PCAP-BEGIN NAME" and
"TOOLS-PCAP-END NAME" in LOG, checks their md5, writes them to OUTDIR/tools-NAME, and checks:
  - tshark reads each file and counts the expected number of frames of the expected length;
  - each frame is byte-identical to what unic-pktgen builds for its flow and sequence number
    (rebuilt here from the generator's definition in apps/common/pkt.c: flow i has source
    address and UDP source port + i and numbers its own frames 0, 1, 2, ...; only the send
    time is taken from the frame), and every flow's numbers run 0, 1, 2, ... without a gap.
Prints PASS/FAIL lines; exits non-zero if any check failed.
"""
import base64
import hashlib
import os
import struct
import subprocess
import sys

# name: (frames, frame length, flows) as tools-pcap.guest sends them
CAPTURES = {"cap1.pcap": (2000, 100, 4), "cap2.pcapng": (500, 1514, 1)}
PKTGEN_PORT = 9000
SRC_IP, DST_IP = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pktgen_frame(src_mac, size, flow, seq, tx_ns):
    eth = b"\xff" * 6 + src_mac + b"\x08\x00"
    src_ip = struct.pack("!I", struct.unpack("!I", SRC_IP)[0] + flow)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, size - 14, 0, 0x4000, 64, 17, 0, src_ip, DST_IP)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    udp = struct.pack("!HHHH", PKTGEN_PORT + flow, PKTGEN_PORT, size - 34, 0)
    fill = bytes(i & 0xFF for i in range(size - 60))
    payload = struct.pack("!QQH", seq, tx_ns, 0) + fill
    payload = payload[:16] + struct.pack("!H", csum(payload)) + payload[18:]
    return eth + ip + udp + payload


def extract(log, name):
    lines, inside, md5 = [], False, None
    with open(log, "rb") as f:
        for raw in f:
            line = raw.decode("ascii", "replace").strip("\r\n")
            if line.startswith("TOOLS-PCAP-MD5 %s " % name):
                md5 = line.split()[-1]
            elif line == "TOOLS-PCAP-BEGIN " + name:
                inside = True
            elif line == "TOOLS-PCAP-END " + name:
                inside = False
            elif inside:
                lines.append(line)
    data = base64.b64decode("".join(lines))
    return data, md5


def frames(path):
    from scapy.utils import RawPcapReader  # reads pcap and pcapng

    return [bytes(data) for data, _meta in RawPcapReader(path)]


def check(name, path, count, size, flows, src_mac):
    out = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "frame.len"],
                         capture_output=True, text=True, check=False)
    lens = out.stdout.split()
    if out.returncode or len(lens) != count or any(int(n) != size for n in lens):
        return "tshark read %d frames (exit %d), wanted %d of %d bytes" % (len(lens), out.returncode, count, size)
    # Each frame must be byte for byte the one unic-pktgen sends with its flow and sequence number,
    # and every (flow, number) must be there once. Order is not required: a QEMU hub delivers a
    # frame late when the receiving NIC ran out of buffers (see tests/lab/scenarios/virtio-2proc.conf).
    # One queue: unic-pktgen sends frame k of the run as flow k % flows, number k // flows.
    seen, late = set(), 0
    for i, frame in enumerate(frames(path)):
        sport = struct.unpack("!H", frame[34:36])[0] if len(frame) >= 36 else 0
        seq, tx_ns = struct.unpack("!QQ", frame[42:58]) if len(frame) >= 58 else (count, 0)
        flow = sport - PKTGEN_PORT
        if not 0 <= flow < flows or seq * flows + flow >= count or (flow, seq) in seen:
            return "frame %d carries flow %d sequence number %d: out of range or seen before" % (i + 1, flow, seq)
        if frame != pktgen_frame(src_mac, size, flow, seq, tx_ns):
            return "frame %d differs from what unic-pktgen sends as flow %d number %d" % (i + 1, flow, seq)
        late += seq * flows + flow != i
        seen.add((flow, seq))
    if late:
        print("host: %s: %d frames captured out of sending order (QEMU hub), all present" % (name, late))
    return None


def main(log, outdir, src):
    src_mac = bytes.fromhex(src.replace(":", ""))
    fails = 0
    for name, (count, size, flows) in CAPTURES.items():
        data, md5 = extract(log, name)
        path = os.path.join(outdir, "tools-" + name)
        with open(path, "wb") as f:
            f.write(data)
        why = None
        if not data or hashlib.md5(data).hexdigest() != md5:
            why = "did not come back intact over the console"
        else:
            why = check(name, path, count, size, flows, src_mac)
        if why:
            print("FAIL pcap-file-%s: %s" % (name, why))
            fails += 1
        else:
            print("PASS pcap-file-%s: tshark reads %d frames of %d bytes, each byte-identical to unic-pktgen's"
                  % (name, count, size))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
