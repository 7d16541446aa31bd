#!/usr/bin/env python3
"""Send one email through an SMTP server with Python's smtplib.

Usage: send.py HOST PORT USER PASSWORD MECHANISM FROM TO FILE [--starttls CAFILE]

MECHANISM is PLAIN, LOGIN, or "none" (no AUTH). FILE holds the raw RFC 5322
message. On an SMTP refusal the script prints "REFUSED <code> <text>" and
exits 3, so a test can check the reply code a client no one here wrote got.
"""
import smtplib
import ssl
import sys


def main():
    host, port, user, password, mech, sender, rcpt, path = sys.argv[1:9]
    cafile = None
    if len(sys.argv) > 10 and sys.argv[9] == "--starttls":
        cafile = sys.argv[10]
    with open(path, "rb") as f:
        msg = f.read()
    try:
        with smtplib.SMTP(host, int(port), timeout=30) as s:
            s.ehlo("python-client.test")
            if cafile:
                ctx = ssl.create_default_context(cafile=cafile)
                s.starttls(context=ctx)
                s.ehlo("python-client.test")
            if mech == "PLAIN":
                s.user, s.password = user, password
                s.auth("PLAIN", s.auth_plain)
            elif mech == "LOGIN":
                s.user, s.password = user, password
                s.auth("LOGIN", s.auth_login)
            s.sendmail(sender, [rcpt], msg)
    except smtplib.SMTPResponseException as e:
        text = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
        print("REFUSED %d %s" % (e.smtp_code, text))
        sys.exit(3)
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        print("REFUSED %d %s" % (code, text.decode("utf-8", "replace")))
        sys.exit(3)
    print("SENT")


if __name__ == "__main__":
    main()
