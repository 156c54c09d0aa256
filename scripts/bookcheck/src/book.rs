//! Reading the commands out of the book's pages.
//!
//! A page shows a terminal session in a fenced ```` ```console ```` block. In it, a
//! line that starts with `$ ` is a command (a line ending in `\` continues on the
//! next line), and the lines after it, up to the next `$ ` or the end of the
//! block, are what the command printed.
//!
//! Comments on the lines right above a block (blank lines between them allowed)
//! tell the checker about the block; select.rs says what it does with them:
//!
//! - `<!-- bookcheck: skip REASON -->`: never run it, for that reason;
//! - `<!-- bookcheck: cgroup v2 -->` or `<!-- bookcheck: cgroup v1 -->`: its
//!   output was recorded on a host whose `/sys/fs/cgroup` is a cgroup v2 tree
//!   (unified), or is not (v1 hierarchies: hybrid or legacy); it runs only on such
//!   a host. A page shows a command whose output depends on the layout once per
//!   layout, each block marked.
//!
//! Any other `<!-- bookcheck: ... -->` comment is an error, as is one above
//! something that is not a console block: a misspelt comment must not silently
//! let a block run where it cannot match.

use anyhow::{bail, Result};

/// One command of a page, with the output the page shows for it.
#[derive(Debug, Clone)]
pub struct ShownCommand {
    /// The page's file name, e.g. `ch01-chroot.md`.
    pub page: String,
    /// The line of the page the command starts on (1-based).
    pub line: usize,
    /// Which console block of the page it is in (0-based).
    pub block: usize,
    /// The command as typed, without the `$ ` and with continuations joined.
    pub text: String,
    /// The lines the page shows after the command.
    pub output: Vec<String>,
    /// Why the checker must not run it, when the page says so: a comment
    /// `<!-- bookcheck: skip REASON -->` above the block.
    pub skip_reason: Option<String>,
    /// The cgroup version its output was recorded on, when the page says so: a
    /// comment `<!-- bookcheck: cgroup v1 -->` or `<!-- bookcheck: cgroup v2 -->`.
    pub recorded_on: Option<CgroupVersion>,
}

/// Which cgroup tree `/sys/fs/cgroup` is: v2 (unified) or v1 (hybrid or legacy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

impl std::fmt::Display for CgroupVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CgroupVersion::V1 => "cgroup v1",
            CgroupVersion::V2 => "cgroup v2",
        })
    }
}

/// What the `<!-- bookcheck: ... -->` comments above a block say about it.
#[derive(Debug, Default)]
struct Annotations {
    skip_reason: Option<String>,
    recorded_on: Option<CgroupVersion>,
}

/// Reads one comment line, or says why it is not one the checker knows.
fn annotate(annotations: &mut Annotations, comment: &str) -> Result<(), String> {
    let body = comment
        .strip_prefix("<!-- bookcheck:")
        .and_then(|rest| rest.strip_suffix("-->"))
        .map(str::trim)
        .ok_or("not of the form `<!-- bookcheck: ... -->`")?;
    if let Some(reason) = body.strip_prefix("skip ") {
        annotations.skip_reason = Some(reason.trim().to_string());
    } else if let Some(version) = body.strip_prefix("cgroup ") {
        let version = match version.trim() {
            "v1" => CgroupVersion::V1,
            "v2" => CgroupVersion::V2,
            other => return Err(format!("`cgroup {other}`: the versions are v1 and v2")),
        };
        if annotations.recorded_on.is_some_and(|earlier| earlier != version) {
            return Err("a block is recorded on one cgroup version, not both".to_string());
        }
        annotations.recorded_on = Some(version);
    } else {
        return Err("the checker knows `skip REASON`, `cgroup v1` and `cgroup v2`".to_string());
    }
    Ok(())
}

/// Every command of every ```` ```console ```` block of one page.
pub fn commands_of_page(page: &str, markdown: &str) -> Result<Vec<ShownCommand>> {
    let mut commands: Vec<ShownCommand> = Vec::new();
    let mut block = 0;
    // The fence's indentation while inside a console block (blocks in lists are indented).
    let mut inside: Option<usize> = None;
    let mut continues = false;
    let mut lines_before_first_command = true;
    // The bookcheck comments since the last other line outside a console block, and
    // the line of the first of them; then what they say about the block they are above.
    let mut comments: Vec<(usize, &str)> = Vec::new();
    let mut annotations = Annotations::default();

    for (number, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if inside.is_none() && trimmed.starts_with("<!-- bookcheck") {
            comments.push((number + 1, trimmed.trim_end()));
            continue;
        }
        let opens_a_console_block = inside.is_none() && trimmed.trim_end() == "```console";
        if inside.is_none() && !trimmed.is_empty() && !comments.is_empty() && !opens_a_console_block {
            bail!(
                "book/src/{page}:{}: a bookcheck comment above something that is not a console block",
                comments[0].0
            );
        }
        if trimmed.starts_with("```") {
            // Other languages' fences open and close outside any console block: ignored.
            match inside {
                None if opens_a_console_block => {
                    inside = Some(indent);
                    annotations = Annotations::default();
                    for (at, comment) in comments.drain(..) {
                        if let Err(why) = annotate(&mut annotations, comment) {
                            bail!("book/src/{page}:{at}: {comment}: {why}");
                        }
                    }
                    lines_before_first_command = true;
                }
                Some(_) => {
                    inside = None;
                    block += 1;
                }
                None => {}
            }
            continue;
        }
        let Some(fence_indent) = inside else { continue };
        // Remove the block's indentation, but never more than the line has.
        let text = &line[fence_indent.min(indent)..];
        if continues {
            let last = commands.last_mut().expect("a continued command");
            last.text.push('\n');
            last.text.push_str(text);
            continues = text.ends_with('\\');
        } else if let Some(command) = text.strip_prefix("$ ") {
            commands.push(ShownCommand {
                page: page.to_string(),
                line: number + 1,
                block,
                text: command.to_string(),
                output: Vec::new(),
                skip_reason: annotations.skip_reason.clone(),
                recorded_on: annotations.recorded_on,
            });
            lines_before_first_command = false;
            continues = command.ends_with('\\');
        } else if !lines_before_first_command {
            commands
                .last_mut()
                .expect("a command")
                .output
                .push(text.trim_end().to_string());
        }
    }
    if let Some((at, _)) = comments.first() {
        bail!("book/src/{page}:{at}: a bookcheck comment above no console block");
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "Text.\n\n```console\n$ echo a\na\n$ long \\\n  --flag\nout 1\nout 2\n```\n\n\
        ```rust,ignore\n$ not a command\n```\n\n- A list:\n\n  ```console\n  / # typed in a shell\n  $ ls\n  bin\n  ```\n";

    #[test]
    fn commands_outputs_and_continuations_are_read() {
        let commands = commands_of_page("p.md", PAGE).unwrap();
        let texts: Vec<&str> = commands.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["echo a", "long \\\n  --flag", "ls"]);
        assert_eq!(commands[0].output, ["a"]);
        assert_eq!(commands[1].output, ["out 1", "out 2"]);
        assert_eq!(commands[2].output, ["bin"]);
        assert_eq!((commands[2].block, commands[2].line), (1, 20));
        assert!(commands
            .iter()
            .all(|c| c.skip_reason.is_none() && c.recorded_on.is_none()));
    }

    #[test]
    fn a_comment_above_a_block_gives_the_reason_to_skip_it() {
        let page = "<!-- bookcheck: skip needs a second terminal -->\n```console\n$ a\n```\n\n```console\n$ b\n```\n";
        let reasons: Vec<Option<String>> = commands_of_page("p.md", page)
            .unwrap()
            .into_iter()
            .map(|c| c.skip_reason)
            .collect();
        assert_eq!(reasons, [Some("needs a second terminal".to_string()), None]);
    }

    #[test]
    fn comments_above_a_block_say_which_cgroup_version_it_was_recorded_on() {
        let page = "<!-- bookcheck: cgroup v2 -->\n```console\n$ a\nout\n$ b\n```\n\nOn v1:\n\n\
            <!-- bookcheck: cgroup v1 -->\n\n<!-- bookcheck: skip shows this machine's memory -->\n\
            ```console\n$ c\n```\n\n  - in a list:\n\n    <!-- bookcheck: cgroup v2 -->\n    ```console\n    $ d\n    ```\n\
            \n```console\n$ e\n```\n";
        let commands = commands_of_page("p.md", page).unwrap();
        let seen: Vec<(&str, Option<CgroupVersion>, Option<&str>)> = commands
            .iter()
            .map(|c| (c.text.as_str(), c.recorded_on, c.skip_reason.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                ("a", Some(CgroupVersion::V2), None),
                ("b", Some(CgroupVersion::V2), None),
                ("c", Some(CgroupVersion::V1), Some("shows this machine's memory")),
                ("d", Some(CgroupVersion::V2), None),
                ("e", None, None),
            ]
        );
    }

    #[test]
    fn a_comment_the_checker_does_not_know_or_that_is_not_above_a_console_block_is_an_error() {
        let error = |page: &str| commands_of_page("p.md", page).unwrap_err().to_string();
        assert!(error("x\n<!-- bookcheck: cgroup v3 -->\n```console\n$ a\n```\n").starts_with("book/src/p.md:2: "));
        assert!(error("<!-- bookcheck: cgroups v2 -->\n```console\n$ a\n```\n").contains("knows"));
        assert!(
            error("<!-- bookcheck: cgroup v1 -->\n<!-- bookcheck: cgroup v2 -->\n```console\n$ a\n```\n")
                .contains("not both")
        );
        assert!(
            error("<!-- bookcheck: cgroup v2 -->\nSome text.\n\n```console\n$ a\n```\n")
                .contains("not a console block")
        );
        assert!(error("<!-- bookcheck: cgroup v2 -->\n```text\n$ a\n```\n").contains("not a console block"));
        assert!(error("```console\n$ a\n```\n<!-- bookcheck: cgroup v2 -->\n").contains("above no console block"));
    }

    #[test]
    fn every_page_of_the_book_has_only_comments_the_checker_knows() {
        let pages = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../book/src");
        for entry in std::fs::read_dir(pages).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "md") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                commands_of_page(&name, &std::fs::read_to_string(&path).unwrap()).unwrap();
            }
        }
    }
}
