"""``make review BASE=<rev>``: the infrastructure diff a pull-request reviewer needs, offline, security first."""
