// Package imap reads IMAP mailboxes and hands each new message, raw, to
// whoever waits for it.
//
// A [Watcher] reads one mailbox for a [Handler]. It
//
//   - dials with implicit TLS, STARTTLS, or (to a loopback address only,
//     checked again at connect time) in the clear, logs in, and opens the
//     mailbox read-only (EXAMINE) unless mark-as-read was asked for;
//   - reads only messages with a UID above its cursor that arrived after
//     the time the handler gives (UID SEARCH … SINCE, then INTERNALDATE),
//     fetching bodies with BODY.PEEK[] so that no flag changes, and skips
//     messages over Config.MaxMessageSize without fetching them;
//   - waits in IDLE where the server offers it, ending and re-issuing the
//     IDLE every Config.IdleRestart (20 minutes, well before the 29 after
//     which RFC 2177 lets a server drop it), with a NOOP in between as a
//     keepalive; without IDLE it polls (NOOP, then a search);
//   - hands the cursor (UIDVALIDITY and the last UID handled) to the
//     handler after every message it handed over, so that a restart
//     neither re-reads nor skips mail;
//   - reconnects with exponential backoff after BYE, a dead connection
//     (TCP keepalive, and a deadline on every command) or any error, and
//     reports its state and last error, never holding the password in
//     either.
//
// A [Manager] runs the relay's watchers: one per email source that has
// IMAP settings, but only while a live request of the source's owner can
// still be fed by an email. It is a notifier of the relay service, so
// request changes wake it, and it re-reads the settings every few seconds.
// Its handler gives each raw message to the relay's one way in for email
// (Relay.IngestSourceMail), and keeps cursor and status in its Store,
// where the owner API shows them. Edge capture (`agentotp capture --imap`) runs a Watcher with a
// handler of its own that seals codes on the owner's machine.
package imap
