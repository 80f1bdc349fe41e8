//! What the README and docs/ say about the command line holds (issue 21 §6: a statement the code
//! does not keep is a bug, and CI should catch it): every `--flag` they name is a flag of one
//! of the `fastcomments` commands (or of the cargo command or tool the line runs), and every
//! default the README's flag tables give is the default `--help` shows.

use std::path::PathBuf;
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The README and every page of docs/, as (name, text).
fn documents() -> Vec<(String, String)> {
    let root = workspace();
    let mut docs = vec![(
        "README.md".to_owned(),
        std::fs::read_to_string(root.join("README.md")).unwrap(),
    )];
    let mut pages: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    pages.sort();
    for p in pages {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        docs.push((name, std::fs::read_to_string(&p).unwrap()));
    }
    docs
}

/// Every `--flag` token of `text`.
fn flags(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < bytes.len() {
        let starts = bytes[i] == b'-'
            && bytes[i + 1] == b'-'
            && bytes[i + 2].is_ascii_lowercase()
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-'));
        if starts {
            let end = (i + 2..bytes.len())
                .find(|&j| {
                    !(bytes[j].is_ascii_lowercase()
                        || bytes[j].is_ascii_digit()
                        || bytes[j] == b'-')
                })
                .unwrap_or(bytes.len());
            found.push(text[i..end].trim_end_matches('-').to_owned());
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// `--help` of every `fastcomments` command.
fn all_help() -> String {
    let mut all = String::new();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["sync", "--help"],
        vec!["webhooks", "listen", "--help"],
        vec!["tenant", "create", "--help"],
        vec!["import", "--help"],
        vec!["export", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_fastcomments"))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "fastcomments {args:?} failed");
        all.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    all
}

#[test]
fn every_flag_the_docs_name_exists() {
    let help = all_help();
    // Flags of other programs the documents run: cargo's, curl's, and tools/serve-on-postgres's.
    let tool = std::fs::read_to_string(workspace().join("tools/serve-on-postgres")).unwrap();
    let cargo = [
        "--release",
        "--workspace",
        "--test",
        "--help",
        "--bench",
        "--no-run",
        "--data-binary",
    ];
    let mut missing = Vec::new();
    for (name, text) in documents() {
        for flag in flags(&text) {
            let known = cargo.contains(&flag.as_str())
                || help.contains(&format!("{flag} "))
                || help.contains(&format!("{flag}\n"))
                || help.contains(&format!("{flag}="))
                || tool.contains(&format!("\"{flag}\""));
            if !known {
                missing.push(format!("{name}: {flag}"));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "flags the docs name that no command has: {missing:?}"
    );
}

#[test]
fn the_readme_flag_tables_give_the_defaults_serve_shows() {
    let out = Command::new(env!("CARGO_BIN_EXE_fastcomments"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let mut checked = 0;
    for line in readme.lines() {
        // `| `--flag` | 4096 | …`
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with("`--") {
            continue;
        }
        let flag = cells[1].trim_matches('`').split(' ').next().unwrap();
        let default = cells[2].replace(',', "");
        if !default.chars().all(|c| c.is_ascii_digit()) || default.is_empty() {
            continue;
        }
        let at = help
            .find(&format!("{flag} "))
            .unwrap_or_else(|| panic!("{flag} is not in serve --help"));
        let entry = &help[at..];
        let entry = &entry[..entry[2..].find("\n  -").map_or(entry.len(), |e| e + 2)];
        assert!(
            entry.contains(&format!("[default: {default}]")),
            "README says {flag} defaults to {default}; serve --help says: {entry}"
        );
        checked += 1;
    }
    assert!(
        checked >= 4,
        "the README's flag table was not found ({checked} rows)"
    );
}

/// The codes table of docs/protocol.md ("Codes a client should know") is exactly the codes the
/// hub answers with, each with its statuses: `fastcomments_hub::error::Code` is the one list
/// every error of the API is made from.
#[test]
fn the_codes_table_is_every_code_the_hub_answers() {
    use fastcomments_hub::error::Code;
    use std::collections::BTreeSet;
    let text = std::fs::read_to_string(workspace().join("docs/protocol.md")).unwrap();
    let start = text
        .find("Codes a client should know")
        .expect("protocol.md has its codes table");
    let mut documented = BTreeSet::new();
    for line in text[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Ok(status) = cells[1].parse::<u16>() else {
            continue; // the header and its rule
        };
        for code in cells[2].split('/') {
            documented.insert((status, code.trim().trim_matches('`').to_owned()));
        }
    }
    let answered: BTreeSet<(u16, String)> = Code::ALL
        .iter()
        .flat_map(|c| c.statuses().iter().map(|s| (*s, c.as_str().to_owned())))
        .collect();
    let undocumented: Vec<_> = answered.difference(&documented).collect();
    let unanswered: Vec<_> = documented.difference(&answered).collect();
    assert!(
        undocumented.is_empty() && unanswered.is_empty(),
        "answered by the hub but not in the table: {undocumented:?}; in the table but never \
         answered: {unanswered:?}"
    );
}

/// docs/admin.md gives the bound up to which the queue page counts sent deliveries, and how it shows more, as the page does.
#[test]
fn the_queue_pages_bound_on_its_counts_is_the_documented_one() {
    use fastcomments_hub::pages::deliveries::SENT_SHOWN_UP_TO;
    let text = std::fs::read_to_string(workspace().join("docs/admin.md")).unwrap();
    let spelled = SENT_SHOWN_UP_TO
        .to_string()
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(",");
    let documented = format!(
        "sent deliveries counted up to {spelled}, beyond that shown as `{SENT_SHOWN_UP_TO}+`"
    );
    assert!(
        text.contains(&documented),
        "docs/admin.md lacks: {documented}"
    );
}
