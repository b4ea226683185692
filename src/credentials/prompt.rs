//! Reading a secret from the user: piped stdin, or a no-echo terminal prompt.
//! Bytes are collected in a buffer that is zeroized whenever it is grown,
//! shortened or dropped.

use std::io::{IsTerminal, Read};

use zeroize::Zeroize;

use super::error::CredentialError;
use crate::secrets::SecretValue;

/// Longest value accepted (tokens and URLs are far shorter).
pub const MAX_SECRET_LEN: usize = 64 * 1024;

/// Read one secret. When stdin is not a terminal, all of stdin is the value
/// (one trailing newline is dropped; empty input is an error). When it is,
/// `prompt` is printed to stderr and a line is read with echo off; the
/// terminal is restored on every path, and Ctrl-C / Ctrl-D cancel.
pub fn read_secret(prompt: &str) -> Result<SecretValue, CredentialError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        read_from_terminal(prompt)
    } else {
        read_all(&mut stdin.lock())
    }
}

/// All of `reader` as a secret, minus one trailing `\n` or `\r\n`.
pub(crate) fn read_all<R: Read>(reader: &mut R) -> Result<SecretValue, CredentialError> {
    let mut buf = SecretBuf::new();
    let mut chunk = [0u8; 1024];
    let result = loop {
        match reader.read(&mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if let Err(e) = buf.push(&chunk[..n]) {
                    break Err(e);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(CredentialError::Input(e)),
        }
    };
    chunk.zeroize();
    result?;
    if buf.ends_with(b"\r\n") {
        buf.truncate_by(2);
    } else if buf.ends_with(b"\n") {
        buf.truncate_by(1);
    }
    if buf.is_empty() {
        return Err(CredentialError::NoValueOnStdin);
    }
    buf.into_secret()
}

#[cfg(unix)]
fn read_from_terminal(prompt: &str) -> Result<SecretValue, CredentialError> {
    use std::io::Write;
    let fd = libc::STDIN_FILENO;
    let guard = tty::NoEcho::enable(fd).map_err(CredentialError::Input)?;
    let mut stderr = std::io::stderr();
    // Echo is already off, so anything typed from here on stays hidden.
    let _ = write!(stderr, "{prompt}");
    let _ = stderr.flush();
    let mut editor = LineEditor::new();
    let outcome = loop {
        match tty::read_byte(fd) {
            Ok(Some(byte)) => match editor.feed(byte) {
                Ok(Step::More) => {}
                Ok(Step::Done) => break Ok(()),
                Ok(Step::Cancel) => break Err(CredentialError::Cancelled),
                Err(e) => break Err(e),
            },
            // End of input: take what was typed, if anything.
            Ok(None) if editor.buf.is_empty() => break Err(CredentialError::Cancelled),
            Ok(None) => break Ok(()),
            Err(e) => break Err(CredentialError::Input(e)),
        }
    };
    drop(guard);
    let _ = writeln!(stderr);
    outcome?;
    if editor.buf.is_empty() {
        return Err(CredentialError::NothingEntered);
    }
    editor.buf.into_secret()
}

#[cfg(not(unix))]
fn read_from_terminal(_prompt: &str) -> Result<SecretValue, CredentialError> {
    Err(CredentialError::Input(std::io::Error::other(
        "masked prompts are not supported on this platform; pipe the value on stdin",
    )))
}

/// What the editor wants after a byte.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    More,
    Done,
    Cancel,
}

/// Minimal line editing for the hidden prompt: Enter ends, Backspace deletes
/// a character, Ctrl-U clears, Ctrl-C / Ctrl-\ cancel, Ctrl-D cancels an
/// empty line or ends a non-empty one, escape sequences (arrow keys) and
/// other control bytes are ignored.
pub(crate) struct LineEditor {
    pub(crate) buf: SecretBuf,
    escape: Escape,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Started,
    Sequence,
}

impl LineEditor {
    pub(crate) fn new() -> LineEditor {
        LineEditor {
            buf: SecretBuf::new(),
            escape: Escape::None,
        }
    }

    pub(crate) fn feed(&mut self, byte: u8) -> Result<Step, CredentialError> {
        match self.escape {
            Escape::Started => {
                self.escape = if byte == b'[' || byte == b'O' {
                    Escape::Sequence
                } else {
                    Escape::None
                };
                return Ok(Step::More);
            }
            Escape::Sequence => {
                if (0x40..=0x7e).contains(&byte) {
                    self.escape = Escape::None;
                }
                return Ok(Step::More);
            }
            Escape::None => {}
        }
        match byte {
            b'\r' | b'\n' => Ok(Step::Done),
            0x03 | 0x1c => Ok(Step::Cancel),
            0x04 if self.buf.is_empty() => Ok(Step::Cancel),
            0x04 => Ok(Step::Done),
            0x7f | 0x08 => {
                self.buf.pop_char();
                Ok(Step::More)
            }
            0x15 => {
                self.buf.clear();
                Ok(Step::More)
            }
            0x1b => {
                self.escape = Escape::Started;
                Ok(Step::More)
            }
            b if b < 0x20 => Ok(Step::More),
            b => {
                self.buf.push(&[b])?;
                Ok(Step::More)
            }
        }
    }
}

/// A byte buffer that never leaves copies of its contents behind.
pub(crate) struct SecretBuf {
    bytes: Vec<u8>,
}

impl SecretBuf {
    fn new() -> SecretBuf {
        SecretBuf {
            bytes: Vec::with_capacity(256),
        }
    }

    fn push(&mut self, more: &[u8]) -> Result<(), CredentialError> {
        let needed = self.bytes.len() + more.len();
        if needed > MAX_SECRET_LEN {
            return Err(CredentialError::InputTooLong {
                limit: MAX_SECRET_LEN,
            });
        }
        if needed > self.bytes.capacity() {
            // Grow by hand so the old allocation is wiped, not just freed.
            let mut bigger = Vec::with_capacity((self.bytes.capacity() * 2).max(needed));
            bigger.extend_from_slice(&self.bytes);
            self.bytes.zeroize();
            self.bytes = bigger;
        }
        self.bytes.extend_from_slice(more);
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn ends_with(&self, tail: &[u8]) -> bool {
        self.bytes.ends_with(tail)
    }

    fn truncate_by(&mut self, n: usize) {
        let keep = self.bytes.len().saturating_sub(n);
        self.bytes[keep..].zeroize();
        self.bytes.truncate(keep);
    }

    /// Remove the last UTF-8 character.
    fn pop_char(&mut self) {
        let mut n = 0;
        while n < self.bytes.len() {
            n += 1;
            let b = self.bytes[self.bytes.len() - n];
            if b & 0b1100_0000 != 0b1000_0000 {
                break;
            }
        }
        self.truncate_by(n);
    }

    fn clear(&mut self) {
        self.truncate_by(self.bytes.len());
    }

    #[cfg(test)]
    fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn into_secret(mut self) -> Result<SecretValue, CredentialError> {
        let bytes = std::mem::take(&mut self.bytes);
        match String::from_utf8(bytes) {
            Ok(text) => Ok(SecretValue::new(text)),
            Err(e) => {
                e.into_bytes().zeroize();
                Err(CredentialError::InputNotText)
            }
        }
    }
}

impl Drop for SecretBuf {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

#[cfg(unix)]
mod tty {
    //! termios: echo off for the duration of a guard.

    use std::io;
    use std::os::fd::RawFd;

    /// Echo, canonical mode and signal keys are off until this is dropped.
    pub(super) struct NoEcho {
        fd: RawFd,
        saved: libc::termios,
    }

    impl NoEcho {
        pub(super) fn enable(fd: RawFd) -> io::Result<NoEcho> {
            // SAFETY: termios is plain data; tcgetattr fills it or fails.
            let mut saved: libc::termios = unsafe { std::mem::zeroed() };
            // SAFETY: fd is a valid descriptor and `saved` a valid out-pointer.
            if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut raw = saved;
            // ISIG off: Ctrl-C arrives as a byte, so we restore before exiting
            // instead of dying with echo off.
            raw.c_lflag &= !(libc::ECHO | libc::ECHONL | libc::ICANON | libc::ISIG | libc::IEXTEN);
            raw.c_cc[libc::VMIN] = 1;
            raw.c_cc[libc::VTIME] = 0;
            // SAFETY: as above; `raw` is a valid termios.
            if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(NoEcho { fd, saved })
        }
    }

    impl Drop for NoEcho {
        fn drop(&mut self) {
            // SAFETY: restores the settings read in `enable` on the same fd.
            unsafe {
                libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved);
            }
        }
    }

    /// One byte, `None` at end of input; retries on EINTR.
    pub(super) fn read_byte(fd: RawFd) -> io::Result<Option<u8>> {
        let mut byte = 0u8;
        loop {
            // SAFETY: reads at most one byte into a valid one-byte buffer.
            let n = unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) };
            match n {
                1 => return Ok(Some(byte)),
                0 => return Ok(None),
                _ => {
                    let err = io::Error::last_os_error();
                    if err.kind() != io::ErrorKind::Interrupted {
                        return Err(err);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read(input: &[u8]) -> Result<SecretValue, CredentialError> {
        read_all(&mut Cursor::new(input.to_vec()))
    }

    #[test]
    fn piped_input_drops_exactly_one_newline() {
        assert_eq!(read(b"tok\n").unwrap().expose(), "tok");
        assert_eq!(read(b"tok\r\n").unwrap().expose(), "tok");
        assert_eq!(read(b"tok\n\n").unwrap().expose(), "tok\n");
        assert_eq!(read(b"  tok  ").unwrap().expose(), "  tok  ");
        let long = "x".repeat(5000);
        assert_eq!(read(long.as_bytes()).unwrap().expose(), long);
    }

    #[test]
    fn piped_input_errors() {
        for empty in [&b""[..], b"\n", b"\r\n"] {
            let err = read(empty).unwrap_err();
            assert!(matches!(err, CredentialError::NoValueOnStdin));
            assert!(err.to_string().contains("no value on stdin"));
        }
        assert!(matches!(
            read(b"\xff\xfe"),
            Err(CredentialError::InputNotText)
        ));
        let huge = vec![b'a'; MAX_SECRET_LEN + 1];
        assert!(matches!(
            read(&huge),
            Err(CredentialError::InputTooLong { .. })
        ));
    }

    fn edit(bytes: &[u8]) -> (Step, Vec<u8>) {
        let mut editor = LineEditor::new();
        for &b in bytes {
            let step = editor.feed(b).unwrap();
            if step != Step::More {
                return (step, editor.buf.as_bytes().to_vec());
            }
        }
        (Step::More, editor.buf.as_bytes().to_vec())
    }

    #[test]
    fn line_editing() {
        assert_eq!(edit(b"abc\r"), (Step::Done, b"abc".to_vec()));
        assert_eq!(edit(b"abx\x7fc\n"), (Step::Done, b"abc".to_vec()));
        assert_eq!(
            edit("aé\x7f\x7fz\r".as_bytes()),
            (Step::Done, b"z".to_vec())
        );
        assert_eq!(edit(b"junk\x15ok\r"), (Step::Done, b"ok".to_vec()));
        assert_eq!(edit(b"a\x1b[Db\x1b[1;5Cc\r"), (Step::Done, b"abc".to_vec()));
        assert_eq!(edit(b"ab\x03").0, Step::Cancel);
        assert_eq!(edit(b"\x04").0, Step::Cancel);
        assert_eq!(edit(b"ab\x04"), (Step::Done, b"ab".to_vec()));
        assert_eq!(edit(b"\x7f\x7fa\x01\r"), (Step::Done, b"a".to_vec()));
    }
}
