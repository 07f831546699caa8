//! AFL++ target: `mfarole::fuzz_targets::login` (its properties are stated there).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        mfarole::fuzz_targets::login(data);
    });
}
