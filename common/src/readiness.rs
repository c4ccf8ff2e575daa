//! The readiness line read back: `listening on ADDR model=MODEL threads=N`, which every
//! server prints once it listens ([`crate::lifecycle::ready`]), parsed by whatever started
//! it (loadgen's bench, the conformance suite, [`crate::testkit`]'s `Server`).

use std::net::SocketAddr;

/// Parses `listening on ADDR model=MODEL threads=N` into ADDR.
pub fn parse_ready_line(line: &str) -> Option<SocketAddr> {
    parse(line).map(|(addr, _)| addr)
}

/// The `threads=N` of a readiness line: the server's `--threads` as it took it.
pub fn ready_threads(line: &str) -> Option<usize> {
    parse(line).map(|(_, threads)| threads)
}

fn parse(line: &str) -> Option<(SocketAddr, usize)> {
    let rest = line.trim_end().strip_prefix("listening on ")?;
    let mut parts = rest.split(' ');
    let addr = parts.next()?.parse().ok()?;
    parts.next()?.strip_prefix("model=")?;
    let threads = parts.next()?.strip_prefix("threads=")?.parse().ok()?;
    Some((addr, threads))
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
        let line = "listening on 127.0.0.1:7000 model=reactor-pool threads=2";
        assert_eq!(ready_threads(line), Some(2));
        assert_eq!(
            ready_threads("listening on 127.0.0.1:7000 model=epoll"),
            None
        );
    }
}
