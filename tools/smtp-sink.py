#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd): accepts every message on 127.0.0.1 and appends
it to a file as one JSON line {"to": [...], "from": ..., "subject": ..., "body": ...}. Prints
"listening on PORT" once ready; runs until killed."""
import argparse
import asyncio
import email
import email.policy
import json
import socket

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, path):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": str(message["subject"]),
            "body": body.get_content() if body else "",
        }
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    port = free_port()
    controller = Controller(Sink(args.out), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"listening on {port}", flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
