//! `gatehouse resources check`: each gateway upstream's tools against its `tool_scopes`
//! (`gatehouse_axum::drift`). Exit 0 when they agree, 1 on drift, 2 when an upstream cannot be
//! listed.

use gatehouse_axum::drift::ToolReport;
use gatehouse_types::untrusted::log_safe;

use crate::error::CliError;
use crate::serve::runtime;
use crate::users::Target;

/// Arguments of `gatehouse resources check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// One JSON object a line per resource: resource, upstream, tools (name → scope or null),
    /// unmapped, stale, unmapped_tools, drifted (or error).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

pub(crate) fn check(args: &CheckArgs) -> Result<(), CliError> {
    let config = args.target.config()?;
    let reports = runtime()?.block_on(gatehouse_axum::drift::check(&config));
    if reports.is_empty() {
        eprintln!("no resource with an upstream: nothing to check");
        return Ok(());
    }
    let mut out = String::new();
    let mut drifted = Vec::new();
    let mut unreachable = Vec::new();
    for (resource, report) in &reports {
        match report {
            Ok(report) => {
                if report.drifted() {
                    drifted.push(resource.clone());
                }
                if args.json {
                    let mut line = serde_json::to_value(report).unwrap_or_default();
                    if let Some(fields) = line.as_object_mut() {
                        fields.insert("unmapped".into(), report.unmapped().collect());
                        fields.insert("drifted".into(), report.drifted().into());
                    }
                    out.push_str(&line.to_string());
                    out.push('\n');
                } else {
                    out.push_str(&text(report));
                }
            }
            Err(error) => {
                unreachable.push(resource.clone());
                if args.json {
                    let line =
                        serde_json::json!({"resource": resource, "error": error.to_string()});
                    out.push_str(&line.to_string());
                    out.push('\n');
                } else {
                    out.push_str(&format!(
                        "{resource}\n  cannot list the upstream's tools: {error}\n\n"
                    ));
                }
            }
        }
    }
    crate::output::stdout(out.as_bytes())?;
    if !unreachable.is_empty() {
        return Err(CliError::Io(format!(
            "the tools of {} could not be listed",
            unreachable.join(", ")
        )));
    }
    if !drifted.is_empty() {
        return Err(CliError::Invalid {
            message: format!("drift: {}", drifted.join(", ")),
            hints: vec![
                "give each unmapped tool a scope in [resources.tool_scopes], and remove the entries of tools the upstream no longer offers".into(),
            ],
        });
    }
    Ok(())
}

/// One resource for a person: each tool with its scope, then what is stale.
fn text(report: &ToolReport) -> String {
    let closed = report.unmapped_tools == "deny";
    let mut out = format!(
        "{} <- {} (unmapped_tools = \"{}\")\n",
        report.resource, report.upstream, report.unmapped_tools
    );
    for (tool, scope) in &report.tools {
        let scope = match scope {
            Some(scope) => scope.clone(),
            None if closed => "(unmapped: closed to every caller)".into(),
            None => "(unmapped: open to every caller the resource admits)".into(),
        };
        out.push_str(&format!("  {:<24} {scope}\n", log_safe(tool)));
    }
    for tool in &report.stale {
        out.push_str(&format!(
            "  {:<24} (in tool_scopes, not offered upstream)\n",
            log_safe(tool)
        ));
    }
    out.push_str(if report.drifted() {
        "  drift\n\n"
    } else {
        "  in agreement\n\n"
    });
    out
}
