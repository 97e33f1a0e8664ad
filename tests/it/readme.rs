//! README.md names only commands and flags the binary has: each `picturedeck ...` it shows is
//! asked for its `--help`, which must succeed and list every flag the README gives it. (The
//! configuration keys it names are checked against `Config` in `config::tests`.)

use std::process::Command;

/// The help text of `picturedeck <path> --help`, or the error when clap does not know `path`.
fn help(path: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_picturedeck"))
        .args(path)
        .arg("--help")
        .output()
        .expect("run picturedeck");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn every_command_and_flag_the_readme_names_exists() {
    let readme = include_str!("../../README.md");
    let spans: Vec<&str> = readme.split('`').skip(1).step_by(2).collect();
    let mut commands = 0;
    for span in spans.iter().filter(|s| s.starts_with("picturedeck ")) {
        let words: Vec<&str> = span.split_whitespace().skip(1).collect();
        // Subcommands are the leading lower-case words; then come flags and placeholders.
        let path: Vec<&str> = words
            .iter()
            .copied()
            .take_while(|w| {
                w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-')
            })
            .collect();
        let text = help(&path).unwrap_or_else(|e| panic!("README shows `{span}`: {e}"));
        for flag in words
            .iter()
            .map(|w| w.trim_matches(['[', ']']))
            .filter(|w| w.starts_with("--"))
        {
            assert!(
                text.contains(flag),
                "README shows `{span}`, but {flag} is not an option:\n{text}"
            );
        }
        commands += 1;
    }
    assert!(
        commands >= 8,
        "only {commands} commands found: the README format changed"
    );

    // Flags named on their own (the global flags line) are options of the bare command.
    let top = help(&[]).unwrap();
    for span in spans.iter().filter(|s| s.starts_with("--")) {
        let flag = span.split_whitespace().next().unwrap();
        assert!(
            top.contains(flag),
            "README names {flag}, which picturedeck lacks"
        );
    }
}
