// Package agentotp holds the domain of the agentotp relay: owners, agents,
// capture sources, OTP requests and their state machine, message filters,
// sender globs, policies of approval and the audit chain.
//
// The package does no I/O. Storage, HTTP, sealing and capture live in their
// own packages (sqlite, httpapi, seal, extract, …) that depend on this one,
// never the other way round, in the style of Ben Johnson's WTF Dial.
//
// Every change of a request's status goes through [Transition]; an illegal
// transition is an [Error], never a silent write.
package agentotp
