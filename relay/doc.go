// Package relay is the application service of agentotp: it authenticates
// callers, runs the request lifecycle over an agentotp.Store, matches
// captured messages to requests, extracts and seals codes, expires requests
// and wakes waiting callers. The HTTP API, the CLI and capture connectors
// all go through it.
package relay
