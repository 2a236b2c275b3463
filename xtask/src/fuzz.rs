//! `cargo xtask fuzz`: every cargo-fuzz target, on the stable toolchain.
//!
//! cargo-fuzz needs nightly-only `-Z` flags; `RUSTC_BOOTSTRAP=1` lets the stable compiler accept
//! them, which is what this machine and CI have. Seeds from the RFC examples live in
//! `fuzz/seeds/TARGET/` (committed); libFuzzer writes what it discovers to `fuzz/corpus/TARGET/`
//! (ignored by git). Inputs that once crashed a target live in `fuzz/regressions/TARGET/` and are
//! replayed before every run, so a fixed crash stays fixed.

use std::path::Path;
use std::process::Command;

use crate::{cargo, step, workspace_root};

struct Options {
    seconds: u64,
    target: Option<String>,
    build_only: bool,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        seconds: 60,
        target: None,
        build_only: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--time" => {
                let value = args.next().ok_or("--time needs a number of seconds")?;
                options.seconds = value
                    .parse()
                    .map_err(|_| format!("--time: not a number of seconds: {value}"))?;
            }
            "--target" => {
                options.target = Some(args.next().ok_or("--target needs a name")?.clone());
            }
            "--build-only" => options.build_only = true,
            other => return Err(format!("fuzz: unknown argument {other}")),
        }
    }
    Ok(options)
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let options = parse_options(args)?;
    let root = workspace_root();
    let fuzz_dir = root.join("fuzz");
    ensure_cargo_fuzz(&root)?;

    let targets = list_targets(&fuzz_dir)?;
    let selected: Vec<&String> = match &options.target {
        Some(name) if targets.contains(name) => targets.iter().filter(|t| *t == name).collect(),
        Some(name) => {
            return Err(format!(
                "no fuzz target {name}; targets: {}",
                targets.join(", ")
            ));
        }
        None => targets.iter().collect(),
    };

    step("cargo fuzz build", fuzz_command(&fuzz_dir, &["build"]))?;
    if options.build_only {
        return Ok(());
    }
    for target in selected {
        replay_regressions(&fuzz_dir, target)?;
        run_target(&fuzz_dir, target, options.seconds)?;
    }
    println!("xtask fuzz: every target ran without a crash");
    Ok(())
}

fn ensure_cargo_fuzz(root: &Path) -> Result<(), String> {
    let installed = cargo(root, &["fuzz", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if installed {
        return Ok(());
    }
    step(
        "cargo install cargo-fuzz --locked",
        cargo(root, &["install", "cargo-fuzz", "--locked"]),
    )
}

fn fuzz_command(fuzz_dir: &Path, args: &[&str]) -> Command {
    let mut command = cargo(fuzz_dir, &["fuzz"]);
    command.args(args).env("RUSTC_BOOTSTRAP", "1");
    command
}

fn list_targets(fuzz_dir: &Path) -> Result<Vec<String>, String> {
    let output = fuzz_command(fuzz_dir, &["list"])
        .output()
        .map_err(|e| format!("cargo fuzz list: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo fuzz list failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

fn replay_regressions(fuzz_dir: &Path, target: &str) -> Result<(), String> {
    let dir = fuzz_dir.join("regressions").join(target);
    if !dir.is_dir() {
        return Ok(());
    }
    let dir = dir.to_string_lossy().into_owned();
    step(
        &format!("replay regressions of {target}"),
        fuzz_command(fuzz_dir, &["run", target, &dir, "--", "-runs=0"]),
    )
}

fn run_target(fuzz_dir: &Path, target: &str, seconds: u64) -> Result<(), String> {
    let corpus = fuzz_dir.join("corpus").join(target);
    let seeds = fuzz_dir.join("seeds").join(target);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let corpus = corpus.to_string_lossy().into_owned();
    let seeds = seeds.to_string_lossy().into_owned();
    let mut args = vec!["run", target, corpus.as_str()];
    if Path::new(&seeds).is_dir() {
        args.push(&seeds);
    }
    let time = format!("-max_total_time={seconds}");
    args.extend(["--", &time, "-rss_limit_mb=2048", "-max_len=8192"]);
    let result = step(
        &format!("fuzz {target} for {seconds}s"),
        fuzz_command(fuzz_dir, &args),
    );
    if result.is_err() {
        save_crashes(fuzz_dir, target);
    }
    result
}

/// Minimizes each crash libFuzzer left and saves it where every later run replays it.
fn save_crashes(fuzz_dir: &Path, target: &str) {
    let artifacts = fuzz_dir.join("artifacts").join(target);
    let Ok(entries) = std::fs::read_dir(&artifacts) else {
        return;
    };
    let regressions = fuzz_dir.join("regressions").join(target);
    if std::fs::create_dir_all(&regressions).is_err() {
        return;
    }
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("crash-") || name.starts_with("oom-") || name.starts_with("timeout-"))
        {
            continue;
        }
        let path_str = path.to_string_lossy().into_owned();
        let _ = step(
            &format!("minimize {name}"),
            fuzz_command(fuzz_dir, &["tmin", target, &path_str]),
        );
        // tmin writes `minimized-from-*` beside the crash; keep the smallest we have.
        let minimized = std::fs::read_dir(&artifacts)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("minimized-from-"))
            })
            .min_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(u64::MAX));
        let source = minimized.unwrap_or(path);
        let dest = regressions.join(&name);
        if std::fs::copy(&source, &dest).is_ok() {
            eprintln!(
                "saved {} as a regression input: {} (commit it with the fix)",
                name,
                dest.display()
            );
        }
    }
}
