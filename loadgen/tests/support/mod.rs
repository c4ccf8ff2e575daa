//! Test support: drive the library with flags, and small misbehaving servers on std::net.

#![allow(dead_code)] // each test file uses a different part

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::Parser;
use loadgen::{Opts, RunReport};

/// Runs loadgen (the library) with these flags against `addr`; returns its report and text.
pub fn run_at(addr: SocketAddr, args: &[&str]) -> (RunReport, String) {
    let port = addr.port().to_string();
    let host = addr.ip().to_string();
    let mut argv = vec!["loadgen", "--host", &host, "--port", &port];
    argv.extend_from_slice(args);
    let mut out = Vec::new();
    let outcome = loadgen::run_to(Opts::parse_from(argv), &mut out, false).expect("run");
    (
        outcome.into_report().expect("a load run's report"),
        String::from_utf8(out).expect("utf-8 report"),
    )
}

/// A port on which nothing listens (bound, then closed).
pub fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// What one fake-server connection does with its socket.
pub type Behaviour = fn(TcpStream, &Log);

/// What fake servers saw: (first byte received, when, peer address) per connection.
#[derive(Default, Clone)]
pub struct Log(pub Arc<Mutex<Vec<(u8, Instant, SocketAddr)>>>);

/// Starts a fake server on 127.0.0.1:0: one thread per connection runs `behaviour`. The
/// threads live until the test process ends.
pub fn fake_server(behaviour: Behaviour) -> (SocketAddr, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Log::default();
    let l2 = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let log = l2.clone();
            std::thread::spawn(move || behaviour(stream, &log));
        }
    });
    (addr, log)
}

/// Echoes, but flips the first byte of every chunk.
pub fn wrong_bytes(mut s: TcpStream, _: &Log) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            return;
        }
        buf[0] ^= 0xff;
        if s.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Echoes one 64-byte message, then closes the connection.
pub fn one_reply_then_close(mut s: TcpStream, _: &Log) {
    let mut buf = [0u8; 64];
    if s.read_exact(&mut buf).is_ok() {
        let _ = s.write_all(&buf);
    }
}

/// Reads until the client shuts down its side, then echoes it all: a client that does
/// not half-close waits on it until its timeout.
pub fn echo_after_eof(mut s: TcpStream, _: &Log) {
    let mut got = Vec::new();
    if s.read_to_end(&mut got).is_ok() {
        let _ = s.write_all(&got);
    }
}

/// Reads and never replies (a hung server), until the client goes away.
pub fn never_reply(mut s: TcpStream, _: &Log) {
    let mut buf = [0u8; 4096];
    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
}

/// Logs the first byte (the user's payload offset) and the peer, then echoes.
pub fn logging_echo(mut s: TcpStream, log: &Log) {
    let mut buf = [0u8; 4096];
    let peer = s.peer_addr().unwrap();
    let mut first = true;
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            return;
        }
        if first {
            log.0.lock().unwrap().push((buf[0], Instant::now(), peer));
            first = false;
        }
        if s.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}
