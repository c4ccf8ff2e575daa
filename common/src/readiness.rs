//! The readiness line read back: `listening on ADDR model=MODEL threads=N`, which every
//! server prints once it listens ([`crate::lifecycle::ready`]), parsed by whatever started
//! it (loadgen's bench, the conformance suite, [`crate::testkit`]'s `Server`).

use std::net::SocketAddr;

/// Parses `listening on ADDR model=MODEL threads=N` into ADDR.
pub fn parse_ready_line(line: &str) -> Option<SocketAddr> {
    let rest = line.trim_end().strip_prefix("listening on ")?;
    let mut parts = rest.split(' ');
    let addr = parts.next()?.parse().ok()?;
    parts.next()?.strip_prefix("model=")?;
    parts
        .next()?
        .strip_prefix("threads=")?
        .parse::<usize>()
        .ok()?;
    Some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_parses() {
        let addr = parse_ready_line("listening on 127.0.0.1:7000 model=epoll threads=1\n");
        assert_eq!(addr, Some("127.0.0.1:7000".parse().unwrap()));
        assert_eq!(parse_ready_line("listening on 127.0.0.1:7000"), None);
        assert_eq!(parse_ready_line("hello"), None);
    }
}
