//! How many connections one process holds, and how a point's connections spread: over
//! server processes (`--server-procs`, SO_REUSEPORT), over loadgen processes (`--procs`)
//! and over loopback source addresses (`--source-addrs`).

use crate::opts::LoadArgs;

/// Most connections one loadgen process (and one server process) may hold: the open-file
/// limit here is 20000, less a margin for the process's own descriptors.
pub const MAX_CONNS: u64 = 19_900;

/// Connections given to one loopback source address towards one server port. About 28k
/// ports are free for it, but Linux hands out the even ones first and, once those (about
/// 14k) are taken, scans them all on every connect(): measured here, 20 us per connect below
/// 14k connections and 1.2-1.6 ms above. Staying under the even half keeps connect cheap.
pub const CONNS_PER_SOURCE: u64 = 12_000;

/// Most server processes `--server-procs` may ask for.
pub const MAX_SERVER_PROCS: u32 = 16;

/// SO_REUSEPORT spreads connections by a hash, not evenly: plan for the busiest process to
/// get this much more than its share.
const SPREAD_MARGIN: f64 = 1.03;

/// Server processes for a point of `conns` connections: one while one process can hold
/// them, all `procs` beyond (the check has made sure that they suffice).
pub fn server_procs_for(conns: u64, procs: u32) -> u32 {
    if conns <= MAX_CONNS { 1 } else { procs }
}

/// Whether `procs` server processes can hold `conns` connections, with the hash's margin.
pub fn procs_suffice(conns: u64, procs: u32) -> bool {
    conns <= MAX_CONNS || (conns as f64 * SPREAD_MARGIN / f64::from(procs)) <= MAX_CONNS as f64
}

/// The fewest server processes that hold `conns` connections.
pub fn procs_needed(conns: u64) -> u32 {
    (1..=MAX_SERVER_PROCS)
        .find(|&p| procs_suffice(conns, p))
        .unwrap_or(MAX_SERVER_PROCS)
}

/// Spreads `conns` connections over enough loadgen processes (`--procs`) and loopback
/// source addresses (`--source-addrs`) in `args`; leaves them alone while one process and
/// one address suffice.
pub fn client_spread(conns: u64, args: &mut LoadArgs) {
    if conns > MAX_CONNS {
        args.procs = conns.div_ceil(MAX_CONNS - 900) as usize;
    }
    if conns > CONNS_PER_SOURCE {
        let last = conns.div_ceil(CONNS_PER_SOURCE);
        args.source_addrs = Some(format!("127.0.0.1-127.0.0.{last}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_points_get_more_processes_and_addresses() {
        assert_eq!(server_procs_for(19_900, 4), 1);
        assert_eq!(server_procs_for(60_000, 4), 4);
        assert_eq!(procs_needed(19_900), 1);
        assert_eq!(procs_needed(60_000), 4);
        let spread = |conns| {
            let mut a = LoadArgs::default();
            client_spread(conns, &mut a);
            (a.procs, a.source_addrs)
        };
        assert_eq!(spread(12_000), (1, None));
        assert_eq!(spread(60_000), (4, Some("127.0.0.1-127.0.0.5".into())));
        assert_eq!(spread(19_900), (1, Some("127.0.0.1-127.0.0.2".into())));
    }
}
