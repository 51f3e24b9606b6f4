// Package mesh is the data layer of 'pmonitor serve': it reads a live
// deployment (the registry and the agents' working databases) or a
// consolidated analysis database, always read-only, and answers with what
// the dashboard and its JSON API show: the mesh of agents × targets now or
// at any moment of the samples history, counts over time, events, one
// node, one pair's RTT and loss per time bucket, the agents.
//
// Databases are named by path only on the command line: everything this
// package returns names nodes (registry names and addresses), so no file
// path reaches a client. A working database that is missing, corrupt or
// locked is reported as "unavailable" with a short reason while the others
// are served.
package mesh
