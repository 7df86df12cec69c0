"""What the dashboard's server adds to the compute pipeline: a memory budget
(`scatviz.server.budget`), the cost of a request before it runs (`scatviz.server.costing`),
transforms in worker processes (`scatviz.server.workers`) and a fair queue across sessions
(`scatviz.server.queue`). Imports no view: a test or a benchmark uses it without Panel."""
