"""The independent peer for the interop test: pyiso8583 (4.0.1) with its specs.default.

Reads {"decode": [hex, ...], "encode": [{"t": mti, "fields": {number: value}}, ...]} on stdin and
writes {"decoded": [{number: value}, ...], "encoded": [hex, ...], "version": ...} on stdout.
Binary fields travel as upper-case hex, as pyiso8583 represents them.
"""
import json
import sys

import iso8583
from iso8583.specs import default


def main():
    request = json.load(sys.stdin)
    decoded = []
    for hex_message in request["decode"]:
        doc, _ = iso8583.decode(bytes.fromhex(hex_message), default)
        decoded.append({k: v for k, v in doc.items() if k not in ("p", "1", "h")})
    encoded = []
    for message in request["encode"]:
        doc = {"t": message["t"]}
        doc.update(message["fields"])
        raw, _ = iso8583.encode(doc, default)
        encoded.append(bytes(raw).hex().upper())
    json.dump({"decoded": decoded, "encoded": encoded, "version": iso8583.__version__}, sys.stdout)


if __name__ == "__main__":
    main()
