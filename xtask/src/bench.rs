//! `cargo xtask bench`: runs the JOSE and engine benchmarks and prints medians with the ratios
//! that matter, measured in the same run so that a noisy machine moves both sides of each ratio
//! together.

use std::path::Path;

use crate::{cargo, step, workspace_root};

/// (group, numerator, denominator, what the ratio means)
const RATIOS: &[(&str, &str, &str, &str)] = &[
    (
        "verify",
        "gatehouse-jws",
        "raw",
        "JWS verify / raw primitive",
    ),
    (
        "verify",
        "gatehouse-at",
        "raw",
        "access-token validate / raw primitive",
    ),
    (
        "verify",
        "gatehouse-at",
        "jsonwebtoken",
        "access-token validate / jsonwebtoken decode",
    ),
    (
        "verify",
        "raw",
        "raw-prev-gen",
        "raw primitive / previous RustCrypto generation",
    ),
    (
        "sign",
        "gatehouse-at",
        "raw",
        "access-token sign / raw primitive",
    ),
    (
        "sign",
        "gatehouse-at",
        "jsonwebtoken",
        "access-token sign / jsonwebtoken encode",
    ),
];

const ALGORITHMS: &[&str] = &["ES256", "EdDSA", "RS256", "PS256"];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let root = workspace_root();
    if args.iter().any(|a| a == "--instructions") {
        return instructions(&root);
    }
    if !args.iter().any(|a| a == "--report-only") {
        for (package, bench) in [("gatehouse-jose", "jws"), ("gatehouse-engine", "engine")] {
            step(
                &format!("cargo bench -p {package} --bench {bench}"),
                cargo(
                    &root,
                    &["bench", "-p", package, "--bench", bench, "--", "--noplot"],
                ),
            )?;
        }
    }
    report(&crate::target_dir(&root).join("criterion"))
}

/// The median of one benchmark, in microseconds, from criterion's `estimates.json`.
fn median_us(criterion: &Path, group: &str, alg: &str, name: &str) -> Option<f64> {
    let path = criterion
        .join(format!("{group}_{alg}"))
        .join(name)
        .join("new")
        .join("estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(value.get("median")?.get("point_estimate")?.as_f64()? / 1000.0)
}

fn report(criterion: &Path) -> Result<(), String> {
    println!("| algorithm | benchmark | median |");
    println!("|---|---|---|");
    for alg in ALGORITHMS {
        for group in ["verify", "sign"] {
            for name in [
                "raw",
                "raw-prev-gen",
                "gatehouse-jws",
                "gatehouse-at",
                "jsonwebtoken",
            ] {
                if let Some(us) = median_us(criterion, group, alg, name) {
                    println!("| {alg} | {group}/{name} | {us:.1} µs |");
                }
            }
        }
    }
    println!();
    println!("| algorithm | ratio | value |");
    println!("|---|---|---|");
    let mut found = false;
    for alg in ALGORITHMS {
        for (group, top, bottom, meaning) in RATIOS {
            let (Some(a), Some(b)) = (
                median_us(criterion, group, alg, top),
                median_us(criterion, group, alg, bottom),
            ) else {
                continue;
            };
            found = true;
            println!("| {alg} | {meaning} | {:.3} |", a / b);
        }
    }
    println!();
    println!("| algorithm | engine operation | median | signing share |");
    println!("|---|---|---|---|");
    for alg in ["ES256", "EdDSA"] {
        let sign = median_us(criterion, "engine", alg, "sign-only");
        for op in ["redeem", "refresh"] {
            if let Some(us) = median_us(criterion, "engine", alg, op) {
                found = true;
                let share = sign.map_or("n/a".to_owned(), |s| format!("{:.0} %", 100.0 * s / us));
                println!("| {alg} | {op} | {us:.1} µs | {share} |");
            }
        }
    }
    if found {
        Ok(())
    } else {
        Err("no benchmark results under target/criterion; run without --report-only".into())
    }
}

/// Instructions per verification under valgrind's callgrind: the difference between a run of
/// 25 and a run of 5 operations, divided by 20, so that start-up and key setup cancel out.
/// Unlike time, the count does not move with the machine's load.
fn instructions(root: &Path) -> Result<(), String> {
    for (package, example) in [
        ("gatehouse-jose", "verify_cost"),
        ("gatehouse-engine", "engine_cost"),
        ("gatehouse-guard", "guard_cost"),
    ] {
        step(
            &format!("cargo build --release -p {package} --example {example}"),
            cargo(
                root,
                &["build", "--release", "-p", package, "--example", example],
            ),
        )?;
    }
    let examples = crate::target_dir(root).join("release").join("examples");
    let count = |program: &str, alg: &str, mode: &str, n: u64| -> Result<u64, String> {
        let output = std::process::Command::new("valgrind")
            .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
            .arg(examples.join(program))
            .args([alg, mode, &n.to_string()])
            .output()
            .map_err(|e| format!("valgrind: {e} (apt-get install valgrind)"))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(format!("{program} {alg} {mode} failed: {stderr}"));
        }
        stderr
            .lines()
            .find_map(|line| line.split("Collected : ").nth(1))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("no instruction count for {program} {alg} {mode}: {stderr}"))
    };
    let per_op = |program: &str, alg: &str, mode: &str| -> Result<f64, String> {
        let few = count(program, alg, mode, 5)?;
        let many = count(program, alg, mode, 25)?;
        Ok(many.saturating_sub(few) as f64 / 20.0)
    };
    println!(
        "| algorithm | raw primitive | JWS verify | access-token validate | jsonwebtoken decode | JWS / raw | validate / raw | validate / jsonwebtoken |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for alg in ALGORITHMS {
        let raw = per_op("verify_cost", alg, "raw")?;
        let jws = per_op("verify_cost", alg, "jws")?;
        let at = per_op("verify_cost", alg, "at")?;
        let jwt = per_op("verify_cost", alg, "jsonwebtoken")?;
        println!(
            "| {alg} | {raw:.0} | {jws:.0} | {at:.0} | {jwt:.0} | {:.3} | {:.3} | {:.3} |",
            jws / raw,
            at / raw,
            at / jwt
        );
    }
    println!();
    println!(
        "| algorithm | redeem (engine) | refresh (engine) | signing alone | signing share of redeem | of refresh |"
    );
    println!("|---|---|---|---|---|---|");
    for alg in ["ES256", "EdDSA"] {
        let approve = per_op("engine_cost", alg, "approve")?;
        let redeem = per_op("engine_cost", alg, "redeem")? - approve;
        let refresh = per_op("engine_cost", alg, "refresh")?;
        let sign = per_op("engine_cost", alg, "sign")?;
        println!(
            "| {alg} | {redeem:.0} | {refresh:.0} | {sign:.0} | {:.0} % | {:.0} % |",
            100.0 * sign / redeem,
            100.0 * sign / refresh
        );
    }
    println!();
    println!(
        "| algorithm | guard, warm (cache hit) | guard, cold (verify) | cold / access-token validate |"
    );
    println!("|---|---|---|---|");
    for alg in ["ES256", "EdDSA"] {
        let warm = per_op("guard_cost", alg, "warm")?;
        let cold = per_op("guard_cost", alg, "cold")?;
        let at = per_op("verify_cost", alg, "at")?;
        println!("| {alg} | {warm:.0} | {cold:.0} | {:.3} |", cold / at);
    }
    Ok(())
}
