"""What the dashboard's server adds to the compute pipeline: a memory budget
(`scatviz.server.budget`), the cost of a request before it runs (`scatviz.server.costing`),
transforms in worker processes with a time limit per job (`scatviz.server.workers`), a fair
queue across sessions (`scatviz.server.queue`) and the decoded signals the sessions hold,
counted in the budget (`scatviz.server.holdings`). Imports no view: a test or a benchmark
uses it without Panel."""
