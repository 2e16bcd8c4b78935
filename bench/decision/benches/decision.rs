//! `cargo bench --bench decision`: one authenticated gate decision, natively.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use sessiongate_decision_bench::Workload;

fn decision(c: &mut Criterion) {
    let workload = Workload::new();
    c.bench_function("decision", |b| {
        b.iter(|| black_box(black_box(&workload).decide()))
    });
    let bound = Workload::device_bound();
    c.bench_function("decision_device_bound", |b| {
        b.iter(|| black_box(black_box(&bound).decide()))
    });
    let signed = Workload::signed();
    c.bench_function("decision_signed", |b| {
        b.iter(|| black_box(black_box(&signed).decide()))
    });
    let apps = Workload::apps();
    c.bench_function("decision_apps", |b| {
        b.iter(|| black_box(black_box(&apps).decide()))
    });
    let policy = Workload::with_policy();
    c.bench_function("decision_policy", |b| {
        b.iter(|| black_box(black_box(&policy).decide()))
    });
}

criterion_group!(benches, decision);
criterion_main!(benches);
