"""Reads one mail (path in argv[1]) with Python's own email parser and, when a DKIM TXT record
is given (argv[2]), verifies its signature with dkimpy; prints what it found as JSON."""

import email
import email.policy
import json
import sys

raw = open(sys.argv[1], "rb").read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
plain = msg.get_body(preferencelist=("plain",))
html = msg.get_body(preferencelist=("html",))
out = {
    "headers": {k.lower(): str(v) for k, v in msg.items()},
    "content_type": msg.get_content_type(),
    "parts": [p.get_content_type() for p in msg.iter_parts()] if msg.is_multipart() else [],
    "text": plain.get_content() if plain is not None else None,
    "html": html.get_content() if html is not None else None,
    "dkim": None,
}
if len(sys.argv) > 2:
    import dkim

    record = sys.argv[2].encode()
    out["dkim"] = bool(dkim.verify(raw, dnsfunc=lambda name, timeout=5: record))
print(json.dumps(out))
