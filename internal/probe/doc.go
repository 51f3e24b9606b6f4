// Package probe is pmonitor's ICMP echo engine: one Engine sends probes to
// many targets over one socket per address family and matches the replies.
//
// # Design
//
// An Engine owns at most one IPv4 and one IPv6 ICMP socket, raw when the
// process has CAP_NET_RAW, datagram ("ping" sockets, governed by the
// per-namespace sysctl net.ipv4.ping_group_range) otherwise. Each socket has
// one receiver goroutine that reads replies in batches (recvmmsg); one sender
// goroutine drains the queue filled by Send and paces it by Config.Gap; one
// timer goroutine expires probes from a single deadline heap. No goroutine is
// created per probe, so hundreds of thousands of probes may be in flight.
//
// Every echo request carries the engine's identifier, a sequence number and,
// in its payload, a random per-engine token followed by a per-probe 64-bit
// key (slot index and generation of the pending table). A reply is accepted
// only when all of them match a pending probe and it comes from the probed
// address, so replies meant for other processes (another agent, ping -f) are
// counted as foreign and never confused with ours. Replies that arrive after
// the deadline are counted as late, never as successes; repeated replies are
// counted as duplicates. ICMP errors (destination unreachable, time
// exceeded, parameter problem) are matched through the original datagram
// they quote and end the probe at once.
//
// The socket opener (PacketListener) and the clock (Config.Now) are
// injectable, so the matching logic is tested without privileges. The
// engine is Linux-only: it relies on ICMP_FILTER, recvmmsg, IP_RECVERR and
// setns(2).
package probe
