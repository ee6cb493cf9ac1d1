//! `harness bench scan`: throughput of the secret scanner on generated log text.

use std::time::{Duration, Instant};

use harness::scan::{Canary, Scanner, credential_formats, password_hash_formats};
use harness::secret::Secret;

use crate::{EXIT_ENVIRONMENT, EXIT_PASS, print_error};

/// Size of the reads fed to the stream, as when reading a container log.
const CHUNK_LEN: usize = 64 * 1024;
/// Number of stored password hashes used as canaries, as in a database with that many users.
const HASH_CANARIES: usize = 1000;

/// Runs the scanner benchmark and prints one line per scanner setup.
pub fn scan(size_mib: usize, runs: usize) -> u8 {
    if size_mib == 0 || runs == 0 {
        print_error("--size-mib and --runs must be at least 1");
        return EXIT_ENVIRONMENT;
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build, which scans many times slower than a release build; \
             use `cargo run --release -p harness-cli -- bench scan` for real numbers"
        );
    }
    let data = generate_log(size_mib * 1024 * 1024);
    println!(
        "scanning {} MiB of generated JSON log lines, {runs} {} per setup, in {} KiB chunks",
        size_mib,
        if runs == 1 { "run" } else { "runs" },
        CHUNK_LEN / 1024
    );

    let role_canaries: Vec<Canary> = ["postgres", "lv_migrator", "lv_app", "lv_auditor"]
        .iter()
        .map(|role| Canary::new(format!("password of role {role}"), Secret::generate()))
        .collect();
    let hash_canaries: Vec<Canary> = (0..HASH_CANARIES)
        .map(|index| {
            Canary::new(
                format!("password hash of user {index}"),
                Secret::new(fake_argon2_hash(index as u64)),
            )
        })
        .collect();

    let mut all_formats = password_hash_formats();
    all_formats.extend(credential_formats());
    let setups = [
        (
            "leaks.credentials: 4 role canaries + credential formats",
            role_canaries.clone(),
            credential_formats(),
        ),
        (
            "leaks.password_hash: 1000 hash canaries + hash formats",
            hash_canaries.clone(),
            password_hash_formats(),
        ),
        (
            "combined: 1004 canaries + all formats",
            role_canaries.into_iter().chain(hash_canaries).collect(),
            all_formats,
        ),
    ];

    for (name, canaries, formats) in setups {
        let scanner = match Scanner::new(canaries, formats) {
            Ok(scanner) => scanner,
            Err(error) => {
                print_error(&format!(
                    "building the scanner for `{name}` failed: {error}"
                ));
                return EXIT_ENVIRONMENT;
            }
        };
        let mut times = Vec::with_capacity(runs);
        let mut findings = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let mut stream = scanner.stream("bench");
            for chunk in data.chunks(CHUNK_LEN) {
                stream.feed(chunk);
            }
            findings = stream.finish().len();
            times.push(started.elapsed());
        }
        times.sort();
        let rate = |time: Duration| data.len() as f64 / time.as_secs_f64() / 1e6;
        println!(
            "{name}: median {:.0} MB/s (min {:.0}, max {:.0}), {findings} findings",
            rate(times[times.len() / 2]),
            rate(times[times.len() - 1]),
            rate(times[0]),
        );
    }
    EXIT_PASS
}

/// Generates `len` bytes of JSON log lines like the app's, with request ids, paths, URLs and
/// near misses of the formats (the word password, `$` signs, `md5`). Every 16 MiB it adds one
/// argon2 hash, so that the confirming patterns run too.
fn generate_log(len: usize) -> Vec<u8> {
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
    let paths = [
        "/v1/users",
        "/v1/videos",
        "/v1/login",
        "/readyz",
        "/v1/localizations",
    ];
    let messages = [
        "request finished",
        "request rejected",
        "password authentication failed for user",
        "compare the md5 checksum of $2 and $argon2id$",
        "GET http://127.0.0.1:8080/readyz returned 200",
    ];
    let mut data = Vec::with_capacity(len + 512);
    let mut next_secret = 16 * 1024 * 1024;
    while data.len() < len {
        let line = format!(
            "{{\"timestamp\":\"2026-12-04T16:07:{:02}.{:06}Z\",\"level\":\"INFO\",\"message\":\"{}\",\
             \"request_id\":\"{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}\",\"path\":\"{}\",\"status\":{},\
             \"latency_ms\":{}}}\n",
            random.next() % 60,
            random.next() % 1_000_000,
            messages[(random.next() % messages.len() as u64) as usize],
            random.next() as u32,
            random.next() as u16,
            random.next() % 0x1000,
            random.next() % 0x1000,
            random.next() & 0xFFFF_FFFF_FFFF,
            paths[(random.next() % paths.len() as u64) as usize],
            [200, 201, 204, 404, 422][(random.next() % 5) as usize],
            random.next() % 500,
        );
        data.extend_from_slice(line.as_bytes());
        if data.len() >= next_secret {
            data.extend_from_slice(fake_argon2_hash(random.next()).as_bytes());
            data.push(b'\n');
            next_secret += 16 * 1024 * 1024;
        }
    }
    data.truncate(len);
    data
}

/// Builds an argon2id PHC string with pseudo-random salt and hash, unique per `seed`.
fn fake_argon2_hash(seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut random = XorShift(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
    let mut encoded = |len: usize| -> String {
        (0..len)
            .map(|_| ALPHABET[(random.next() % 64) as usize] as char)
            .collect()
    };
    let salt = encoded(22);
    let hash = encoded(43);
    format!("$argon2id$v=19$m=1024,t=1,p=1${salt}${hash}")
}

/// xorshift64, enough to make generated data varied and repeatable.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
