//! `cargo run --release --example count -- KIND N`: N decisions of one
//! workload (`plain`, `signed`, `apps`, `policy`, `device_bound`), for an
//! instruction count under `valgrind --tool=cachegrind`, which the
//! machine's noise does not move (bench/RESULTS.md).

use std::hint::black_box;

use sessiongate_decision_bench::Workload;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u32>().ok()))
    else {
        eprintln!("usage: count KIND N");
        std::process::exit(2);
    };
    let workload = match kind.as_str() {
        "plain" => Workload::new(),
        "signed" => Workload::signed(),
        "apps" => Workload::apps(),
        "policy" => Workload::with_policy(),
        "device_bound" => Workload::device_bound(),
        other => {
            eprintln!("unknown workload {other}");
            std::process::exit(2);
        }
    };
    let total: usize = (0..n).map(|_| black_box(&workload).decide()).sum();
    println!("{kind}: {n} decisions, {total} bytes of assertions");
}
