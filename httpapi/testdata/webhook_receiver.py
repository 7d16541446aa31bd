#!/usr/bin/env python3
"""An independent receiver of agentotp webhooks, standard library only.

It listens on 127.0.0.1 (a free port), prints "listening PORT", and for
every POST checks the Standard Webhooks signature with the secret given in
the environment variable WEBHOOK_SECRET (whsec_ + base64):

    expected = base64(HMAC-SHA256(base64decode(secret after "whsec_"),
                                  webhook-id + "." + webhook-timestamp + "." + body))

against each "v1,<sig>" of the webhook-signature header, in constant time
(hmac.compare_digest), with a 5-minute timestamp tolerance, and that
X-OTP-Signature carries the same value. It prints one JSON line per
delivery: {"id", "verified", "reason", "body"} and answers 204 when the
delivery verifies, 401 when it does not.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE = 300


def verify(secret, headers, body):
    if not secret.startswith("whsec_"):
        return False, "secret without whsec_ prefix"
    key = base64.b64decode(secret[len("whsec_"):])
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not msg_id or not ts or not sigs:
        return False, "missing header"
    if headers.get("X-OTP-Signature") != sigs:
        return False, "X-OTP-Signature differs from webhook-signature"
    try:
        ts_int = int(ts)
    except ValueError:
        return False, "bad timestamp"
    if abs(time.time() - ts_int) > TOLERANCE:
        return False, "timestamp outside tolerance"
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for part in sigs.split(" "):
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return True, ""
    return False, "no matching signature"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        ok, reason = verify(os.environ["WEBHOOK_SECRET"], self.headers, body)
        line = {
            "id": self.headers.get("webhook-id"),
            "verified": ok,
            "reason": reason,
            "body": body.decode("utf-8", "replace"),
        }
        print(json.dumps(line), flush=True)
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, fmt, *args):
        pass  # stdout carries the results; keep stderr quiet


def main():
    server = HTTPServer(("127.0.0.1", 0), Handler)
    print("listening %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
