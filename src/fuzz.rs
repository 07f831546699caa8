//! Mutation fuzzing of everything that reads untrusted bytes: the INI parser and profile
//! resolution, the STS XML parsers, the cache entry parser, the JSON credential answers of
//! processes and endpoints, the judgement of URLs that get a secret, and the text cleaner.
//!
//! It runs as a unit test (so it reaches private functions of a binary crate) and in CI, with
//! `MFAROLE_FUZZ_ITERS` mutations per target (default 2000; `MFAROLE_FUZZ_ITERS=200000 cargo
//! test fuzz` for a long run). Seeds are under `tests/fuzz/seeds/`; an input that panics is
//! written to `tests/fuzz/crashers/` before the test fails, and every file there is replayed
//! first, so a crasher stays a regression test once it is fixed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// xorshift64*: enough randomness for mutation, and repeatable from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes that matter to the parsers, so mutations reach deep paths sooner.
const TOKENS: &[&[u8]] = &[
    b"[",
    b"]",
    b"=",
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b"#",
    b";",
    b"[profile ",
    b"source_profile = ",
    b"role_arn = arn:aws:iam::1:role/x\n",
    b"<",
    b">",
    b"</",
    b"/>",
    b"&amp;",
    b"&#x0;",
    b"<![CDATA[",
    b"<Credentials>",
    b"</Credentials>",
    b"<Expiration>",
    b"<Code>",
    b"<Error>",
    b"<Errors>",
    b"\xff",
    b"{",
    b"}",
    b"\"",
    b"\":\"",
    b"\\u0000",
    b"\"Expiration\":",
    b"\x00",
    b"\x1b[2J",
    b"expiration ",
    b"key ",
    b"mfarole-cache v1\n",
    b"\xe2\x80\xae",
    b"@",
    b"://",
    b"HTTP://",
    b"[::1]",
    b"%40",
    b"localhost.",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, rng.next() as u8),
            2 if !data.is_empty() => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, t.iter().copied());
            }
            4 => data.truncate(at),
            5 => {
                // Splice a piece of another seed in.
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len());
                let to = (from + rng.below(64)).min(other.len());
                data.splice(at..at, other[from..to].iter().copied());
            }
            _ => {
                let i = rng.below(data.len() + 1);
                let n = rng.below(32);
                data.splice(
                    i..i,
                    std::iter::repeat_n(data.get(i).copied().unwrap_or(b'a'), n),
                );
            }
        }
    }
    data
}

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz")
        .join(sub)
}

fn files(path: &Path) -> Vec<Vec<u8>> {
    let mut out: Vec<_> = std::fs::read_dir(path)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    out.sort();
    out.into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// Runs `check` on the seeds, the saved crashers of `target`, then `iters` mutations.
fn fuzz(target: &str, check: impl Fn(&[u8])) {
    let iters: usize = std::env::var("MFAROLE_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seeds = files(&dir(&format!("seeds/{target}")));
    assert!(!seeds.is_empty(), "no seeds for {target}");
    let crashers: Vec<Vec<u8>> = files(&dir("crashers"));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ target.len() as u64);
    let inputs = seeds
        .clone()
        .into_iter()
        .chain(crashers)
        .map(Some)
        .chain((0..iters).map(|_| None));
    for input in inputs {
        let data = input.unwrap_or_else(|| mutate(&mut rng, &seeds));
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            let name = format!(
                "{target}-{:016x}",
                data.iter()
                    .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b))
                        .wrapping_mul(0x100_0000_01b3))
            );
            let path = dir("crashers").join(name);
            let _ = std::fs::create_dir_all(dir("crashers"));
            let _ = std::fs::write(&path, &data);
            panic!("{target} panicked; input saved to {}", path.display());
        }
    }
}

#[test]
fn fuzz_ini_and_profiles() {
    fuzz("ini", crate::fuzz_targets::ini);
}

#[test]
fn fuzz_sts_xml() {
    fuzz("xml", crate::fuzz_targets::xml);
}

#[test]
fn fuzz_cache_entries() {
    fuzz("cache", crate::fuzz_targets::cache);
}

#[test]
fn fuzz_credential_json() {
    // The answers of credential_process, the container endpoint and instance metadata.
    fuzz("json", crate::fuzz_targets::json);
}

#[test]
fn fuzz_sso_token_files() {
    fuzz("sso", crate::fuzz_targets::sso_token);
}

#[test]
fn fuzz_url_judgement() {
    // Every URL mfarole sends a secret to: STS, the container endpoint, the SSO endpoints.
    fuzz("url", crate::fuzz_targets::url);
}

#[test]
fn fuzz_endpoint_requests() {
    fuzz("http", crate::fuzz_targets::endpoint_request);
}

#[test]
fn fuzz_token_files() {
    fuzz("token", crate::fuzz_targets::token_files);
}

#[test]
fn fuzz_login_sessions() {
    fuzz("login", crate::fuzz_targets::login);
}
