// The toolchain app (Rust, Debian's rustc --target wasm32-wasi, std only), as the C one
// does the same: what a real app does with WASI, one line each, for
// tests/integration/toolchains.sh. The last argument, when a number, is the exit code.
use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("argv0={}", args[0]);
    println!("args={}", args[1..].join(","));
    println!("env={}", std::env::var("TOOLCHAIN_ENV").unwrap_or_else(|_| "unset".to_string()));
    let stat = fs::read_to_string("/static/greeting.txt")
        .map(|s| s.lines().next().unwrap_or("").to_string())
        .unwrap_or_else(|_| "none".to_string());
    println!("static={}", stat);
    match fs::read_dir("fs-tests.dir") {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            names.sort();
            println!("list={}", names.join(","));
        }
        Err(_) => println!("list=none"),
    }
    let temp = fs::write("fs-tests.dir/tmp-rust", "temp")
        .and_then(|_| fs::read_to_string("fs-tests.dir/tmp-rust"))
        .map(|s| s == "temp")
        .unwrap_or(false);
    if temp {
        println!("temp={}", if fs::remove_file("fs-tests.dir/tmp-rust").is_ok() { "ok" } else { "kept" });
    } else {
        println!("temp=refused");
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    println!("clock={}", if now > 1_600_000_000 { "ok" } else { "wrong" });
    // RandomState is seeded from WASI's random_get
    let r = RandomState::new().build_hasher().finish() | RandomState::new().build_hasher().finish();
    println!("random={}", if r != 0 { "ok" } else { "none" });
    let code = args.last().filter(|_| args.len() > 1).and_then(|a| a.parse::<i32>().ok()).unwrap_or(0);
    std::process::exit(code);
}
