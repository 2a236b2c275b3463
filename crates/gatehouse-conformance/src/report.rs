//! Checks, their outcomes, the printed summary and the JSON report.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::expectations::{Expectations, ExpectedOutcome};

/// How strongly the spec asks for what a check enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Level {
    /// An RFC 2119 MUST (or MUST NOT).
    #[serde(rename = "MUST")]
    Must,
    /// An RFC 2119 SHOULD (or SHOULD NOT).
    #[serde(rename = "SHOULD")]
    Should,
    /// A best current practice (RFC 9700, RFC 8725) rather than a core requirement.
    #[serde(rename = "BCP")]
    Bcp,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Must => "MUST",
            Self::Should => "SHOULD",
            Self::Bcp => "BCP",
        })
    }
}

/// One conformance check: what it enforces, and where the spec says so.
#[derive(Debug)]
pub(crate) struct Check {
    /// Stable identifier, named after the section (`rfc8414-3.3-issuer-matches`).
    pub(crate) id: &'static str,
    /// The spec and section, e.g. "RFC 8414 §3.3".
    pub(crate) section: &'static str,
    /// MUST, SHOULD or BCP.
    pub(crate) level: Level,
    /// One line: what the check asserts (and any assumption it makes).
    pub(crate) description: &'static str,
}

/// What running a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The server did what the spec asks; the evidence is the response(s) looked at.
    Pass(String),
    /// The server did not; the detail says what was sent and what came back.
    Fail(String),
    /// The check could not run; the reason says why.
    Skip(String),
}

impl Outcome {
    fn kind(&self) -> ExpectedOutcome {
        match self {
            Self::Pass(_) => ExpectedOutcome::Pass,
            Self::Fail(_) => ExpectedOutcome::Fail,
            Self::Skip(_) => ExpectedOutcome::Skip,
        }
    }

    fn detail(&self) -> &str {
        match self {
            Self::Pass(d) | Self::Fail(d) | Self::Skip(d) => d,
        }
    }
}

/// A check body's result: `Err` carries an early `Fail` or `Skip`, so `?` works in checks.
pub(crate) type Step<T> = Result<T, Outcome>;

/// A failure with `detail`.
pub(crate) fn fail(detail: impl Into<String>) -> Outcome {
    Outcome::Fail(detail.into())
}

/// A skip with `reason`.
pub(crate) fn skip(reason: impl Into<String>) -> Outcome {
    Outcome::Skip(reason.into())
}

/// `Ok(())` when `condition` holds, otherwise a failure with `detail`.
pub(crate) fn ensure(condition: bool, detail: impl FnOnce() -> String) -> Step<()> {
    if condition {
        Ok(())
    } else {
        Err(fail(detail()))
    }
}

#[derive(Debug)]
struct Recorded {
    check: &'static Check,
    outcome: Outcome,
}

/// The results of a run, in the order the checks ran.
#[derive(Debug, Default)]
pub(crate) struct Report {
    results: Vec<Recorded>,
}

impl Report {
    /// Records the outcome of `check`. A check recorded twice keeps its first outcome and the
    /// second is turned into a failure of the checker itself, so it cannot go unnoticed.
    pub(crate) fn record(&mut self, check: &'static Check, outcome: Step<Outcome>) {
        let outcome = outcome.unwrap_or_else(|o| o);
        if self.results.iter().any(|r| r.check.id == check.id) {
            self.results.push(Recorded {
                check,
                outcome: fail("internal: this check was recorded twice"),
            });
            return;
        }
        self.results.push(Recorded { check, outcome });
    }

    /// Records `check` as skipped with `reason` (a prerequisite is missing).
    pub(crate) fn skip(&mut self, check: &'static Check, reason: &str) {
        self.record(check, Ok(skip(reason)));
    }

    /// Records each of `checks` as skipped with `reason`, unless already recorded.
    pub(crate) fn skip_all(&mut self, checks: &[&'static Check], reason: &str) {
        for check in checks {
            if !self.results.iter().any(|r| r.check.id == check.id) {
                self.skip(check, reason);
            }
        }
    }

    /// Every check of the catalogue that did not run is recorded as skipped (a prerequisite
    /// failed earlier), and every recorded check missing from the catalogue as a failure of the
    /// checker, so that the expectations file can always name every check.
    pub(crate) fn complete(&mut self, catalogue: &[&'static Check]) {
        for check in catalogue {
            if !self.results.iter().any(|r| r.check.id == check.id) {
                self.skip(
                    check,
                    "not reached: a prerequisite failed earlier in the run",
                );
            }
        }
        for r in &mut self.results {
            if !catalogue.iter().any(|c| c.id == r.check.id) {
                r.outcome = fail("internal: check missing from the catalogue");
            }
        }
    }

    /// Compares every outcome with `expectations`, prints the summary, and returns it.
    pub(crate) fn summarize(&self, expectations: &Expectations) -> Summary {
        let mut summary = Summary::default();
        for r in &self.results {
            let expected = expectations.expected(r.check.id);
            let actual = r.outcome.kind();
            let matches = expected == actual;
            match actual {
                ExpectedOutcome::Pass => summary.pass += 1,
                ExpectedOutcome::Fail => summary.fail += 1,
                ExpectedOutcome::Skip => summary.skip += 1,
            }
            let label = match &r.outcome {
                Outcome::Pass(_) => "PASS",
                Outcome::Fail(_) => "FAIL",
                Outcome::Skip(_) => "SKIP",
            };
            println!(
                "{label} {} — {} ({}) — {}",
                r.check.id, r.check.section, r.check.level, r.check.description
            );
            if !matches!(r.outcome, Outcome::Pass(_)) {
                println!("     {}", r.outcome.detail());
            }
            if !matches {
                let why = expectations
                    .reason(r.check.id)
                    .map(|reason| format!(" ({reason})"))
                    .unwrap_or_default();
                println!("     UNEXPECTED: expected {expected}{why}, got {actual}");
                summary.unexpected.push(r.check.id);
            }
        }
        println!();
        println!(
            "{} checks: {} passed, {} failed, {} skipped; {} unexpected",
            self.results.len(),
            summary.pass,
            summary.fail,
            summary.skip,
            summary.unexpected.len()
        );
        if !summary.unexpected.is_empty() {
            println!("unexpected outcomes: {}", summary.unexpected.join(", "));
        }
        summary
    }

    /// The machine-readable report.
    pub(crate) fn to_json(
        &self,
        issuer: &str,
        resource: &str,
        expectations: &Expectations,
    ) -> serde_json::Value {
        let results: Vec<serde_json::Value> = self
            .results
            .iter()
            .map(|r| {
                let expected = expectations.expected(r.check.id);
                serde_json::json!({
                    "id": r.check.id,
                    "section": r.check.section,
                    "level": r.check.level,
                    "description": r.check.description,
                    "outcome": r.outcome.kind().to_string(),
                    "detail": r.outcome.detail(),
                    "expected": expected.to_string(),
                    "matches_expectation": expected == r.outcome.kind(),
                })
            })
            .collect();
        let mut totals = BTreeMap::new();
        for r in &self.results {
            *totals.entry(r.outcome.kind().to_string()).or_insert(0u32) += 1;
        }
        serde_json::json!({
            "issuer": issuer,
            "resource": resource,
            "totals": totals,
            "results": results,
        })
    }
}

/// Totals of a run, and the checks whose outcome differed from the expectation.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// Checks that passed.
    pub(crate) pass: usize,
    /// Checks that failed.
    pub(crate) fail: usize,
    /// Checks that were skipped.
    pub(crate) skip: usize,
    /// Checks whose outcome differed from the expectation (including unexpected passes).
    pub(crate) unexpected: Vec<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    static A: Check = Check {
        id: "a",
        section: "RFC 0 §0",
        level: Level::Must,
        description: "a",
    };

    #[test]
    fn a_check_recorded_twice_is_a_failure_of_the_checker() {
        let mut report = Report::default();
        report.record(&A, Ok(Outcome::Pass("x".into())));
        report.record(&A, Ok(Outcome::Pass("x".into())));
        assert!(matches!(report.results[1].outcome, Outcome::Fail(_)));
    }

    #[test]
    fn unreached_checks_are_skipped() {
        let mut report = Report::default();
        report.complete(&[&A]);
        assert!(matches!(report.results[0].outcome, Outcome::Skip(_)));
    }
}
