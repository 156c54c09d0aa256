//! Reading the commands out of the book's pages.
//!
//! A page shows a terminal session in a fenced ```` ```console ```` block. In it, a
//! line that starts with `$ ` is a command (a line ending in `\` continues on the
//! next line), and the lines after it, up to the next `$ ` or the end of the
//! block, are what the command printed.

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
    /// `<!-- bookcheck: skip REASON -->` on the line before the block.
    pub skip_reason: Option<String>,
}

/// Every command of every ```` ```console ```` block of one page.
pub fn commands_of_page(page: &str, markdown: &str) -> Vec<ShownCommand> {
    let mut commands: Vec<ShownCommand> = Vec::new();
    let mut block = 0;
    // The fence's indentation while inside a console block (blocks in lists are indented).
    let mut inside: Option<usize> = None;
    let mut continues = false;
    let mut lines_before_first_command = true;
    let mut previous_line = "";
    let mut skip_reason: Option<String> = None;

    for (number, line) in markdown.lines().enumerate() {
        let line_before = previous_line;
        if !line.trim().is_empty() && inside.is_none() {
            previous_line = line;
        }
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.starts_with("```") {
            // Other languages' fences open and close outside any console block: ignored.
            match inside {
                None if trimmed.trim_end() == "```console" => {
                    inside = Some(indent);
                    skip_reason = line_before
                        .trim()
                        .strip_prefix("<!-- bookcheck: skip ")
                        .and_then(|rest| rest.strip_suffix("-->"))
                        .map(|reason| reason.trim().to_string());
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
                skip_reason: skip_reason.clone(),
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
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "Text.\n\n```console\n$ echo a\na\n$ long \\\n  --flag\nout 1\nout 2\n```\n\n\
        ```rust,ignore\n$ not a command\n```\n\n- A list:\n\n  ```console\n  / # typed in a shell\n  $ ls\n  bin\n  ```\n";

    #[test]
    fn commands_outputs_and_continuations_are_read() {
        let commands = commands_of_page("p.md", PAGE);
        let texts: Vec<&str> = commands.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["echo a", "long \\\n  --flag", "ls"]);
        assert_eq!(commands[0].output, ["a"]);
        assert_eq!(commands[1].output, ["out 1", "out 2"]);
        assert_eq!(commands[2].output, ["bin"]);
        assert_eq!((commands[2].block, commands[2].line), (1, 20));
        assert!(commands.iter().all(|c| c.skip_reason.is_none()));
    }

    #[test]
    fn a_comment_above_a_block_gives_the_reason_to_skip_it() {
        let page = "<!-- bookcheck: skip needs a second terminal -->\n```console\n$ a\n```\n\n```console\n$ b\n```\n";
        let reasons: Vec<Option<String>> = commands_of_page("p.md", page)
            .into_iter()
            .map(|c| c.skip_reason)
            .collect();
        assert_eq!(reasons, [Some("needs a second terminal".to_string()), None]);
    }
}
