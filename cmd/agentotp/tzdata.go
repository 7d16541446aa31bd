package main

// The time zone database is built in, so that policy hours in the owner's
// time zone (`agentotp owner timezone Europe/Berlin`) work on a machine
// without /usr/share/zoneinfo (a scratch container, say).
import _ "time/tzdata"
