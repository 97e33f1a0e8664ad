"""A real SMTP server for the mail tests: aiosmtpd (pinned in .ci/run) on loopback.

Each accepted mail is written to OUT_DIR as N.eml (the bytes as received) and N.json (the
envelope and the login). Recipients script the replies: a local part starting with
"tempfail" is refused with 451 twice per address, then accepted; one starting with "reject"
is refused with 550. Prints "READY" once it listens, and stops when stdin closes.
"""

import argparse
import json
import os
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Keeper:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0
        self.tempfails = {}
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: no such mailbox here" % address
        if local.startswith("tempfail"):
            with self.lock:
                seen = self.tempfails.get(address, 0) + 1
                self.tempfails[address] = seen
            if seen <= 2:
                return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.out_dir, str(n))
        login = session.auth_data.login.decode() if session.auth_data else None
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": login,
            # STARTTLS sets session.ssl; implicit TLS shows on the transport only.
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "peer": list(session.peer) if session.peer else None,
        }
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 queued as %d" % n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--mode", choices=["plain", "starttls", "tls"], default="plain")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    p.add_argument("--password")
    a = p.parse_args()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == a.user
            and auth_data.password.decode() == a.password
        )
        return AuthResult(success=ok, auth_data=auth_data)

    context = None
    if a.mode != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.cert, a.key)
    kwargs = dict(
        hostname="127.0.0.1",
        port=a.port,
        ident="aiosmtpd test server",
        authenticator=authenticator if a.user else None,
        auth_required=bool(a.user),
        # aiosmtpd knows only STARTTLS as TLS: with implicit TLS it would hide AUTH.
        auth_require_tls=a.mode == "starttls",
    )
    if a.mode == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    elif a.mode == "tls":
        kwargs.update(ssl_context=context)
    controller = Controller(Keeper(a.out), **kwargs)
    controller.start()
    print("READY", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
