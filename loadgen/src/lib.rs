//! echolab's load generator (placeholder until the loadgen issue lands).
