//! Command lines as config writes them: split into words the way a POSIX
//! shell would (quotes, backslashes), without ever running a shell; and
//! words quoted for one (a command ssh hands to the remote shell).

/// A command line that does not parse; the message says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShellError(pub String);

/// Quote `word` for a POSIX shell, leaving it bare when that is safe:
/// every value shipdeck puts in a remote command line goes through here.
pub fn quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Whether `name` is a shell variable name (`[A-Za-z_][A-Za-z0-9_]*`): what
/// env files, Compose's `${VAR}` and `export` accept.
pub fn is_variable_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A command line for a POSIX shell whose words are `argv`, each quoted.
pub fn join(argv: &[String]) -> String {
    argv.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// Split `line` into a program and its arguments.
pub fn parse_command(line: &str) -> Result<(String, Vec<String>), ShellError> {
    let mut words = split_words(line)?.into_iter();
    let Some(program) = words.next() else {
        return Err(ShellError(
            "the command is empty: give a program and its arguments, \
             e.g. `journalctl -u myapp -f`"
                .to_string(),
        ));
    };
    if program.is_empty() {
        return Err(ShellError(
            "the command's program name is empty (`''`): \
             start the command with the program to run"
                .to_string(),
        ));
    }
    Ok((program, words.collect()))
}

/// Split a command line into words (single and double quotes, backslash escapes).
pub fn split_words(line: &str) -> Result<Vec<String>, ShellError> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word has started even if it is still empty (e.g. `''`).
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(unterminated('\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(unterminated('"')),
                        },
                        Some(c) => word.push(c),
                        None => return Err(unterminated('"')),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => {
                    return Err(ShellError(
                        "the command ends with a lone backslash: remove it, \
                         or write `\\\\` for a literal backslash"
                            .to_string(),
                    ));
                }
            },
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn unterminated(quote: char) -> ShellError {
    ShellError(format!(
        "the command has an unterminated {quote} quote: add the closing {quote}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_words_reach_a_real_shell_unchanged() {
        let words: Vec<String> = [
            "plain",
            "",
            "two words",
            "it's",
            "$HOME `id` $(id) ; rm -rf / &",
            "\"quoted\" \\ back",
            "line\nbreak",
            "-n",
            "~",
            "*",
        ]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\0' {}", join(&words)))
            .output()
            .unwrap();
        let back: Vec<String> = out
            .stdout
            .split(|b| *b == 0)
            .map(|w| String::from_utf8_lossy(w).to_string())
            .collect();
        assert_eq!(&back[..words.len()], &words[..], "{back:?}");
    }
}
