//! `harness validate --print-config`: the effective settings as a TOML document, each value
//! with its source in a comment.

use std::fmt::Write;

use super::keys::{self, ValueType};
use super::{Effective, Source};

/// Renders `effective` as TOML that could be saved as a configuration file. The text is
/// redacted, like every output of the harness.
pub fn render(effective: &Effective) -> String {
    let mut text = String::new();
    let file = match &effective.file {
        Some(path) => path.display().to_string(),
        None => "none".to_owned(),
    };
    // Writing to a String cannot fail, so the results of writeln! are ignored.
    let _ = writeln!(
        text,
        "# Effective harness configuration: each value's source follows it."
    );
    let _ = writeln!(text, "# configuration file: {file}");
    let _ = writeln!(text, "# workspace: {}", effective.workspace.display());
    let _ = writeln!(
        text,
        "preset = {}  # {}",
        keys::quoted(effective.preset.value.name()),
        describe(&effective.preset.source)
    );

    let mut table = "";
    for (setting, value) in &effective.variables {
        if setting.table != table {
            table = setting.table;
            let _ = writeln!(text, "\n[{table}]");
        }
        match value {
            Some(value) => {
                let shown = match setting.value_type {
                    ValueType::String => keys::quoted(&value.value),
                    ValueType::Integer => value.value.clone(),
                };
                let _ = writeln!(
                    text,
                    "{} = {shown}  # {}",
                    setting.key,
                    describe(&value.source)
                );
            }
            None => {
                let _ = writeln!(
                    text,
                    "{}  # default",
                    keys::default_line(setting.key, setting.variable)
                );
            }
        }
    }

    let names: Vec<&str> = if effective.only.value.is_empty() {
        scenarios::CHECKS.to_vec()
    } else {
        effective.only.value.iter().map(String::as_str).collect()
    };
    let names: Vec<String> = names.iter().map(|name| keys::quoted(name)).collect();
    let _ = writeln!(text, "\n[checks]");
    let _ = writeln!(
        text,
        "only = [{}]  # {}",
        names.join(", "),
        describe(&effective.only.source)
    );

    let _ = writeln!(text, "\n[report]");
    match &effective.report_dir {
        Some(dir) => {
            let _ = writeln!(
                text,
                "dir = {}  # {}",
                keys::quoted(&dir.value.display().to_string()),
                describe(&dir.source)
            );
        }
        None => {
            let _ = writeln!(
                text,
                "# dir is not set: target/harness/reports/<run id>/ in the workspace  # default"
            );
        }
    }
    harness::redact::redact(&text)
}

/// Describes a source for the comment after a value.
fn describe(source: &Source) -> String {
    match source {
        Source::Default => "default".to_owned(),
        Source::File { path, line } => format!("{} line {line}", path.display()),
        Source::Preset(preset) => format!("preset {preset}"),
        Source::Variable(variable) => format!("variable {variable}"),
        Source::Flag(flag) => format!("flag {flag}"),
    }
}
