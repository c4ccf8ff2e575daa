//! Where load may go: the target host and the source addresses, each checked to be loopback
//! (127.0.0.0/8, ::1). Anything else is refused before a socket is opened.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use crate::plan::error::{PlanError, range_err};

/// True for 127.0.0.0/8 and ::1 (and IPv4-mapped loopback).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback()),
    }
}

/// Resolves `host` to one loopback address, IPv4 first. Any non-loopback answer is refused.
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr, PlanError> {
    if port == 0 {
        return Err(range_err("--port", 0, "1 to 65535"));
    }
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => (host, port)
            .to_socket_addrs()
            .map_err(|e| PlanError::Resolve {
                host: host.into(),
                reason: e.to_string(),
            })?
            .collect(),
    };
    if let Some(bad) = addrs.iter().find(|a| !is_loopback(a.ip())) {
        return Err(PlanError::NotLoopback {
            what: "--host",
            addr: format!("{host} ({})", bad.ip()),
        });
    }
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| PlanError::Resolve {
            host: host.into(),
            reason: "no address".into(),
        })
}

/// Parses `127.0.0.1-127.0.0.8` or `127.0.0.1,127.0.0.2,::1`; every address must be loopback.
pub fn parse_source_addrs(s: &str) -> Result<Vec<IpAddr>, PlanError> {
    let bad = |what: &str| range_err("--source-addrs", s, what);
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        if let Some((a, b)) = item.split_once('-') {
            let a: Ipv4Addr = a.trim().parse().map_err(|_| bad("an IPv4 range A-B"))?;
            let b: Ipv4Addr = b.trim().parse().map_err(|_| bad("an IPv4 range A-B"))?;
            for ip in [a, b] {
                if !ip.is_loopback() {
                    return Err(PlanError::NotLoopback {
                        what: "--source-addrs",
                        addr: ip.to_string(),
                    });
                }
            }
            let (a, b) = (u32::from(a), u32::from(b));
            if a > b || b - a >= 4096 {
                return Err(bad("a range of 1 to 4096 addresses, low to high"));
            }
            out.extend((a..=b).map(|n| IpAddr::V4(Ipv4Addr::from(n))));
        } else {
            let ip: IpAddr = item.parse().map_err(|_| bad("IP addresses"))?;
            if !is_loopback(ip) {
                return Err(PlanError::NotLoopback {
                    what: "--source-addrs",
                    addr: ip.to_string(),
                });
            }
            out.push(ip);
        }
    }
    if out.is_empty() || out.len() > 4096 {
        return Err(bad("1 to 4096 loopback addresses"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_addr_ranges() {
        let v = parse_source_addrs("127.0.0.1-127.0.0.8").unwrap();
        assert_eq!(v.len(), 8);
        assert_eq!(v[7], "127.0.0.8".parse::<IpAddr>().unwrap());
        assert_eq!(parse_source_addrs("127.0.0.1,127.0.0.3").unwrap().len(), 2);
        assert!(matches!(
            parse_source_addrs("192.168.1.1"),
            Err(PlanError::NotLoopback { .. })
        ));
        assert!(parse_source_addrs("127.0.0.9-127.0.0.1").is_err());
        assert!(parse_source_addrs("").is_err());
    }

    #[test]
    fn hosts_resolve_to_loopback_only() {
        assert!(resolve("127.0.0.1", 7000).is_ok());
        assert!(resolve("::1", 7000).is_ok());
        assert!(matches!(
            resolve("10.0.0.1", 7000),
            Err(PlanError::NotLoopback { .. })
        ));
        assert!(resolve("127.0.0.1", 0).is_err());
    }
}
